import fc from 'fast-check'
import { ansiC, BAD_UTF8, type BodyGuid, bodySegments, bodyText, EXPIRE_FORMATS, type ExpireSpec, MAX_EXPIRE, type SentExpire } from './body'
import { type Form, FORMS, freshGuid, shellGuid, writeGuid } from './guid-forms'
import { GENERATED_SLOT, type GuidModel, historyOf, type Model, nextBoundaryMs, POOL_SIZE, settle } from './model'
import type { Fault } from './modes'
import { describeOutcome, expectations, type Intent, judge, type Quirk } from './rules'
import type { Service } from './service'
import { resolveTag, TAG_CHOICES, type TagChoice } from './tags'
import { nowSeconds, sleep } from './timing'
import type { Transcript } from './transcript'
import { freshKey, isKept, RetryCommand } from './keyed'
import { ListCommand } from './listing'
import { type Req, send, summary } from './wire'

/**
 * The commands of the model run: every request of the API, and the things that happen to a
 * service between requests (time passing an expiry, kill -9, faults). Each runs against
 * the real service over HTTP and compares the answer with the model (rules.ts); its
 * toString() is the request as a curl command line, with what depends on the moment it
 * runs (ETags, expires) written symbolically. The run's transcript (transcript.ts) has
 * the exact replay.
 */

export interface Real {
  service: Service
  transcript: Transcript
  defaultTtlSeconds: number
  /** What ran and what it was answered, counted (e.g. "PATCH 412", "wait", "disk-full"). */
  stats: Map<string, number>
  without: Without
}

const count = (r: Real, what: string) => r.stats.set(what, (r.stats.get(what) ?? 0) + 1)

type Cmd = fc.AsyncCommand<Model, Real, false>

/** The longest a wait command sleeps: expiries are crossed, in bounded time. */
const MAX_WAIT_MS = 3_000

export class ModelFailure extends Error {}

// ---------------------------------------------------------------- requests

type BodyGuidChoice = 'none' | 'same' | 'other'

export interface RequestSpec {
  op: 'create' | 'upsert' | 'patch' | 'delete' | 'get'
  /** Pool slot; null: POST /guid without a guid (the service generates one). */
  slot: number | null
  form: Form
  /** create: the guid is in the body (slot given) or absent; upsert/patch: a guid in the body too. */
  bodyGuid: BodyGuidChoice
  user?: string
  expire?: ExpireSpec
  quirk: Quirk
  badBytes: readonly number[]
  ifMatch?: TagChoice
  ifNoneMatch?: TagChoice
  /** Runs only while the model holds a live record for the slot (an update aimed at one). */
  liveOnly?: boolean
  /** Sent with a fresh Idempotency-Key; a kept answer is remembered for RetryCommand. */
  keyed?: boolean
}

const describeExpire = (e: ExpireSpec): string => (e.far ? '<past 9999-12-31>' : `<now${e.offset >= 0 ? '+' : ''}${e.offset}s as ${e.format}${e.alignMs ? `, ${e.alignMs} ms before a second` : ''}>`)

const methodOf = (op: RequestSpec['op']): Req['method'] => (op === 'get' ? 'GET' : op === 'delete' ? 'DELETE' : op === 'patch' ? 'PATCH' : 'POST')

const hasBody = (op: RequestSpec['op']): boolean => op === 'create' || op === 'upsert' || op === 'patch'

/** Sleeps until `ms` before the next second boundary (at least a little ahead), so `now+1` lands on it. */
const alignBefore = async (ms: number): Promise<void> => {
  const now = Date.now()
  let target = Math.ceil(now / 1000) * 1000 - ms
  if (target < now + 5) target += 1000
  // Time itself is the subject: the request must reach the real server's clock just before a
  // second boundary, and that clock cannot be injected into a process under test.
  await sleep(target - now)
}

const sentExpire = (e: ExpireSpec): SentExpire => ({ seconds: e.far ? MAX_EXPIRE + 1 : nowSeconds() + e.offset, format: e.far ? 'digits' : e.format })

export class RequestCommand implements Cmd {
  constructor(readonly spec: RequestSpec) {}

  check(m: Model): boolean {
    return !this.spec.liveOnly || (this.spec.slot !== null && m.slots[this.spec.slot]!.live !== null)
  }

  run(m: Model, r: Real): Promise<void> {
    return this.exchange(m, r, true)
  }

  /**
   * Sends the request, judges the answer, moves the model. `adopt`: a generated GUID becomes
   * the pool's last slot (a burst's creates do not: they stay outside the pool).
   */
  async exchange(m: Model, r: Real, adopt: boolean): Promise<void> {
    const s = this.spec
    if (s.expire?.alignMs !== undefined) await alignBefore(s.expire.alignMs)
    settle(m, Date.now())
    const g: GuidModel = s.slot === null ? { guid: freshGuid(), live: null, incarnation: [], earlier: [] } : m.slots[s.slot]!
    const history = historyOf(g)
    const headers: Record<string, string> = {}
    const ifMatch = s.ifMatch === undefined ? undefined : resolveTag(s.ifMatch, history)
    const ifNoneMatch = s.ifNoneMatch === undefined ? undefined : resolveTag(s.ifNoneMatch, history)
    if (ifMatch !== undefined) headers['if-match'] = ifMatch
    if (ifNoneMatch !== undefined) headers['if-none-match'] = ifNoneMatch
    const key = s.keyed && s.op !== 'get' ? freshKey() : undefined
    if (key !== undefined) headers['idempotency-key'] = `"${key}"`
    const expire = s.expire === undefined ? undefined : sentExpire(s.expire)
    const other = ((s.slot ?? 0) + 1) % POOL_SIZE
    const bodyGuid: BodyGuid | undefined =
      s.bodyGuid === 'same' || (s.op === 'create' && s.slot !== null)
        ? { text: writeGuid(g.guid, s.form), shell: shellGuid(`G${s.slot}`, s.form) }
        : s.bodyGuid === 'other'
          ? { text: m.slots[other]!.guid, shell: `$G${other}` }
          : undefined
    const quirk = s.quirk === 'bad-utf8' ? { kind: 'bad-utf8' as const, bytes: s.badBytes } : { kind: s.quirk as 'none' | 'duplicate-key' }
    const body = hasBody(s.op) ? bodySegments({ guid: bodyGuid, user: s.user, expire }, quirk) : null
    const pathGuid = s.op === 'create' ? null : g.guid
    const req: Req = { method: methodOf(s.op), path: pathGuid === null ? '/guid' : `/guid/${writeGuid(pathGuid, s.form)}`, headers, body }
    const intent = intentOf(s, ifMatch, ifNoneMatch, expire)
    const shellPath = pathGuid === null ? '/guid' : `/guid/${shellGuid(`G${s.slot}`, s.form)}`

    let res: Awaited<ReturnType<typeof send>>
    const sentAt = Date.now()
    try {
      res = await send(r.service.base, req)
    } catch (error) {
      r.transcript.http(req, shellPath, sentAt, `no answer: ${error}`, [], null, null)
      throw new ModelFailure(`${this} got no answer: ${error}\n${r.service.output()}`)
    }
    const ctx = { g, t0: res.t0, t1: res.t1, diskFull: m.diskFull, storeDown: m.storeDown, defaultTtlSeconds: r.defaultTtlSeconds, allowRepeatedEtags: r.without.has('repeated-etags') }
    const outcomes = expectations(intent, ctx)
    // Under a key even a refusal answers 503 when the key's store cannot take it: on a full disk
    // (its answer must be written to be kept), with MongoDB down (the key is claimed there first).
    if (key !== undefined && (m.diskFull || m.storeDown) && !outcomes.some((o) => o.kind === 'problem' && o.status === 503 && o.type.endsWith(':unavailable'))) {
      const first = outcomes[0]
      const why = m.diskFull ? 'the disk is full: the answer cannot be kept under the key' : 'MongoDB is down: the key cannot be claimed'
      outcomes.push({ kind: 'problem', status: 503, type: 'urn:guidd:problem:unavailable', why, gone: first?.kind === 'problem' ? first.gone : false })
    }
    const verdict = judge(outcomes, res, ctx, s.slot === null ? null : g.guid, (guid) => (adopt ? adoptInto(m, guid) : { guid, live: null, incarnation: [], earlier: [] }))
    const generated = s.slot === null && adopt && verdict.ok && verdict.outcome.kind === 'record' ? String(res.json.guid) : null
    r.transcript.http(req, shellPath, res.t0, summary(res), outcomes.map(describeOutcome), res.etag, generated)
    if (!verdict.ok) throw new ModelFailure(`${this}\n -> ${summary(res)}\n${verdict.message}`)
    verdict.apply()
    count(r, `${key === undefined ? '' : 'keyed '}${req.method}${s.op === 'create' ? (s.slot === null ? ' /guid (generated)' : ' /guid') : ''} ${res.status}`)
    if (key !== undefined && isKept(res.status)) m.keyed.push({ key, req, shellPath, answer: res })
    if (s.expire?.alignMs !== undefined && res.status < 300) count(r, `acknowledged writes of an expire ${s.expire.alignMs} ms ahead`)
    // A store that cannot write (or cannot be reached) says so on /readyz too, while it lasts:
    // after each 503 on a full disk, once per outage of MongoDB (each /readyz then takes ~2 s).
    if (res.status === 503 && (m.diskFull || (m.storeDown && !m.storeDownOnReadyz))) {
      const ready = await fetch(`${r.service.base}/readyz`, { signal: AbortSignal.timeout(5_000) })
      if (ready.status !== 503) throw new ModelFailure(`${this}\n -> 503 (${m.diskFull ? 'disk full' : 'MongoDB down'}), but /readyz answered ${ready.status} ${await ready.text()}`)
      if (m.storeDown) m.storeDownOnReadyz = true
    }
  }

  toString(): string {
    const s = this.spec
    const slot = s.slot === null ? null : `$G${s.slot}`
    const path = s.op === 'create' || slot === null ? '"$B/guid"' : `"$B/guid/${s.form === 'canonical' ? slot : `${slot} as ${s.form}`}"`
    const parts = ['curl -si']
    if (s.op !== 'get') parts.push(`-X ${methodOf(s.op)}`)
    if (s.keyed && s.op !== 'get') parts.push(`-H 'idempotency-key: "<fresh key>"'`)
    if (s.ifMatch !== undefined) parts.push(`-H 'if-match: <${s.ifMatch} ETag>'`)
    if (s.ifNoneMatch !== undefined) parts.push(`-H 'if-none-match: <${s.ifNoneMatch} ETag>'`)
    if (hasBody(s.op)) {
      const bodyGuid =
        s.bodyGuid === 'same' || (s.op === 'create' && slot !== null)
          ? { text: '', shell: s.form === 'canonical' ? `${slot}` : `${slot} as ${s.form}` }
          : s.bodyGuid === 'other'
            ? { text: '', shell: 'another pool GUID' }
            : undefined
      const quirk = s.quirk === 'bad-utf8' ? { kind: 'bad-utf8' as const, bytes: s.badBytes } : { kind: s.quirk as 'none' | 'duplicate-key' }
      const text = bodyText(bodySegments({ guid: bodyGuid, user: s.user, expire: s.expire }, quirk), describeExpire)
      parts.push("-H 'content-type: application/json'", `--data-binary $'${text.replaceAll("'", "\\'")}'`)
    }
    parts.push(path)
    return parts.join(' ')
  }
}

const adoptInto = (m: Model, guid: string): GuidModel => {
  const g: GuidModel = { guid, live: null, incarnation: [], earlier: [] }
  m.slots[GENERATED_SLOT] = g
  return g
}

const intentOf = (s: RequestSpec, ifMatch: string | undefined, ifNoneMatch: string | undefined, expire: SentExpire | undefined): Intent => {
  switch (s.op) {
    case 'create':
      return { op: 'create', generated: s.slot === null, user: s.user ?? '', expire, quirk: s.quirk }
    case 'upsert':
    case 'patch':
      return { op: s.op, user: s.user, expire, guidMismatch: s.bodyGuid === 'other', ifMatch, ifNoneMatch, quirk: s.quirk }
    case 'delete':
      return { op: 'delete', ifMatch, ifNoneMatch }
    case 'get':
      return { op: 'get', ifNoneMatch }
  }
}

/**
 * Many creates of generated GUIDs at once: commits that share a transaction, and (on a full
 * disk) enough writes that some must find no room. Each answer is judged on its own.
 */
export class BurstCommand implements Cmd {
  constructor(
    private readonly n: number,
    private readonly user: string,
  ) {}

  check(): boolean {
    return true
  }

  async run(m: Model, r: Real): Promise<void> {
    const one = new RequestCommand({ op: 'create', slot: null, form: 'canonical', bodyGuid: 'none', user: this.user, quirk: 'none', badBytes: [] })
    const results = await Promise.allSettled(Array.from({ length: this.n }, () => one.exchange(m, r, false)))
    const failed = results.find((x) => x.status === 'rejected')
    if (failed) throw (failed as PromiseRejectedResult).reason
  }

  toString(): string {
    const body = ansiC(new TextEncoder().encode(JSON.stringify({ user: this.user })))
    return `for i in $(seq ${this.n}); do curl -si -X POST -H 'content-type: application/json' --data-binary ${body} "$B/guid" & done; wait`
  }
}

// ---------------------------------------------------------------- time, crashes, faults

/** Sleeps until the soonest live record is past its expiry beyond doubt (at most 3 s). */
export class WaitCommand implements Cmd {
  check(m: Model): boolean {
    return nextBoundaryMs(m, Date.now()) !== null
  }

  async run(m: Model, r: Real): Promise<void> {
    const t0 = Date.now()
    const boundary = nextBoundaryMs(m, t0)
    // Time itself is the subject: an expiry is crossed on the real server's clock (a process
    // under test, whose clock cannot be injected); no event marks the moment it passes.
    if (boundary !== null) await sleep(Math.min(boundary - t0 + 20, MAX_WAIT_MS))
    count(r, 'wait')
    r.transcript.waited(t0, Date.now())
  }

  toString(): string {
    return 'sleep <until the next short expire has passed, at most 3 s>'
  }
}

/** kill -9 the service, start it again on the same data: every acknowledged write must still be there. */
export class RestartCommand implements Cmd {
  check(m: Model): boolean {
    // Restarts run with no fault on: what the fault tests is the running service, not its start.
    return !m.diskFull && !m.storeDown
  }

  async run(_m: Model, r: Real): Promise<void> {
    const t0 = Date.now()
    await r.service.crashAndRestart()
    count(r, 'kill -9 restart')
    r.transcript.manual('kill -9 the service and start it again on the same data (set B if its address changed)', t0, Date.now())
  }

  toString(): string {
    return 'kill -9 $PID && <start guidd again on the same data>'
  }
}

export class FaultCommand implements Cmd {
  constructor(private readonly fault: Fault) {}

  check(m: Model): boolean {
    return this.fault.canRun(m)
  }

  async run(m: Model, r: Real): Promise<void> {
    const t0 = Date.now()
    await this.fault.run(m, r.service)
    count(r, this.fault.name)
    r.transcript.manual(`${this.fault.name}: ${this.fault.howTo}`, t0, Date.now())
    if (this.fault.load) await new BurstCommand(this.fault.load, this.fault.name).run(m, r)
  }

  toString(): string {
    const load = this.fault.load ? `, then ${this.fault.load} concurrent POST /guid` : ''
    return `# ${this.fault.name}: ${this.fault.howTo}${load}`
  }
}

// ---------------------------------------------------------------- generators

/** `arb`, or nothing `noneWeight` times as often. */
const maybe = <T>(arb: fc.Arbitrary<T>, noneWeight = 1): fc.Arbitrary<T | undefined> => fc.oneof({ weight: noneWeight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb })
/** Biased to the first slots, so commands collide on a GUID more often than evenly. */
const slotArb = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: POOL_SIZE - 1 }) })
const formArb: fc.Arbitrary<Form> = fc.oneof({ weight: 4, arbitrary: fc.constant<Form>('canonical') }, { weight: 1, arbitrary: fc.constantFrom(...FORMS) })

/**
 * Classes of input or event that GUIDD_MODEL_WITHOUT can leave out (comma-separated), to look
 * past a failure already known: `lone-surrogates`, `bad-bodies` (duplicate keys, bytes that
 * are not UTF-8), `short-expires` (expiries within the run, and the waits for them),
 * `restart` (kill -9), `faults` (every fault of the mode), a fault's name; and one check,
 * `repeated-etags` (a write's ETag must be one the GUID never had).
 */
export type Without = ReadonlySet<string>

/** Awkward `user`s: astral, combining, NUL, RTL, exactly 256 and 257 code points, lone surrogates, empty. */
const userArbOf = (without: Without): fc.Arbitrary<string> =>
  fc.oneof(
    // Valid, mostly: a run should change records more often than it is refused.
    { weight: 10, arbitrary: fc.string({ minLength: 1, maxLength: 10 }) },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }) },
    { weight: 4, arbitrary: fc.constantFrom('😀', 'e\u0301\u0302', 'a\u0000b', '\u0000', '\u202Eabc\u202C', 'שלום עולם', 'مرحبا', '👨‍👩‍👧', ' ') },
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(256), '😀'.repeat(256), `${'x'.repeat(255)}😀`, `${'e\u0301'.repeat(128)}`) },
    // Refused: 257 code points (astral ones count once), empty, lone surrogates.
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(257), '😀'.repeat(257), '') },
    { weight: without.has('lone-surrogates') ? 0 : 1, arbitrary: fc.constantFrom('\ud800', 'a\udfff', '\udc00\ud800', 'x\ud83d') },
  )

/** now+1 sent just before a second boundary: the write is decided before the boundary and committed after it. */
const boundaryExpire: fc.Arbitrary<ExpireSpec> = fc.record({ offset: fc.constant(1), format: fc.constantFrom(...EXPIRE_FORMATS), alignMs: fc.constantFrom(4, 6, 8, 12, 25) })
const shortExpire: fc.Arbitrary<ExpireSpec> = fc.record({ offset: fc.integer({ min: 1, max: 3 }), format: fc.constantFrom(...EXPIRE_FORMATS) })
const longExpire: fc.Arbitrary<ExpireSpec> = fc.record({ offset: fc.integer({ min: 60, max: 40 * 86_400 }), format: fc.constantFrom(...EXPIRE_FORMATS) })
const badExpire: fc.Arbitrary<ExpireSpec> = fc.oneof(
  fc.record({ offset: fc.integer({ min: -3, max: 0 }), format: fc.constantFrom(...EXPIRE_FORMATS) }),
  fc.constant<ExpireSpec>({ offset: 0, format: 'digits', far: true }),
)
/**
 * `expire`s; `boundary` weighs the ones sent just before a second boundary: most for
 * updates, whose commit landing after the new expiry once brought the old record back.
 */
const expireArbOf = (without: Without, boundary: number): fc.Arbitrary<ExpireSpec> => {
  const short = without.has('short-expires') ? 0 : 1
  return fc.oneof({ weight: short * boundary, arbitrary: boundaryExpire }, { weight: short * 3, arbitrary: shortExpire }, { weight: 4, arbitrary: longExpire }, { weight: 1, arbitrary: badExpire })
}

const quirkArbOf = (without: Without): fc.Arbitrary<{ quirk: Quirk; badBytes: readonly number[] }> =>
  fc.oneof(
    { weight: 24, arbitrary: fc.constant({ quirk: 'none' as Quirk, badBytes: [] }) },
    { weight: without.has('bad-bodies') ? 0 : 1, arbitrary: fc.constant({ quirk: 'duplicate-key' as Quirk, badBytes: [] }) },
    { weight: without.has('bad-bodies') ? 0 : 1, arbitrary: fc.constantFrom(...BAD_UTF8).map((badBytes) => ({ quirk: 'bad-utf8' as Quirk, badBytes })) },
  )
const tagArb = (noneWeight: number) => maybe(fc.constantFrom(...TAG_CHOICES), noneWeight)

/** A request command; `parts` may also give `fields`, an arbitrary of {user, expire} together. */
const request = (op: RequestSpec['op'], parts: Partial<Record<keyof RequestSpec | 'fields', fc.Arbitrary<unknown>>>): fc.Arbitrary<Cmd> =>
  fc
    .record({ slot: slotArb, form: formArb, bodyGuid: fc.constant<BodyGuidChoice>('none'), quirk: fc.constant({ quirk: 'none' as Quirk, badBytes: [] as readonly number[] }), ...parts } as Record<
      string,
      fc.Arbitrary<unknown>
    >)
    .map(({ fields, ...v }: any) => new RequestCommand({ op, ...v, ...fields, quirk: v.quirk.quirk, badBytes: v.quirk.badBytes }))

const bodyGuidArb = fc.oneof(
  { weight: 12, arbitrary: fc.constant<BodyGuidChoice>('none') },
  { weight: 3, arbitrary: fc.constant<BodyGuidChoice>('same') },
  { weight: 1, arbitrary: fc.constant<BodyGuidChoice>('other') },
)

/** Every command, weighted (by repetition: fc.commands picks among its arbitraries evenly), with the mode's faults. */
export const commandArbs = (faults: readonly Fault[], without: Without): fc.Arbitrary<Cmd>[] => {
  const userArb = userArbOf(without)
  const quirkArb = quirkArbOf(without)
  const expireArb = expireArbOf(without, 2)
  const updateExpireArb = expireArbOf(without, 6)
  // A PATCH changes user, expire or both; now and then neither (a 400).
  const patchFields = fc.oneof(
    { weight: 4, arbitrary: fc.record({ user: userArb }) },
    { weight: 4, arbitrary: fc.record({ expire: updateExpireArb }) },
    { weight: 2, arbitrary: fc.record({ user: userArb, expire: updateExpireArb }) },
    { weight: 1, arbitrary: fc.constant({}) },
  )
  const times = (n: number, arb: fc.Arbitrary<Cmd>) => Array.from({ length: n }, () => arb)
  return [
    ...times(5, request('create', { user: userArb, expire: maybe(expireArb, 1), quirk: quirkArb })),
    request('create', { slot: fc.constant(null), user: userArb, expire: maybe(expireArb, 1), quirk: quirkArb }),
    ...times(3, request('upsert', { user: maybe(userArb), expire: maybe(updateExpireArb), bodyGuid: bodyGuidArb, quirk: quirkArb, ifMatch: tagArb(2), ifNoneMatch: tagArb(6) })),
    ...times(5, request('patch', { fields: patchFields, bodyGuid: bodyGuidArb, quirk: quirkArb, ifMatch: tagArb(2), ifNoneMatch: tagArb(8) })),
    // Updates aimed at a live record that move its expiry to the next second boundary.
    ...times(without.has('short-expires') ? 0 : 2, request('patch', { fields: fc.record({ expire: boundaryExpire }), liveOnly: fc.constant(true) })),
    ...times(without.has('short-expires') ? 0 : 1, request('upsert', { expire: boundaryExpire, liveOnly: fc.constant(true), ifMatch: tagArb(2) })),
    ...times(1, request('delete', { ifMatch: tagArb(1), ifNoneMatch: tagArb(6) })),
    ...times(4, request('get', { ifNoneMatch: tagArb(1) })),
    // The same writes under an Idempotency-Key, and their retries (same request: the replay; another: 422).
    request('create', { user: userArb, expire: maybe(expireArb, 1), keyed: fc.constant(true) }),
    request('create', { slot: fc.constant(null), user: userArb, expire: maybe(expireArb, 1), keyed: fc.constant(true) }),
    request('patch', { fields: patchFields, ifMatch: tagArb(2), keyed: fc.constant(true) }),
    request('upsert', { user: maybe(userArb), expire: maybe(updateExpireArb), ifMatch: tagArb(2), keyed: fc.constant(true) }),
    request('delete', { ifMatch: tagArb(1), keyed: fc.constant(true) }),
    ...times(
      3,
      fc.tuple(fc.nat(), fc.boolean()).map(([pick, same]) => new RetryCommand(pick, same)),
    ),
    // Listings of a pool GUID's user (or of a user with none), in pages of a few or one page.
    ...times(
      3,
      fc.tuple(fc.integer({ min: 0, max: POOL_SIZE - 1 }), fc.constantFrom(1, 2, 5, 1000)).map(([slot, limit]) => new ListCommand(slot, limit)),
    ),
    ...times(without.has('short-expires') ? 0 : 3, fc.constant(new WaitCommand())),
    fc.tuple(fc.integer({ min: 5, max: 30 }), fc.string({ minLength: 1, maxLength: 8 })).map(([n, user]) => new BurstCommand(n, user)),
    ...(without.has('restart') ? [] : [fc.constant(new RestartCommand())]),
    ...faults.filter((f) => !without.has('faults') && !without.has(f.name)).flatMap((f) => times(f.weight ?? 1, fc.constant(new FaultCommand(f)))),
  ]
}
