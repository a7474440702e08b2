import { afterAll, beforeAll, expect, test } from 'bun:test'
import { createTestApp, type TestApp } from '../support/app'

let app: TestApp
beforeAll(async () => {
  app = await createTestApp({ NEGATIVE_CACHE_MS: '0' })
})
afterAll(() => app.close())

const guid = (n: number) => n.toString(16).toUpperCase().padStart(32, 'A')

test('after 100k requests over distinct GUIDs, no actor is left in memory', async () => {
  const statuses = new Map<number, number>()
  // Reads that miss memory (shared jobs) and deletes (exclusive jobs), 1,000 in flight at a time.
  for (let start = 0; start < 100_000; start += 1_000) {
    const batch = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => {
        const n = start + i
        return app.req(n % 2 === 0 ? 'GET' : 'DELETE', `/guid/${guid(n)}`)
      }),
    )
    for (const res of batch) statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    expect(app.runtime.actors.size).toBeLessThanOrEqual(1_000)
  }
  expect(Object.fromEntries(statuses)).toEqual({ 404: 100_000 })
  expect(app.runtime.actors.size).toBe(0)
}, 60_000)
