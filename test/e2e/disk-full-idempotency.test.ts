import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestApp, type TestApp } from '../support/app'
import { expectProblem, GUID } from '../support/http'
import { expectReplay } from '../support/idempotency-contract'

/**
 * Found by the model-based tests (embedded-window50, disk-full): on a full disk a keyed request
 * the service refuses (a 400, a 404) answered 503, since its answer could not be kept, while
 * /readyz stayed 200. Keeping a key's answer is a write like any other: when the disk cannot
 * take it, /readyz is 503 naming the store until a write succeeds again. A real full disk: a
 * 2 MiB tmpfs mounted for the test (needs root, as CI runs), as in disk-full.test.ts.
 */

const isRoot = process.getuid?.() === 0
if (!isRoot) {
  if (process.env.CI === 'true') throw new Error('disk-full Idempotency-Key test: needs root to mount a tmpfs, and CI=true does not skip')
  console.log('SKIPPED: disk-full Idempotency-Key test (needs root to mount a tmpfs)')
}

let mountDir: string
let app: TestApp

beforeAll(async () => {
  if (!isRoot) return
  mountDir = mkdtempSync(join(tmpdir(), 'guidd-full-keys-'))
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountDir])
  if (mount.status !== 0) throw new Error(`mount tmpfs: ${mount.stderr}`)
  app = await createTestApp({ SQLITE_PATH: join(mountDir, 'guidd.sqlite') })
})

afterAll(async () => {
  if (!isRoot) return
  await app?.close()
  spawnSync('umount', ['-l', mountDir])
  rmSync(mountDir, { recursive: true, force: true })
})

describe.if(isRoot)('keyed refusals on a full disk', () => {
  test('a keyed 404 whose answer cannot be kept is 503, /readyz says so, and once there is room the retry keeps and replays its answer', async () => {
    const { bavail, bsize } = statfsSync(mountDir)
    writeFileSync(join(mountDir, 'filler'), Buffer.alloc(Math.max(0, bavail * bsize - 32 * 1024)))
    let refused: string | undefined
    for (let i = 0; i < 5_000 && refused === undefined; i++) {
      const key = `"full-${i}-${'k'.repeat(200)}"`
      const res = await app.req('PATCH', `/guid/${GUID}`, { user: 'x'.repeat(200) }, { 'idempotency-key': key })
      if (res.status === 503) {
        await expectProblem(res, 503, 'unavailable')
        refused = key
      } else await expectProblem(res, 404, 'not-found')
    }
    expect(refused).toBeDefined()
    const ready = await app.req('GET', '/readyz')
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.sqlite).toContain('cannot write')

    rmSync(join(mountDir, 'filler'))
    app.clock.advance(1_000)
    expect((await app.req('GET', '/readyz')).status).toBe(200)
    const kept = await app.req('PATCH', `/guid/${GUID}`, { user: 'x'.repeat(200) }, { 'idempotency-key': refused! })
    await expectProblem(kept.clone(), 404, 'not-found')
    await expectReplay(kept, await app.req('PATCH', `/guid/${GUID}`, { user: 'x'.repeat(200) }, { 'idempotency-key': refused! }))
  })
})
