import type { Logger } from '../../ops/logger'
import type { RedisClient } from './client'
import type { LruTier } from '../lru/lru'

export interface InvalidationOptions {
  /** Its own connection: a subscribed connection can do nothing else. */
  client: RedisClient
  channel: string
  instanceId: string
  /** This instance's memory tier, to drop entries other instances changed. */
  local: LruTier
  logger: Logger
  onInvalidation?: () => void
}

/**
 * Cross-instance LRU invalidation (SPEC §5): every journaled write publishes
 * `<GUID>|<instance>` (in the same script that writes it); each instance drops its memory
 * copy of GUIDs other instances changed. Messages sent while the subscription is down are
 * lost, so while the subscription is down the LRU is emptied and bypassed (reads go to
 * Redis), and it fills again once the subscription is back.
 */
export class Invalidation {
  private connected = false

  constructor(private readonly o: InvalidationOptions) {}

  async start(): Promise<void> {
    const { client, channel, instanceId, local, logger } = this.o
    client.on('ready', () => {
      if (this.connected) return
      this.connected = true
      local.bypass(false)
      logger.info('invalidation channel back; LRU in use again')
    })
    client.on('end', () => this.lost('closed'))
    client.on('reconnecting', () => this.lost('reconnecting'))
    client.on('error', () => this.lost('error'))
    await client.subscribe(channel, (message) => {
      const [guid, version, origin] = message.split('|')
      if (guid === undefined || origin === undefined || origin === instanceId) return
      local.invalidate(guid, Number(version))
      this.o.onInvalidation?.()
    })
    this.connected = client.isReady
    local.bypass(!this.connected)
    logger.debug({ channel }, 'subscribed to invalidations')
  }

  private lost(why: string): void {
    if (!this.connected) return
    this.connected = false
    this.o.logger.warn({ why }, 'invalidation channel lost; LRU emptied and bypassed until it is back')
    this.o.local.bypass(true)
  }
}
