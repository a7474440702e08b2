/**
 * A history of operations on GUIDs as the linearizability checker reads it
 * (test/linearizability/checker/history.go has the format): what each client sent, when
 * (nanoseconds on one monotonic clock), and what came back. An operation whose outcome is
 * unknown (no answer, a timeout, a 5xx) has no return time: it may or may not have happened.
 * A listing page (`list`) names no GUID: the checker projects it onto the GUIDs it covers. The
 * attempts of a write sent under one Idempotency-Key (`input.key`) are one operation.
 */

export type Kind = 'create' | 'upsert' | 'create-only' | 'get' | 'patch' | 'delete' | 'list'

export interface ListItem {
  guid: string
  user: string
  expire: number
}

export interface OpInput {
  user?: string
  expire?: number
  /** The If-Match header as sent, quotes included. */
  ifMatch?: string
  /** The Idempotency-Key the write was sent with. */
  key?: string
  /** A listing: the GUID its cursor starts after (none on the first page), and its limit. */
  after?: string
  limit?: number
}

export interface OpOutput {
  status: number
  user?: string
  expire?: number
  /** The ETag header as answered, quotes included. */
  etag?: string
  /** The answer carried `Idempotent-Replayed: true`. */
  replayed?: boolean
  /** A listing page: its items, and whether it named a next page. */
  items?: ListItem[]
  more?: boolean
}

export interface RecordedOp {
  client: number
  guid: string
  kind: Kind
  input: OpInput
  invoke: number
  /** Absent: the outcome is unknown. */
  return?: number
  output?: OpOutput
  /** Shown in the visualisation: the instance it went to, the error. */
  meta?: string
  /** A read whose answer the checker leaves out (it may trail another instance's write). Never a listing: it reads the store behind the read barrier. */
  unchecked?: boolean
}

/** The recorder's clock: nanoseconds since it was made, exact as a JSON number for 104 days. */
export const monotonicClock = (): (() => number) => {
  const t0 = process.hrtime.bigint()
  return () => Number(process.hrtime.bigint() - t0)
}

export const historyJson = (ops: RecordedOp[]): string => JSON.stringify({ operations: ops })
