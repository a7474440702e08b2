import type fc from 'fast-check'
import type { Real } from './commands'
import { ModelFailure } from './commands'
import type { Model } from './model'
import { type Observed, send, summary } from './wire'

/**
 * Idempotency-Key in the model: writes sent with a fresh key (RequestSpec.keyed) are judged
 * as any write, and a kept answer (2xx, 400, 404, 409, 412) is remembered; RetryCommand then
 * sends one of them again, at any later point of the run (after other writes, expiries,
 * kill -9 restarts of the service or of Redis, faults): the same request must get the same
 * answer, replayed, and change nothing; another request under the key must get 422.
 */

let keys = 0
export const freshKey = (): string => `model-${process.pid}-${Date.now().toString(36)}-${++keys}`

export const isKept = (status: number): boolean => (status >= 200 && status < 300) || status === 400 || status === 404 || status === 409 || status === 412

const count = (r: Real, what: string) => r.stats.set(what, (r.stats.get(what) ?? 0) + 1)

const same = (a: Observed, b: Observed): boolean => a.status === b.status && a.text === b.text && a.etag === b.etag && a.location === b.location && (a.contentType ?? '') === (b.contentType ?? '')

export class RetryCommand implements fc.AsyncCommand<Model, Real, false> {
  constructor(
    private readonly pick: number,
    /** true: the same request (replayed); false: another request under the same key (422). */
    private readonly sameRequest: boolean,
  ) {}

  check(m: Model): boolean {
    return m.keyed.length > 0
  }

  async run(m: Model, r: Real): Promise<void> {
    const sent = m.keyed[this.pick % m.keyed.length]!
    // Another request: another method on the same path, or (POST /guid) another body.
    const other =
      sent.req.path === '/guid'
        ? { ...sent.req, body: [{ text: JSON.stringify({ user: `another request ${sent.key}` }) }] }
        : sent.req.method === 'DELETE'
          ? { ...sent.req, method: 'PATCH' as const, body: [{ text: '{"user":"another request"}' }] }
          : { ...sent.req, method: 'DELETE' as const, body: null }
    const req = this.sameRequest ? sent.req : other
    let res: Observed
    try {
      res = await send(r.service.base, req)
    } catch (error) {
      throw new ModelFailure(`${this} got no answer: ${error}\n${r.service.output()}`)
    }
    r.transcript.http(req, sent.shellPath, res.t0, summary(res), [this.sameRequest ? `the replay of: ${summary(sent.answer)}` : '422 idempotency-key-reused'], res.etag, null)
    // With MongoDB stopped the key itself cannot be read: 503, and nothing else.
    if (m.storeDown && res.status === 503 && res.retryAfter !== null) {
      count(r, 'retry under a key, 503 (MongoDB down)')
      return
    }
    if (this.sameRequest) {
      if (!same(res, sent.answer) || res.replayed !== 'true') {
        throw new ModelFailure(`${this}\n -> ${summary(res)} (Idempotent-Replayed: ${res.replayed})\nexpected the kept answer replayed: ${summary(sent.answer)}`)
      }
      count(r, `retry under a key, replayed ${res.status}`)
    } else {
      if (res.status !== 422 || res.json?.type !== 'urn:guidd:problem:idempotency-key-reused') throw new ModelFailure(`${this}\n -> ${summary(res)}\nexpected 422 idempotency-key-reused`)
      count(r, 'another request under a used key, 422')
    }
  }

  toString(): string {
    return this.sameRequest ? `# send keyed request #${this.pick} again, unchanged (expect its answer replayed)` : `# send another request under keyed request #${this.pick}'s key (expect 422)`
  }
}
