import { AppError } from '../errors'

interface Job<T> {
  run: () => Promise<T> | T
  resolve: (value: T) => void
  reject: (error: unknown) => void
}

/** One GUID's mailbox: the jobs waiting behind the one running. */
class Actor {
  readonly mailbox: Job<any>[] = []
  head = 0
  get pending(): number {
    return this.mailbox.length - this.head
  }
}

export interface ActorRegistryOptions {
  /** Most jobs one actor may hold (running + waiting); past it a job is refused with 503. */
  mailboxMax: number
}

/**
 * Per-key actors (SPEC §4): each key's jobs run one at a time in arrival order; different
 * keys run concurrently; an actor exists only while it has work, so memory follows the
 * keys in flight, not the keys ever seen. A job that throws answers its own caller only.
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

  run<T>(key: string, job: () => Promise<T> | T): Promise<T> {
    let actor = this.actors.get(key)
    if (actor === undefined) {
      actor = new Actor()
      this.actors.set(key, actor)
    } else if (actor.pending >= this.options.mailboxMax) {
      return Promise.reject(new AppError('overloaded', 'Too many requests in flight for this GUID; retry shortly.', { headers: { 'retry-after': '1' } }))
    }
    return new Promise<T>((resolve, reject) => {
      actor.mailbox.push({ run: job, resolve, reject })
      if (actor.pending === 1) void this.drain(key, actor)
    })
  }

  /** Resolves once no actor has work (used by shutdown to drain). */
  idle(): Promise<void> {
    if (this.actors.size === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private async drain(key: string, actor: Actor): Promise<void> {
    while (actor.head < actor.mailbox.length) {
      const job = actor.mailbox[actor.head]!
      try {
        job.resolve(await job.run())
      } catch (error) {
        job.reject(error)
      }
      actor.mailbox[actor.head++] = undefined as never
      if (actor.head > 64 && actor.head * 2 > actor.mailbox.length) {
        actor.mailbox.splice(0, actor.head)
        actor.head = 0
      }
    }
    this.actors.delete(key)
    if (this.actors.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const wake of waiters) wake()
    }
  }
}
