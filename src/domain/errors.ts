/**
 * The errors below HTTP: what went wrong, in the service's own words, with no status code or
 * header. The HTTP edge (http/problems.ts, `toAppError`) is the one place that maps each kind
 * to a status, a problem type and headers.
 */

/** One bad field of a request: a JSON Pointer into the body (`/user`), or a parameter (`guid`). */
export interface FieldError {
  path: string
  message: string
}

export type ServiceErrorKind =
  /** The GUID in the path or body is not one. */
  | 'invalid-guid'
  /** A field is missing, unknown, of the wrong type or out of range. */
  | 'validation'
  /** The GUID does not exist, or has expired. */
  | 'not-found'
  /** A create named a GUID that exists. */
  | 'guid-exists'
  /** If-Match / If-None-Match does not hold. */
  | 'precondition-failed'
  /** A change feed position older than the feed keeps: list again, then follow from the head. */
  | 'position-gone'
  /** Too much work queued (one GUID's mailbox, the write-behind journal): retry later. */
  | 'overloaded'
  /** A backing service cannot answer or cannot write, or the service is shutting down: retry later. */
  | 'unavailable'

export interface ServiceErrorDetails {
  errors?: FieldError[]
  /** When a retry may succeed, in seconds. */
  retryAfterSeconds?: number
  cause?: unknown
}

export class ServiceError extends Error {
  constructor(
    readonly kind: ServiceErrorKind,
    message: string,
    readonly details: ServiceErrorDetails = {},
  ) {
    super(message, { cause: details.cause })
    this.name = 'ServiceError'
  }
}

export const invalid = (path: string, message: string): ServiceError => new ServiceError('validation', message, { errors: [{ path, message }] })

/** Retry shortly: the backing service (or the service itself) cannot take this now. */
export const unavailable = (message: string, cause?: unknown): ServiceError => new ServiceError('unavailable', message, { retryAfterSeconds: 1, cause })

export const overloaded = (message: string, cause?: unknown): ServiceError => new ServiceError('overloaded', message, { retryAfterSeconds: 1, cause })

export const shuttingDown = (): ServiceError => unavailable('The service is shutting down.')
