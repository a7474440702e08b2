import { overloaded } from '../domain/errors'

interface Job<T> {
  run: () => Promise<T> | T
  shared: boolean
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

/** One key's actor: the jobs running now and the ones waiting behind them, in arrival order. */
class Actor {
  readonly waiting: Job<any>[] = []
  head = 0
  running = 0
  /** Whether the running jobs are shared ones (reads); exclusive jobs always run alone. */
  runningShared = false

  get queued(): number {
    return this.waiting.length - this.head
  }
}

export interface ActorRegistryOptions {
  /** Most jobs one actor may hold (running + waiting); past it a job is refused with 503. */
  mailboxMax: number
}

/**
 * Per-key actors (SPEC §4): each key's exclusive jobs (mutations) run one at a time in
 * arrival order; different keys run concurrently; an actor exists only while it has work,
 * so memory follows the keys in flight, not the keys ever seen. A job that throws answers
 * its own caller only.
 *
 * Shared jobs (reads that fill caches) may run together, like a reader-writer lock that
 * keeps arrival order: consecutive shared jobs run concurrently, and an exclusive job waits
 * for the shared ones before it and is waited for by those after it. So a read's cache fill
 * can never land after, and overwrite, a later write; yet fifty concurrent reads of one GUID
 * that miss memory do not queue behind each other's Redis round trips.
 */
export class ActorRegistry {
  private readonly actors = new Map<string, Actor>()
  private idleWaiters: Array<() => void> = []

  constructor(private readonly options: ActorRegistryOptions) {
    if (!Number.isInteger(options.mailboxMax) || options.mailboxMax < 1) throw new TypeError('mailboxMax must be a positive integer')
  }

  /** Actors that currently have work in flight. */
  get size(): number {
    return this.actors.size
  }

  /** Runs an exclusive job: alone, after every job that arrived before it. */
  run<T>(key: string, job: () => Promise<T> | T): Promise<T> {
    return this.submit(key, job, false)
  }

  /** Runs a shared job: alongside adjacent shared jobs, never alongside an exclusive one. */
  runShared<T>(key: string, job: () => Promise<T> | T): Promise<T> {
    return this.submit(key, job, true)
  }

  /** Resolves once no actor has work (used by shutdown to drain). */
  idle(): Promise<void> {
    if (this.actors.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private submit<T>(key: string, run: () => Promise<T> | T, shared: boolean): Promise<T> {
    let actor = this.actors.get(key)
    if (actor === undefined) {
      actor = new Actor()
      this.actors.set(key, actor)
    } else if (actor.running + actor.queued >= this.options.mailboxMax) {
      return Promise.reject(overloaded('Too many requests in flight for this GUID; retry shortly.'))
    }
    const target = actor
    return new Promise<T>((resolve, reject) => {
      const job: Job<T> = { run, shared, resolve, reject }
      const joinable = target.running === 0 || (shared && target.runningShared && target.queued === 0)
      if (joinable) this.start(key, target, job)
      else target.waiting.push(job)
    })
  }

  private start(key: string, actor: Actor, job: Job<any>): void {
    actor.running++
    actor.runningShared = job.shared
    void this.execute(key, actor, job)
  }

  private async execute(key: string, actor: Actor, job: Job<any>): Promise<void> {
    try {
      job.resolve(await job.run())
    } catch (error) {
      job.reject(error)
    }
    // In the same turn as the settling, so the caller resumes with the actor already gone.
    this.finished(key, actor)
  }

  private finished(key: string, actor: Actor): void {
    if (--actor.running > 0) return
    if (actor.queued === 0) {
      this.actors.delete(key)
      if (this.actors.size === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters
        this.idleWaiters = []
        for (const wake of waiters) wake()
      }
      return
    }
    // Start the next exclusive job alone, or the next run of shared jobs together.
    const first = this.take(actor)
    this.start(key, actor, first)
    if (first.shared) while (actor.queued > 0 && actor.waiting[actor.head]!.shared) this.start(key, actor, this.take(actor))
  }

  private take(actor: Actor): Job<any> {
    const job = actor.waiting[actor.head]!
    actor.waiting[actor.head++] = undefined as never
    if (actor.head > 64 && actor.head * 2 > actor.waiting.length) {
      actor.waiting.splice(0, actor.head)
      actor.head = 0
    }
    return job
  }
}
