import type { Database, Statement } from 'bun:sqlite'
import type { KeepAnswer } from '../../data/idempotency'

/**
 * Idempotency-Key answers in the SQLite file: written in the same transaction as the write
 * they answer (SqliteStore's batch), or alone for an answer that wrote nothing (a 404, say).
 */
export class KeptAnswers {
  private readonly upsert: Statement<unknown, [string, string, string, number]>
  private readonly select: Statement<{ fingerprint: string; answer: string }, [string, number]>
  private readonly sweepStmt: Statement<unknown, [number, number]>

  constructor(db: Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS idempotency (
      id TEXT PRIMARY KEY,
      fingerprint TEXT NOT NULL,
      answer TEXT NOT NULL,
      expire INTEGER NOT NULL
    )`)
    db.exec('CREATE INDEX IF NOT EXISTS idempotency_expire ON idempotency (expire)')
    this.upsert = db.query('INSERT OR REPLACE INTO idempotency (id, fingerprint, answer, expire) VALUES (?1, ?2, ?3, ?4)')
    this.select = db.query('SELECT fingerprint, answer FROM idempotency WHERE id = ?1 AND expire > ?2')
    this.sweepStmt = db.query('DELETE FROM idempotency WHERE id IN (SELECT id FROM idempotency WHERE expire <= ?1 LIMIT ?2)')
  }

  /** Synchronous: inside the caller's transaction when there is one, else committed when it returns. */
  put(keep: KeepAnswer): void {
    this.upsert.run(keep.id, keep.fingerprint, keep.answer, keep.expire)
  }

  get(id: string, nowSec: number): { fingerprint: string; answer: string } | null {
    return this.select.get(id, nowSec)
  }

  sweep(nowSec: number, limit: number): number {
    return this.sweepStmt.run(nowSec, limit).changes
  }
}
