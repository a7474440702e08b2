import { generateGuid } from '../../domain/normalise'
import type { Claim, IdempotencyStore, KeepAnswer } from '../../data/idempotency'
import { type RedisConnection, redisCall } from './client'
import type { RedisKeys } from './keys'
import { DELETE_IF_EQUAL, IDEMPOTENCY_CLAIM, Script } from './scripts'

export interface RedisIdempotencyOptions {
  /** One Redis, or a cluster (the key's claim and answer are one key, on its own slot). */
  client: RedisConnection
  keys: RedisKeys
  timeoutMs: number
  /** How long a claim holds without its request answering (an instance that died mid-request). */
  leaseMs: number
  /** Told when keeping an answer fails (Redis refusing writes) and when one succeeds: the journal's write health. */
  health?: { failed(error: unknown): void; succeeded(): void }
}

/**
 * How a key's Redis value reads: `F:<fingerprint>:<token>` while its first request runs (a
 * claim, with a lease), `D:<fingerprint>:<answer>` once answered (EXAT its expiry). The
 * fingerprint is 64 hex digits, so neither form needs parsing past it.
 */
const claimValue = (fingerprint: string, token: string): string => `F:${fingerprint}:${token}`
export const encodeKept = (keep: KeepAnswer): string => `D:${keep.fingerprint}:${keep.answer}`

/**
 * Idempotency keys in Redis modes, shared by every instance: a claim is one script (the key
 * is free, or what holds it is answered), so two instances sent the same key at once run the
 * request once; the other gets 409, then the replay. A write's answer is set by the
 * journal's script with the write itself (JOURNAL_WRITE_BATCH), so it is exactly as durable
 * (AOF) and never half there; an answer with no write is set on its own.
 */
export class RedisIdempotency implements IdempotencyStore {
  readonly keptWithWrite: boolean
  private readonly claimScript = new Script(IDEMPOTENCY_CLAIM)
  private readonly releaseScript = new Script(DELETE_IF_EQUAL)
  /** Claims this instance holds, by key id: the value its release compares. */
  private readonly mine = new Map<string, string>()

  constructor(private readonly o: RedisIdempotencyOptions) {
    this.keptWithWrite = true
  }

  /**
   * On a Redis Cluster the journal's script runs on the GUID's slot: it keeps the answer only
   * when the key's record is in the GUID's partition (a create without a GUID always: guidFor).
   * Otherwise (a GUID in the path, in another partition than the key's) the answer is kept
   * right after the write.
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

  async claim(id: string, fingerprint: string, guid: string | undefined): Promise<Claim> {
    const { client, keys, timeoutMs, leaseMs } = this.o
    const token = crypto.randomUUID()
    const value = claimValue(fingerprint, token)
    const held = (await redisCall('idempotency', timeoutMs, () => this.claimScript.run(client, [keys.idempotency(id)], [value, String(leaseMs)]))) as string | null
    if (held === null) {
      this.mine.set(id, value)
      return { kind: 'claimed', token, guid, resumed: false }
    }
    const heldFingerprint = held.slice(2, 66)
    return held.startsWith('D:') ? { kind: 'done', fingerprint: heldFingerprint, answer: held.slice(67) } : { kind: 'in-flight', fingerprint: heldFingerprint }
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
