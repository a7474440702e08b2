import { AppError } from './problems'
import { findDuplicateKey } from './json-keys'

/** SPEC §3: request bodies are JSON objects of at most 16 KiB. */
export const MAX_BODY_BYTES = 16 * 1024

const tooLarge = () => new AppError('payload-too-large', `The body exceeds ${MAX_BODY_BYTES} bytes.`)

const isJson = (contentType: string | null): boolean => {
  if (contentType === null) return false
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase()
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'))
}

const malformed = (error: unknown) => new AppError('malformed-json', `The body is not valid JSON: ${(error as Error).message}`)

/** Refuses bytes that are not UTF-8 instead of reading them as U+FFFD (RFC 8259 §8.1). */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false })

/**
 * The body's bytes as one JSON value: well-formed UTF-8, valid JSON, and no object naming a
 * member twice (I-JSON, RFC 7493 §2.3), since JSON.parse would silently keep the last one
 * and the service would act on a body other than the one that was checked by a reader.
 */
export const parseJsonBytes = (bytes: Uint8Array | ArrayBuffer): unknown => {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new AppError('malformed-json', 'The body is not valid UTF-8.')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw malformed(error)
  }
  const duplicate = typeof value === 'object' && value !== null ? findDuplicateKey(text) : undefined
  if (duplicate !== undefined) throw new AppError('malformed-json', `The body names the member '${duplicate}' more than once.`)
  return value
}

/** A body stream read to its end, but never past MAX_BODY_BYTES (413 then, and the rest is not read). */
const readCapped = async (body: ReadableStream<Uint8Array>): Promise<Buffer> => {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > MAX_BODY_BYTES) {
      void reader.cancel()
      throw tooLarge()
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks)
}

/** A body sent chunked (no Content-Length): read at most MAX_BODY_BYTES of it, never more. */
const readChunked = async (request: Request): Promise<unknown> => {
  if (request.body === null) throw malformed(new Error('the body is empty'))
  return parseJsonBytes(await readCapped(request.body))
}

/**
 * The request's body as bytes, at most MAX_BODY_BYTES (413 past them), whatever its type: what
 * an Idempotency-Key's fingerprint is taken of, before the route reads it (jsonOfBytes).
 */
export const readBodyBytes = async (request: Request): Promise<Uint8Array> => {
  if (request.body === null) return new Uint8Array(0)
  const declared = request.headers.get('content-length')
  if (declared !== null) {
    if (Number(declared) > MAX_BODY_BYTES) throw tooLarge()
    return new Uint8Array(await request.arrayBuffer())
  }
  return readCapped(request.body)
}

/** The JSON body of bytes already read (readBodyBytes), with readJsonBody's checks: 415, 400. */
export const jsonOfBytes = async (request: Request, bytes: Uint8Array): Promise<unknown> => {
  if (!isJson(request.headers.get('content-type'))) throw new AppError('unsupported-media-type', 'Send the body as JSON with Content-Type: application/json.')
  return parseJsonBytes(bytes)
}

/**
 * The request's JSON body: 415 unless it is JSON, 413 when too large, 400 when malformed.
 * With a Content-Length (the usual case) the length is checked before any byte is read.
 */
export const readJsonBody = (request: Request): Promise<unknown> => {
  if (!isJson(request.headers.get('content-type'))) {
    return Promise.reject(new AppError('unsupported-media-type', 'Send the body as JSON with Content-Type: application/json.'))
  }
  const declared = request.headers.get('content-length')
  if (declared === null) return readChunked(request)
  if (Number(declared) > MAX_BODY_BYTES) return Promise.reject(tooLarge())
  return request.arrayBuffer().then(parseJsonBytes)
}
