import { MongoClient } from 'mongodb'
import type { GuidDoc } from '../../src/adapters/mongo/ops'

/**
 * Reading what guidd left in MongoDB with the driver alone (no guidd code in between), for
 * the end-to-end tests that check the Redis -> journal -> flusher -> MongoDB pipeline.
 */

/** A GUID as the API answered it: the record with its version (ETag), or absent (404). */
export type Answered = { user: string; expire: number; version: number } | null

/** The documents of `guids` in `dbName`.guids, by `_id`. */
export const readDocs = async (url: string, dbName: string, guids: readonly string[]): Promise<Map<string, GuidDoc>> => {
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 })
  try {
    const docs = await client
      .db(dbName)
      .collection<GuidDoc>('guids')
      .find({ _id: { $in: [...guids] } })
      .toArray()
    return new Map(docs.map((d) => [d._id, d]))
  } finally {
    await client.close()
  }
}

/**
 * What is wrong with `doc` as the stored form of `answered`: a record must be exactly
 * {_id, user, version, expireAt}; a 404 after a delete, a tombstone of `tombstoneVersion`
 * (`deleted: true`, no user, an expireAt in the future); a GUID never created, no document.
 * Null when it is right.
 */
export const docMismatch = (guid: string, answered: Answered, doc: GuidDoc | undefined, tombstoneVersion: number | undefined, nowSec: number): string | null => {
  const seen = JSON.stringify(doc ?? null)
  if (answered !== null) {
    const expected = { _id: guid, user: answered.user, version: answered.version, expireAt: new Date(answered.expire * 1000) }
    return Bun.deepEquals(doc, expected) ? null : `${guid}: stored ${seen}, answered ${JSON.stringify(answered)}`
  }
  if (tombstoneVersion === undefined) return doc === undefined ? null : `${guid}: never created, yet stored ${seen}`
  const ok = doc !== undefined && doc.deleted === true && doc.user === undefined && doc.version === tombstoneVersion && doc.expireAt.getTime() > nowSec * 1000
  return ok ? null : `${guid}: answered 404, stored ${seen}; expected a tombstone of version ${tombstoneVersion}`
}

/** The value of a metric (the first sample, or the one whose labels contain `labels`), NaN when absent. */
export const metricValue = async (base: string, name: string, labels = ''): Promise<number> => {
  const text = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5_000) })).text()
  const escaped = labels.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return Number(new RegExp(`^${name}(?:\\{[^}]*${escaped}[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN)
}

/** Polls the journal gauge until it reads 0, bounded; returns how long it took. */
export const waitJournalDrained = async (base: string, timeoutMs: number, describe: () => string): Promise<number> => {
  const started = Date.now()
  let length = await metricValue(base, 'guidd_journal_length')
  while (length !== 0) {
    if (Date.now() - started > timeoutMs) throw new Error(`the journal still holds ${length} entries after ${timeoutMs} ms:\n${describe()}`)
    await Bun.sleep(25)
    length = await metricValue(base, 'guidd_journal_length')
  }
  return Date.now() - started
}
