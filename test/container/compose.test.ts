import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BUILD_TIMEOUT_MS, buildStandins, compose, containerSuites, containerUid, IMAGE, podman, podmanOk, publishPort, RUN, sweep, sweepOrphans, volumesOf, waitFor200 } from '../support/container'
import { walkContract } from '../support/contract-walk'
import { ferretdbSuites } from '../support/ferretdb'
import { send } from '../support/requests'

/**
 * docker-compose.yml brought up by podman-compose, profile after profile, with stand-ins for
 * the official images (scripts/container standins: Debian's redis-server and nginx, FerretDB for
 * MongoDB). compose.standins.yml says where a stand-in's command line differs; a file of the
 * test's own moves the published ports to free ones and names the image scripts/container built.
 * Through each stack: the contract, and every service's own healthcheck run by hand (podman
 * 4.3 runs healthchecks from systemd timers, and there is no systemd here).
 */

const root = join(import.meta.dir, '..', '..')
const enabled = containerSuites('docker-compose.yml under podman-compose (test/container/compose.test.ts)') && ferretdbSuites('docker-compose.yml under podman-compose')

const PROJECT = `${RUN}-compose`
const PROFILES = ['--profile', 'mongo-only', '--profile', 'scale']
const UP_TIMEOUT_MS = 180_000
const READY_TIMEOUT_MS = 60_000
const dir = mkdtempSync(join(tmpdir(), 'guidd-compose-'))
const ports = { api: 0, apiMongo: 0, mongo: 0, nginx: 0 }
let files: string[] = []

const composeOk = async (args: string[], timeoutMs = UP_TIMEOUT_MS): Promise<string> => {
  const run = await compose(['-p', PROJECT, ...files, ...args], timeoutMs)
  if (run.code !== 0) throw new Error(`podman-compose ${args.join(' ')} exited ${run.code}:\n${run.stdout}${run.stderr}`)
  return run.stdout
}

/** The container podman-compose made for a service. */
const container = (service: string): string => `${PROJECT}_${service}_1`

const logsOf = async (service: string): Promise<string> => {
  const logs = await podman(['logs', '--tail', '40', container(service)])
  return `--- ${service}:\n${logs.stdout}${logs.stderr}`
}

/** The service's healthcheck from docker-compose.yml (or the stand-in override), run now. */
const healthy = async (service: string): Promise<void> => {
  const check = await podman(['healthcheck', 'run', container(service)])
  expect({ service, code: check.code, out: check.stdout + check.stderr }).toEqual({ service, code: 0, out: expect.any(String) })
}

/** `up -d` of a profile's services, and `down -v` at the end, whatever happened between. */
const withStack = async (profile: string[], services: string[], body: () => Promise<void>): Promise<void> => {
  try {
    await composeOk([...profile, '--podman-run-args=--pull=never', 'up', '-d', '--no-build', ...services])
    await body()
  } finally {
    // podman-compose's down -v leaves the image's anonymous /data volumes: the sweep takes them.
    const volumes = await volumesOf(PROJECT)
    const down = await compose(['-p', PROJECT, ...files, ...PROFILES, 'down', '-v', '-t', '15'], UP_TIMEOUT_MS)
    const problems = await sweep({ projects: [PROJECT], volumes })
    expect({ down: down.code, problems }).toEqual({ down: 0, problems: [] })
  }
}

describe.if(enabled)('docker-compose.yml under podman-compose', () => {
  beforeAll(async () => {
    expect(await sweepOrphans()).toEqual([])
    await buildStandins()
    for (const key of Object.keys(ports) as (keyof typeof ports)[]) ports[key] = await publishPort()
    const api = { image: IMAGE }
    const local = {
      services: {
        api: { ...api, ports: [`127.0.0.1:${ports.api}:8888`] },
        'api-mongo': { ...api, ports: [`127.0.0.1:${ports.apiMongo}:8888`] },
        api1: api,
        api2: api,
        api3: api,
        mongo: { ports: [`127.0.0.1:${ports.mongo}:27017`] },
        nginx: { ports: [`127.0.0.1:${ports.nginx}:80`] },
      },
    }
    // JSON is YAML; !override (Compose's own tag) replaces the list instead of appending to it.
    const yaml = JSON.stringify(local, null, 2).replace(/"ports": \[/g, '"ports": !override [')
    writeFileSync(join(dir, 'compose.local.yml'), yaml)
    files = ['-f', join(root, 'docker-compose.yml'), '-f', join(import.meta.dir, 'compose.standins.yml'), '-f', join(dir, 'compose.local.yml')]
  }, BUILD_TIMEOUT_MS)

  afterAll(async () => {
    const problems = await sweep({ projects: [PROJECT] })
    rmSync(dir, { recursive: true, force: true })
    expect(problems).toEqual([])
  }, 120_000)

  test(
    'the default stack: redis, mongo and the api, the contract through the api',
    async () => {
      await withStack([], [], async () => {
        const base = `http://127.0.0.1:${ports.api}`
        await waitFor200(`${base}/readyz`, READY_TIMEOUT_MS, async () => (await Promise.all(['redis', 'mongo', 'api'].map(logsOf))).join('\n'))
        const ready = (await (await send(base, 'GET', '/readyz')).json()) as { checks: Record<string, string> }
        expect(ready.checks).toMatchObject({ redis: 'ok', mongodb: 'ok' })
        await walkContract(base, 'compose default')
        for (const service of ['redis', 'mongo', 'api']) await healthy(service)
        // The compose file's command line reached the server: AOF on, nothing evicted.
        const aof = await podmanOk(['exec', container('redis'), 'redis-cli', 'config', 'get', 'appendonly'])
        const policy = await podmanOk(['exec', container('redis'), 'redis-cli', 'config', 'get', 'maxmemory-policy'])
        expect([aof.split('\n'), policy.split('\n')]).toEqual([
          ['appendonly', 'yes'],
          ['maxmemory-policy', 'noeviction'],
        ])
        expect(await containerUid(container('api'))).toBe(65532)
        expect(await podmanOk(['inspect', '--format', '{{.HostConfig.ReadonlyRootfs}}', container('api')])).toBe('true')
      })
    },
    UP_TIMEOUT_MS * 2,
  )

  test(
    'the mongo-only profile: MongoDB as journal and store, no Redis',
    async () => {
      await withStack(['--profile', 'mongo-only'], ['api-mongo'], async () => {
        const base = `http://127.0.0.1:${ports.apiMongo}`
        await waitFor200(`${base}/readyz`, READY_TIMEOUT_MS, async () => (await Promise.all(['mongo', 'api-mongo'].map(logsOf))).join('\n'))
        const ready = (await (await send(base, 'GET', '/readyz')).json()) as { checks: Record<string, string> }
        expect(ready.checks.mongodb).toBe('ok')
        expect(ready.checks.redis).toBeUndefined()
        const running = (await podmanOk(['ps', '--format', '{{.Names}}', '--filter', `label=io.podman.compose.project=${PROJECT}`])).split('\n').sort()
        expect(running).toEqual([container('api-mongo'), container('mongo')])
        await walkContract(base, 'compose mongo-only')
        for (const service of ['mongo', 'api-mongo']) await healthy(service)
      })
    },
    UP_TIMEOUT_MS * 2,
  )

  test(
    'the scale profile: three instances behind nginx, one GUID on one instance',
    async () => {
      await withStack(['--profile', 'scale'], [], async () => {
        const base = `http://127.0.0.1:${ports.nginx}`
        const services = ['redis', 'mongo', 'api1', 'api2', 'api3', 'nginx']
        const context = async () => (await Promise.all(services.map(logsOf))).join('\n')
        await waitFor200(`${base}/readyz`, READY_TIMEOUT_MS, context)
        // nginx skips an instance that is not up yet: wait until each answers through its own address.
        for (const api of ['api1', 'api2', 'api3']) {
          const ip = await podmanOk(['inspect', '--format', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', container(api)])
          await waitFor200(`http://${ip}:8888/readyz`, READY_TIMEOUT_MS, context)
        }
        await walkContract(base, 'compose scale')
        for (const service of services) await healthy(service)

        // Creates spread over the instances; every request for one GUID goes to one of them.
        const guid = crypto.randomUUID().replaceAll('-', '').toUpperCase()
        expect((await send(base, 'POST', `/guid/${guid}`, { user: 'scale' })).status).toBe(201)
        for (let i = 0; i < 5; i++) expect((await send(base, 'PATCH', `/guid/${guid}`, { user: `scale ${i}` })).status).toBe(200)
        for (let i = 0; i < 30; i++) expect((await send(base, 'POST', '/guid', { user: `spread ${i}` })).status).toBe(201)
        const access = (await podman(['logs', container('nginx')])).stdout.split('\n')
        const upstream = (line: string) => / upstream=(\S+)/.exec(line)?.[1]
        const creates = new Set(access.filter((l) => l.includes('"POST /guid HTTP')).map(upstream))
        const oneGuid = new Set(access.filter((l) => l.includes(`/guid/${guid} HTTP`)).map(upstream))
        expect(creates.size).toBeGreaterThanOrEqual(2)
        expect(oneGuid.size).toBe(1)
      })
    },
    UP_TIMEOUT_MS * 2,
  )
})
