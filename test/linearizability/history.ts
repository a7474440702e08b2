/**
 * A history of operations on GUIDs as the linearizability checker reads it
 * (test/linearizability/checker/history.go has the format): what each client sent, when
 * (nanoseconds on one monotonic clock), and what came back. An operation whose outcome is
 * unknown (no answer, a timeout, a 5xx) has no return time: it may or may not have happened.
 */

export type Kind = 'create' | 'upsert' | 'create-only' | 'get' | 'patch' | 'delete'

export interface OpInput {
  user?: string
  expire?: number
  /** The If-Match header as sent, quotes included. */
  ifMatch?: string
}

export interface OpOutput {
  status: number
  user?: string
  expire?: number
  /** The ETag header as answered, quotes included. */
  etag?: string
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
  /** A read whose answer the checker leaves out (it may trail another instance's write). */
  unchecked?: boolean
}

/** The recorder's clock: nanoseconds since it was made, exact as a JSON number for 104 days. */
export const monotonicClock = (): (() => number) => {
  const t0 = process.hrtime.bigint()
  return () => Number(process.hrtime.bigint() - t0)
}

export const historyJson = (ops: RecordedOp[]): string => JSON.stringify({ operations: ops })
