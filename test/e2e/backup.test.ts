import { Database } from 'bun:sqlite'
import { afterAll, expect, test } from 'bun:test'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GUIDD_CMD, startGuidd, urlOf } from '../support/guidd-process'
import { runToExit, type Started } from '../support/process'

/**
 * `guidd backup <dest>` against a serving instance under write load, then a restore (stop,
 * replace the file, start): every write acknowledged before the backup began is there, each
 * GUID holds exactly one state a client was acknowledged (no partial group commit), and
 * SQLite's integrity check passes. docs/operations.md, "Backing up and restoring".
 */

const root = join(import.meta.dir, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'guidd-e2e-backup-'))
const started: Started[] = []

afterAll(async () => {
  for (const s of started) await s.stop(2_000)
  rmSync(dir, { recursive: true, force: true })
})

/** One acknowledged write of a GUID: the state it left (null: deleted), its ETag, when its answer arrived. */
interface Ack {
  state: { user: string; expire: number } | null
  etag: string
  at: number
}

const WORKERS = 8
const GUIDS_PER_WORKER = 12
const json = { 'content-type': 'application/json' }
const guidOf = (w: number, i: number) => `BAC0${String(w).padStart(4, '0')}${String(i).padStart(24, '0')}`

/**
 * Each worker owns its GUIDs and sends one request at a time, so each GUID's acknowledged
 * writes are totally ordered: creates, patches and deletes, round-robin, until told to stop.
 */
const worker = async (base: string, w: number, history: Map<string, Ack[]>, stop: { now: boolean }): Promise<void> => {
  const expire = Math.floor(Date.now() / 1000) + 3_600
  for (let n = 0; !stop.now; n++) {
    const guid = guidOf(w, n % GUIDS_PER_WORKER)
    const acks = history.get(guid) ?? []
    history.set(guid, acks)
    const live = acks.at(-1)?.state != null
    const user = `w${w} n${n}`
    const op = !live
      ? { method: 'POST', path: `/guid/${guid}`, body: { user, expire }, ok: 201 }
      : n % 5 === 4
        ? { method: 'DELETE', path: `/guid/${guid}`, ok: 204 }
        : { method: 'PATCH', path: `/guid/${guid}`, body: { user }, ok: 200 }
    const res = await fetch(`${base}${op.path}`, {
      method: op.method,
      headers: op.body ? json : {},
      body: op.body ? JSON.stringify(op.body) : undefined,
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    if (res.status !== op.ok) throw new Error(`${op.method} ${op.path}: ${res.status} ${text}`)
    const at = performance.now()
    if (op.method === 'DELETE') acks.push({ state: null, etag: '', at })
    else {
      const body = JSON.parse(text) as { user: string; expire: number }
      acks.push({ state: { user: body.user, expire: body.expire }, etag: res.headers.get('etag') ?? '', at })
    }
  }
}

const acked = (history: Map<string, Ack[]>) => [...history.values()].reduce((n, acks) => n + acks.length, 0)

/** Waits, bounded, until `n` writes were acknowledged in all. */
const untilAcked = async (history: Map<string, Ack[]>, n: number, load: Promise<unknown>): Promise<void> => {
  const deadline = Date.now() + 30_000
  let failed: unknown
  load.catch((error) => (failed = error))
  while (acked(history) < n) {
    if (failed !== undefined) throw failed
    if (Date.now() > deadline) throw new Error(`only ${acked(history)} of ${n} writes acknowledged in 30 s`)
    await Bun.sleep(5)
  }
}

test('a backup taken under write load restores every write acknowledged before it began', async () => {
  const sqlitePath = join(dir, 'data', 'guidd.sqlite')
  const env = { SQLITE_PATH: sqlitePath, LOG_LEVEL: 'warn', HOST: '127.0.0.1' }
  const first = await startGuidd({ name: 'guidd (backup source)', env, started })
  const base = urlOf(first)

  const history = new Map<string, Ack[]>()
  const stop = { now: false }
  const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(base, w, history, stop)))
  await untilAcked(history, 400, load)

  // Everything answered before this instant must be in the copy.
  const began = performance.now()
  const dest = join(dir, 'backup', 'guidd-copy.sqlite')
  mkdirSync(join(dir, 'backup'))
  const ackedBefore = acked(history)
  const run = await runToExit({ cmd: [...GUIDD_CMD, 'backup', dest], cwd: root, env: { SQLITE_PATH: sqlitePath }, timeoutMs: 30_000 })
  const ended = performance.now()
  const ackedDuring = acked(history) - ackedBefore
  await untilAcked(history, acked(history) + 200, load)
  stop.now = true
  await load

  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' })
  const report = JSON.parse(run.stdout) as { dest: string; integrity: string; rows: number; bytes: number }
  expect(report).toMatchObject({ dest, integrity: 'ok' })
  expect(report.rows).toBeGreaterThan(0)
  expect(existsSync(`${dest}.partial`)).toBe(false)
  // The load really ran while the copy was made (else this proves nothing about "while it serves").
  expect(ackedDuring).toBeGreaterThan(0)
  console.log(`backup: ${report.rows} rows, ${report.bytes} B in ${Math.round(ended - began)} ms; ${ackedBefore} writes acknowledged before, ${ackedDuring} during`)

  // Our own check of the copy, not the command's word for it.
  const copy = new Database(dest, { readonly: true })
  expect(copy.query('PRAGMA integrity_check').all()).toEqual([{ integrity_check: 'ok' }])
  copy.close()

  // A second backup to the same place is refused: a backup never overwrites.
  const again = await runToExit({ cmd: [...GUIDD_CMD, 'backup', dest], cwd: root, env: { SQLITE_PATH: sqlitePath }, timeoutMs: 30_000 })
  expect(again.code).toBe(1)
  expect(again.stderr).toContain('exists')

  // Restore: stop, replace the file (and drop its WAL and shared-memory files), start.
  expect(await first.stop(10_000)).toBe(0)
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${sqlitePath}${suffix}`, { force: true })
  copyFileSync(dest, sqlitePath)
  const restored = await startGuidd({ name: 'guidd (restored)', env, started })

  let checked = 0
  for (const [guid, acks] of history) {
    // The last write acknowledged before the backup began: the copy holds it or a later one.
    let floor = -1
    for (let i = 0; i < acks.length; i++) if (acks[i]!.at < began) floor = i
    const res = await fetch(`${urlOf(restored)}/guid/${guid}`, { signal: AbortSignal.timeout(5_000) })
    const text = await res.text()
    const candidates = acks.slice(Math.max(floor, 0))
    if (res.status === 404) {
      // Absent: never created before the backup, or a delete at or after the floor.
      const ok = floor === -1 || candidates.some((a) => a.state === null)
      expect({ guid, status: 404, ok }).toEqual({ guid, status: 404, ok: true })
    } else {
      expect({ guid, status: res.status }).toEqual({ guid, status: 200 })
      const etag = res.headers.get('etag')
      const match = candidates.find((a) => a.etag === etag)
      expect({ guid, etag, found: match !== undefined }).toEqual({ guid, etag, found: true })
      const body = JSON.parse(text) as { user: string; expire: number }
      expect({ user: body.user, expire: body.expire }).toEqual(match!.state!)
    }
    if (floor >= 0) checked++
  }
  expect(checked).toBeGreaterThan(WORKERS)
}, 120_000)
