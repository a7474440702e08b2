import { afterAll, afterEach, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { children } from '../support/children'
import { GUIDD_CMD } from '../support/guidd-process'

/**
 * The log as a container sees it: guidd's stdout is a pipe (a FIFO) read by `cat` into a file,
 * as a log driver or `| tee` would read it. SIGSTOP on `cat` is a reader that stops reading
 * (a stuck log driver, a paused tee); SIGCONT lets it go on. The service must keep answering
 * while nobody reads, and its last lines on SIGTERM or a fatal error must still arrive, in order.
 */

const root = join(import.meta.dir, '..', '..')
const dir = mkdtempSync(join(tmpdir(), 'guidd-log-pipe-'))
let runs = 0

interface Piped {
  guidd: Subprocess
  reader: Subprocess
  /** What the reader has written to its file so far. */
  log(): string
  port: number
}

const started: Subprocess[] = []
afterEach(async () => {
  for (const p of started.splice(0)) {
    p.kill('SIGCONT')
    p.kill('SIGKILL')
    await p.exited
    children.delete(p)
  }
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const track = (p: Subprocess): Subprocess => {
  children.add(p)
  started.push(p)
  return p
}

/** guidd with stdout into a FIFO that `cat` copies to a file; resolves once it listens (or exits). */
const startPiped = async (env: Record<string, string>, waitForPort = true): Promise<Piped> => {
  const run = ++runs
  const fifo = join(dir, `out-${run}.fifo`)
  const file = join(dir, `out-${run}.log`)
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
  const reader = track(Bun.spawn(['cat', fifo], { stdout: Bun.file(file), stderr: 'inherit', stdin: 'ignore' }))
  // Opening a FIFO for writing waits for its reader: `cat` has just been started.
  const fd = openSync(fifo, 'w')
  const guidd = track(
    Bun.spawn(GUIDD_CMD, {
      cwd: root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', SQLITE_PATH: join(dir, `s-${run}.sqlite`), ...env },
      stdin: 'ignore',
      stdout: fd,
      stderr: 'inherit',
    }),
  )
  closeSync(fd)
  const log = () => {
    try {
      return readFileSync(file, 'utf8')
    } catch {
      return ''
    }
  }
  let port = 0
  if (waitForPort) {
    const deadline = Date.now() + 15_000
    for (;;) {
      const m = /"port":(\d+)/.exec(log())
      if (m) {
        port = Number(m[1])
        break
      }
      if (guidd.exitCode !== null || Date.now() > deadline) throw new Error(`guidd did not listen:\n${log()}`)
      await Bun.sleep(20)
    }
  }
  return { guidd, reader, log, port }
}

const lines = (text: string) =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>)

/** A shutdown's last lines: `draining`, at most the count of request lines dropped meanwhile, `stopped` last. */
const expectLastLines = (out: Array<Record<string, unknown>>) => {
  const draining = out.findIndex((l) => l.msg === 'draining')
  expect(draining).toBeGreaterThan(0)
  const tail = out.slice(draining).map((l) => l.msg)
  expect(tail).toEqual(['draining', ...(tail.length === 3 ? ['log sink caught up; request log lines are written again'] : []), 'stopped'])
}

/** Requests answered within `ms`, from `workers` loops of sequential GETs (a bounded window, no latency timing). */
const answeredIn = async (url: string, ms: number, workers = 16): Promise<number> => {
  let answered = 0
  const end = Date.now() + ms
  const loop = async () => {
    while (Date.now() < end) {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, end - Date.now())) })
        await res.arrayBuffer()
        if (res.status === 200 && Date.now() <= end) answered++
      } catch {
        // Cut off by the window's end: not answered in it.
      }
    }
  }
  await Promise.all(Array.from({ length: workers }, loop))
  return answered
}

describe('a log reader that stops reading', () => {
  test('the service keeps answering at no less than half its rate; dropped lines are counted and told', async () => {
    const { guidd, reader, log, port } = await startPiped({ LOG_LEVEL: 'info' })
    const base = `http://127.0.0.1:${port}`
    const created = await fetch(`${base}/guid`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"pipe"}', signal: AbortSignal.timeout(5_000) })
    expect(created.status).toBe(201)
    const url = `${base}/guid/${((await created.json()) as { guid: string }).guid}`

    await answeredIn(url, 300) // warm-up
    // Alternate windows so that the machine's own swings fall on both sides alike.
    let reading = 0
    let stopped = 0
    for (let round = 0; round < 2; round++) {
      reading += await answeredIn(url, 1_000)
      reader.kill('SIGSTOP')
      // Fill the pipe and whatever the service holds before counting: the steady stuck state.
      await answeredIn(url, 300)
      stopped += await answeredIn(url, 1_000)
      reader.kill('SIGCONT')
      await answeredIn(url, 300)
    }
    expect(reading).toBeGreaterThan(0)
    expect(stopped).toBeGreaterThanOrEqual(reading / 2)

    const metrics = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
    const dropped = Number(/^guidd_log_lines_dropped_total (\d+)/m.exec(metrics)?.[1])
    expect(dropped).toBeGreaterThan(0)

    guidd.kill('SIGTERM')
    expect(await guidd.exited).toBe(0)
    await reader.exited
    const out = lines(log())
    const starts = out.filter((l) => l.msg === 'log sink is not keeping up; dropping request log lines')
    const ends = out.filter((l) => l.msg === 'log sink caught up; request log lines are written again')
    expect(starts.length).toBeGreaterThanOrEqual(1)
    expect(ends.length).toBe(starts.length)
    for (const line of [...starts, ...ends]) expect(line.level).toBe(40)
    // Every dropped line is told about in an end warning: the counts add up to the metric (and more after the scrape).
    const told = ends.reduce((sum, l) => sum + (l.dropped as number), 0)
    expect(told).toBeGreaterThanOrEqual(dropped)
    expectLastLines(out)
  }, 60_000)

  test('SIGTERM while nobody reads: draining and stopped reach the sink, in order, once the reader goes on', async () => {
    const { guidd, reader, log, port } = await startPiped({ LOG_LEVEL: 'info' })
    const url = `http://127.0.0.1:${port}/guid/0123456789ABCDEF0123456789ABCDEF`
    reader.kill('SIGSTOP')
    await answeredIn(url, 300) // 404s, each logged: fills the pipe
    guidd.kill('SIGTERM')
    await Bun.sleep(200) // the reader stays stopped a while into the shutdown
    reader.kill('SIGCONT')
    expect(await guidd.exited).toBe(0)
    await reader.exited
    const out = lines(log())
    expectLastLines(out)
  }, 30_000)
})

describe('a fatal error', () => {
  test('a port in use: the error is the last line on stdout, at fatal, and the exit code is 1', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    const port = (taken.address() as { port: number }).port
    try {
      const { guidd, reader, log } = await startPiped({ LOG_LEVEL: 'info', PORT: String(port) }, false)
      expect(await guidd.exited).toBe(1)
      await reader.exited
      const out = lines(log())
      expect(out.at(-1)).toMatchObject({ level: 60, msg: 'guidd stopped by a fatal error' })
      expect(JSON.stringify(out.at(-1)?.err)).toContain('EADDRINUSE')
    } finally {
      taken.close()
    }
  }, 30_000)
})
