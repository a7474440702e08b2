import { describe, expect, test } from 'bun:test'
import { ActorRegistry } from '../../src/data/actors'
import { GuidService } from '../../src/data/guid-service'
import type { Journal } from '../../src/data/journal'
import { Records } from '../../src/data/records'
import type { Store } from '../../src/data/store'
import { ManualClock } from '../../src/domain/clock'
import { ServiceError } from '../../src/domain/errors'

const T0 = Date.UTC(2026, 0, 1)
const NOW = T0 / 1000
const GUID = '9094E4C980C74043A4B586B420E69DDF'

/** A data path that must not be reached: any load or write fails the test loudly. */
const untouchable = (): { service: GuidService; actors: ActorRegistry; touched: string[] } => {
  const touched: string[] = []
  const fail = (what: string) => async (): Promise<never> => {
    touched.push(what)
    throw new Error(`${what} was reached`)
  }
  const store: Store = {
    name: 'untouchable',
    get: fail('store.get'),
    listUser: fail('store.listUser'),
    applyBatch: fail('store.applyBatch'),
    sweepExpired: fail('sweep'),
    ping: fail('ping'),
    close: async () => {},
  }
  const journal: Journal = { append: fail('journal.append'), close: async () => {} }
  const actors = new ActorRegistry({ mailboxMax: 10 })
  const records = new Records({ journal, store })
  return { service: new GuidService({ actors, records, clock: new ManualClock(T0), defaultTtlSeconds: 60, tombstoneTtlSeconds: 60 }), actors, touched }
}

describe('GuidService: a request is validated before its GUID actor is entered', () => {
  test.each([
    ['PATCH', (s: GuidService) => s.patch(GUID, { expire: NOW - 1 }, {})],
    ['POST /guid/{guid}', (s: GuidService) => s.upsert(GUID, { expire: 'soon' }, {})],
    ['POST /guid', (s: GuidService) => s.create({ guid: GUID, user: 'x', expire: '10000-01-01T00:00:00Z' })],
  ])('%s with a bad expire: a validation error, with nothing loaded and no actor made', (_name, call) => {
    const { service, actors, touched } = untouchable()
    let caught: unknown
    try {
      void call(service)
    } catch (error) {
      caught = error
    }
    expect(caught).toBeInstanceOf(ServiceError)
    expect((caught as ServiceError).kind).toBe('validation')
    expect(touched).toEqual([])
    expect(actors.size).toBe(0)
  })
})
