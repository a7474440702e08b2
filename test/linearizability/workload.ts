import type { Kind, ListItem, OpInput, OpOutput, RecordedOp } from './history'
import { homeLine, type Pool, type Target } from './routing'
import { generateGuid } from '../../src/domain/normalise'

/**
 * Concurrent clients sending random operations on a few GUIDs to the instance the pool's
 * routing picks, each operation recorded (invoke, return, outcome) for the linearizability
 * checker.
 *
 * A client sends one request at a time. When an answer is unknown (no answer, a 5xx), the
 * client continues under a new client id, as Jepsen does with a crashed process: the
 * unknown operation stays "in flight" forever, and one client never has two at once.
 *
 * Some writes carry an Idempotency-Key: one with no answer (a kill, a 5xx, the key's
 * request still in flight elsewhere: 409) is sent again under the same key, to whichever
 * instance the routing picks then, until it is answered; one that was answered is sometimes
 * sent again all the same, and must be answered the same, replayed. When the run's store is
 * shared, clients also list the GUIDs of one of two users (`GET /guid?user=`), and every
 * write gives its GUID one of those users half the time, so GUIDs move in and out of
 * listings.
 */

/** A client gives up on a request after this long; the operation is then unknown. */
const REQUEST_TIMEOUT_MS = 5_000
/**
 * Pause after an unknown outcome: a 503's Retry-After (plus jitter, at most RETRY_AFTER_MAX_MS),
 * else (no answer) a short random one. A client that honours Retry-After also keeps the
 * history checkable: every unknown write stays a candidate until the end of the history,
 * and the checker's search grows with their number.
 */
const BACKOFF_MS = [100, 300] as const
const RETRY_AFTER_MAX_MS = 1_500

const KINDS: Array<[Kind, number]> = [
  ['get', 30],
  ['patch', 16],
  ['upsert', 14],
  ['create', 10],
  ['create-only', 8],
  ['delete', 12],
]
const TOTAL_WEIGHT = KINDS.reduce((sum, [, w]) => sum + w, 0)

/**
 * After an answer that carries an ETag, how often the client's next operation is a change of
 * the same GUID at once (read-modify-write), with If-Match of that ETag in FOLLOW_UP_IF_MATCH
 * of them. Under random routing half of these go to the other instance right after the write
 * was acknowledged: that is where a refusal decided on a copy that trails (a 412 for the
 * current ETag, a 404 for a GUID just created) shows.
 */
const FOLLOW_UP = 0.4
const FOLLOW_UP_IF_MATCH = 0.7
const FOLLOW_UP_KINDS: Kind[] = ['patch', 'patch', 'upsert', 'delete']

/** Of the operations a client starts (not a follow-up), the share that is a listing walk, when listings are on. */
const LIST_SHARE = 0.08
/** The users listings ask for, which half of the writes give their GUID. */
export const LIST_USERS = ['L0', 'L1'] as const
/** A page big enough for every GUID of a run (one page, read at one point), most of the time; else pages of 1 or 2, walked. */
const LIST_LIMITS = [10, 10, 10, 1, 2] as const
/** Of the writes, the share sent with an Idempotency-Key. */
const KEYED_SHARE = 0.25
/** Of the keyed writes that were answered, the share sent once more (a retry after a lost answer). */
const KEYED_RETRY_ANSWERED = 0.3
/** A keyed write is sent at most this often, and not later than this after the load's deadline. */
const KEYED_ATTEMPTS = 8
const KEYED_GRACE_MS = 5_000

const randomInt = (lo: number, hi: number): number => lo + Math.floor(Math.random() * (hi - lo + 1))
const pickOf = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!

const randomKind = (): Kind => {
  let r = Math.random() * TOTAL_WEIGHT
  for (const [kind, w] of KINDS) if ((r -= w) < 0) return kind
  return 'get'
}

/** A random 32-hex-digit GUID in canonical form. */
export const randomGuid = generateGuid

/** `count` random GUIDs, as many at home on each line as can be: every instance serves some, and every kill moves some. */
export const spreadGuids = (count: number, lines: readonly string[]): string[] => {
  const guids: string[] = []
  const perLine = Math.ceil(count / lines.length)
  while (guids.length < count) {
    const guid = randomGuid()
    const home = homeLine(guid, lines)
    if (guids.filter((g) => homeLine(g, lines) === home).length < perLine) guids.push(guid)
  }
  return guids
}

/** What one request is: the checker's view of it, and the HTTP that carries it. */
interface Request {
  kind: Kind
  guid: string
  input: OpInput
  method: string
  path: string
  body?: object
  headers: Record<string, string>
}

/** The HTTP of an operation; a listing page after the first takes the previous page's cursor. */
export const requestFor = (kind: Kind, guid: string, input: OpInput, cursor?: string): Request => {
  const headers: Record<string, string> = {}
  if (input.ifMatch !== undefined) headers['if-match'] = input.ifMatch
  if (input.key !== undefined) headers['idempotency-key'] = input.key
  const fields = { ...(input.user !== undefined && { user: input.user }), ...(input.expire !== undefined && { expire: input.expire }) }
  switch (kind) {
    case 'get':
      return { kind, guid, input, method: 'GET', path: `/guid/${guid}`, headers }
    case 'create':
      return { kind, guid, input, method: 'POST', path: '/guid', body: { guid, ...fields }, headers }
    case 'create-only':
      return { kind, guid, input, method: 'POST', path: `/guid/${guid}`, body: fields, headers: { ...headers, 'if-none-match': '*' } }
    case 'upsert':
      return { kind, guid, input, method: 'POST', path: `/guid/${guid}`, body: fields, headers }
    case 'patch':
      return { kind, guid, input, method: 'PATCH', path: `/guid/${guid}`, body: fields, headers }
    case 'delete':
      return { kind, guid, input, method: 'DELETE', path: `/guid/${guid}`, headers }
    case 'list':
      return { kind, guid, input, method: 'GET', path: `/guid?user=${encodeURIComponent(input.user!)}&limit=${input.limit}${cursor === undefined ? '' : `&cursor=${cursor}`}`, headers }
  }
}

/**
 * Sends one request and records it (with a 5xx's or an in-flight 409's Retry-After in seconds,
 * if any, and a listing page's cursor to the next one); never throws.
 */
export const perform = async (req: Request, target: Target, client: number, clock: () => number): Promise<{ op: RecordedOp; retryAfter?: number; next?: string }> => {
  const init: RequestInit = { method: req.method, headers: req.headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) }
  if (req.body !== undefined) {
    init.body = JSON.stringify(req.body)
    init.headers = { ...req.headers, 'content-type': 'application/json' }
  }
  const base = { client, guid: req.guid, kind: req.kind, input: req.input }
  const invoke = clock()
  try {
    const res = await fetch(target.base + req.path, init)
    const text = await res.text()
    const done = clock()
    const output: OpOutput = { status: res.status }
    // A 5xx may or may not have been applied (a timeout, Redis lost mid-script, a fault).
    // A keyed request while another with its key is in flight: nothing is known of its effect yet.
    const inFlight = res.status === 409 && req.input.key !== undefined && text.includes('idempotency-key-in-flight')
    // A listing's read barrier that ran out of time is 503 too: a read with no answer.
    if (res.status >= 500 || inFlight)
      return { op: { ...base, invoke, output, meta: `${target.name}: ${res.status} ${text.slice(0, 200)}` }, retryAfter: Number(res.headers.get('retry-after') ?? Number.NaN) }
    if (req.input.key !== undefined && res.headers.get('idempotent-replayed') === 'true') output.replayed = true
    if (req.kind === 'list') {
      // Any other answer is one a listing of valid parameters cannot give: the checker refuses it as bad input.
      if (res.status !== 200) return { op: { ...base, invoke, return: done, output, meta: `${target.name}: ${text.slice(0, 200)}` } }
      const page = JSON.parse(text) as { items: ListItem[]; next: string | null }
      output.items = page.items.map(({ guid, user, expire }) => ({ guid, user, expire }))
      output.more = page.next !== null
      return { op: { ...base, invoke, return: done, output, meta: target.name }, ...(page.next !== null && { next: page.next }) }
    }
    if (res.status === 200 || res.status === 201) {
      const body = JSON.parse(text) as { user: string; expire: number }
      output.user = body.user
      output.expire = body.expire
      output.etag = res.headers.get('etag') ?? ''
    }
    return { op: { ...base, invoke, return: done, output, meta: target.name } }
  } catch (error) {
    return { op: { ...base, invoke, meta: `${target.name}: ${(error as Error).name}: ${(error as Error).message}` } }
  }
}

export interface LoadOptions {
  clients: number
  guids: string[]
  pool: Pool
  /** Stop once this many operations have been recorded, or at the deadline. */
  operations: number
  deadline: number
  clock: () => number
  /** Far-future expiry base (Unix seconds): expiry is not under test here. */
  expireBase: number
  /**
   * False: GET answers are recorded as unchecked (the checker leaves them out). The GETs are
   * still sent: they fill the LRUs that writes and refusals are then decided against.
   */
  checkReads: boolean
  /** Listing walks among the operations (the instances share one store, so any lists every write). */
  listings: boolean
  /** Names the run's Idempotency-Keys apart from any other run's. */
  keyPrefix: string
}

export interface Load {
  ops: RecordedOp[]
  /** Resolves when every client has stopped. */
  done: Promise<void>
  stop(): void
}

/** Starts the clients; they run until `operations` are recorded, the deadline, or `stop()`. */
export const startLoad = (opts: LoadOptions): Load => {
  const ops: RecordedOp[] = []
  let stopped = false
  let nextClientId = opts.clients
  const finished = () => stopped || ops.length >= opts.operations || Date.now() > opts.deadline

  /** After an unknown outcome: Retry-After when the service gave one, else a short random pause. */
  const backOff = (retryAfter: number | undefined) =>
    Bun.sleep(retryAfter !== undefined && retryAfter >= 0 ? Math.min(retryAfter * 1_000 + randomInt(0, 200), RETRY_AFTER_MAX_MS) : randomInt(...BACKOFF_MS))

  /** A listing of one user, page after page; false when a page had no answer (the client then goes on under a new id). */
  const listWalk = async (id: number): Promise<boolean> => {
    const user = pickOf(LIST_USERS)
    const limit = pickOf(LIST_LIMITS)
    let cursor: string | undefined
    let after: string | undefined
    for (let page = 0; page <= opts.guids.length; page++) {
      const target = opts.pool.any()
      if (target === undefined) return true
      const input: OpInput = { user, limit, ...(after !== undefined && { after }) }
      const { op, retryAfter, next } = await perform(requestFor('list', '', input, cursor), target, id, opts.clock)
      ops.push(op)
      if (op.return === undefined) {
        await backOff(retryAfter)
        return false
      }
      if (next === undefined) return true
      cursor = next
      after = op.output!.items!.at(-1)!.guid
    }
    return true
  }

  const client = async (worker: number): Promise<void> => {
    let id = worker
    let seq = 0
    /** ETags this worker saw per GUID, newest last: If-Match mostly sends the newest. */
    const seen = new Map<string, string[]>()
    /** The GUID whose ETag the last answer carried, when the next operation follows it up. */
    let followUp: string | undefined
    while (!finished()) {
      if (followUp === undefined && opts.listings && Math.random() < LIST_SHARE) {
        if (!(await listWalk(id))) id = nextClientId++
        continue
      }
      const guid = followUp ?? pickOf(opts.guids)
      let target = opts.pool.pick(guid)
      if (target === undefined) {
        await Bun.sleep(10)
        continue
      }
      const kind = followUp !== undefined ? pickOf(FOLLOW_UP_KINDS) : randomKind()
      const input: OpInput = {}
      ++seq
      const user = opts.listings && Math.random() < 0.5 ? pickOf(LIST_USERS) : `c${worker}-${seq}`
      const expire = opts.expireBase + randomInt(0, 99_999)
      if (kind === 'create' || kind === 'create-only' || kind === 'upsert') Object.assign(input, { user, expire })
      if (kind === 'patch') {
        const which = randomInt(0, 2)
        if (which !== 1) input.user = user
        if (which !== 0) input.expire = expire
      }
      const etags = seen.get(guid) ?? []
      if (followUp !== undefined) {
        if (Math.random() < FOLLOW_UP_IF_MATCH) input.ifMatch = etags[etags.length - 1]!
      } else if ((kind === 'patch' || kind === 'upsert' || kind === 'delete') && etags.length > 0 && Math.random() < 0.5) {
        input.ifMatch = Math.random() < 0.8 ? etags[etags.length - 1]! : pickOf(etags)
      }
      if (kind !== 'get' && Math.random() < KEYED_SHARE) input.key = `"${opts.keyPrefix}-${worker}-${seq}"`
      const request = requestFor(kind, guid, input)
      const send = async (to: Target) => {
        const untrack = opts.pool.track(guid, to)
        const sent = await perform(request, to, id, opts.clock).finally(untrack)
        if (kind === 'get' && !opts.checkReads) sent.op.unchecked = true
        ops.push(sent.op)
        return sent
      }
      let { op, retryAfter } = await send(target)
      if (input.key !== undefined) {
        // The same request under the same key: until it is answered (after a kill, a 5xx, a
        // 409 while another attempt runs), and sometimes once more after an answer.
        let answered = op.return !== undefined
        let again = !answered || Math.random() < KEYED_RETRY_ANSWERED
        for (let attempt = 1; again && attempt < KEYED_ATTEMPTS && Date.now() < opts.deadline + KEYED_GRACE_MS; attempt++) {
          if (!answered) await backOff(retryAfter)
          target = opts.pool.pick(guid)
          if (target === undefined) {
            await Bun.sleep(10)
            continue
          }
          const retry = await send(target)
          retryAfter = retry.retryAfter
          if (!answered && retry.op.return !== undefined) {
            op = retry.op
            answered = true
            again = Math.random() < KEYED_RETRY_ANSWERED
          } else again = !answered
        }
      }
      const etag = op.output?.etag
      if (op.return !== undefined && etag) seen.set(guid, [...etags.slice(-7), etag])
      followUp = op.return !== undefined && etag && Math.random() < FOLLOW_UP ? guid : undefined
      if (op.return === undefined) {
        id = nextClientId++
        if (input.key === undefined) await backOff(retryAfter)
      }
    }
  }
  const done = Promise.all(Array.from({ length: opts.clients }, (_, i) => client(i))).then(() => {})
  return {
    ops,
    done,
    stop: () => {
      stopped = true
    },
  }
}
