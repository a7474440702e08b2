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

export class Checkpointer {
  private worker: Worker | undefined
  private readonly starting: ReturnType<typeof setTimeout>
  private stopped: Promise<void> | null = null
  /** Pages copied back into the database so far (for tests and metrics). */
  pages = 0
  checkpoints = 0
  /** Frames in the WAL at the thread's last checkpoint. */
  walFrames = 0

  constructor(options: CheckpointerOptions) {
    this.starting = setTimeout(() => this.start(options), START_DELAY_MS)
    this.starting.unref()
  }

  private start(options: CheckpointerOptions): void {
    const worker = new Worker(workerUrl())
    this.worker = worker
    worker.onmessage = (event: MessageEvent<{ type: string; pages?: number; log?: number; message?: string }>) => {
      if (event.data.type === 'checkpointed') {
        this.checkpoints++
        this.pages += event.data.pages ?? 0
        this.walFrames = event.data.log ?? 0
      } else if (event.data.type === 'error') options.onFailure(new Error(event.data.message))
    }
    worker.onerror = (event) => options.onFailure(event.error ?? new Error(event.message))
    worker.postMessage({ path: options.path, intervalMs: options.intervalMs })
    worker.unref()
  }

  /** Runs a last checkpoint and ends the thread. */
  stop(): Promise<void> {
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
