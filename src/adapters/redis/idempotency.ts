import type { Clock } from '../../domain/clock'
import { generateGuid } from '../../domain/normalise'
import type { Claim, IdempotencyStore, KeepAnswer } from '../../data/idempotency'
import { type RedisConnection, redisCall } from './client'
import type { RedisKeys } from './keys'
import { DELETE_IF_EQUAL, GET_WITH_EXPIRY, IDEMPOTENCY_CLAIM, Script } from './scripts'

export interface RedisIdempotencyOptions {
  /** One Redis, or a cluster (the key's claim and answer are one key, on its own slot). */
  client: RedisConnection
  keys: RedisKeys
  timeoutMs: number
  /** How long a claim holds without its request answering (an instance that died mid-request). */
  leaseMs: number
  /** IDEMPOTENCY_TTL_SECONDS: how long the claim of a write kept apart from the key stays (see claim). */
  ttlSeconds: number
  /** Whose `now` a claim's lease is measured by (every instance's: leases are seconds, clocks agree far better). */
  clock: Clock
  /** Told when keeping an answer fails (Redis refusing writes) and when one succeeds: the journal's write health. */
  health?: { failed(error: unknown): void; succeeded(): void }
}

/**
 * How a key's Redis value reads: `F:<fingerprint>:<token>:<lease end, ms>` while its first
 * request runs (a claim), `D:<fingerprint>:<answer>` once answered (EXAT its expiry). The
 * fingerprint is 64 hex digits, so neither form needs parsing past it.
 */
const claimValue = (fingerprint: string, token: string, leaseEnd: number): string => `F:${fingerprint}:${token}:${leaseEnd}`
export const encodeKept = (keep: KeepAnswer): string => `D:${keep.fingerprint}:${keep.answer}`
const decodeHeld = (held: string): Claim => (held.startsWith('D:') ? { kind: 'done', fingerprint: held.slice(2, 66), answer: held.slice(67) } : { kind: 'in-flight', fingerprint: held.slice(2, 66) })

/**
 * Idempotency keys in Redis modes, shared by every instance: a claim is one script (the key
 * is free, or what holds it is answered), so two instances sent the same key at once run the
 * request once; the other gets 409, then the replay. A write's answer is set by the
 * journal's script with the write itself (JOURNAL_WRITE_BATCH), so it is exactly as durable
 * (AOF) and never half there; an answer with no write is set on its own.
 *
 * On a Redis Cluster a script runs on one slot, and a write that names its GUID meets a key
 * whose record is in another partition P-1 times in P. Its script then keeps the answer beside
 * the GUID (`keys.idempotencyAt`), atomically with the write, and the answer is copied to the
 * key's record right after. A kill -9 between the two leaves the claim, which for such a write
 * stays past its lease (IDEMPOTENCY_TTL_SECONDS, as the answer would): another request under
 * the key is still 422, and the same request, once the lease has run out, takes the claim over,
 * finds the answer beside the GUID, keeps it at the key's record and replays it. The write
 * never runs twice.
 */
export class RedisIdempotency implements IdempotencyStore {
  readonly keptWithWrite: boolean
  private readonly claimScript = new Script(IDEMPOTENCY_CLAIM)
  private readonly releaseScript = new Script(DELETE_IF_EQUAL)
  private readonly keptBesideScript = new Script(GET_WITH_EXPIRY)
  /** Claims this instance holds, by key id: the value its release compares. */
  private readonly mine = new Map<string, string>()

  constructor(private readonly o: RedisIdempotencyOptions) {
    this.keptWithWrite = true
  }

  /**
   * Whether the journal's script, which runs on the GUID's slot, keeps the answer at the key's
   * own record: on a Redis Cluster only when the key's record is in the GUID's partition (a
   * create without a GUID always: guidFor). Otherwise the script keeps it beside the GUID, and
   * `complete` copies it to the key's record.
   */
  keepsWith(id: string, guid: string): boolean {
    const { keys } = this.o
    return keys.partitions === 1 || keys.idempotencyPartition(id) === keys.partitionOf(guid)
  }

  /** A fresh GUID in the key's partition (P draws on average), so the create's answer is kept by its own script. */
  guidFor(id: string): string {
    const { keys } = this.o
    const home = keys.idempotencyPartition(id)
    for (;;) {
      const guid = generateGuid()
      if (keys.partitions === 1 || keys.partitionOf(guid) === home) return guid
    }
  }

  async claim(id: string, fingerprint: string, guid: string | undefined, named?: string): Promise<Claim> {
    const { client, keys, timeoutMs, leaseMs, ttlSeconds, clock } = this.o
    const now = clock.now()
    const token = crypto.randomUUID()
    const value = claimValue(fingerprint, token, now + leaseMs)
    const apart = named !== undefined && !this.keepsWith(id, named)
    const px = apart ? Math.max(leaseMs, ttlSeconds * 1000) : leaseMs
    const held = (await redisCall('idempotency', timeoutMs, () => this.claimScript.run(client, [keys.idempotency(id)], [value, String(px), String(now), fingerprint]))) as string | null
    if (held !== null) return decodeHeld(held)
    this.mine.set(id, value)
    if (apart) {
      try {
        const kept = await this.keptBeside(id, named)
        if (kept !== undefined) return kept
      } catch (error) {
        await this.release(id, token).catch(() => {})
        throw error
      }
    }
    return { kind: 'claimed', token, guid, resumed: false }
  }

  /**
   * The answer a write of `named` kept beside its GUID, when its instance died before copying it
   * to the key's record: copied now (with the same expiry), so the key answers it from its record.
   */
  private async keptBeside(id: string, named: string): Promise<Claim | undefined> {
    const { client, keys, timeoutMs } = this.o
    const found = (await redisCall('idempotency', timeoutMs, () => this.keptBesideScript.run(client, [keys.idempotencyAt(id, named)], []))) as [string, number] | null
    if (found === null || !found[0].startsWith('D:')) return undefined
    const [kept, expiresAt] = found
    await redisCall('idempotency', timeoutMs, () => client.set(keys.idempotency(id), kept, expiresAt > 0 ? { PXAT: expiresAt } : { PX: this.o.ttlSeconds * 1000 }))
    this.mine.delete(id)
    return decodeHeld(kept)
  }

  async complete(_token: string, keep: KeepAnswer): Promise<void> {
    const { client, keys, timeoutMs } = this.o
    this.mine.delete(keep.id)
    try {
      await redisCall('idempotency', timeoutMs, () => client.set(keys.idempotency(keep.id), encodeKept(keep), { EXAT: keep.expire }))
    } catch (error) {
      this.o.health?.failed(error)
      throw error
    }
    this.o.health?.succeeded()
  }

  async settled(id: string, _token: string): Promise<void> {
    this.mine.delete(id)
  }

  async release(id: string, _token: string): Promise<void> {
    const value = this.mine.get(id)
    this.mine.delete(id)
    if (value === undefined) return
    const { client, keys, timeoutMs } = this.o
    await redisCall('idempotency', timeoutMs, () => this.releaseScript.run(client, [keys.idempotency(id)], [value]))
  }
}
