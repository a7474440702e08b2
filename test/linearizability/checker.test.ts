import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CHECKER_EXIT, checkerBinary, checkerSuites, runChecker } from './checker'
import { historyJson, type Kind, type OpInput, type OpOutput, type RecordedOp } from './history'
import { syntheticHistory } from './synthetic'

/**
 * The checker can fail: hand-made histories, each small enough to reason about, and two
 * recorded from the service, are judged as they must be, and a failure leaves its
 * visualisation behind; with the reads left out (run 2 of redis.test.ts) a stale read
 * passes and a stale refusal is still caught.
 */

const enabled = checkerSuites('linearizability checker')
let dir: string

beforeAll(async () => {
  if (!enabled) return
  await checkerBinary()
  dir = mkdtempSync(join(tmpdir(), 'guidd-checker-'))
}, 300_000)
afterAll(() => {
  if (enabled) rmSync(dir, { recursive: true, force: true })
})

const G = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const EXPIRE = 4_000_000_000

/** One operation: `at` is [invoke, return] in ms (no return: unknown outcome). */
const op = (client: number, kind: Kind, input: OpInput, at: [number, number?], output?: OpOutput, guid = G): RecordedOp => ({
  client,
  guid,
  kind,
  input,
  invoke: at[0] * 1e6,
  ...(at[1] !== undefined && { return: at[1] * 1e6 }),
  ...(output && { output }),
})
const rec = (status: number, user: string, etag: string, expire = EXPIRE): OpOutput => ({ status, user, expire, etag: `"${etag}"` })

let runs = 0
const check = async (ops: RecordedOp[] | string, args: string[] = []) => {
  const name = `h${++runs}`
  const historyPath = join(dir, `${name}.json`)
  writeFileSync(historyPath, typeof ops === 'string' ? ops : historyJson(ops))
  const out = join(dir, `${name}-out`)
  const result = await runChecker(historyPath, out, args)
  return { ...result, out, html: existsSync(out) ? readdirSync(out).filter((f) => f.endsWith('.html')) : [] }
}

const recorded = async (name: string): Promise<RecordedOp[]> => ((await Bun.file(join(import.meta.dir, 'histories', name)).json()) as { operations: RecordedOp[] }).operations
/** The history as run 2 records it: every read's answer left out. */
const readsLeftOut = (ops: RecordedOp[]): RecordedOp[] => ops.map((o) => (o.kind === 'get' ? { ...o, unchecked: true } : o))

const created = op(0, 'create', { user: 'a', expire: EXPIRE }, [0, 10], rec(201, 'a', '1'))

describe.skipIf(!enabled)('the linearizability checker', () => {
  test('a read older than an acknowledged write is caught, and its visualisation written', async () => {
    const r = await check([
      created,
      op(0, 'patch', { user: 'b' }, [20, 30], rec(200, 'b', '2')),
      // Invoked after the patch was acknowledged, yet answers the state before it.
      op(1, 'get', {}, [40, 50], rec(200, 'a', '1')),
    ])
    expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
    expect(r.stdout).toContain('NOT LINEARIZABLE')
    expect(r.stdout).toContain(`visualisation: ${join(r.out, `${G}.html`)}`)
    expect(r.html).toEqual([`${G}.html`])
  })

  test('the same read, concurrent with the write, may answer either state', async () => {
    const patch = op(0, 'patch', { user: 'b' }, [20, 60], rec(200, 'b', '2'))
    const r = await check([created, patch, op(1, 'get', {}, [30, 40], rec(200, 'a', '1')), op(2, 'get', {}, [30, 50], rec(200, 'b', '2'))])
    expect(r.code).toBe(CHECKER_EXIT.linearizable)
    expect(r.html).toEqual([])
    // But once a read has seen the new state, a read that starts later cannot see the old one.
    const r2 = await check([created, patch, op(1, 'get', {}, [30, 40], rec(200, 'b', '2')), op(2, 'get', {}, [45, 50], rec(200, 'a', '1'))])
    expect(r2.code).toBe(CHECKER_EXIT.notLinearizable)
  })

  test('an acknowledged create that a later read does not find is lost', async () => {
    const r = await check([created, op(1, 'get', {}, [20, 30], { status: 404 })])
    expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
  })

  test('a write with no answer may or may not have happened, and a read pins its ETag', async () => {
    const lost = op(1, 'upsert', { user: 'x', expire: EXPIRE }, [20])
    // Seen: the read pins its unknown ETag, and an If-Match on that ETag succeeds.
    const seen = await check([created, lost, op(2, 'get', {}, [30, 40], rec(200, 'x', '7')), op(2, 'patch', { user: 'y', ifMatch: '"7"' }, [50, 60], rec(200, 'y', '8'))])
    expect(seen.code).toBe(CHECKER_EXIT.linearizable)
    // Not seen: the state before it is still read.
    const unseen = await check([created, lost, op(2, 'get', {}, [30, 40], rec(200, 'a', '1'))])
    expect(unseen.code).toBe(CHECKER_EXIT.linearizable)
    // Seen under another ETag than the one a read already pinned: impossible.
    const twice = await check([created, lost, op(2, 'get', {}, [30, 40], rec(200, 'x', '7')), op(2, 'get', {}, [50, 60], rec(200, 'x', '9'))])
    expect(twice.code).toBe(CHECKER_EXIT.notLinearizable)
  })

  test('writes that never answered do not make the search explode', async () => {
    // 76 operations on one GUID by ten clients with If-Match, linearizable by construction
    // (synthetic.ts), 16 of them writes that never took effect and never answered, as a GUID
    // held by a dead instance's claim collects (MongoDB-only mode on FerretDB). Searching
    // every order of the unknown writes took the checker more than 20 s on this one (7.8 s
    // on a GUID of a recorded run); it now first tries them as never having happened.
    const r = await check(syntheticHistory({ seed: 3, clients: 10, answered: 60, unknown: 16 }), ['-timeout', '5s'])
    expect(r.code).toBe(CHECKER_EXIT.linearizable)
    expect(r.stdout).toContain('16 indeterminate')
  }, 30_000)

  test('conditional writes: If-Match must name the current ETag', async () => {
    const ok = await check([
      created,
      op(0, 'patch', { user: 'b', ifMatch: '"1"' }, [20, 30], rec(200, 'b', '2')),
      op(0, 'delete', { ifMatch: '"1"' }, [40, 50], { status: 412 }),
      op(0, 'upsert', { user: 'c', expire: EXPIRE, ifMatch: '"2"' }, [60, 70], rec(200, 'c', '3')),
      op(0, 'create-only', { user: 'd', expire: EXPIRE }, [80, 90], { status: 412 }),
      op(0, 'delete', { ifMatch: '"3"' }, [100, 110], { status: 204 }),
      op(0, 'create-only', { user: 'e', expire: EXPIRE }, [120, 130], rec(201, 'e', '5')),
    ])
    expect(ok.code).toBe(CHECKER_EXIT.linearizable)
    // A stale If-Match that was applied all the same.
    const stale = await check([created, op(0, 'patch', { user: 'b' }, [20, 30], rec(200, 'b', '2')), op(1, 'patch', { user: 'c', ifMatch: '"1"' }, [40, 50], rec(200, 'c', '3'))])
    expect(stale.code).toBe(CHECKER_EXIT.notLinearizable)
  })

  test('an ETag answered by two writes (versions never repeat, not even across a delete) is caught', async () => {
    const r = await check([created, op(0, 'delete', {}, [20, 30], { status: 204 }), op(0, 'create', { user: 'b', expire: EXPIRE }, [40, 50], rec(201, 'b', '1'))])
    expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
    expect(r.stdout).toContain('ETAG REUSED')
    expect(r.html).toEqual([`${G}.html`])
  })

  test('GUIDs are checked apart: a violation on one does not hide behind the others', async () => {
    const H = 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
    const r = await check([created, op(1, 'get', {}, [20, 30], rec(200, 'a', '1')), op(2, 'get', {}, [20, 30], rec(200, 'a', '1'), H)])
    expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
    expect(r.html).toEqual([`${H}.html`])
  })

  test('a history recorded from the service in Redis mode with a stale read is caught', async () => {
    // 68 operations on one GUID, the prefix of a redis.test.ts run up to a read on instance B
    // that answered version ...018 52 ms after instance A had acknowledged ...019.
    const r = await check(await recorded('stale-read-redis-mode.json'))
    expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
    expect(r.stdout).toContain('get() -> 200 {user "c4-21", expire 1797031335} "1796166848000018"')
  })

  test('a conditional write refused for the ETag its client had just been given is caught', async () => {
    // Four operations recorded in a soak run (the GUID's other operations left out): a create
    // acknowledged on instance A2, then, from the same client, an upsert with that ETag on
    // instance B answered 412; the next patch with the same ETag on B succeeds.
    const r = await check(await recorded('stale-if-match-redis-mode.json'))
    expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
    expect(r.stdout).toContain('upsert(user="c1-583", expire=1797032401, If-Match "1796167607000047") -> 412')
  })

  test('a PATCH answered 404 for a GUID whose create another instance had just acknowledged is caught', async () => {
    // Two operations recorded by run 2 (random routing, reads left out) against the code before
    // refusals were re-decided on the shared state, with no other operation on the GUID
    // between them: a create acknowledged on instance A, then 74 µs later, from the same client,
    // a PATCH with its ETag on instance B answered 404 from B's LRU, which still held the GUID
    // as absent.
    const r = await check(await recorded('stale-absent-redis-mode.json'))
    expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
    expect(r.stdout).toContain('patch(user="c4-83", expire=1797032915, If-Match "1796168244000016") -> 404')
  })

  test('with the reads left out, writes and refusals are still judged, and only reads are let go', async () => {
    // The recorded stale read passes: run 2 does not judge reads sent during the load.
    const staleRead = await check(readsLeftOut(await recorded('stale-read-redis-mode.json')))
    expect(staleRead.code).toBe(CHECKER_EXIT.linearizable)
    expect(staleRead.stdout).toContain('reads left out')
    // The recorded stale refusal is still caught: a 412 for the ETag just acknowledged.
    const staleRefusal = await check(readsLeftOut(await recorded('stale-if-match-redis-mode.json')))
    expect(staleRefusal.code).toBe(CHECKER_EXIT.notLinearizable)
    expect(staleRefusal.stdout).toContain('-> 412')
    // A 404 to a PATCH of a GUID whose create was acknowledged before it was sent.
    const staleAbsent = await check(readsLeftOut([created, op(1, 'get', {}, [20, 30], { status: 404 }), op(1, 'patch', { user: 'b' }, [40, 50], { status: 404 })]))
    expect(staleAbsent.code).toBe(CHECKER_EXIT.notLinearizable)
    // Leaving out a write would misjudge the rest: refused as bad input.
    expect((await check([{ ...created, unchecked: true }])).code).toBe(CHECKER_EXIT.badInput)
  })

  describe('listings (GET /guid?user=), projected onto each GUID they cover', () => {
    const H = 'BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
    const J = 'CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'
    const list = (client: number, user: string, at: [number, number?], items: Array<[string, string, number?]>, page: { limit?: number; after?: string; more?: boolean } = {}): RecordedOp => ({
      ...op(client, 'list', { user, limit: page.limit ?? 10, ...(page.after !== undefined && { after: page.after }) }, at, {
        status: 200,
        items: items.map(([guid, u, expire]) => ({ guid, user: u, expire: expire ?? EXPIRE })),
        ...(page.more && { more: true }),
      }),
      guid: '',
    })
    const createdL = (guid: string, user: string, etag: string, at: [number, number]) => op(0, 'create', { user, expire: EXPIRE }, at, rec(201, user, etag), guid)

    test('a listing sent after writes were acknowledged shows them, on any GUID; one concurrent with a write may show either state', async () => {
      const ok = await check([
        createdL(G, 'L0', '1', [0, 10]),
        createdL(H, 'L1', '2', [0, 10]),
        createdL(J, 'L0', '3', [0, 10]),
        list(
          1,
          'L0',
          [20, 30],
          [
            [G, 'L0'],
            [J, 'L0'],
          ],
        ),
        op(0, 'patch', { user: 'L0' }, [40, 60], rec(200, 'L0', '4'), H),
        list(
          1,
          'L0',
          [45, 50],
          [
            [G, 'L0'],
            [J, 'L0'],
          ],
        ),
        list(
          2,
          'L0',
          [45, 55],
          [
            [G, 'L0'],
            [H, 'L0'],
            [J, 'L0'],
          ],
        ),
      ])
      expect(ok.code).toBe(CHECKER_EXIT.linearizable)
      expect(ok.stdout).toContain('3 listing pages')
    })

    test('a listing missing a write acknowledged before it was sent is caught', async () => {
      const r = await check([createdL(G, 'L0', '1', [0, 10]), createdL(H, 'L0', '2', [0, 10]), list(1, 'L0', [20, 30], [[G, 'L0']])])
      expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
      expect(r.stdout).toContain(`${H}-listings: `)
      expect(r.stdout).toContain('list(user="L0") -> not listed')
      expect(r.html).toEqual([`${H}-listings.html`])
    })

    test('a stale item (the state before an acknowledged update) is caught, and so is a GUID still listed after it moved to another user or was deleted', async () => {
      const created = createdL(G, 'L0', '1', [0, 10])
      const stale = await check([created, op(0, 'patch', { expire: EXPIRE + 5 }, [20, 30], rec(200, 'L0', '2', EXPIRE + 5)), list(1, 'L0', [40, 50], [[G, 'L0', EXPIRE]])])
      expect(stale.code).toBe(CHECKER_EXIT.notLinearizable)
      expect(stale.stdout).toContain(`list(user="L0") -> listed {user "L0", expire ${EXPIRE}}`)
      const moved = await check([created, op(0, 'patch', { user: 'L1' }, [20, 30], rec(200, 'L1', '2')), list(1, 'L0', [40, 50], [[G, 'L0']])])
      expect(moved.code).toBe(CHECKER_EXIT.notLinearizable)
      const deleted = await check([created, op(0, 'delete', {}, [20, 30], { status: 204 }), list(1, 'L0', [40, 50], [[G, 'L0']])])
      expect(deleted.code).toBe(CHECKER_EXIT.notLinearizable)
      // Monotonic: once a listing has shown the update, a later listing cannot show the state before it.
      const patch = op(0, 'patch', { expire: EXPIRE + 5 }, [20, 80], rec(200, 'L0', '2', EXPIRE + 5))
      const backwards = await check([created, patch, list(2, 'L0', [30, 40], [[G, 'L0', EXPIRE + 5]]), list(1, 'L0', [50, 60], [[G, 'L0', EXPIRE]])])
      expect(backwards.code).toBe(CHECKER_EXIT.notLinearizable)
    })

    test('listings and GETs are not ordered against each other, only each against the writes: a GET may answer the state before a write in flight that a listing already showed', async () => {
      // Seen in MongoDB-only mode: a PATCH in flight was in MongoDB (a listing showed it) while
      // the instance's copy, which GET answers from, still held the version before it.
      const created = createdL(G, 'L1', '1', [0, 10])
      const patch = op(0, 'patch', { expire: EXPIRE + 5 }, [20, 80], rec(200, 'L1', '2', EXPIRE + 5))
      const r = await check([created, patch, list(1, 'L1', [30, 40], [[G, 'L1', EXPIRE + 5]]), op(1, 'get', {}, [45, 50], rec(200, 'L1', '1'))])
      expect(r.code).toBe(CHECKER_EXIT.linearizable)
      // Each is still judged against the writes: the same GET after the PATCH was answered is stale.
      const stale = await check([created, patch, list(1, 'L1', [30, 40], [[G, 'L1', EXPIRE + 5]]), op(1, 'get', {}, [85, 90], rec(200, 'L1', '1'))])
      expect(stale.code).toBe(CHECKER_EXIT.notLinearizable)
    })

    test('a page speaks only of the GUIDs after its cursor and, when a next page follows, up to its last item', async () => {
      const both = [createdL(G, 'L0', '1', [0, 10]), createdL(J, 'L0', '2', [0, 10])]
      // Page 1 of limit 1 shows G and says more: J is not judged by it; page 2 after G shows J.
      const walked = await check([...both, list(1, 'L0', [20, 30], [[G, 'L0']], { limit: 1, more: true }), list(1, 'L0', [40, 50], [[J, 'L0']], { limit: 1, after: G })])
      expect(walked.code).toBe(CHECKER_EXIT.linearizable)
      // The last page (no next) must show every GUID after its cursor.
      const lastPage = await check([...both, list(1, 'L0', [40, 50], [], { limit: 1, after: G })])
      expect(lastPage.code).toBe(CHECKER_EXIT.notLinearizable)
    })

    test("what no order can explain in a page alone: another user's item, a GUID never written, an item twice or before the cursor, more items than the limit", async () => {
      const base = [createdL(G, 'L0', '1', [0, 10]), createdL(H, 'L1', '2', [0, 10])]
      const cases: Array<[RecordedOp, string]> = [
        [
          list(
            1,
            'L0',
            [20, 30],
            [
              [G, 'L0'],
              [H, 'L1'],
            ],
          ),
          `${H} listed with user "L1"`,
        ],
        [
          list(
            1,
            'L0',
            [20, 30],
            [
              [G, 'L0'],
              ['DDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD', 'L0'],
            ],
          ),
          'which no operation wrote',
        ],
        [
          list(
            1,
            'L0',
            [20, 30],
            [
              [G, 'L0'],
              [G, 'L0'],
            ],
          ),
          'not ascending past the cursor, or twice',
        ],
        [list(1, 'L0', [20, 30], [[G, 'L0']], { after: G }), 'not ascending past the cursor, or twice'],
        [list(1, 'L0', [20, 30], [[G, 'L0']], { limit: 1, more: true }), ''],
        [
          list(
            1,
            'L1',
            [20, 30],
            [
              [G, 'L1'],
              [H, 'L1'],
            ],
            { limit: 1 },
          ),
          '2 items for limit 1',
        ],
      ]
      for (const [page, fault] of cases) {
        const r = await check([...base, page])
        if (fault === '') {
          expect(r.code).toBe(CHECKER_EXIT.linearizable)
          continue
        }
        expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
        expect(r.stdout).toContain(`LISTING WRONG: `)
        expect(r.stdout).toContain(fault)
      }
    })

    test('a listing recorded from Redis + MongoDB on FerretDB, two flushers: a state deleted before the listing was sent, listed', async () => {
      // 311 operations on one GUID (and the listings, cut to it), the prefix of a redis.test.ts
      // run 2 with the two instances flushing into one FerretDB: a listing on A sent 6 ms after
      // a DELETE of the GUID was acknowledged (and a create and a patch to another user after
      // it) listed the state before the delete. FerretDB 1.x has no atomic compare-and-set, so
      // two flushers writing one GUID at once can leave the older version in the store
      // (docs/operations.md, "MongoDB servers"); the suite's Redis runs share a SQLite file.
      const r = await check(await recorded('stale-listing-ferretdb-two-flushers.json'))
      expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
      expect(r.stdout).toContain('list(user="L0") -> listed {user "L0", expire 1797500859} (1674966040-1729927565 ns, A)')
    })

    test('a listing with no answer (503 from the read barrier) constrains nothing', async () => {
      const r = await check([createdL(G, 'L0', '1', [0, 10]), { ...op(1, 'list', { user: 'L0', limit: 10 }, [20], { status: 503 }), guid: '' }])
      expect(r.code).toBe(CHECKER_EXIT.linearizable)
    })
  })

  describe('Idempotency-Key: the attempts of a keyed write are one operation', () => {
    const keyed = (client: number, kind: Kind, input: OpInput, at: [number, number?], output?: OpOutput, replayed = false): RecordedOp =>
      op(client, kind, { ...input, key: '"k1"' }, at, output && (replayed ? { ...output, replayed: true } : output))
    const create = { user: 'k', expire: EXPIRE }

    test('retried after no answer (a kill), then once more after the answer: one create, the answer replayed', async () => {
      const r = await check([
        keyed(0, 'create', create, [0]),
        keyed(0, 'create', create, [20, 30], rec(201, 'k', '1')),
        keyed(0, 'create', create, [40, 50], rec(201, 'k', '1'), true),
        op(1, 'get', {}, [60, 70], rec(200, 'k', '1')),
      ])
      expect(r.code).toBe(CHECKER_EXIT.linearizable)
      expect(r.stdout).toContain('3 keyed attempts, one operation per key')
      // The replay's ETag is the first answer's, not a second write's.
      expect(r.stdout).not.toContain('ETAG REUSED')
    })

    test('a keyed create applied twice is caught: the first attempt created, its retry ran again and answered 409', async () => {
      // The first attempt's instance was killed after its write; the retry ran afresh and
      // found the GUID it had made itself. The model applies the keyed create once: either it
      // created (then its answer is 201) or it did not (then nobody wrote what the read sees).
      const r = await check([keyed(0, 'create', create, [0]), keyed(0, 'create', create, [20, 30], { status: 409 }), op(1, 'get', {}, [40, 50], rec(200, 'k', '1'))])
      expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
      expect(r.stdout).toContain('NOT LINEARIZABLE')
    })

    test('a keyed update applied twice is caught: its second run overwrote a later write', async () => {
      const r = await check([
        op(0, 'create', create, [0, 10], rec(201, 'k', '1')),
        keyed(1, 'patch', { user: 'p' }, [20, 30], rec(200, 'p', '2')),
        op(2, 'patch', { user: 'q' }, [40, 50], rec(200, 'q', '3')),
        keyed(1, 'patch', { user: 'p' }, [60, 70], rec(200, 'p', '2'), true),
        // Had the replay run again, this read would see p.
        op(2, 'get', {}, [80, 90], rec(200, 'p', '4')),
      ])
      expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
    })

    test('a replay that is not the first answer, or two answers that were not replays, is caught', async () => {
      const differs = await check([keyed(0, 'create', create, [0, 10], rec(201, 'k', '1')), keyed(0, 'create', create, [20, 30], { status: 409 }, true)])
      expect(differs.code).toBe(CHECKER_EXIT.notLinearizable)
      expect(differs.stdout).toContain('IDEMPOTENCY-KEY BROKEN: key "k1": answered 201 "1", then 409')
      const ranTwice = await check([keyed(0, 'create', create, [0, 10], rec(201, 'k', '1')), keyed(0, 'create', create, [20, 30], rec(201, 'k', '1'))])
      expect(ranTwice.code).toBe(CHECKER_EXIT.notLinearizable)
      expect(ranTwice.stdout).toContain('2 answers without Idempotent-Replayed')
    })

    test('a keyed write recorded on a Redis Cluster: answered 503 after it took effect, run again by its retry', async () => {
      // Recorded by redis-cluster.test.ts (19 operations of one GUID; a create stands in for the
      // 1,000 before them, the state three reads then saw). An upsert with If-Match "...044"
      // under a key, sent while a master failed over: its first attempt was written on the
      // master, but the replica's WAIT (REDIS_WAIT_REPLICAS=1) timed out, so it was answered
      // 503 "Redis is unavailable (replication)", which is not kept; its answer was to be kept
      // in another partition than its GUID's. A retry under the same key ran it again and was
      // answered 412 (its own first attempt had moved the ETag to "...045"), and a read then
      // saw that first attempt's record. (Closed since: the answer is kept beside the GUID.)
      const history = await recorded('keyed-retry-after-replication-503-cluster.json')
      const r = await check(history)
      expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
      expect(r.stdout).toContain('get() -> 200 {user "c8-325", expire 1797525980} "1796565083000045"')
      // Without its key, each attempt is a write of its own that may have happened: linearizable.
      const unkeyed = history.map(({ input: { key: _, ...input }, output, ...rest }) => ({ ...rest, input, ...(output && { output: { ...output, replayed: undefined } }) }))
      expect((await check(unkeyed)).code).toBe(CHECKER_EXIT.linearizable)
    })

    test('a keyed write recorded in MongoDB-only mode: never applied, yet replayed with the ETag of another write', async () => {
      // Recorded by mongodb-only.test.ts run 2 (this GUID's 154 operations up to the replay). A
      // keyed PATCH (expire 1797516501) on instance A was cut off by its kill -9; its retries
      // were 409 while the dead claim's lease held, then one took the claim over and was
      // answered 200, replayed, with ETag "1796565902000005", which an upsert by another client
      // (user c1-18) had been answered 70 ms after the PATCH was sent. The reads that follow
      // see c1-18's record at that version, and no read ever sees the PATCH's expire: the
      // takeover took "the GUID is at the intent's version or later" for "the write landed",
      // but versions count up from the one before, so another writer's write makes that
      // version too. Fixed: the takeover now looks for the write's own trace (the claim's token
      // in the GUID's document: docs/listing-and-idempotency.md, "The write's trace").
      const r = await check(await recorded('keyed-replay-of-another-write-mongodb-only.json'))
      expect(r.code).toBe(CHECKER_EXIT.notLinearizable)
      expect(r.stdout).toContain('ETAG REUSED: "1796565902000005" (2 writes)')
    })

    test('a keyed write never answered happens once or never, and another request under a key is bad input', async () => {
      const r = await check([
        op(0, 'create', create, [0, 10], rec(201, 'k', '1')),
        keyed(1, 'patch', { user: 'p' }, [20]),
        keyed(1, 'patch', { user: 'p' }, [30]),
        op(2, 'get', {}, [40, 50], rec(200, 'p', '5')),
      ])
      expect(r.code).toBe(CHECKER_EXIT.linearizable)
      expect((await check([keyed(0, 'create', create, [0, 10], rec(201, 'k', '1')), keyed(0, 'patch', { user: 'p' }, [20, 30], rec(200, 'p', '2'))])).code).toBe(CHECKER_EXIT.badInput)
    })
  })

  test('bad input is exit 2, not a verdict', async () => {
    expect((await check('{"operations": [{"client": 0}]}')).code).toBe(CHECKER_EXIT.badInput)
    expect((await check('not json')).code).toBe(CHECKER_EXIT.badInput)
    // A status the operation cannot have (a test bug, or a 5xx not recorded as unknown).
    expect((await check([op(0, 'get', {}, [0, 1], { status: 400 })])).code).toBe(CHECKER_EXIT.badInput)
    expect((await check([op(0, 'patch', { user: 'a' }, [0, 1], { status: 412 })])).code).toBe(CHECKER_EXIT.badInput)
  })
})
