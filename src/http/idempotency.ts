import { type Clock, nowSeconds } from '../domain/clock'
import { unavailable } from '../domain/errors'
import { parseIdempotencyKey } from '../domain/idempotency'
import { canonicalGuid, generateGuid } from '../domain/normalise'
import type { IdempotencyStore, KeyedWrite } from '../data/idempotency'
import type { ApiKeys } from './api-keys'
import { jsonOfBytes, readBodyBytes, readJsonBody } from './body'
import { fingerprintOf } from './fingerprint'
import { NOSNIFF } from './headers'
import type { Call } from './observe'
import { pathOf } from './path'
import { AppError } from './problems'
import { problemResponse } from './respond'

/**
 * `Idempotency-Key` on the write routes (draft-ietf-httpapi-idempotency-key-header). The first
 * request under a key runs; its answer (status, body, ETag, Location) is kept for
 * IDEMPOTENCY_TTL_SECONDS and replayed, with `Idempotent-Replayed: true`, to a repeat of the
 * same request (method, path with its GUID canonical, If-Match, If-None-Match, body as
 * canonical JSON); another request under the key is 422; a repeat while the first runs is
 * 409 with Retry-After. Kept: what the service decided (2xx, 400, 404, 409, 412); not kept:
 * 5xx (and 401 and 429, which the guard answers before a key is looked at), so a retry runs
 * afresh. Keys are scoped by the caller's API key when keys are configured.
 *
 * The answer of a write goes into the journal with the write (Mutation.keep) where the mode
 * can (the SQLite transaction, the Redis script): the two are one atomic step. On a Redis
 * Cluster the script keeps it beside the GUID when the key's record is on another slot, and it
 * is copied to the key's record right after (the claim finds it there after a crash). Where it
 * cannot (MongoDB-only), it is kept right after the write, and the claim fixes a create's GUID
 * and records the write's intent first.
 */

/** An answer as it is kept, and replayed. */
export interface KeptAnswer {
  status: number
  body: string | null
  contentType?: string
  etag?: string
  location?: string
}

export interface IdempotencyDeps {
  store: IdempotencyStore
  /** Undefined when no key is configured: one scope for everyone. */
  keys: ApiKeys | undefined
  ttlSeconds: number
  clock: Clock
  /** Counts a replay (guidd_idempotent_replays_total). */
  replayed: () => void
}

/** What a write route does, for its keyed and its plain form alike. */
export interface WriteSpec<T> {
  /** Runs the write; `body` reads the JSON body (already read, for a keyed request). */
  run(call: Call, body: () => Promise<unknown>, keyed: KeyedWrite | undefined): Promise<T>
  /** The answer to a keyed request, kept and replayed. */
  render(result: T): KeptAnswer
  /** The answer to a request without a key (the hot path's own response builders). */
  respond(call: Call, result: T): Response
  /** POST /guid: a generated GUID is fixed with the claim. */
  generates?: boolean
}

const isKept = (status: number): boolean => (status >= 200 && status < 300) || status === 400 || status === 404 || status === 409 || status === 412

/** A kept answer as a response: its own headers, the request's id, and whether it is a replay. */
export const answerResponse = (answer: KeptAnswer, call: Call, replayed: boolean): Response => {
  const headers: Record<string, string> = { 'cache-control': 'no-store', 'x-content-type-options': NOSNIFF, 'x-request-id': call.requestId }
  if (answer.body !== null) headers['content-type'] = answer.contentType ?? 'application/json'
  if (answer.etag !== undefined) headers.etag = answer.etag
  if (answer.location !== undefined) headers.location = answer.location
  if (replayed) headers['idempotent-replayed'] = 'true'
  call.bytes = answer.body === null ? 0 : Buffer.byteLength(answer.body)
  return new Response(answer.body, { status: answer.status, headers })
}

/** The canonical GUID a create's body names, if it names a valid one (else the create is a 400 or draws its own). */
const bodyGuidOf = (bytes: Uint8Array): string | undefined => {
  try {
    const body: unknown = JSON.parse(new TextDecoder().decode(bytes))
    const guid = typeof body === 'object' && body !== null ? (body as { guid?: unknown }).guid : undefined
    return typeof guid === 'string' ? (canonicalGuid(guid) ?? undefined) : undefined
  } catch {
    return undefined
  }
}

export const idempotent = <T>(deps: IdempotencyDeps, spec: WriteSpec<T>) => {
  /** The key's scope: the caller's API key (the guard has checked it), or one scope when the API is open. */
  const scopeOf = (request: Request): string => (deps.keys === undefined ? '-' : deps.keys.idOf(deps.keys.verify(request.headers.get('authorization'))))

  const keyed = async (call: Call, header: string): Promise<Response> => {
    const { request } = call
    const key = parseIdempotencyKey(header)
    const bytes = await readBodyBytes(request)
    call.received?.()
    const guid = call.params.guid
    const fingerprint = fingerprintOf({
      method: request.method,
      path: guid === undefined ? '/guid' : `/guid/${canonicalGuid(guid) ?? guid}`,
      ifMatch: request.headers.get('if-match'),
      ifNoneMatch: request.headers.get('if-none-match'),
      body: bytes,
    })
    const id = `${scopeOf(request)}:${key}`
    const { store } = deps
    const named = guid !== undefined ? (canonicalGuid(guid) ?? undefined) : spec.generates ? bodyGuidOf(bytes) : undefined
    const claim = await store.claim(id, fingerprint, spec.generates ? (store.guidFor?.(id) ?? generateGuid()) : undefined, named)
    if (claim.kind !== 'claimed') {
      if (claim.fingerprint !== fingerprint) {
        throw new AppError('idempotency-key-reused', 'This Idempotency-Key was used for another request (method, path, preconditions or body); send a new key for a new request.')
      }
      if (claim.kind === 'in-flight') {
        throw new AppError('idempotency-key-in-flight', 'The first request with this Idempotency-Key is still running; retry shortly for its answer.', { headers: { 'retry-after': '1' } })
      }
      deps.replayed()
      return answerResponse(JSON.parse(claim.answer) as KeptAnswer, call, true)
    }
    const expire = nowSeconds(deps.clock) + deps.ttlSeconds
    const write: KeyedWrite = {
      id,
      fingerprint,
      expire,
      answer: (result) => JSON.stringify(spec.render(result as T)),
      guid: claim.guid,
      resumed: claim.resumed,
      committed: false,
      keepWithWrite: store.keptWithWrite,
      keepsWith: store.keepsWith === undefined ? undefined : (guid) => store.keepsWith!(id, guid),
      intend: store.intend === undefined ? undefined : (intent) => store.intend!(id, claim.token, intent),
      trace: store.intend === undefined ? undefined : claim.token,
    }
    let answer: KeptAnswer
    try {
      answer = spec.render(await spec.run(call, () => jsonOfBytes(request, bytes), write))
    } catch (error) {
      const problem = problemResponse(error, pathOf(request.url), call)
      if (!isKept(problem.status)) {
        // Not kept: the key is free again for a retry (a write whose answer the journal took stays
        // kept; where the write may have landed without it, the retry finds it: store.release).
        await store.release(id, claim.token).catch(() => {})
        throw error
      }
      answer = { status: problem.status, body: await problem.text(), contentType: 'application/problem+json' }
    }
    if (write.committed) await store.settled(id, claim.token)
    else if (isKept(answer.status)) {
      try {
        await store.complete(claim.token, { id, fingerprint, answer: JSON.stringify(answer), expire })
      } catch (error) {
        // A 2xx is answered as it happened (its write is durable): the claim runs out with its
        // lease. A refusal wrote nothing: 503, and the key is free for the retry.
        if (answer.status >= 300) {
          await store.release(id, claim.token).catch(() => {})
          throw unavailable('The answer could not be kept under the Idempotency-Key; retry with the same key.', error)
        }
      }
    } else await store.release(id, claim.token)
    return answerResponse(answer, call, false)
  }

  return (call: Call): Promise<Response> => {
    const header = call.request.headers.get('idempotency-key')
    if (header !== null) return keyed(call, header)
    const body = () =>
      readJsonBody(call.request).then((json) => {
        call.received?.()
        return json
      })
    return spec.run(call, body, undefined).then((result) => spec.respond(call, result))
  }
}
