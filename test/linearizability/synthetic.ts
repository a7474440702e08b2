import type { Kind, OpInput, OpOutput, RecordedOp } from './history'

/**
 * Linearizable histories of one GUID, made by simulating the register: each client sends
 * operations one after another, each takes effect at a random moment between its invoke and
 * its return, and its answer is what the register answers at that moment. Then `unknown`
 * writes that never took effect are added, with no answer (as a GUID held by the claim of an
 * instance killed mid-write collects them): "did not happen" is one outcome the checker must
 * consider, so the history stays linearizable. Seeded: the same seed gives the same history.
 */
export interface SyntheticOptions {
  seed: number
  clients: number
  /** Operations with an answer, spread over the clients. */
  answered: number
  /** Writes with no answer, invoked in the second half or so of the history. */
  unknown: number
}

const GUID = 'CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC'
const EXPIRE = 4_000_000_000

interface Planned {
  client: number
  kind: Kind
  input: OpInput
  /** Milliseconds; `at` is when it takes effect. */
  invoke: number
  at: number
  ret: number
  ifMatch?: 'current' | 'stale'
}

interface Register {
  user: string
  expire: number
  etag: number
}

export const syntheticHistory = (o: SyntheticOptions): RecordedOp[] => {
  let seed = o.seed * 7919 + 1
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1))
  const writes: Kind[] = ['patch', 'upsert', 'create', 'delete', 'patch', 'create-only']

  const planned: Planned[] = []
  for (let client = 0; client < o.clients; client++) {
    let t = int(0, 5)
    for (let k = 0; k < o.answered / o.clients; k++) {
      const kind: Kind = random() < 0.2 ? 'get' : writes[int(0, writes.length - 1)]!
      const input: OpInput = {}
      if (kind !== 'get' && kind !== 'delete') input.user = `c${client}-${k}`
      if (kind === 'upsert' || kind === 'create' || kind === 'create-only' || (kind === 'patch' && random() < 0.5)) input.expire = EXPIRE + int(0, 9)
      const conditional = (kind === 'patch' || kind === 'upsert' || kind === 'delete') && random() < 0.6
      const took = int(2, 20)
      planned.push({ client, kind, input, invoke: t, at: t + int(0, took), ret: t + took, ...(conditional && { ifMatch: random() < 0.7 ? 'current' : 'stale' }) })
      t += took + int(0, 3)
    }
  }

  let state = null as Register | null
  let version = 0
  const given: number[] = []
  const ops: RecordedOp[] = []
  for (const p of [...planned].sort((a, b) => a.at - b.at)) {
    if (p.ifMatch !== undefined) p.input.ifMatch = `"${p.ifMatch === 'current' && state !== null ? state.etag : given.length > 0 ? given[int(0, given.length - 1)] : 0}"`
    const record = (status: number): OpOutput => ({ status, user: state!.user, expire: state!.expire, etag: `"${state!.etag}"` })
    const write = (next: Omit<Register, 'etag'>) => {
      state = { ...next, etag: ++version }
      given.push(version)
    }
    const matches = p.input.ifMatch === undefined || (state !== null && p.input.ifMatch === `"${state.etag}"`)
    let output: OpOutput
    switch (p.kind) {
      case 'get':
        output = state === null ? { status: 404 } : record(200)
        break
      case 'create':
      case 'create-only':
        if (state !== null) output = { status: p.kind === 'create' ? 409 : 412 }
        else {
          write({ user: p.input.user!, expire: p.input.expire! })
          output = record(201)
        }
        break
      case 'upsert':
        if (!matches) output = { status: 412 }
        else {
          const fresh = state === null
          write({ user: p.input.user!, expire: p.input.expire! })
          output = record(fresh ? 201 : 200)
        }
        break
      case 'patch':
        if (state === null) output = { status: 404 }
        else if (!matches) output = { status: 412 }
        else {
          write({ user: p.input.user!, expire: p.input.expire ?? state.expire })
          output = record(200)
        }
        break
      case 'delete':
        if (state === null) output = { status: 404 }
        else if (!matches) output = { status: 412 }
        else {
          state = null
          version++
          output = { status: 204 }
        }
        break
      case 'list':
        throw new Error('synthetic histories hold no listings')
    }
    ops.push({ client: p.client, guid: GUID, kind: p.kind, input: p.input, invoke: p.invoke * 1e6, return: p.ret * 1e6, output })
  }

  const end = Math.max(...planned.map((p) => p.ret))
  for (let u = 0; u < o.unknown; u++) {
    const kind: Kind = (['patch', 'upsert', 'delete', 'patch'] as const)[u % 4]!
    const input: OpInput = kind === 'delete' ? {} : kind === 'patch' ? { user: `u${u}` } : { user: `u${u}`, expire: EXPIRE + 50 + u }
    if (random() < 0.7 && given.length > 0) input.ifMatch = `"${given[int(Math.floor(given.length / 2), given.length - 1)]}"`
    ops.push({ client: 100 + u, guid: GUID, kind, input, invoke: int(Math.floor(end * 0.4), end) * 1e6 })
  }
  return ops
}
