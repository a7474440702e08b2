import { afterAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LogSink } from '../../src/ops/log-sink'
import { createLogger } from '../../src/ops/logger'
import { requestLog } from '../../src/ops/request-log'

/**
 * The sink against a real pipe nobody reads: a FIFO opened read-write and non-blocking, so the
 * test is its reader and reads only when it chooses to (the sink's writes meet EAGAIN meanwhile).
 */

const dir = mkdtempSync(join(tmpdir(), 'guidd-log-sink-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let fifos = 0

const pipe = () => {
  const path = join(dir, `p${++fifos}`)
  expect(spawnSync('mkfifo', [path]).status).toBe(0)
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK)
  let text = ''
  /** Everything in the pipe now. */
  const read = (): string => {
    const chunk = Buffer.alloc(1 << 16)
    for (;;) {
      let n = 0
      try {
        n = readSync(fd, chunk, 0, chunk.length, null)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return text
        throw error
      }
      text += chunk.subarray(0, n).toString()
    }
  }
  return { fd, read, close: () => closeSync(fd) }
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

test('past its buffer request lines are dropped and counted, told at start and end; every other line is kept, in order', async () => {
  const out = pipe()
  const sink = new LogSink({ fd: out.fd, requestBufferBytes: 32 * 1024, reserveBytes: 256 * 1024 })
  const logger = createLogger('info', sink)
  const log = requestLog(logger)!
  // Far more than the pipe (64 KiB) and the buffer hold, a warning every turn among them.
  for (let t = 0; t < 200; t++) {
    for (let i = 0; i < 20; i++) log(`r${t}-${i}`, 'GET', '/guid/:guid', 200, 0.0001, 74, '192.0.2.7')
    logger.warn({ t }, 'a warning')
    await turn()
  }
  const dropped = sink.droppedLines
  expect(dropped).toBeGreaterThan(0)

  // The reader goes on: everything held is written, and the end of the episode is told.
  const deadline = Date.now() + 10_000
  let text = ''
  while (!text.includes('caught up')) {
    text = out.read()
    if (Date.now() > deadline) throw new Error(`no end of the dropping episode:\n${text.slice(-2_000)}`)
    await Bun.sleep(5)
  }
  expect(await sink.flushWithin(5_000)).toBe(true)
  text = out.read()
  out.close()

  const lines = text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
  const warnings = lines.filter((l) => l.msg === 'a warning').map((l) => l.t)
  expect(warnings).toEqual(Array.from({ length: 200 }, (_, t) => t))
  const requests = lines.filter((l) => l.msg === 'request')
  expect(requests.length + dropped).toBe(200 * 20)
  const starts = lines.filter((l) => l.msg === 'log sink is not keeping up; dropping request log lines')
  const ends = lines.filter((l) => l.msg === 'log sink caught up; request log lines are written again')
  // The pipe takes 64 KiB whenever it can: episodes may come and go while nobody reads.
  expect(starts.length).toBeGreaterThanOrEqual(1)
  expect(ends).toHaveLength(starts.length)
  for (let i = 0; i < starts.length; i++) {
    expect(starts[i]!.level).toBe(40)
    expect(ends[i]!.level).toBe(40)
    expect(lines.indexOf(starts[i]!)).toBeLessThan(lines.indexOf(ends[i]!))
    if (i > 0) expect(lines.indexOf(ends[i - 1]!)).toBeLessThan(lines.indexOf(starts[i]!))
  }
  expect(ends.reduce((sum, l) => sum + (l.dropped as number), 0)).toBe(dropped)
})

test('the dropping warnings are written at warn even when LOG_LEVEL is error', async () => {
  const out = pipe()
  const sink = new LogSink({ fd: out.fd, requestBufferBytes: 1024, reserveBytes: 64 * 1024 })
  createLogger('error', sink)
  for (let i = 0; i < 2_000; i++) sink.writeRequest(`${JSON.stringify({ level: 30, msg: 'request', i })}\n`)
  await turn()
  for (let i = 0; i < 2_000; i++) sink.writeRequest(`${JSON.stringify({ level: 30, msg: 'request', i })}\n`)
  await turn()
  const deadline = Date.now() + 10_000
  let text = ''
  while (!text.includes('caught up')) {
    text = out.read()
    if (Date.now() > deadline) throw new Error('no end of the dropping episode')
    await Bun.sleep(5)
  }
  out.close()
  expect(text).toContain('"level":40')
  expect(text).toContain('not keeping up')
})

test('flushWithin gives up on a reader that never reads, without blocking the event loop', async () => {
  const out = pipe()
  const sink = new LogSink({ fd: out.fd })
  for (let i = 0; i < 1_000; i++) sink.write(`${'x'.repeat(199)}\n`) // 200 kB: more than the pipe holds
  let ticks = 0
  const ticker = setInterval(() => ticks++, 10)
  const ok = await sink.flushWithin(300)
  clearInterval(ticker)
  expect(ok).toBe(false)
  expect(ticks).toBeGreaterThan(5)
  // The reader goes on: all 1,000 lines arrive.
  const flushed = sink.flushWithin(10_000)
  let text = ''
  const deadline = Date.now() + 10_000
  while (text.length < 200_000 && Date.now() < deadline) {
    text = out.read()
    await Bun.sleep(5)
  }
  expect(await flushed).toBe(true)
  out.close()
  expect(text).toBe(`${'x'.repeat(199)}\n`.repeat(1_000))
}, 20_000)

test('request lines are gathered across turns into one write; a lifecycle line takes them with it at the end of its turn, in order', async () => {
  // sonic-boom writes through fs.write (libuv's thread pool): count the calls.
  const fs = require('node:fs') as { write: (...args: unknown[]) => unknown }
  const write = fs.write
  let writes = 0
  fs.write = (...args: unknown[]) => {
    writes++
    return write(...args)
  }
  try {
    const path = join(dir, 'gathered.log')
    const sink = new LogSink({ fd: openSync(path, 'a'), requestFlushMs: 60_000 })
    const logger = createLogger('info', sink)
    const log = requestLog(logger)!
    for (let t = 0; t < 10; t++) {
      log(`r${t}`, 'GET', '/guid/:guid', 200, 0.0001, 74, '192.0.2.7')
      await turn()
    }
    // One write per turn before: 10 by now.
    expect(writes).toBe(0)
    logger.info('stopping')
    await turn()
    expect(await sink.flushWithin(5_000)).toBe(true)
    expect(writes).toBe(1)
    const lines = (await Bun.file(path).text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; requestId?: string })
    expect(lines.map((l) => l.requestId ?? l.msg)).toEqual([...Array.from({ length: 10 }, (_, t) => `r${t}`), 'stopping'])

    // Alone, a request line goes out when its window ends; 64 KiB of them at once.
    const quick = new LogSink({ fd: openSync(path, 'a'), requestFlushMs: 20 })
    quick.writeRequest('{"msg":"alone"}\n')
    const deadline = Date.now() + 5_000
    while (!(await Bun.file(path).text()).includes('alone') && Date.now() < deadline) await Bun.sleep(5)
    expect(await Bun.file(path).text()).toContain('alone')
    const big = new LogSink({ fd: openSync(path, 'a'), requestFlushMs: 60_000 })
    const before = writes
    for (let i = 0; i < 300; i++) big.writeRequest(`${'y'.repeat(255)}\n`)
    await turn()
    expect(writes).toBeGreaterThan(before)
  } finally {
    fs.write = write
  }
})

test('at exit, lines not yet handed over are written synchronously, in order', async () => {
  const sink = join(import.meta.dir, '..', '..', 'src', 'ops', 'log-sink.ts')
  // Lines logged in the same turn as process.exit: no asynchronous write can run any more.
  const script = `const { LogSink } = await import(${JSON.stringify(sink)}); const s = new LogSink(); process.on('exit', () => s.flushSync()); s.writeRequest('request\\n'); for (let i = 0; i < 3; i++) s.write('line ' + i + '\\n'); process.exit(0)`
  const proc = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000)
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited])
  clearTimeout(timer)
  expect(code).toBe(0)
  expect(out).toBe('request\nline 0\nline 1\nline 2\n')
})
