import SonicBoom from 'sonic-boom'

/** Bytes of request lines held for a sink that does not keep up, past which they are dropped. */
export const REQUEST_BUFFER_BYTES = 1 << 20
/** Bytes held beyond that for every other line (lifecycle, warnings, errors). */
export const RESERVE_BYTES = 1 << 20
/** How long a write at exit waits out a full non-blocking pipe before it gives up. */
const EXIT_WRITE_MS = 1_000
/** Request lines are gathered for at most this long before they are handed over... */
const REQUEST_FLUSH_MS = 10
/** ...or until this much is gathered (UTF-16 units, near enough to bytes for log lines). */
const REQUEST_FLUSH_LENGTH = 64 * 1024

export interface LogSinkOptions {
  /** The file descriptor written to (stdout by default). */
  fd?: number
  requestBufferBytes?: number
  reserveBytes?: number
  /** How long request lines are gathered before they are written (REQUEST_FLUSH_MS). */
  requestFlushMs?: number
}

/** Told when request lines start being dropped (`dropped` 0) and when they stop (the count). */
export type SheddingListener = (dropping: boolean, dropped: number) => void

const NEWLINE = 0x0a
const linesIn = (data: Buffer | string): number => {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data
  let count = 0
  for (let at = bytes.indexOf(NEWLINE); at !== -1; at = bytes.indexOf(NEWLINE, at + 1)) count++
  return count
}

/**
 * Where log lines go: pino's own asynchronous destination (sonic-boom, `sync: false`), so a
 * reader that stops reading (a stuck log driver, a paused `| tee`) never blocks the event loop:
 * the write waits in sonic-boom (on libuv's thread for a blocking pipe, retried every 100 ms
 * on EAGAIN for a non-blocking one) while requests go on being answered.
 *
 * Lines are gathered into one string and handed to sonic-boom in one write: a line costs its
 * serialisation and a string append, not sonic-boom's per-write byte counting. Request lines
 * are gathered for up to `requestFlushMs` (10 ms) or 64 KiB, not one turn: each write is a
 * round trip through libuv's thread pool, whose threads share the request thread's core, and
 * with one per turn they woke ~5,000 times a second at 29,000 GETs/s (bench/constant-rate.md). Every other
 * line is handed over at the end of its turn, with the request lines gathered before it.
 *
 * What sonic-boom holds is bounded. Request lines (writeRequest) are dropped, counted, once it
 * holds `requestBufferBytes`, and written again once it is back under half that; each episode
 * is told by one warning at its start and one at its end with the count. Every other line
 * (write: lifecycle, warnings, errors, in pino's shape) is kept in a further `reserveBytes`, so
 * request lines never crowd them out; past that sonic-boom's own `maxLength` drops, counted too.
 */
export class LogSink {
  private readonly boom: SonicBoom
  private readonly requestBufferBytes: number
  private readonly requestFlushMs: number
  private pending = ''
  /** A drain at the end of this turn (setImmediate). */
  private scheduled = false
  /** A drain when the request lines' window ends. */
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Bytes handed to sonic-boom and not yet written. */
  private held = 0
  private dropping = false
  private droppedInEpisode = 0
  private closed = false
  /** Until when a write that meets a full non-blocking pipe is retried (for ever, until exit). */
  private retryUntil = Number.POSITIVE_INFINITY
  private total = 0
  /** Set by the logger's owner: the warnings are written through the logger, in its shape. */
  onShedding: SheddingListener | undefined

  constructor(options: LogSinkOptions = {}) {
    this.requestBufferBytes = options.requestBufferBytes ?? REQUEST_BUFFER_BYTES
    this.requestFlushMs = options.requestFlushMs ?? REQUEST_FLUSH_MS
    this.boom = new SonicBoom({
      fd: options.fd ?? 1,
      sync: false,
      contentMode: 'buffer',
      maxLength: this.requestBufferBytes + (options.reserveBytes ?? RESERVE_BYTES),
      retryEAGAIN: () => Date.now() < this.retryUntil,
    })
    this.boom.on('write', this.written)
    this.boom.on('drop', (data: Buffer) => this.lost(linesIn(data)))
    // EPIPE (the reader is gone), EBADF, or EAGAIN given up at exit: nothing more can be
    // written, and a service must not stop answering because nobody reads its log.
    this.boom.on('error', () => {
      this.closed = true
    })
  }

  /** Lines dropped so far (guidd_log_lines_dropped_total). */
  get droppedLines(): number {
    return this.total
  }

  /** A line that is kept ahead of request lines: pino's lines (lifecycle, warnings, errors). */
  write(line: string): boolean {
    if (this.closed) {
      this.lost(1)
      return true
    }
    this.pending += line
    this.drainThisTurn()
    return true
  }

  /** A request log line: dropped (and counted) while the sink does not keep up. */
  writeRequest(line: string): void {
    if (!this.dropping && !this.closed && this.held + this.pending.length <= this.requestBufferBytes) {
      this.pending += line
      if (this.pending.length >= REQUEST_FLUSH_LENGTH) this.drainThisTurn()
      else if (!this.scheduled && this.timer === undefined) this.timer = setTimeout(this.drain, this.requestFlushMs)
      return
    }
    // (pending's length counts UTF-16 units, not bytes: near enough for a bound.)
    if (!this.dropping && !this.closed) {
      this.dropping = true
      this.onShedding?.(true, 0)
    }
    this.lost(1)
  }

  /**
   * Hands what is gathered to sonic-boom and waits, at most `timeoutMs`, until everything
   * is written: on shutdown, before process.exit. False when the sink is still stuck.
   */
  flushWithin(timeoutMs: number): Promise<boolean> {
    this.drain()
    if (this.held === 0 || this.closed) return Promise.resolve(this.held === 0)
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer)
        this.boom.off('write', check)
        this.boom.off('error', failed)
        resolve(ok)
      }
      // Lines logged meanwhile (the end of a dropping episode) go out too, after the others.
      const check = () => {
        if (this.pending !== '') this.drain()
        if (this.held === 0) done(true)
      }
      const failed = () => done(false)
      const timer = setTimeout(() => done(false), timeoutMs)
      this.boom.on('write', check)
      this.boom.on('error', failed)
    })
  }

  /**
   * At exit, where nothing asynchronous runs any more: writes what is gathered synchronously,
   * but only when no write is in flight (it would land behind lines written later) and for
   * at most a second of a full pipe. What flushWithin() could not write is lost with the process.
   */
  flushSync(): void {
    if (this.pending === '' || this.held !== 0 || this.closed) return
    this.retryUntil = Date.now() + EXIT_WRITE_MS
    // sonic-boom reads `sync` at each write: its synchronous path writes all, partial writes
    // and EAGAIN included, before returning.
    ;(this.boom as unknown as { sync: boolean }).sync = true
    this.drain()
  }

  private drainThisTurn(): void {
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(this.drain)
  }

  private readonly drain = (): void => {
    this.scheduled = false
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    }
    if (this.pending === '' || this.closed) return
    const data = Buffer.from(this.pending)
    this.pending = ''
    // Counted before the write: in sync mode (exit) it is written, and reported, within it.
    this.held += data.length
    const before = this.total
    ;(this.boom as unknown as { write(data: Buffer): boolean }).write(data)
    // Over maxLength sonic-boom dropped it ('drop', counted): it holds none of it.
    if (this.total !== before) this.held -= data.length
  }

  private readonly written = (bytes: number): void => {
    this.held = Math.max(0, this.held - bytes)
    if (this.dropping && this.held <= this.requestBufferBytes / 2) {
      this.dropping = false
      const dropped = this.droppedInEpisode
      this.droppedInEpisode = 0
      this.onShedding?.(false, dropped)
    }
  }

  private lost(lines: number): void {
    this.total += lines
    this.droppedInEpisode += lines
  }
}
