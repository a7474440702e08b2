import { Deadline } from '../../domain/clock'
import { checkStored, type Mutation, type Stored } from '../../domain/model'
import { coalesce } from '../../data/coalesce'
import type { Logger } from '../../ops/logger'
import type { RedisConnection } from './client'
import type { JournalKeys } from './keys'
import type { LivenessView } from './liveness'
import { Pause } from './pause'
import { FORGET_CONSUMER, Script } from './scripts'
import type { Store } from '../../data/store'

const forgetConsumer = new Script(FORGET_CONSUMER)

/** Dead letters kept (approximately: MAXLEN ~): an operator reads them with XRANGE. */
const DEAD_LETTERS_KEPT = 100_000

export interface FlusherOptions {
  /** Its own connection: a blocking XREADGROUP stalls every other command on a shared one. */
  client: RedisConnection
  /** The journal it reads (one partition's on a cluster). */
  keys: JournalKeys
  store: Store
  /** This instance's consumer name in the group. */
  consumer: string
  batchMax: number
  /** Longest a read blocks waiting for entries. */
  blockMs: number
  /** Entries pending this long on another consumer are presumed orphaned and claimed. */
  claimIdleMs: number
  /** Tells which other consumers are gone: their pending entries are claimed without waiting `claimIdleMs`. */
  liveness?: LivenessView
  /** Rejections of one entry before it goes to the dead-letter stream. */
  maxAttempts: number
  logger: Logger
  /** Backoff after a store failure: doubles from `backoffMinMs` up to `backoffMaxMs`. */
  backoffMinMs?: number
  backoffMaxMs?: number
  events?: FlusherEvents
}

/** What the flusher reports, for metrics. */
export interface FlusherEvents {
  flushed?(entries: number, seconds: number): void
  deadLettered?(count: number): void
  storeFailed?(): void
}

/** The wait after a failed round: doubles from `backoffMinMs` (100 ms) up to `backoffMaxMs` (5 s). */
export const nextBackoff = (previousMs: number, o: Pick<FlusherOptions, 'backoffMinMs' | 'backoffMaxMs'>): number =>
  Math.min(previousMs === 0 ? (o.backoffMinMs ?? 100) : previousMs * 2, o.backoffMaxMs ?? 5_000)

/** A journal entry as read: the state it carries, or why it cannot be read. */
type Entry = { id: string; next: Stored } | { id: string; next: null; unreadable: string; raw: string }
type Readable = Extract<Entry, { next: Stored }>

/**
 * The batch to write: per GUID the one state the store must end with (coalesce), and
 * every entry of that GUID, which that one write settles.
 */
const groupEntries = (entries: readonly Entry[]): Array<{ mutation: Mutation; ids: string[] }> => {
  const readable = entries.filter((e): e is Readable => e.next !== null)
  const ids = new Map<string, string[]>()
  for (const e of readable) {
    const list = ids.get(e.next.guid)
    if (list === undefined) ids.set(e.next.guid, [e.id])
    else list.push(e.id)
  }
  // prevVersion matters to the journal's compare-and-set only; the store guards on version.
  return coalesce(readable).map((e) => ({ mutation: { next: e.next, prevVersion: e.next.version - 1 }, ids: ids.get(e.next.guid)! }))
}

const parseEntry = (id: string, message: Record<string, unknown>): Entry => {
  const raw = message.m
  if (typeof raw !== 'string') return { id, next: null, unreadable: 'no m field', raw: JSON.stringify(message) }
  let state: unknown
  try {
    state = JSON.parse(raw)
  } catch {
    return { id, next: null, unreadable: 'not JSON', raw }
  }
  return checkStored.Check(state) ? { id, next: state } : { id, next: null, unreadable: 'not a GUID state', raw }
}

/**
 * Moves journaled mutations from the Redis Stream to the durable store (SPEC §4), shaped
 * like a background loop that does what is due and waits for more: reads a batch through
 * the consumer group (first this consumer's own pending entries, then new ones), coalesces
 * it per GUID, writes it with one store batch, and only then acknowledges and deletes the
 * entries. A store outage is retried with backoff (the entries stay pending); an entry the
 * store rejects again and again goes to the dead-letter stream. Entries pending on an instance
 * that is gone (its liveness key lapsed or was deleted) are claimed at the next claim check,
 * at most a second away; entries pending on any consumer, live or not, are claimed once idle
 * `claimIdleMs` (an instance stuck without dying).
 */
export class Flusher {
  private stopping = false
  private loop: Promise<void> | null = null
  private readPending = true
  private lastClaim = Number.NEGATIVE_INFINITY
  private lastHousekeeping = Number.NEGATIVE_INFINITY
  private readonly attempts = new Map<string, number>()
  private backoffMs = 0
  private readonly backoff = new Pause()

  constructor(private readonly o: FlusherOptions) {}

  async start(): Promise<void> {
    await this.prepare()
    this.loop = this.run()
  }

  /** Creates the consumer group (and the stream) when they are not there yet. */
  async prepare(): Promise<void> {
    try {
      await this.o.client.xGroupCreate(this.o.keys.journal, this.o.keys.group, '0', { MKSTREAM: true })
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('BUSYGROUP')) throw error
    }
  }

  /**
   * Stops reading new work and flushes what is already in the journal until it is empty or
   * `deadlineMs` passes; what is left stays in the journal for the next instance.
   */
  async stop(deadlineMs: number): Promise<void> {
    const deadline = new Deadline(deadlineMs)
    this.stopping = true
    this.backoff.cut()
    await this.loop
    while (deadline.remainingMs > 0) {
      const done = await this.step(0).catch((error: unknown) => {
        this.o.logger.warn({ err: error }, 'flush on shutdown failed; the journal keeps the rest')
        return -1
      })
      if (done <= 0) break
    }
    await this.leave()
  }

  /**
   * A reader waits for the journal to drain (a listing's read barrier): a backoff after a
   * failure ends now, if it has lasted `backoffMinMs`, so a store that is back is written at
   * once rather than after up to `backoffMaxMs`. (A blocking read wakes by itself on new entries.)
   */
  retrySoon(): void {
    this.backoff.cut(nextBackoff(0, this.o))
  }

  /** After a failed step: read this consumer's own pending entries again first (they were not acknowledged). */
  rewind(): void {
    this.readPending = true
  }

  /** One round: claim orphans when due, read a batch, flush it. Returns the entries handled. */
  async step(blockMs = this.o.blockMs): Promise<number> {
    const { client, keys, consumer, batchMax } = this.o
    let entries: Entry[] = []
    // Scheduling follows real time, as Redis measures idleness by its own clock.
    if (performance.now() - this.lastClaim >= Math.min(this.o.claimIdleMs, 1_000)) {
      this.lastClaim = performance.now()
      entries = await this.claimFromGone()
      if (entries.length < batchMax) {
        const claimed = await client.xAutoClaim(keys.journal, keys.group, consumer, this.o.claimIdleMs, '0-0', { COUNT: batchMax - entries.length })
        const idle = claimed.messages.filter((m) => m !== null).map((m) => parseEntry(m.id, m.message))
        if (idle.length > 0) this.o.logger.info({ count: idle.length }, 'claimed journal entries left pending by another instance')
        entries.push(...idle)
      }
      await this.forgetDeadConsumers()
    }
    if (entries.length === 0) {
      const id = this.readPending ? '0' : '>'
      const reply = await client.xReadGroup(keys.group, consumer, { key: keys.journal, id }, { COUNT: batchMax, ...(id === '>' && blockMs > 0 ? { BLOCK: blockMs } : {}) })
      const messages = (reply as Array<{ messages: Array<{ id: string; message: Record<string, unknown> }> }> | null)?.[0]?.messages ?? []
      entries = messages.map((m) => parseEntry(m.id, m.message))
      if (id === '0' && entries.length === 0) {
        // Nothing of ours is pending: read new entries (without blocking when stopping).
        this.readPending = false
        return this.step(blockMs)
      }
    }
    if (entries.length === 0) return 0
    await this.flush(entries)
    return entries.length
  }

  /**
   * Claims what other consumers whose instance is gone (liveness) hold pending, at once, and
   * removes those consumers from the group once nothing is left on them. A live one's entries
   * are left to it (XAUTOCLAIM takes them after `claimIdleMs` if it is stuck).
   */
  private async claimFromGone(): Promise<Entry[]> {
    const { client, keys, consumer, batchMax, liveness } = this.o
    if (liveness === undefined) return []
    const entries: Entry[] = []
    const { consumers } = await client.xPending(keys.journal, keys.group)
    for (const { name } of consumers ?? []) {
      if (name === consumer || entries.length >= batchMax || (await liveness.alive(name))) continue
      const pending = await client.xPendingRange(keys.journal, keys.group, '-', '+', batchMax - entries.length, { consumer: name })
      if (pending.length > 0) {
        // XCLAIM's min-idle is the smallest idle time just seen: an entry another instance claimed
        // in between is younger than that and stays with it, so two claimers rarely both store it.
        const minIdle = Math.min(...pending.map((p) => p.millisecondsSinceLastDelivery))
        const claimed = await client.xClaim(
          keys.journal,
          keys.group,
          consumer,
          minIdle,
          pending.map((p) => p.id),
        )
        const mine = claimed.filter((m) => m !== null).map((m) => parseEntry(m.id, m.message))
        this.o.logger.info({ count: mine.length, consumer: name }, 'claimed the journal entries of an instance that is gone (no liveness key)')
        entries.push(...mine)
      }
      await this.forget(name)
    }
    return entries
  }

  /**
   * Removes from the group the consumers of instances that are gone: nothing pending (their
   * entries were claimed) and silent for ten claim periods. Without it every restart would
   * leave a name behind in XINFO CONSUMERS for ever.
   */
  private async forgetDeadConsumers(): Promise<void> {
    const { client, keys, consumer, claimIdleMs } = this.o
    if (performance.now() - this.lastHousekeeping < claimIdleMs) return
    this.lastHousekeeping = performance.now()
    for (const c of await client.xInfoConsumers(keys.journal, keys.group)) {
      if (c.name !== consumer && c.pending === 0 && c.idle > claimIdleMs * 10) await this.forget(c.name)
    }
  }

  /** Removes `name` from the group, only if nothing is pending on it (one script: FORGET_CONSUMER). */
  private async forget(name: string): Promise<void> {
    const { client, keys } = this.o
    if ((await forgetConsumer.run(client, [keys.journal], [keys.group, name])) === 1) {
      this.o.logger.info({ consumer: name }, 'removed a dead instance from the journal consumer group')
    }
  }

  /** After a graceful stop: this instance's name leaves the group when it left nothing pending. */
  async leave(): Promise<void> {
    await forgetConsumer.run(this.o.client, [this.o.keys.journal], [this.o.keys.group, this.o.consumer]).catch(() => {})
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.step()
        this.backoffMs = 0
      } catch (error) {
        this.o.events?.storeFailed?.()
        this.rewind()
        this.backoffMs = nextBackoff(this.backoffMs, this.o)
        this.o.logger.warn({ err: error, retryInMs: this.backoffMs }, 'flush failed; the entries stay in the journal')
        if (!this.stopping) await this.backoff.for(this.backoffMs)
      }
    }
  }

  private async flush(entries: Entry[]): Promise<void> {
    const { store } = this.o
    const started = performance.now()
    const groups = groupEntries(entries)
    const outcomes = groups.length > 0 ? await store.applyBatch(groups.map((g) => g.mutation)) : []
    const done: string[] = []
    const dead: Array<{ entry: Entry; reason: string }> = []
    for (const entry of entries) if (entry.next === null) dead.push({ entry, reason: entry.unreadable })
    groups.forEach((group, i) => {
      const outcome = outcomes[i]
      if (outcome === 'applied' || outcome === 'stale') {
        done.push(...group.ids)
        for (const id of group.ids) this.attempts.delete(id)
        return
      }
      const reason = outcome === undefined ? 'no outcome' : outcome.rejected
      for (const id of group.ids) {
        const n = (this.attempts.get(id) ?? 0) + 1
        this.attempts.set(id, n)
        if (n >= this.o.maxAttempts) dead.push({ entry: entries.find((e) => e.id === id)!, reason })
      }
      // Rejected entries stay pending and are read again (own pending first).
      this.readPending = true
    })
    if (dead.length > 0) await this.deadLetter(dead)
    if (done.length > 0) await this.acknowledge(done)
    this.o.events?.flushed?.(done.length, (performance.now() - started) / 1000)
  }

  private async acknowledge(ids: string[]): Promise<void> {
    const { client, keys } = this.o
    await client.multi().xAck(keys.journal, keys.group, ids).xDel(keys.journal, ids).exec()
  }

  private async deadLetter(dead: Array<{ entry: Entry; reason: string }>): Promise<void> {
    const { client, keys, logger } = this.o
    const multi = client.multi()
    for (const { entry, reason } of dead) {
      // Bounded, like everything the service keeps: the newest ~100k dead letters.
      multi.xAdd(
        keys.deadLetters,
        '*',
        { id: entry.id, m: entry.next ? JSON.stringify(entry.next) : entry.raw, reason },
        { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: DEAD_LETTERS_KEPT } },
      )
      this.attempts.delete(entry.id)
    }
    const ids = dead.map((d) => d.entry.id)
    multi.xAck(keys.journal, keys.group, ids).xDel(keys.journal, ids)
    await multi.exec()
    logger.error({ count: dead.length, ids, reasons: [...new Set(dead.map((d) => d.reason))] }, 'journal entries dead-lettered')
    this.o.events?.deadLettered?.(dead.length)
  }
}
