import type { Config } from '../config'
import { type EmbeddedOptions, embeddedMode, embeddedOptions } from './embedded'
import type { Mode, ModeDeps } from './mode'
import { type MongoModeOptions, mongoMode, mongoOptions } from './mongo'
import { type RedisModeOptions, redisMode, redisOptions } from './redis'
import { type RedisClusterModeOptions, redisClusterMode, redisClusterOptions } from './redis-cluster'

/** A mode the configuration names, with the options its factory reads (and nothing else of the Config). */
export type ModeChoice =
  | { name: 'embedded'; options: EmbeddedOptions }
  | { name: 'redis'; options: RedisModeOptions }
  | { name: 'redis-cluster'; options: RedisClusterModeOptions }
  | { name: 'mongodb'; options: MongoModeOptions }

/**
 * The one place the mode is decided:
 * - no REDIS_URL, no MONGODB_URL: embedded, LRU + SQLite (journal and store in one, group commit);
 * - REDIS_URL: LRU + Redis tier + Redis journal, flushed to MongoDB (MONGODB_URL) or SQLite;
 * - REDIS_CLUSTER_NODES: the same on a Redis Cluster, the journal partitioned (docs/cluster.md);
 * - MONGODB_URL alone: LRU (entries with a short lifetime) + MongoDB, the journal and the
 *   store at once (each write a compare-and-set written through before the reply).
 */
export const chooseMode = (config: Config): ModeChoice => {
  if (config.REDIS_URL !== undefined) return { name: 'redis', options: redisOptions(config, config.REDIS_URL) }
  if (config.REDIS_CLUSTER_NODES !== undefined) return { name: 'redis-cluster', options: redisClusterOptions(config, config.REDIS_CLUSTER_NODES) }
  if (config.MONGODB_URL !== undefined) return { name: 'mongodb', options: mongoOptions(config, config.MONGODB_URL) }
  return { name: 'embedded', options: embeddedOptions(config) }
}

/** Opens the chosen mode; each factory loads only its own clients. */
export const openMode = async (choice: ModeChoice, deps: ModeDeps): Promise<Mode> => {
  switch (choice.name) {
    case 'redis':
      return redisMode(choice.options, deps)
    case 'redis-cluster':
      return redisClusterMode(choice.options, deps)
    case 'mongodb':
      return mongoMode(choice.options, deps)
    case 'embedded':
      return embeddedMode(choice.options, deps)
  }
}
