import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { children, diesWithParent } from './children'
import { runToExit } from './process'

/**
 * A Redis Cluster of the test run's own (what scripts/redis-cluster starts by hand): every node
 * a redis-server in a temp dir of its own on a free port whose bus port (+10000) is free too,
 * stopped by its PID. Nodes can be killed (-9) and restarted to drive failovers.
 */
export interface TestClusterNode {
  port: number
  readonly pid: number
  dir: string
  /** Whether its process is running (not killed). */
  readonly alive: boolean
}

export interface TestCluster {
  nodes: TestClusterNode[]
  /** `host:port,...` of every node: REDIS_CLUSTER_NODES. */
  seeds: string
  /** A fresh key prefix, so suites sharing a cluster never see each other's keys. */
  prefix(): string
  /** The node serving `slot` as master now, from a live node's CLUSTER NODES. */
  masterOf(slot: number): Promise<TestClusterNode>
  /** The slot ranges a master serves now (`[from, to]`, inclusive), in order. */
  slotsOf(node: TestClusterNode): Promise<Array<[number, number]>>
  /** The live masters and their replicas, as the cluster sees them now. */
  roles(): Promise<{ masters: TestClusterNode[]; replicas: TestClusterNode[] }>
  /** SIGKILL one node now (a crash), keeping its dir for `restart`. */
  kill9(node: TestClusterNode): Promise<void>
  /** Starts a killed node again on its port and dir; it rejoins (as a replica if it was failed over). */
  restart(node: TestClusterNode): Promise<void>
  /**
   * Waits, bounded, until every live node says cluster_state:ok, every slot-serving master is a
   * live process, and each has `replicas` replicas, each synced with its master (link up).
   */
  waitHealthy(timeoutMs?: number, replicas?: number): Promise<void>
  /** Runs redis-cli with these arguments (bounded) and returns its stdout. */
  cli(args: string[], timeoutMs?: number): Promise<string>
  stop(): Promise<void>
}

const NODE_TIMEOUT_MS = 2_000
let prefixes = 0

const listens = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })

const taken = new Set<number>()

/**
 * A port free now with its bus port (+10000) free too, both below Linux's ephemeral range
 * (32768+), where the machine's outgoing connections would take them from under us.
 */
const freePortPair = async (): Promise<number> => {
  for (let i = 0; i < 1_000; i++) {
    const port = 20_000 + Math.floor(Math.random() * 2_700)
    if (taken.has(port)) continue
    if ((await listens(port)) && (await listens(port + 10_000))) {
      taken.add(port)
      return port
    }
  }
  throw new Error('no free port pair for a cluster node')
}

const cli = async (args: string[], timeoutMs = 10_000): Promise<string> => {
  const result = await runToExit({ cmd: ['redis-cli', ...args], timeoutMs })
  if (result.code !== 0) throw new Error(`redis-cli ${args.join(' ')} exited ${result.code}: ${result.stdout}${result.stderr}`)
  return result.stdout
}

/** Bounded wait for `check` to hold; throws `what` when it does not within `timeoutMs`. */
export const waitFor = async (what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      if (await check()) return
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${last})` : ''}`)
    await Bun.sleep(50)
  }
}

const spawnNode = (port: number, dir: string): Subprocess => {
  const proc = Bun.spawn(
    diesWithParent([
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
      '--cluster-node-timeout',
      String(NODE_TIMEOUT_MS),
      '--logfile',
      join(dir, 'redis.log'),
    ]),
    // Its log goes to its file; a pipe nobody drains would stall the server once full.
    { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' },
  )
  children.add(proc)
  return proc
}

const answersPing = async (port: number, proc: Subprocess, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline && proc.exitCode === null && proc.signalCode === null) {
    const out = await runToExit({ cmd: ['redis-cli', '-p', String(port), 'ping'], timeoutMs: 2_000 }).catch(() => undefined)
    if (out?.stdout.trim() === 'PONG') return true
    await Bun.sleep(20)
  }
  return false
}

interface Line {
  id: string
  port: number
  flags: string[]
  master: string
  slots: string[]
}

const parseNodes = (text: string): Line[] =>
  text
    .trim()
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [id, address, flags, master, , , , , ...slots] = l.split(' ')
      return { id: id!, port: Number(address!.split('@')[0]!.split(':')[1]), flags: flags!.split(','), master: master!, slots }
    })

const covers = (range: string, slot: number): boolean => {
  if (range.startsWith('[')) return false
  const [from, to] = range.split('-').map(Number)
  return slot >= from! && slot <= (to ?? from)!
}

/** Starts `masters` masters with `replicas` replicas each and waits until the cluster is whole. */
export const startCluster = async (options: { masters?: number; replicas?: number } = {}): Promise<TestCluster> => {
  const masters = options.masters ?? 3
  const replicas = options.replicas ?? 1
  const root = mkdtempSync(join(tmpdir(), 'guidd-cluster-'))
  const procs = new Map<number, Subprocess>()
  const nodes: TestClusterNode[] = []

  const startNode = async (): Promise<TestClusterNode> => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const port = await freePortPair()
      const dir = join(root, String(port))
      mkdirSync(dir, { recursive: true })
      const proc = spawnNode(port, dir)
      if (await answersPing(port, proc, 10_000)) {
        procs.set(port, proc)
        return {
          port,
          dir,
          get pid() {
            return procs.get(port)!.pid
          },
          get alive() {
            const p = procs.get(port)!
            return p.exitCode === null && p.signalCode === null
          },
        }
      }
      // Taken between the check and the bind: another port.
      proc.kill('SIGKILL')
      await proc.exited
      children.delete(proc)
      rmSync(dir, { recursive: true, force: true })
    }
    throw new Error('a cluster node did not start on any of 5 ports')
  }

  const kill9 = async (node: TestClusterNode) => {
    const proc = procs.get(node.port)!
    proc.kill('SIGKILL')
    await proc.exited
    children.delete(proc)
  }
  const stop = async () => {
    await Promise.all(nodes.map((n) => kill9(n)))
    for (const n of nodes) taken.delete(n.port)
    rmSync(root, { recursive: true, force: true })
  }

  const live = () => nodes.filter((n) => n.alive)
  const nodesView = async (): Promise<Line[]> => {
    for (const n of live()) {
      const text = await cli(['-p', String(n.port), 'cluster', 'nodes']).catch(() => undefined)
      if (text !== undefined) return parseNodes(text)
    }
    throw new Error('no live cluster node answers CLUSTER NODES')
  }
  const byPort = (port: number) => {
    const node = nodes.find((n) => n.port === port)
    if (node === undefined) throw new Error(`no node on port ${port}`)
    return node
  }
  const roles = async () => {
    const lines = (await nodesView()).filter((l) => !l.flags.includes('fail') && !l.flags.includes('fail?') && !l.flags.includes('noaddr'))
    return {
      masters: lines.filter((l) => l.flags.includes('master')).map((l) => byPort(l.port)),
      replicas: lines.filter((l) => l.flags.includes('slave')).map((l) => byPort(l.port)),
    }
  }
  const waitHealthy = async (timeoutMs = 30_000, wanted = replicas) => {
    await waitFor(`cluster_state:ok on every live node with ${wanted} replica(s) per master`, timeoutMs, async () => {
      for (const n of live()) {
        if (!(await cli(['-p', String(n.port), 'cluster', 'info'])).includes('cluster_state:ok')) return false
        // A replica that has not finished its first sync would refuse to fail over (its data too old).
        const replication = await cli(['-p', String(n.port), 'info', 'replication'])
        if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false
      }
      const lines = await nodesView()
      const healthy = lines.filter((l) => !l.flags.some((f) => f.startsWith('fail') || f === 'handshake' || f === 'noaddr'))
      const ms = healthy.filter((l) => l.flags.includes('master') && l.slots.length > 0)
      // A killed master still shows as one until the others have voted it down (node timeout).
      return ms.length === masters && ms.every((m) => byPort(m.port).alive) && ms.every((m) => healthy.filter((l) => l.flags.includes('slave') && l.master === m.id).length >= wanted)
    })
  }

  try {
    for (let i = 0; i < masters * (1 + replicas); i++) nodes.push(await startNode())
    await cli(['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', String(replicas), '--cluster-yes'], 60_000)
    await waitHealthy(30_000)
  } catch (error) {
    await stop()
    throw error
  }

  return {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    prefix: () => `t${process.pid}-${++prefixes}:`,
    masterOf: async (slot) => {
      const line = (await nodesView()).find((l) => l.flags.includes('master') && !l.flags.some((f) => f.startsWith('fail')) && l.slots.some((r) => covers(r, slot)))
      if (line === undefined) throw new Error(`no master serves slot ${slot}`)
      return byPort(line.port)
    },
    roles,
    slotsOf: async (node) => {
      const line = (await nodesView()).find((l) => l.port === node.port)
      return (line?.slots ?? [])
        .filter((r) => !r.startsWith('['))
        .map((r) => {
          const [from, to] = r.split('-').map(Number)
          return [from!, to ?? from!] as [number, number]
        })
        .sort((x, y) => x[0] - y[0])
    },
    kill9,
    restart: async (node) => {
      const proc = spawnNode(node.port, node.dir)
      procs.set(node.port, proc)
      if (!(await answersPing(node.port, proc, 10_000))) throw new Error(`cluster node ${node.port} did not restart`)
    },
    waitHealthy,
    cli,
    stop,
  }
}
