import { describe, expect, test } from 'bun:test'
import { ActorRegistry } from '../../src/data/actors'
import { ServiceError } from '../../src/domain/errors'

/** A promise resolved or rejected by hand. */
const deferred = <T = void>() => {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Lets every already-settled promise callback run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve))

describe('ActorRegistry', () => {
  test('one key: jobs run one at a time, in arrival order', async () => {
    const actors = new ActorRegistry({ mailboxMax: 10 })
    const gates = [deferred(), deferred(), deferred()]
    const log: string[] = []
    const results = gates.map((gate, i) =>
      actors.run('k', async () => {
        log.push(`start ${i}`)
        await gate.promise
        log.push(`end ${i}`)
        return i
      }),
    )
    await flush()
    expect(log).toEqual(['start 0'])
    // Releasing later jobs first changes nothing: they have not started.
    gates[2]!.resolve()
    gates[1]!.resolve()
    await flush()
    expect(log).toEqual(['start 0'])
    gates[0]!.resolve()
    expect(await Promise.all(results)).toEqual([0, 1, 2])
    expect(log).toEqual(['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2'])
  })

  test('different keys run concurrently', async () => {
    const actors = new ActorRegistry({ mailboxMax: 10 })
    const a = deferred()
    const b = deferred()
    const started: string[] = []
    const ra = actors.run('a', async () => {
      started.push('a')
      await a.promise
    })
    const rb = actors.run('b', async () => {
      started.push('b')
      await b.promise
    })
    await flush()
    expect(started).toEqual(['a', 'b'])
    expect(actors.size).toBe(2)
    b.resolve()
    await rb
    expect(actors.size).toBe(1)
    a.resolve()
    await ra
    expect(actors.size).toBe(0)
  })

  test('a throwing job rejects only its own caller; the next job runs', async () => {
    const actors = new ActorRegistry({ mailboxMax: 10 })
    const gate = deferred()
    const first = actors.run('k', async () => {
      await gate.promise
      return 'first'
    })
    const failing = actors
      .run('k', async () => {
        throw new Error('boom')
      })
      .catch((e: unknown) => e)
    const syncFailing = actors
      .run('k', () => {
        throw new Error('sync boom')
      })
      .catch((e: unknown) => e)
    const last = actors.run('k', () => 'last')
    gate.resolve()
    expect(await first).toBe('first')
    expect(await failing).toEqual(new Error('boom'))
    expect(await syncFailing).toEqual(new Error('sync boom'))
    expect(await last).toBe('last')
    expect(actors.size).toBe(0)
  })

  test('a job that rejects later does not block the ones behind it', async () => {
    const actors = new ActorRegistry({ mailboxMax: 10 })
    const gate = deferred()
    const failing = actors.run('k', () => gate.promise)
    const next = actors.run('k', () => 'next')
    gate.reject(new Error('late failure'))
    await expect(failing).rejects.toThrow('late failure')
    expect(await next).toBe('next')
  })

  test('past mailboxMax a job is refused with an overloaded ServiceError (503), and accepted again once there is room', async () => {
    const actors = new ActorRegistry({ mailboxMax: 2 })
    const gate = deferred()
    const running = actors.run('k', () => gate.promise)
    const waiting = actors.run('k', () => 'waiting')
    let ran = false
    const refused = actors.run('k', () => {
      ran = true
    })
    const error = await refused.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServiceError)
    expect((error as ServiceError).kind).toBe('overloaded')
    expect((error as ServiceError).kind).toBe('overloaded')
    expect((error as ServiceError).details.retryAfterSeconds).toBeDefined()
    // Another key is not affected.
    expect(await actors.run('other', () => 'ok')).toBe('ok')
    gate.resolve()
    await running
    expect(await waiting).toBe('waiting')
    expect(ran).toBe(false)
    expect(await actors.run('k', () => 'again')).toBe('again')
  })

  test('idle() resolves at once when nothing is in flight', async () => {
    const actors = new ActorRegistry({ mailboxMax: 1 })
    await actors.idle()
    expect(actors.size).toBe(0)
  })

  test('idle() resolves only once every actor has finished', async () => {
    const actors = new ActorRegistry({ mailboxMax: 10 })
    const a = deferred()
    const b = deferred()
    void actors.run('a', () => a.promise)
    void actors.run('b', () => b.promise)
    let idle = false
    const waiting = actors.idle().then(() => {
      idle = true
    })
    a.resolve()
    await flush()
    expect(idle).toBe(false)
    b.resolve()
    await waiting
    expect(idle).toBe(true)
    expect(actors.size).toBe(0)
  })

  test('an actor with an empty mailbox is dropped: 100k keys leave nothing behind', async () => {
    const actors = new ActorRegistry({ mailboxMax: 1 })
    const results: Array<Promise<number>> = []
    for (let i = 0; i < 100_000; i++) results.push(actors.run(`key-${i}`, async () => i))
    const values = await Promise.all(results)
    expect(values.length).toBe(100_000)
    expect(values[99_999]).toBe(99_999)
    await actors.idle()
    expect(actors.size).toBe(0)
  })

  test('one key with many jobs keeps order across mailbox compaction', async () => {
    const actors = new ActorRegistry({ mailboxMax: 1_000 })
    const gate = deferred()
    const order: number[] = []
    const first = actors.run('k', () => gate.promise)
    const rest = Array.from({ length: 500 }, (_, i) => actors.run('k', () => void order.push(i)))
    gate.resolve()
    await Promise.all([first, ...rest])
    expect(order).toEqual(Array.from({ length: 500 }, (_, i) => i))
    expect(actors.size).toBe(0)
  })

  test.each([0, -1, 1.5])('rejects mailboxMax %p at construction', (mailboxMax) => {
    expect(() => new ActorRegistry({ mailboxMax })).toThrow(TypeError)
  })
})

describe('ActorRegistry shared jobs (reads)', () => {
  const job = (actors: ActorRegistry, log: string[], name: string, shared: boolean) => {
    const gate = deferred()
    const done = (shared ? actors.runShared.bind(actors) : actors.run.bind(actors))('k', async () => {
      log.push(`start ${name}`)
      await gate.promise
      log.push(`end ${name}`)
    })
    return { gate, done }
  }

  test('adjacent shared jobs run together; an exclusive one waits for them, and later shared ones wait for it', async () => {
    const actors = new ActorRegistry({ mailboxMax: 10 })
    const log: string[] = []
    const r1 = job(actors, log, 'r1', true)
    const r2 = job(actors, log, 'r2', true)
    const w = job(actors, log, 'w', false)
    const r3 = job(actors, log, 'r3', true)
    const r4 = job(actors, log, 'r4', true)
    await flush()
    expect(log).toEqual(['start r1', 'start r2'])
    r2.gate.resolve()
    await flush()
    expect(log).toEqual(['start r1', 'start r2', 'end r2'])
    r1.gate.resolve()
    await flush()
    expect(log.slice(3)).toEqual(['end r1', 'start w'])
    w.gate.resolve()
    await flush()
    expect(log.slice(5)).toEqual(['end w', 'start r3', 'start r4'])
    r3.gate.resolve()
    r4.gate.resolve()
    await Promise.all([r1.done, r2.done, w.done, r3.done, r4.done])
    expect(actors.size).toBe(0)
  })

  test('a shared job joins running shared ones only while no exclusive job waits', async () => {
    const actors = new ActorRegistry({ mailboxMax: 10 })
    const log: string[] = []
    const r1 = job(actors, log, 'r1', true)
    await flush()
    const r2 = job(actors, log, 'r2', true)
    await flush()
    expect(log).toEqual(['start r1', 'start r2'])
    const w = job(actors, log, 'w', false)
    const r3 = job(actors, log, 'r3', true)
    await flush()
    expect(log).toEqual(['start r1', 'start r2'])
    r1.gate.resolve()
    r2.gate.resolve()
    await flush()
    expect(log.slice(2)).toEqual(['end r1', 'end r2', 'start w'])
    w.gate.resolve()
    r3.gate.resolve()
    await Promise.all([w.done, r3.done])
    expect(log.slice(-3)).toEqual(['end w', 'start r3', 'end r3'])
  })

  test('running shared jobs count toward mailboxMax', async () => {
    const actors = new ActorRegistry({ mailboxMax: 2 })
    const log: string[] = []
    const a = job(actors, log, 'a', true)
    const b = job(actors, log, 'b', true)
    const refused = await actors.runShared('k', () => 1).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ServiceError)
    expect((refused as ServiceError).kind).toBe('overloaded')
    a.gate.resolve()
    b.gate.resolve()
    await Promise.all([a.done, b.done])
  })
})
