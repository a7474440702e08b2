import { type FieldError, ServiceError, type ServiceErrorKind } from '../domain/errors'

/**
 * The one error catalogue. Every error the API answers with has a code naming a row here;
 * the row fixes the HTTP status, the title and the RFC 9457 problem `type`. README's error
 * catalogue lists every code (a test checks it). Below HTTP, errors are neutral
 * (domain/errors.ts): `toAppError` is where they become problems.
 */
export const PROBLEM_TYPE_BASE = 'urn:guidd:problem:'

export const catalogue = {
  'invalid-guid': { status: 400, title: 'The GUID is malformed' },
  validation: { status: 400, title: 'The request is invalid' },
  'malformed-json': { status: 400, title: 'The body is not valid JSON' },
  unauthorized: { status: 401, title: 'Authentication is required' },
  'not-found': { status: 404, title: 'No such GUID' },
  'route-not-found': { status: 404, title: 'No such route' },
  'method-not-allowed': { status: 405, title: 'Method not allowed on this route' },
  'guid-exists': { status: 409, title: 'The GUID already exists' },
  'idempotency-key-in-flight': { status: 409, title: 'A request with this Idempotency-Key is in progress' },
  'precondition-failed': { status: 412, title: 'The precondition failed' },
  'position-gone': { status: 410, title: 'The feed position is no longer kept' },
  'payload-too-large': { status: 413, title: 'The body is too large' },
  'unsupported-media-type': { status: 415, title: 'The body must be application/json' },
  'idempotency-key-reused': { status: 422, title: 'The Idempotency-Key was used for another request' },
  'rate-limited': { status: 429, title: 'Too many requests' },
  'header-too-large': { status: 431, title: 'The request headers are too large' },
  internal: { status: 500, title: 'Internal server error' },
  overloaded: { status: 503, title: 'The service is overloaded' },
  unavailable: { status: 503, title: 'A backing service is unavailable' },
  timeout: { status: 503, title: 'The request took too long' },
} as const satisfies Record<string, { status: number; title: string }>

export type ErrorCode = keyof typeof catalogue

// Every neutral kind names a row of the catalogue.
const _kindsAreCodes: ServiceErrorKind extends ErrorCode ? true : never = true
void _kindsAreCodes

export type { FieldError }

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  requestId?: string
  errors?: FieldError[]
}

export class AppError extends Error {
  readonly status: number
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly options: {
      errors?: FieldError[]
      headers?: Record<string, string>
      cause?: unknown
    } = {},
  ) {
    super(message, { cause: options.cause })
    this.name = 'AppError'
    this.status = catalogue[code].status
  }

  toProblem(instance?: string, requestId?: string): Problem {
    return problemOf(this.code, this.message, instance, requestId, this.options.errors)
  }
}

/**
 * A problem body straight from the catalogue, with no Error behind it: what the request
 * guards (401, 429, 431, timeouts) answer, as they may answer a flood and an Error's stack
 * capture costs microseconds.
 */
export const problemOf = (code: ErrorCode, detail: string, instance?: string, requestId?: string, errors?: FieldError[]): Problem => {
  const row = catalogue[code]
  const problem: Problem = { type: PROBLEM_TYPE_BASE + code, title: row.title, status: row.status, detail }
  if (instance !== undefined) problem.instance = instance
  if (requestId !== undefined) problem.requestId = requestId
  if (errors?.length) problem.errors = errors
  return problem
}

/**
 * The error a request answers with: an AppError as it is; a neutral ServiceError as the
 * catalogue row of its kind (its retry hint as Retry-After); anything else an opaque 500:
 * no message, no stack, no driver text.
 */
export const toAppError = (error: unknown): AppError => {
  if (error instanceof AppError) return error
  if (error instanceof ServiceError) {
    const { errors, retryAfterSeconds } = error.details
    return new AppError(error.kind, error.message, { errors, headers: retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) }, cause: error })
  }
  return new AppError('internal', 'The server failed to handle the request; quote the request id when reporting it.', { cause: error })
}

/** Whether `error` is one the API answers for (a problem of its own), not a fault to log. */
export const isKnownError = (error: unknown): boolean => error instanceof AppError || error instanceof ServiceError
