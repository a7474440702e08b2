import { expect } from 'bun:test'
import type { ClusterApp } from './cluster-app'

/**
 * Write load for the cluster's fault tests (failover, reshard), and the check that it lost
 * no acknowledged write.
 */

/** Statuses a write may get: acknowledged, or 503 (unknown outcome). Anything else fails the test. */
export const ALLOWED = new Set([200, 201, 503])

export interface GuidLog {
  guid: string
  /** The last value acknowledged (2xx). */
  acked: string | undefined
  /** Values sent after it whose outcome is unknown (503): the final value may be one of them. */
  uncertain: string[]
}

/** One client writing its GUIDs in turn (POST /guid/{guid}: create, then updates) until `stop`. */
export const writer = async (x: ClusterApp, id: number, guids: number, stop: { now: boolean }, statuses: Map<number, number>, bad: string[]): Promise<GuidLog[]> => {
  const logs: GuidLog[] = Array.from({ length: guids }, (_, i) => ({ guid: `${String(id).padStart(4, '0')}${String(i).padStart(4, '0')}`.padEnd(32, 'A'), acked: undefined, uncertain: [] }))
  for (let n = 0; !stop.now; n++) {
    const log = logs[n % guids]!
    const value = `w${id}-${n}`
    const res = await x.app.req('POST', `/guid/${log.guid}`, { user: value })
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1)
    if (!ALLOWED.has(res.status)) bad.push(`${res.status} ${await res.text()}`)
    else if (res.status === 503) {
      if (res.headers.get('retry-after') === null) bad.push('503 without Retry-After')
      log.uncertain.push(value)
    } else {
      log.acked = value
      log.uncertain = []
    }
    await Bun.sleep(2)
  }
  return logs
}

/** Every acknowledged write is there: each GUID reads as its last acknowledged value, or a later unacknowledged one. */
export const expectAcknowledged = async (x: ClusterApp, logs: GuidLog[]): Promise<void> => {
  x.app.runtime.lru.clear()
  for (const log of logs) {
    if (log.acked === undefined) continue
    const res = await x.app.req('GET', `/guid/${log.guid}`)
    expect(res.status).toBe(200)
    const { user } = (await res.json()) as { user: string }
    expect([log.acked, ...log.uncertain]).toContain(user)
  }
}
