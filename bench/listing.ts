/**
 * `npm run bench:listing` (also section `listing` of `npm run bench`): GET /guid?user= of a
 * user holding BENCH_LIST_HEAVY (100,000) of BENCH_LIST_TOTAL (1,000,000) GUIDs, embedded
 * mode (SQLite), pages of 100 starting at random GUIDs of that user, one request at a time,
 * after a warm-up. Prints p50 / p90 / p99 / max of the page's answer time as the client sees
 * it (fetch over loopback), and the same for a first page. The store is written directly
 * through the embedded runtime's store (sorted GUIDs, batches of 10,000) so preparing it takes
 * seconds, not the minutes a million POSTs would; the cursors are collected by walking the
 * heavy user's whole listing once (pages of 100), then pages are asked for at random ones.
 *
 * Then what the index costs a write (benchIndexCost): BENCH_LIST_INDEX_ROWS (500,000) creates into
 * two stores, with and without it.
 *
 * Env: BENCH_LIST_TOTAL, BENCH_LIST_HEAVY, BENCH_LIST_REQUESTS (2,000), BENCH_LIST_INDEX_ROWS,
 * BENCH_PIN (1; 0: no taskset).
 */
import { Database } from 'bun:sqlite'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Mutation } from '../src/domain/model'
import { createLogger } from '../src/ops/logger'
import { loadConfig } from '../src/runtime/config'
import { createRuntime } from '../src/runtime/runtime'
import { startBench } from './service'

const HEAVY_USER = 'Heavy User, Inc.'

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

export interface ListingFigures {
  total: number
  heavy: number
  requests: number
  prepareSeconds: number
  page: { p50: number; p90: number; p99: number; max: number }
  first: { p50: number; p99: number }
}

/** Fills `path` with `total` GUIDs, `heavy` of them the heavy user's, the rest 100 per other user. */
const prepare = async (path: string, total: number, heavy: number): Promise<number> => {
  const guids = Array.from({ length: total }, () => crypto.randomUUID().replaceAll('-', '').toUpperCase()).sort()
  // Every (total/heavy)-th GUID is the heavy user's: spread over the whole key range.
  const every = Math.max(1, Math.floor(total / heavy))
  const runtime = await createRuntime(loadConfig({ SQLITE_PATH: path, LOG_LEVEL: 'silent' }), { logger: createLogger('silent') })
  let mine = 0
  const expire = Math.floor(Date.now() / 1000) + 86_400 * 30
  const version = Math.floor(Date.now() / 1000) * 1_000_000 + 1
  try {
    for (let start = 0; start < total; start += 10_000) {
      const batch: Mutation[] = []
      for (let i = start; i < Math.min(total, start + 10_000); i++) {
        const isHeavy = i % every === 0 && mine < heavy
        if (isHeavy) mine++
        batch.push({ next: { guid: guids[i]!, user: isHeavy ? HEAVY_USER : `user ${i % Math.max(1, Math.floor((total - heavy) / 100))}`, expire, version }, prevVersion: 0 })
      }
      await runtime.store.applyBatch(batch)
    }
  } finally {
    await runtime.close(5_000)
  }
  return mine
}

export const benchListing = async (options: { total: number; heavy: number; requests: number; pin: boolean }): Promise<ListingFigures> => {
  const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-listing-'))
  const path = join(dir, 'guidd.sqlite')
  try {
    const started = performance.now()
    const heavy = await prepare(path, options.total, options.heavy)
    const prepareSeconds = (performance.now() - started) / 1000
    const cmd = [process.execPath, 'run', join(import.meta.dir, '..', 'src', 'main.ts')]
    const service = await startBench({
      cmd: options.pin ? ['taskset', '-c', '0', ...cmd] : cmd,
      env: { SQLITE_PATH: path, LOG_LEVEL: 'warn', REDIS_URL: '', MONGODB_URL: '', API_KEYS: '', RATE_LIMIT_PER_SECOND: '0' },
      cwd: dir,
      output: join(dir, 'guidd.log'),
    })
    try {
      const url = (cursor?: string) => `${service.base}/guid?user=${encodeURIComponent(HEAVY_USER)}&limit=100${cursor === undefined ? '' : `&cursor=${cursor}`}`
      const time = async (target: string): Promise<number> => {
        const t0 = performance.now()
        const res = await fetch(target)
        const page = (await res.json()) as { items: unknown[] }
        const ms = performance.now() - t0
        if (res.status !== 200 || page.items.length === 0) throw new Error(`listing answered ${res.status} with ${page.items.length} items`)
        return ms
      }
      // Every page's cursor, from one walk of the heavy user's listing.
      const cursors: string[] = []
      for (let next: string | null = null; ; ) {
        const page = (await (await fetch(url(next ?? undefined))).json()) as { next: string | null }
        if (page.next === null) break
        cursors.push(page.next)
        next = page.next
      }
      const randomCursor = () => cursors[Math.floor(Math.random() * cursors.length)]!
      for (let i = 0; i < 200; i++) await time(url(randomCursor()))
      const pages: number[] = []
      for (let i = 0; i < options.requests; i++) pages.push(await time(url(randomCursor())))
      const firsts: number[] = []
      for (let i = 0; i < Math.min(200, options.requests); i++) firsts.push(await time(url()))
      pages.sort((a, b) => a - b)
      firsts.sort((a, b) => a - b)
      const r = (n: number) => Math.round(n * 1000) / 1000
      return {
        total: options.total,
        heavy,
        requests: options.requests,
        prepareSeconds: r(prepareSeconds),
        page: { p50: r(percentile(pages, 0.5)), p90: r(percentile(pages, 0.9)), p99: r(percentile(pages, 0.99)), max: r(pages[pages.length - 1]!) },
        first: { p50: r(percentile(firsts, 0.5)), p99: r(percentile(firsts, 0.99)) },
      }
    } finally {
      await service.stop()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The section's table, as `npm run bench` prints it. */
export const listingTable = (f: ListingFigures): string =>
  [
    `\nListing (embedded): a page of 100 of a user holding ${f.heavy} of ${f.total} GUIDs, ${f.requests} requests one at a time, random cursors (store prepared in ${f.prepareSeconds} s)\n`,
    '| page | p50 ms | p90 ms | p99 ms | max ms |',
    '|---|---:|---:|---:|---:|',
    `| after a random cursor | ${f.page.p50} | ${f.page.p90} | ${f.page.p99} | ${f.page.max} |`,
    `| first page | ${f.first.p50} | | ${f.first.p99} | |`,
  ].join('\n')

/**
 * What the listing's index costs a write: group-commit batches of 100 creates of one user
 * (random GUIDs) into two stores, one with its `guids_user` index dropped, interleaved batch by
 * batch; the median store time per write for each 100,000 rows written (the index's inserts land
 * at random places, so their cost grows with the table).
 */
export const benchIndexCost = async (rows: number): Promise<Array<{ rows: number; withIndexUs: number; withoutUs: number }>> => {
  const { SqliteStore } = await import('../src/adapters/sqlite/store')
  const dir = mkdtempSync(join(tmpdir(), 'guidd-bench-index-'))
  const withIndex = new SqliteStore({ path: join(dir, 'with.sqlite'), synchronous: 'NORMAL', checkpointThread: false })
  const without = new SqliteStore({ path: join(dir, 'without.sqlite'), synchronous: 'NORMAL', checkpointThread: false })
  // Dropped through a connection of its own: the store's statements are prepared again on their next use.
  const other = new Database(join(dir, 'without.sqlite'))
  other.exec('DROP INDEX guids_user')
  other.close()
  const now = Math.floor(Date.now() / 1000)
  const batch = (): Mutation[] =>
    Array.from({ length: 100 }, () => ({ next: { guid: crypto.randomUUID().replaceAll('-', '').toUpperCase(), user: 'bench', expire: now + 3_600, version: 1 }, prevVersion: 0 }))
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!
  const out: Array<{ rows: number; withIndexUs: number; withoutUs: number }> = []
  try {
    for (let written = 0; written < rows; ) {
      const times = { with: [] as number[], without: [] as number[] }
      for (let i = 0; i < 1_000 && written < rows; i++, written += 100) {
        for (const [name, store] of [
          ['with', withIndex],
          ['without', without],
        ] as const) {
          const mutations = batch()
          const t0 = performance.now()
          store.applyBatchSync(mutations)
          times[name].push((performance.now() - t0) * 10)
        }
      }
      out.push({ rows: written, withIndexUs: Math.round(median(times.with) * 100) / 100, withoutUs: Math.round(median(times.without) * 100) / 100 })
    }
    return out
  } finally {
    await withIndex.close()
    await without.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const pin = Bun.env.BENCH_PIN !== '0' && availableParallelism() >= 2 && spawnSync('taskset', ['-V']).error === undefined
  if (pin) spawnSync('taskset', ['-pc', '1', String(process.pid)])
  const figures = await benchListing({
    total: Number(Bun.env.BENCH_LIST_TOTAL ?? 1_000_000),
    heavy: Number(Bun.env.BENCH_LIST_HEAVY ?? 100_000),
    requests: Number(Bun.env.BENCH_LIST_REQUESTS ?? 2_000),
    pin,
  })
  console.log(listingTable(figures))
  const cost = await benchIndexCost(Number(Bun.env.BENCH_LIST_INDEX_ROWS ?? 500_000))
  console.log('\nThe listing index on writes: SQLite store time per create (batches of 100, interleaved, medians per 100,000 rows)\n')
  console.log('| rows | with (user, guid) | without | added |\n|---:|---:|---:|---:|')
  for (const c of cost) console.log(`| ${c.rows} | ${c.withIndexUs} us | ${c.withoutUs} us | +${(c.withIndexUs - c.withoutUs).toFixed(2)} us |`)
}
