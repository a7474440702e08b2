import { shuttingDown } from '../domain/errors'
import type { Mutation } from '../domain/model'

/** A mutation waiting in a batch, with how to answer its caller. */
export interface Pending {
  mutation: Mutation
  resolve: () => void
  reject: (error: unknown) => void
}

export interface TurnBatchOptions {
  /** Most mutations in one batch: the one that fills it sends it at once. */
  max: number
  /** How long (ms) the first mutation waits for company; 0 = until the current I/O turn ends. */
  windowMs: number
  /** Takes a batch; it must answer every Pending in it. */
  send: (batch: Pending[]) => void
}

/**
 * The mutations that arrive together (one event-loop turn, or a window), handed on as one
 * batch, each caller answered on its own: how both journals (the SQLite group commit and the
 * Redis script call) pay one commit or one round trip per batch instead of per write.
 */
export class TurnBatch {
  private batch: Pending[] = []
  /** Cancels the waiting batch's window (a timeout, or an immediate when windowMs is 0); undefined when none runs. */
  private cancelWindow: (() => void) | undefined
  private closed = false

  constructor(private readonly o: TurnBatchOptions) {
    if (!Number.isInteger(o.max) || o.max < 1) throw new TypeError('max must be a positive integer')
    if (!(o.windowMs >= 0)) throw new TypeError('windowMs must be >= 0')
  }

  add(mutation: Mutation): Promise<void> {
    if (this.closed) return Promise.reject(shuttingDown())
    return new Promise((resolve, reject) => {
      this.batch.push({ mutation, resolve, reject })
      if (this.batch.length >= this.o.max) this.flush()
      else this.cancelWindow ??= this.openWindow()
    })
  }

  /** Starts the first waiting mutation's window; returns how to cancel it. */
  private openWindow(): () => void {
    if (this.o.windowMs === 0) {
      const immediate = setImmediate(this.flush)
      return () => clearImmediate(immediate)
    }
    const timeout = setTimeout(this.flush, this.o.windowMs)
    return () => clearTimeout(timeout)
  }

  /** Sends what is waiting, and refuses every later mutation (503, shutting down). */
  close(): void {
    this.flush()
    this.closed = true
  }

  /**
   * Sends the waiting batch now, and cancels its window's timer, which would otherwise send
   * the next batch before that batch's own window ended. Bound, so timers can call it.
   */
  private readonly flush = (): void => {
    this.cancelWindow?.()
    this.cancelWindow = undefined
    if (this.batch.length === 0) return
    const batch = this.batch
    this.batch = []
    this.o.send(batch)
  }
}
