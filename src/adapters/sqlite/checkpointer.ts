/**
 * Runs SQLite's WAL checkpoints on a thread of their own (checkpoint-worker.ts). Random
 * GUIDs dirty a page per write; checkpointing inline stalled the request thread for tens of
 * milliseconds every few thousand writes (p99 41 ms under load, measured).
 */
export interface CheckpointerOptions {
  path: string
  intervalMs: number
  /** Called when the thread fails: the store then checkpoints inline again. */
  onFailure: (error: unknown) => void
  /** The thread's script (tests: one that plays the thread's part); checkpoint-worker.ts by default. */
  workerUrl?: string
}

/**
 * The worker's entrypoint. From source it sits next to this file. In the compiled binary
 * (built with it as a second entrypoint, see package.json) every module shares the bundle's
 * URL at the root of the embedded tree, and the worker keeps its path under src/.
 */
const workerUrl = (): string => (import.meta.url.includes('/$bunfs/') ? new URL('./adapters/sqlite/checkpoint-worker.ts', import.meta.url) : new URL('./checkpoint-worker.ts', import.meta.url)).href

/**
 * The thread starts this long after the store opens: starting it (a JavaScript VM of its own)
 * costs the process ~10-20 ms of CPU, which on one core would delay the first answer; the
 * WAL meanwhile grows by at most this much of writes.
 */
const START_DELAY_MS = 250

/**
 * Longest commits are held for the thread's catch-up ('wal-full' -> 'caught-up'): 2-5 ms
 * measured on a fresh store, 15-25 ms after a write saturation (a PASSIVE checkpoint of the
 * frames added since the last one, and its two fsyncs). Past it the writes go on and the WAL
 * is not rewound this time; the thread asks again later.
 */
const HOLD_MAX_MS = 200
/**
 * Once the WAL has grown to this many frames (64 MiB; a disk so slow that catch-ups keep
 * outlasting HOLD_MAX_MS), commits are held until the catch-up ends, up to HOLD_LONG_MS: a
 * wait as long as the disk's, instead of a WAL that grows to the store's hard limit and is
 * then rewound by a RESTART on the request thread, event loop and all.
 */
const LONG_HOLD_FRAMES = 16_384
const HOLD_LONG_MS = 5_000

type FromWorker = { type: string; pages?: number; log?: number; message?: string; done?: boolean }

export class Checkpointer {
  private worker: Worker | undefined
  private readonly starting: ReturnType<typeof setTimeout>
  private stopped: Promise<void> | null = null
  /** Pages copied back into the database so far (for tests and metrics). */
  pages = 0
  checkpoints = 0
  /** Frames in the WAL at the thread's last checkpoint. */
  walFrames = 0
  /** Catch-ups with commits held that copied the whole WAL, so that the next commit rewinds it. */
  rewinds = 0
  /** Times commits were held for a catch-up, and for how long in all (seconds). */
  holds = 0
  heldSeconds = 0
  private hold: { promise: Promise<void>; release: () => void } | undefined

  /** While the thread catches up with the WAL, commits wait for this (undefined: write now). */
  get writesHeld(): Promise<void> | undefined {
    return this.hold?.promise
  }

  constructor(options: CheckpointerOptions) {
    this.starting = setTimeout(() => this.start(options), START_DELAY_MS)
    this.starting.unref()
  }

  private start(options: CheckpointerOptions): void {
    const worker = new Worker(options.workerUrl ?? workerUrl())
    this.worker = worker
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const { data } = event
      if (data.type === 'checkpointed' || data.type === 'caught-up') {
        this.checkpoints++
        this.pages += data.pages ?? 0
        this.walFrames = data.log ?? 0
      }
      if (data.type === 'wal-full') this.holdWrites(worker, data.log ?? 0)
      else if (data.type === 'caught-up') {
        if (data.done === true) this.rewinds++
        this.release()
      } else if (data.type === 'error') options.onFailure(new Error(data.message))
    }
    worker.onerror = (event) => options.onFailure(event.error ?? new Error(event.message))
    worker.postMessage({ path: options.path, intervalMs: options.intervalMs })
    worker.unref()
  }

  /**
   * Holds commits from now (none runs at this moment: they run on this thread) until the
   * thread has caught up, or HOLD_MAX_MS (HOLD_LONG_MS once the WAL holds `walFrames` >= LONG_HOLD_FRAMES).
   */
  private holdWrites(worker: Worker, walFrames: number): void {
    if (this.hold !== undefined) {
      worker.postMessage('quiet')
      return
    }
    let release!: () => void
    const promise = new Promise<void>((resolve) => {
      release = resolve
    })
    const timer = setTimeout(() => this.release(), walFrames >= LONG_HOLD_FRAMES ? HOLD_LONG_MS : HOLD_MAX_MS)
    const since = performance.now()
    this.holds++
    this.hold = {
      promise,
      release: () => {
        this.heldSeconds += (performance.now() - since) / 1000
        clearTimeout(timer)
        this.hold = undefined
        release()
      },
    }
    worker.postMessage('quiet')
  }

  private release(): void {
    this.hold?.release()
  }

  /** Runs a last checkpoint and ends the thread. */
  stop(): Promise<void> {
    this.release()
    clearTimeout(this.starting)
    const worker = this.worker
    if (worker === undefined) return Promise.resolve()
    this.stopped ??= new Promise<void>((resolve) => {
      const done = () => {
        worker.terminate()
        resolve()
      }
      const timer = setTimeout(done, 2_000)
      worker.addEventListener('message', (event: MessageEvent<{ type: string }>) => {
        if (event.data.type !== 'stopped') return
        clearTimeout(timer)
        done()
      })
      worker.postMessage('stop')
    })
    return this.stopped
  }
}
