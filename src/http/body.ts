import { AppError } from '../errors'

/** SPEC §3: request bodies are JSON objects of at most 16 KiB. */
export const MAX_BODY_BYTES = 16 * 1024

const tooLarge = () => new AppError('payload-too-large', `The body exceeds ${MAX_BODY_BYTES} bytes.`)

const isJson = (contentType: string | null): boolean => {
  if (contentType === null) return false
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase()
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'))
}

const malformed = (error: unknown) => new AppError('malformed-json', `The body is not valid JSON: ${(error as Error).message}`)

/** A body sent chunked (no Content-Length): read at most MAX_BODY_BYTES of it, never more. */
const readChunked = async (request: Request): Promise<unknown> => {
  if (request.body === null) throw malformed(new Error('the body is empty'))
  const reader = request.body.getReader()
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
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (error) {
    throw malformed(error)
  }
}

/**
 * The request's JSON body: 415 unless it is JSON, 413 when too large, 400 when malformed.
 * With a Content-Length (the usual case) the length is checked first and Bun parses the
 * bytes itself: one promise, no intermediate string.
 */
export const readJsonBody = (request: Request): Promise<unknown> => {
  if (!isJson(request.headers.get('content-type'))) {
    return Promise.reject(new AppError('unsupported-media-type', 'Send the body as JSON with Content-Type: application/json.'))
  }
  const declared = request.headers.get('content-length')
  if (declared === null) return readChunked(request)
  if (Number(declared) > MAX_BODY_BYTES) return Promise.reject(tooLarge())
  return request.json().catch((error: unknown) => {
    throw malformed(error)
  })
}
