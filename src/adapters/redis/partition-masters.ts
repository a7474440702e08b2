import type { RedisCluster } from './client'
import { hashSlot } from './hash-slot'
import type { RedisKeys } from './keys'
import type { ScriptClient } from './scripts'

/** One master's own connection: scripts, and WAIT on the connection that ran them. */
export interface NodeClient extends ScriptClient {
  sendCommand<T>(args: string[]): Promise<T>
}

/** Partitions whose slots one master serves (by the client's slot map now), and that master's own connection. */
export interface MasterGroup {
  partitions: number[]
  client(): Promise<NodeClient>
}

/** What the journal asks of a cluster to send one call per master instead of one per partition. */
export interface PartitionRouting {
  group(partitions: Iterable<number>): MasterGroup[]
}

/**
 * Groups a cluster's partitions by the master that serves their slot, from node-redis' slot map
 * (it refreshes the map on MOVED and after reconnections). The map may be stale: whoever sends
 * to a group must cope with a key that is not served there (JOURNAL_WRITE_NODE checks first).
 */
export const partitionMasters = (cluster: RedisCluster, keys: RedisKeys): PartitionRouting => {
  const slots = Array.from({ length: keys.partitions }, (_, p) => hashSlot(keys.partition(p).journal))
  return {
    group(partitions) {
      const groups = new Map<string, { partitions: number[]; client(): Promise<NodeClient> }>()
      const alone: MasterGroup[] = []
      for (const p of partitions) {
        const master = cluster.slots[slots[p]!]?.master
        // No master known for the slot (the map is being rebuilt): the partition's own call routes it.
        if (master === undefined) {
          alone.push({ partitions: [p], client: () => Promise.reject(new Error(`no master known for partition ${p}'s slot`)) })
          continue
        }
        const group = groups.get(master.address)
        if (group === undefined) groups.set(master.address, { partitions: [p], client: () => cluster.nodeClient(master) as Promise<NodeClient> })
        else group.partitions.push(p)
      }
      return [...groups.values(), ...alone]
    },
  }
}
