import { describe, expect, test } from 'bun:test'
import { createLogger } from '../../src/ops/logger'
import { requestLog } from '../../src/ops/request-log'

/** A logger writing into an array, and the request log on it. */
const capture = (level = 'info', options: Parameters<typeof requestLog>[1] = {}) => {
  const lines: string[] = []
  const logger = createLogger(level, { write: (line: string) => void lines.push(line) })
  return { logger, lines, log: requestLog(logger, options), parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) }
}

describe('the request log line', () => {
  test('is the line pino itself writes for the same fields, key for key and in order (time aside)', () => {
    const { logger, lines, log } = capture()
    log!('req-1', 'GET', '/guid/:guid', 200, 0.000123456, 74, '192.0.2.7')
    logger.info({ requestId: 'req-1', method: 'GET', route: '/guid/:guid', status: 200, durationMs: 0.123, bytes: 74, client: '192.0.2.7' }, 'request')
    expect(lines).toHaveLength(2)
    const [ours, pinos] = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(ours!.time).toBeNumber()
    expect(Object.keys(ours!)).toEqual(Object.keys(pinos!))
    expect({ ...ours, time: 0 }).toEqual({ ...pinos, time: 0 })
    expect(lines[0]!.endsWith('}\n')).toBe(true)
  })

  test('a child logger’s bindings are kept', () => {
    const { logger, parsed } = capture()
    requestLog(logger.child({ instance: 'a"b' }))!('r', 'GET', '/healthz', 200, 0, 0, undefined)
    expect(parsed()[0]).toMatchObject({ instance: 'a"b', client: 'unknown' })
  })

  test('strings that are not plain ASCII are escaped: the line is always one valid JSON object', () => {
    const { lines, parsed, log } = capture()
    const odd = ['quote " and backslash \\', 'new\nline', 'tab\there', 'ünïcødé ✓', 'lone \ud800 surrogate', '\u2028\u0000']
    for (const client of odd) log!('id', 'GET', '/guid', 200, 0, 0, client)
    log!('id', 'M"\n', 'route"\\', 404, 0, 0, 'x')
    expect(lines.every((l) => l.indexOf('\n') === l.length - 1)).toBe(true)
    const records = parsed()
    expect(records.slice(0, odd.length).map((r) => r.client)).toEqual(odd.map((s) => JSON.parse(JSON.stringify(s))))
    expect(records.at(-1)).toMatchObject({ method: 'M"\n', route: 'route"\\' })
  })

  test('durations are in milliseconds, to the microsecond', () => {
    const { parsed, log } = capture()
    log!('id', 'GET', '/guid', 200, 0.0012345678, 0, 'x')
    log!('id', 'GET', '/guid', 200, 12.5, 0, 'x')
    expect(parsed().map((r) => r.durationMs)).toEqual([1.235, 12500])
  })

  test('sampling keeps the share of 2xx lines the random draw allows, each marked with the rate; other statuses always', () => {
    const draws = [0.1, 0.3, 0.2, 0.9, 0.99, 0.99, 0.99, 0.99]
    const { parsed, log } = capture('info', { sample2xx: 0.25, random: () => draws.shift()! })
    for (const status of [200, 201, 204, 200]) log!('id', 'GET', '/guid', status, 0, 0, 'x')
    for (const status of [101, 304, 404, 503]) log!('id', 'GET', '/guid', status, 0, 0, 'x')
    expect(parsed().map((r) => [r.status, r.sample])).toEqual([
      [200, 0.25],
      [204, 0.25],
      [101, undefined],
      [304, undefined],
      [404, undefined],
      [503, undefined],
    ])
    // Statuses outside 2xx draw nothing: the four draws left are unused.
    expect(draws).toHaveLength(4)
  })

  test('undefined when info is not logged, so the request path skips it', () => {
    expect(capture('warn').log).toBeUndefined()
    expect(capture('silent').log).toBeUndefined()
    expect(capture('debug').log).toBeFunction()
  })
})
