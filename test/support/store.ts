import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Mutation, StoredRecord } from '../../src/domain/model'
import { SqliteStore } from '../../src/adapters/sqlite/store'

export interface TempStore {
  store: SqliteStore
  dir: string
  /** Closes the store and removes its directory. */
  cleanup(): Promise<void>
}

/** A real SqliteStore on a file in a fresh temp dir. */
export const openTempStore = (): TempStore => {
  const dir = mkdtempSync(join(tmpdir(), 'guidd-store-'))
  const store = new SqliteStore({ path: join(dir, 'guidd.sqlite'), synchronous: 'NORMAL' })
  let closed = false
  const cleanup = async () => {
    if (!closed) await store.close()
    closed = true
    rmSync(dir, { recursive: true, force: true })
  }
  return { store, dir, cleanup }
}

/** The canonical GUID numbered `n`: 32 uppercase hex digits. */
export const guidNo = (n: number): string => n.toString(16).toUpperCase().padStart(32, '0')

export const record = (guid: string, version: number, expire: number, user = 'user'): StoredRecord => ({ guid, user, expire, version })

export const putOf = (r: StoredRecord): Mutation => ({ next: r, prevVersion: r.version - 1 })

/** A delete: the tombstone of `guid` at `version`, kept until `until`. */
export const deleteOf = (guid: string, version: number, until: number): Mutation => ({ next: { guid, version, expire: until, deleted: true }, prevVersion: version - 1 })
