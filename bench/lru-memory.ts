/**
 * `bun bench/lru-memory.ts`: what one cached GUID costs in the LRU: N records in the LruTier
 * (held off the JavaScript heap: its typed arrays' bytes, the JS heap's growth from bun:jsc's
 * statistics after a full collection, the process's RSS growth), then, for comparison, the
 * same records as JavaScript objects piece by piece, and the collector's full and eden pause
 * with the full LruTier.
 *
 * Env: BENCH_ENTRIES (1000000).
 */
import { heapStats } from 'bun:jsc'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StoredRecord } from '../src/domain/model'
import { generateGuid } from '../src/domain/normalise'
import { createLogger } from '../src/ops/logger'
import { loadConfig } from '../src/runtime/config'
import { createRuntime } from '../src/runtime/runtime'

const N = Number(Bun.env.BENCH_ENTRIES ?? 1_000_000)
const heap = () => {
  Bun.gc(true)
  return heapStats().heapSize
}
const rss = () => process.memoryUsage().rss
const now = Math.floor(Date.now() / 1000)
const make = (i: number): StoredRecord => ({ guid: generateGuid(), user: JSON.parse(`"bench-${i % 1000}"`), expire: now + 2_592_000, version: now * 1_000_000 + 1 })

const report: string[] = []
const step = (name: string, before: number, after: number) => report.push(`| ${name} | ${((after - before) / N).toFixed(0)} |`)

const pause = (full: boolean) => {
  let worst = 0
  for (let i = 0; i < 5; i++) {
    const t = performance.now()
    Bun.gc(full)
    worst = Math.max(worst, performance.now() - t)
  }
  return worst
}
// The LRU as guidd builds it (LRU_MAX_ENTRIES=N), in a runtime that is not started. The
// baseline is taken before it is built, so what the LRU allocates for N entries up front is
// counted; so is the rest of the runtime (a few MB, a few bytes per entry at N = 1M).
const dir = mkdtempSync(join(tmpdir(), 'guidd-lru-memory-'))
let h0 = heap()
const rss0 = rss()
const runtime = await createRuntime(loadConfig({ LRU_MAX_ENTRIES: String(N), SQLITE_PATH: join(dir, 'g.sqlite'), LOG_LEVEL: 'silent' }), { logger: createLogger('silent') })
const { lru } = runtime
for (let i = 0; i < N; i++) lru.set(make(i), now)
let h1 = heap()
report.push(`| LruTier: typed arrays (slots, index, user blocks), off the JS heap | ${(lru.bytes() / N).toFixed(0)} |`)
step('LruTier: JS heap growth', h0, h1)
report.push(`| LruTier: RSS growth of the process | ${((rss() - rss0) / N).toFixed(0)} |`)
const pauses = `forced collection with the full LruTier (heap ${(heapStats().heapSize / 2 ** 20).toFixed(0)} MiB): full ${pause(true).toFixed(0)} ms, eden ${pause(false).toFixed(1)} ms (worst of 5)`

// For comparison, the same records held as JavaScript objects (as lru-cache held them before).
h0 = heap()
const keys = Array.from({ length: N }, () => generateGuid())
h1 = heap()
step('for comparison: GUID string (32 chars), in an array', h0, h1)
const recs: StoredRecord[] = keys.map((guid, i) => ({ guid, user: JSON.parse(`"bench-${i % 1000}"`), expire: now + 2_592_000, version: now * 1_000_000 + 1 }))
const h2 = heap()
step('for comparison: record object {guid, user, expire, version} + its user string', h1, h2)
const map = new Map<string, StoredRecord>()
for (const r of recs) map.set(r.guid, r)
const h3 = heap()
step('for comparison: a Map entry (key -> record)', h2, h3)

console.log(`LRU memory per cached GUID, ${N} entries, Bun ${Bun.version}\n\n| piece | bytes per entry |\n|---|---:|\n${report.join('\n')}`)
console.log(`\n${pauses}`)
void [lru.size, map.size]
await runtime.close()
rmSync(dir, { recursive: true, force: true })
