import type { RedisConnection } from './client'

/**
 * The partition count the cluster's data was written with, kept in Redis (`<prefix>partitions`)
 * by the first instance. A GUID's key names its partition, so instances with different counts
 * would keep one GUID under two keys and lose the compare-and-set between them: an instance
 * whose JOURNAL_PARTITIONS differs refuses to start. Changing the count is the procedure in
 * docs/cluster.md (drain, delete this key, restart every instance with the new count).
 */
export const checkPartitions = async (client: RedisConnection, prefix: string, partitions: number): Promise<void> => {
  const key = `${prefix}partitions`
  await client.set(key, String(partitions), { NX: true })
  const kept = await client.get(key)
  if (kept !== String(partitions)) {
    throw new Error(
      `JOURNAL_PARTITIONS=${partitions}, but this cluster's data (prefix ${prefix}) was written with ${kept} partitions: start with JOURNAL_PARTITIONS=${kept}, or change the count by the procedure in docs/cluster.md`,
    )
  }
}
