import { AppError } from '../errors'

/** SPEC §3: request bodies are JSON objects of at most 16 KiB. */
export const MAX_BODY_BYTES = 16 * 1024

const tooLarge = () => new AppError('payload-too-large', `The body exceeds ${MAX_BODY_BYTES} bytes.`)

const isJson = (contentType: string | null): boolean => {
  if (contentType === null) return false
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase()
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'))
}

/** Reads at most MAX_BODY_BYTES, without buffering more than that of a body sent chunked. */
const readCapped = async (request: Request): Promise<string> => {
  const declared = request.headers.get('content-length')
  if (declared !== null) {
    if (Number(declared) > MAX_BODY_BYTES) throw tooLarge()
    const text = await request.text()
    if (Buffer.byteLength(text) > MAX_BODY_BYTES) throw tooLarge()
    return text
  }
  if (request.body === null) return ''
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
  return Buffer.concat(chunks).toString('utf8')
}

/** The request's JSON body: 415 unless it is JSON, 413 when too large, 400 when malformed. */
export const readJsonBody = async (request: Request): Promise<unknown> => {
  if (!isJson(request.headers.get('content-type'))) {
    throw new AppError('unsupported-media-type', 'Send the body as JSON with Content-Type: application/json.')
  }
  const text = await readCapped(request)
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new AppError('malformed-json', `The body is not valid JSON: ${(error as Error).message}`)
  }
}
