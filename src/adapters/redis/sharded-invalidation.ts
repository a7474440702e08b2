import type { InvalidationTarget } from '../../data/tier'
import type { Logger } from '../../ops/logger'
import type { RedisCluster } from './client'
import { decodeInvalidation } from './invalidation'
import type { RedisKeys } from './keys'

export interface ShardedInvalidationOptions {
  /** A cluster client of its own (subscribed connections can do nothing else). */
  cluster: RedisCluster
  keys: RedisKeys
  instanceId: string
  local: InvalidationTarget
  logger: Logger
  onInvalidation?: () => void
}

/**
 * Cross-instance LRU invalidation on a Redis Cluster: the journal script SPUBLISHes each write
 * on its partition's channel (in the partition's slot); every instance SSUBSCRIBEs to every
 * partition's channel. node-redis keeps a sharded subscription on the master that serves its
 * slot and moves it after a failover or a reshard (its `__MOVED` handling and topology
 * rediscovery). Messages published while a node's subscription is down are lost, so from the
 * moment any subscribed node's connection fails until a node connection is ready again the LRU
 * is emptied and bypassed, as with one Redis.
 */
export class ShardedInvalidation {
  private connected = false

  constructor(private readonly o: ShardedInvalidationOptions) {}

  async start(): Promise<void> {
    const { cluster, keys, instanceId, local, logger } = this.o
    const listener = (text: string) => {
      const message = decodeInvalidation(text)
      if (message === undefined || message.origin === instanceId) return
      local.invalidate(message.guid, message.version)
      this.o.onInvalidation?.()
    }
    cluster.on('node-error', () => this.lost('node error'))
    cluster.on('node-reconnecting', () => this.lost('node reconnecting'))
    cluster.on('node-disconnect', () => this.lost('node disconnected'))
    cluster.on('sharded-channel-moved-error', () => this.lost('a moved channel could not be resubscribed'))
    cluster.on('node-ready', () => {
      if (this.connected) return
      this.connected = true
      local.bypass(false)
      logger.info('invalidation channels back; LRU in use again')
    })
    // One SSUBSCRIBE per partition: channels of different slots cannot share one.
    await Promise.all(Array.from({ length: keys.partitions }, (_, p) => cluster.sSubscribe(keys.partition(p).invalidations, listener)))
    this.connected = true
    local.bypass(false)
    logger.debug({ partitions: keys.partitions }, 'subscribed to sharded invalidations')
  }

  private lost(why: string): void {
    if (!this.connected) return
    this.connected = false
    this.o.logger.warn({ why }, 'an invalidation channel was lost; LRU emptied and bypassed until it is back')
    this.o.local.bypass(true)
  }
}
