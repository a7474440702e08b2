import { expect } from 'bun:test'
import { LIVENESS_TTL_MS } from '../../src/adapters/redis/liveness'
import { urlOf } from './guidd-process'
import type { Started } from './process'
import { send } from './requests'

/**
 * The kill -9 test of keyed creates (every mode that has one): workers send `POST /guid` with
 * an Idempotency-Key each (and a user of the key's own, so the GUIDs a key made can be
 * listed); the server is killed with SIGKILL under that load, a new one starts on the same
 * data, and every key is retried until it is answered. Every key must then have made exactly
 * one GUID, and a key whose create was acknowledged before the kill must be answered with
 * that same answer, replayed.
 */

export interface KeyedKillOptions {
  start: () => Promise<Started>
  workers: number
  killAfterAcks: number
  /** How long retries of one key may meet 409 (a claim of the dead server, until its lease ends). */
  retryForMs: number
}

interface Sent {
  key: string
  user: string
  /** The acknowledged answer, when there was one. */
  answer?: { body: string; etag: string | null; location: string | null }
}

const post = (base: string, s: Sent) => send(base, 'POST', '/guid', { user: s.user }, { 'idempotency-key': `"${s.key}"` })

export const keyedCreatesSurviveKill = async (o: KeyedKillOptions): Promise<{ acked: number; uncertain: number; replayed: number }> => {
  const run = `${process.pid}-${Date.now()}`
  const first = await o.start()
  const base = urlOf(first)
  const sent: Sent[] = []
  let acks = 0
  let killing: Promise<void> | undefined
  const worker = async (w: number) => {
    for (let n = 0; ; n++) {
      const s: Sent = { key: `kill-${run}-${w}-${n}`, user: `keyed-kill ${run} ${w}-${n}` }
      sent.push(s)
      let res: Response
      try {
        res = await post(base, s)
      } catch {
        return
      }
      // A 503 (the request's deadline, on a loaded machine) may or may not have created: like a
      // request the kill cut off, the key is settled by its retries after the restart.
      if (res.status === 503) {
        await res.arrayBuffer()
        continue
      }
      if (res.status !== 201) throw new Error(`a keyed create before the kill answered ${res.status}: ${await res.text()}`)
      s.answer = { body: await res.text(), etag: res.headers.get('etag'), location: res.headers.get('location') }
      if (++acks === o.killAfterAcks) killing = first.kill9()
    }
  }
  await Promise.all(Array.from({ length: o.workers }, (_, w) => worker(w)))
  await killing
  expect(first.proc.signalCode).toBe('SIGKILL')

  const second = await o.start()
  const again = urlOf(second)
  let replayed = 0
  for (const s of sent) {
    const deadline = Date.now() + o.retryForMs
    let res = await post(again, s)
    while ((res.status === 409 || res.status === 503) && Date.now() < deadline) {
      await res.arrayBuffer()
      await Bun.sleep(100)
      res = await post(again, s)
    }
    expect({ key: s.key, status: res.status }).toEqual({ key: s.key, status: 201 })
    const body = await res.text()
    if (res.headers.get('idempotent-replayed') === 'true') replayed++
    if (s.answer !== undefined) {
      // Acknowledged before the kill: the same answer, replayed.
      expect({ key: s.key, replayed: res.headers.get('idempotent-replayed'), body, etag: res.headers.get('etag'), location: res.headers.get('location') }).toEqual({
        key: s.key,
        replayed: 'true',
        ...s.answer,
      })
    }
    // Exactly one GUID for the key, the one its answer names.
    // In Redis mode a listing waits for the flusher to store every entry the journal holds,
    // those the killed instance had read too: they are claimed once its liveness key lapses
    // (LIVENESS_TTL_MS) at the next claim check (1 s). Until then, past LIST_FLUSH_WAIT_MS, it
    // answers 503 with Retry-After, which a client retries.
    const listDeadline = Date.now() + LIVENESS_TTL_MS + 5_000
    let page = await send(again, 'GET', `/guid?user=${encodeURIComponent(s.user)}`)
    while (page.status === 503 && Date.now() < listDeadline) {
      await page.arrayBuffer()
      page = await send(again, 'GET', `/guid?user=${encodeURIComponent(s.user)}`)
    }
    expect({ key: s.key, listing: page.status }).toEqual({ key: s.key, listing: 200 })
    const items = ((await page.json()) as { items: Array<{ guid: string }> }).items
    expect({ key: s.key, guids: items.map((i) => i.guid) }).toEqual({ key: s.key, guids: [(JSON.parse(body) as { guid: string }).guid] })
  }
  expect(await second.stop(8_000)).toBe(0)
  return { acked: sent.filter((s) => s.answer !== undefined).length, uncertain: sent.filter((s) => s.answer === undefined).length, replayed }
}
