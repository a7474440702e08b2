import { reportServerFit } from '../../adapters/mongo/fit'
import { WriteHealth } from '../../ops/write-health'
import type { Config } from '../config'
import type { Mode, ModeDeps } from './mode'
import { type RedisModeOptions, redisOptions } from './redis'
import { openStore } from './open-store'
import { flusherSettings, redisChecks, redisServiceParts } from './redis-shared'

export interface RedisClusterModeOptions extends Omit<RedisModeOptions, 'url'> {
  /** `host:port` seed nodes (REDIS_CLUSTER_NODES). */
  seeds: string[]
  /** JOURNAL_PARTITIONS. */
  partitions: number
}

export const redisClusterOptions = (config: Config, nodes: string): RedisClusterModeOptions => {
  const { url: _url, ...options } = redisOptions(config, '')
  return { ...options, seeds: nodes.split(',').map((s) => s.trim()), partitions: config.JOURNAL_PARTITIONS }
}

/** The cluster client and the parts over it, loaded only in this mode. */
const loadAdapters = async () => {
  const [barrier, client, idempotency, keys, journal, liveness, partitionCount, partitionMasters, partitionedEvents, partitionedFlusher, probes, rateLimit, shardedInvalidation, tier] =
    await Promise.all([
      import('../../adapters/redis/barrier'),
      import('../../adapters/redis/client'),
      import('../../adapters/redis/idempotency'),
      import('../../adapters/redis/keys'),
      import('../../adapters/redis/journal'),
      import('../../adapters/redis/liveness'),
      import('../../adapters/redis/partition-count'),
      import('../../adapters/redis/partition-masters'),
      import('../../adapters/redis/partitioned-events'),
      import('../../adapters/redis/partitioned-flusher'),
      import('../../adapters/redis/probes'),
      import('../../adapters/redis/rate-limit'),
      import('../../adapters/redis/sharded-invalidation'),
      import('../../adapters/redis/tier'),
    ])
  return {
    ...barrier,
    ...client,
    ...idempotency,
    ...keys,
    ...journal,
    ...liveness,
    ...partitionCount,
    ...partitionMasters,
    ...partitionedEvents,
    ...partitionedFlusher,
    ...probes,
    ...rateLimit,
    ...shardedInvalidation,
    ...tier,
  }
}

/**
 * Redis Cluster mode (REDIS_CLUSTER_NODES): Redis mode on a cluster (docs/cluster.md). The
 * journal is partitioned (JOURNAL_PARTITIONS); a GUID's key and its partition's stream share
 * the partition's hash tag, so each write's compare-and-set and journal append stay one
 * script on one slot. Two cluster clients: commands (including the flusher's non-blocking
 * reads and the change feed follower's, partition by partition), and the sharded invalidation
 * subscriptions.
 */
export const redisClusterMode = async (options: RedisClusterModeOptions, deps: ModeDeps): Promise<Mode> => {
  const { lru, clock, logger, metrics, lifecycle, instanceId } = deps
  const {
    checkPartitions,
    clusterKeys,
    clusterProbes,
    connectCluster,
    JournalBarrier,
    Liveness,
    partitionMasters,
    PartitionedEventLog,
    PartitionedFlusher,
    RedisIdempotency,
    RedisJournal,
    RedisRateLimit,
    RedisTier,
    ShardedInvalidation,
  } = await loadAdapters()
  const store = deps.store ?? (await openStore(options.store, logger))
  lifecycle.onClose('store', () => store.close())
  reportServerFit(store, metrics.registry, logger)

  const keys = clusterKeys(options.prefix, options.partitions)
  const onError = (error: Error) => logger.warn({ err: error }, 'redis cluster connection error')
  const main = await connectCluster({ seeds: options.seeds, onError })
  try {
    await checkPartitions(main, options.prefix, keys.partitions)
  } catch (error) {
    main.destroy()
    throw error
  }
  const subscriber = main.duplicate({ minimizeConnections: true })
  subscriber.on('error', onError)
  await subscriber.connect()
  lifecycle.onClose('redis connections', () => Promise.all([main, subscriber].map((c) => c.close().catch(() => c.destroy()))))

  const probes = clusterProbes(main, keys, clock)
  metrics.watchJournal(probes.journalState)
  const journalHealth = new WriteHealth('redis', logger, probes.probeWrite, clock)
  const checks = redisChecks(store, journalHealth, probes, options.journalMaxLag)

  // One plain key per instance (its own slot), shared by every partition's flusher.
  const liveness = new Liveness({ client: main, keys, consumer: instanceId })
  const flusher = new PartitionedFlusher({
    client: main,
    keys,
    liveness,
    ...flusherSettings(options, deps, store),
  })
  await new ShardedInvalidation({ cluster: subscriber, keys, instanceId, local: lru, logger, onInvalidation: () => metrics.invalidationsTotal.inc() }).start()
  // The key is there before the flusher reads anything, and goes once it has stopped (closed after it).
  await liveness.start()
  lifecycle.onClose('liveness', () => liveness.stop())
  await flusher.start()
  lifecycle.onClose('flusher', (remainingMs) => flusher.stop(remainingMs))

  const routing = partitionMasters(main, keys)
  const journal = new RedisJournal({
    client: main,
    keys,
    sharded: true,
    maxLag: options.journalMaxLag,
    timeoutMs: options.timeoutMs,
    instanceId,
    retainSeconds: options.retainSeconds,
    health: journalHealth,
    // A turn's writes to the partitions one master serves go in one call to that master.
    routing,
    // WAIT goes to the master of the partition's slot, on the connection that ran the script.
    replicas: {
      count: options.waitReplicas,
      waitFor: (firstKey) => main.sendCommand<number>(firstKey, false, ['WAIT', String(options.waitReplicas), String(options.waitTimeoutMs)]),
      waitOn: (node) => node.sendCommand<number>(['WAIT', String(options.waitReplicas), String(options.waitTimeoutMs)]),
    },
  })
  lifecycle.onClose('journal', () => journal.close())
  // Idempotency-Key on the cluster: a key lives in its own hash's partition, and the write's
  // script keeps the answer when the GUID is there too (a create draws it there; docs/cluster.md).
  const { shared, sharedRateLimit, barrier, idempotency } = redisServiceParts({ RedisTier, RedisRateLimit, JournalBarrier, RedisIdempotency }, main, keys, options, deps, { journalHealth, flusher })
  // The change feed: each partition's events stream, followed by non-blocking reads as the flusher reads its journal.
  const log = new PartitionedEventLog({
    client: main,
    keys,
    routing,
    timeoutMs: options.timeoutMs,
    retentionSeconds: options.eventsRetentionSeconds,
    pollMs: options.flushIntervalMs,
    clock,
    logger,
  })
  const feed = {
    log,
    due: (nowSec: number, limit: number) => log.due(nowSec, limit),
    dismiss: (guid: string, nowSec: number) => log.dismiss(guid, nowSec),
  }
  return { name: 'redis', journal, store, shared, barrier, idempotency, sharedWriters: true, checks, sharedRateLimit, feed }
}
