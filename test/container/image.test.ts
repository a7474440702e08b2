import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BUILD_TIMEOUT_MS, buildImage, containerSuites, containerUid, IMAGE, LABEL, podman, podmanOk, publishPort, RUN, sweep, sweepOrphans, waitFor200 } from '../support/container'
import { walkContract } from '../support/contract-walk'
import { runToExit } from '../support/process'
import { send } from '../support/requests'

/**
 * The Dockerfile built unchanged (scripts/container build: podman, stand-in base images) and
 * its image run as a deployment would run it: `-v <volume>:/data`, a read-only root, a
 * published port. Proves the contract is served by user 65532, the data lives on the volume,
 * `podman stop` drains without losing an acknowledged write, the HEALTHCHECK passes, and the
 * runtime stage ships only the executable.
 */

const root = join(import.meta.dir, '..', '..')
const enabled = containerSuites('the container image (test/container/image.test.ts)')

const NAME = `${RUN}-image`
const VOLUME = `${RUN}-data`
/** Longer than the service's own drain deadline (SHUTDOWN_TIMEOUT_MS, 10 s), as in docker-compose.yml. */
const STOP_GRACE_S = 15
const START_TIMEOUT_MS = 30_000

let port = 0
let base = ''
const names = [NAME, `${NAME}-again`, `${NAME}-files`]
const dir = mkdtempSync(join(tmpdir(), 'guidd-container-'))

/** `podman run` as README gives it, plus this run's label and a read-only root (compose's read_only). */
const run = (name: string): Promise<string> => podmanOk(['run', '-d', '--name', name, '--label', LABEL, '--read-only', '-p', `127.0.0.1:${port}:8888`, '-v', `${VOLUME}:/data`, IMAGE])

const logsOf = async (name: string): Promise<string> => {
  const logs = await podman(['logs', name])
  return logs.stdout + logs.stderr
}

const started = (name: string) => waitFor200(`${base}/readyz`, START_TIMEOUT_MS, () => logsOf(name))

/** The HEALTHCHECK instruction's command, from the Dockerfile itself (exec form). */
const dockerfileHealthcheck = (): string[] => {
  const line = readFileSync(join(root, 'Dockerfile'), 'utf8')
    .split('\n')
    .find((l) => l.startsWith('HEALTHCHECK '))
  const json = /CMD (\[.*\])\s*$/.exec(line ?? '')?.[1]
  if (!json) throw new Error(`no exec-form HEALTHCHECK in the Dockerfile: ${line}`)
  return JSON.parse(json) as string[]
}

describe.if(enabled)('the container image', () => {
  beforeAll(async () => {
    expect(await sweepOrphans()).toEqual([])
    await buildImage()
    port = await publishPort()
    base = `http://127.0.0.1:${port}`
    await podmanOk(['volume', 'create', '--label', LABEL, VOLUME])
  }, BUILD_TIMEOUT_MS)

  afterAll(async () => {
    const problems = await sweep({ containers: names, volumes: [VOLUME] })
    rmSync(dir, { recursive: true, force: true })
    expect(problems).toEqual([])
  }, 120_000)

  test('its configuration: user 65532, the HEALTHCHECK, the /data volume, the port', async () => {
    const [image] = JSON.parse(await podmanOk(['image', 'inspect', IMAGE])) as {
      Config: { User: string; Volumes: Record<string, object>; ExposedPorts: Record<string, object>; Entrypoint: string[]; StopSignal: string }
      Healthcheck?: { Test: string[] }
    }[]
    const config = image?.Config
    if (!config) throw new Error(`no image ${IMAGE}`)
    expect(config.User).toBe('65532:65532')
    // Kept because scripts/container builds with --format docker (OCI has no HEALTHCHECK).
    expect(image?.Healthcheck?.Test).toEqual(['CMD', ...dockerfileHealthcheck()])
    expect(Object.keys(config.Volumes)).toEqual(['/data'])
    expect(Object.keys(config.ExposedPorts)).toEqual(['8888/tcp'])
    expect(config.Entrypoint).toEqual(['/app/guidd'])
    expect(config.StopSignal).toBe('SIGTERM')
  })

  test('the runtime stage holds the executable and its data directory, and no package manager, shell or node_modules', async () => {
    await podmanOk(['create', '--name', `${NAME}-files`, '--label', LABEL, IMAGE])
    const tar = join(dir, 'files.tar')
    await podmanOk(['export', '-o', tar, `${NAME}-files`], 120_000)
    const listing = await runToExit({ cmd: ['tar', '-tv', '--numeric-owner', '-f', tar], timeoutMs: 60_000 })
    expect(listing.code).toBe(0)
    const entries = listing.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [mode = '', owner = '', , , , ...rest] = line.split(/\s+/)
        return {
          mode,
          owner,
          path: rest
            .join(' ')
            .replace(/ -> .*$/, '')
            .replace(/^\.\//, '')
            .replace(/\/$/, ''),
        }
      })
    const paths = entries.map((e) => e.path)
    // Programs by name (a file or a link; /etc/dpkg, a directory of base-files' data, is none).
    const programs = /(^|\/)(apt|apt-get|dpkg|dpkg-query|npm|npx|bun|bunx|node|yarn|pnpm|sh|bash|dash)$/
    expect(entries.filter((e) => !e.mode.startsWith('d') && programs.test(e.path)).map((e) => e.path)).toEqual([])
    expect(paths.filter((p) => /(^|\/)node_modules(\/|$)/.test(p))).toEqual([])
    const app = entries.find((e) => e.path === 'app/guidd')
    expect(app?.mode).toStartWith('-rwx')
    // /data belongs to the non-root user, so a fresh named volume mounted there does too.
    expect(entries.find((e) => e.path === 'data')).toMatchObject({ mode: expect.stringMatching(/^d/), owner: '65532/65532' })
    console.log(`runtime image: ${entries.length} entries, ${(statSync(tar).size / 1e6).toFixed(0)} MB as a tar`)
  }, 120_000)

  test('serves the contract as user 65532, its SQLite file on the /data volume', async () => {
    await run(NAME)
    await started(NAME)
    expect(await containerUid(NAME)).toBe(65532)
    await walkContract(base, 'container image')
    const mountpoint = await podmanOk(['volume', 'inspect', '--format', '{{.Mountpoint}}', VOLUME])
    expect(statSync(join(mountpoint, 'guidd.sqlite')).uid).toBe(65532)
  }, 60_000)

  test('the HEALTHCHECK command passes, run by hand', async () => {
    // The image's own HEALTHCHECK, as podman's timer would run it (no systemd here to run the timer).
    const check = await podman(['healthcheck', 'run', NAME])
    expect({ code: check.code, out: check.stdout + check.stderr }).toEqual({ code: 0, out: expect.any(String) })
    // And the Dockerfile's command line itself, inside the running container.
    const exec = await podman(['exec', NAME, ...dockerfileHealthcheck()])
    expect({ code: exec.code, out: exec.stdout + exec.stderr }).toEqual({ code: 0, out: '' })
  })

  test('podman stop drains under load: every acknowledged write is there after a start, and in a new container on the volume', async () => {
    /** The last acknowledged state of each GUID written: its body and ETag. */
    const acked = new Map<string, { body: unknown; etag: string | null }>()
    /** A write after the last acknowledged one whose answer never came: it may or may not have been applied. */
    const unanswered = new Map<string, string>()
    let stopping = false
    let acks = 0
    let ackedWhileStopping = 0
    let failures = 0
    let stop = false
    // Eight writers: each creates a GUID, then updates it, until the server goes away.
    const writer = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        const guid = crypto.randomUUID().replaceAll('-', '').toUpperCase()
        for (const body of [{ user: `writer ${w}` }, { user: `writer ${w}, update ${i}` }]) {
          try {
            const res = await send(base, 'POST', `/guid/${guid}`, body)
            if (res.status !== 200 && res.status !== 201) {
              await res.arrayBuffer()
              failures++
              break
            }
            acked.set(guid, { body: await res.json(), etag: res.headers.get('etag') })
            acks++
            if (stopping) ackedWhileStopping++
          } catch {
            // Refused or reset: the server is draining or gone; not acknowledged.
            unanswered.set(guid, body.user)
            failures++
            if (stopping) await Bun.sleep(20)
            break
          }
        }
      }
    }
    const writers = Array.from({ length: 8 }, (_, w) => writer(w))
    const deadline = Date.now() + 20_000
    while (acked.size < 400 && Date.now() < deadline) await Bun.sleep(20)
    expect(acked.size).toBeGreaterThanOrEqual(400)

    stopping = true
    const stopAt = performance.now()
    const stopped = await podman(['stop', '-t', String(STOP_GRACE_S), NAME], (STOP_GRACE_S + 30) * 1000)
    const stopMs = performance.now() - stopAt
    stop = true
    await Promise.all(writers)
    expect(stopped.code).toBe(0)
    // SIGTERM, not the SIGKILL after the grace period: the drain finished and the process exited 0.
    expect(await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', NAME])).toBe('0')
    const logs = await logsOf(NAME)
    expect(logs).toContain('"msg":"draining"')
    expect(logs).toContain('"msg":"stopped"')
    console.log(
      `podman stop under load: ${acks} writes to ${acked.size} GUIDs acknowledged, ${ackedWhileStopping} of them after the stop began; ${failures} refused; stop took ${stopMs.toFixed(0)} ms`,
    )

    const readBack = async (): Promise<unknown[]> => {
      const wrong: unknown[] = []
      const guids = [...acked.keys()]
      for (let i = 0; i < guids.length; i += 32) {
        await Promise.all(
          guids.slice(i, i + 32).map(async (guid) => {
            const res = await send(base, 'GET', `/guid/${guid}`)
            const got = { status: res.status, body: await res.json(), etag: res.headers.get('etag') }
            const want = { status: 200, ...acked.get(guid) }
            const unacknowledged = (got.body as { user?: string }).user === unanswered.get(guid) && got.status === 200
            if (!Bun.deepEquals(got, want) && !unacknowledged) wrong.push({ guid, got, want })
          }),
        )
      }
      return wrong
    }

    await podmanOk(['start', NAME])
    await started(NAME)
    expect(await readBack()).toEqual([])

    // The data is on the volume, not in the container: a new container on it has it all.
    await podmanOk(['rm', '-f', '-t', String(STOP_GRACE_S), NAME], (STOP_GRACE_S + 30) * 1000)
    await run(`${NAME}-again`)
    await started(`${NAME}-again`)
    expect(await readBack()).toEqual([])
  }, 120_000)
})
