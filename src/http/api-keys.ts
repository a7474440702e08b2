import { timingSafeEqual } from 'node:crypto'

/** What `verify` answers besides a key's index. */
export const NO_CREDENTIALS = -1
export const WRONG_KEY = -2

const sha256 = (text: string): Uint8Array => Bun.SHA256.hash(text) as Uint8Array

/**
 * The bearer keys the service accepts (SPEC §6). Only their SHA-256 digests are kept, and a
 * presented key is hashed and compared with every digest by `timingSafeEqual`, with no early
 * exit: how long a check takes says nothing about how close a guess was, nor which key it hit.
 */
export class ApiKeys {
  private digests: Uint8Array[] = []
  private ids: string[] = []
  private readonly presented = new Uint8Array(32)

  constructor(keys: readonly string[]) {
    this.replace(keys)
  }

  get size(): number {
    return this.digests.length
  }

  /** Swaps the whole key set at once (a SIGHUP reload); requests in flight see the old or the new set, never a mix. */
  replace(keys: readonly string[]): void {
    const unique = [...new Set(keys)]
    const digests = unique.map(sha256)
    // A stable, non-secret name per key for rate-limit buckets: 64 bits of its digest.
    this.ids = digests.map((d) => `key:${Buffer.from(d.subarray(0, 8)).toString('hex')}`)
    this.digests = digests
  }

  /**
   * Checks an Authorization header value: the matching key's index, NO_CREDENTIALS when there
   * is no bearer credential at all, WRONG_KEY when there is one and it matches no key.
   */
  verify(authorization: string | null): number {
    if (authorization === null || authorization.length < 8 || authorization.charCodeAt(6) !== 32) return NO_CREDENTIALS
    if (!authorization.startsWith('Bearer') && authorization.slice(0, 6).toLowerCase() !== 'bearer') return NO_CREDENTIALS
    Bun.SHA256.hash(authorization.slice(7).trim(), this.presented)
    const digests = this.digests
    let found = WRONG_KEY
    for (let i = 0; i < digests.length; i++) {
      if (timingSafeEqual(this.presented, digests[i]!)) found = i
    }
    return found
  }

  /** The non-secret identity of key `index` (from `verify`), for rate limiting. */
  idOf(index: number): string {
    return this.ids[index] ?? 'key:unknown'
  }
}
