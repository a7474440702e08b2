import type { InvalidationTarget } from '../../data/tier'
import type { Logger } from '../../ops/logger'
import type { RedisClient } from './client'

/** One invalidation: the GUID another instance wrote, the version it wrote, and that instance. */
export interface InvalidationMessage {
  guid: string
  version: number
  origin: string
}

/** The message the journal script publishes (it is built here and nowhere else). */
export const encodeInvalidation = ({ guid, version, origin }: InvalidationMessage): string => `${guid}|${version}|${origin}`

/** The message as published, or undefined when it is not one. */
export const decodeInvalidation = (message: string): InvalidationMessage | undefined => {
  const [guid, version, origin, extra] = message.split('|')
  if (guid === undefined || version === undefined || origin === undefined || extra !== undefined) return undefined
  return { guid, version: Number(version), origin }
}

export interface InvalidationOptions {
  /** Its own connection: a subscribed connection can do nothing else. */
  client: RedisClient
  channel: string
  instanceId: string
  /** This instance's memory tier, to drop entries other instances changed. */
  local: InvalidationTarget
  logger: Logger
  onInvalidation?: () => void
}

/**
 * Cross-instance LRU invalidation: every journaled write publishes an InvalidationMessage
 * (in the same script that writes it); each instance drops its memory
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
    await client.subscribe(channel, (text) => {
      const message = decodeInvalidation(text)
      if (message === undefined || message.origin === instanceId) return
      local.invalidate(message.guid, message.version)
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
