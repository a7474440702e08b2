/** One SSE frame as the wire carries it (a block ended by a blank line). */
export interface SseFrame {
  id?: string
  data?: string
  retry?: number
  comments: string[]
}

/**
 * Reads Server-Sent Events frames from a response body, one `next()` at a time, each bounded
 * by a timeout so a test never hangs on a stream that stays silent.
 */
export class SseReader {
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>
  private readonly decoder = new TextDecoder()
  private buffer = ''
  /** The last `id:` seen: what EventSource would send as Last-Event-ID. */
  lastId: string | undefined

  constructor(response: Response) {
    if (response.body === null) throw new Error('no body')
    this.reader = response.body.getReader()
  }

  /** The next frame, or undefined when the stream ended; throws after `timeoutMs`. */
  async next(timeoutMs = 5_000): Promise<SseFrame | undefined> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const end = this.buffer.indexOf('\n\n')
      if (end >= 0) {
        const block = this.buffer.slice(0, end)
        this.buffer = this.buffer.slice(end + 2)
        const frame: SseFrame = { comments: [] }
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) frame.comments.push(line.slice(1).trim())
          else if (line.startsWith('id: ')) frame.id = line.slice(4)
          else if (line.startsWith('data: ')) frame.data = frame.data === undefined ? line.slice(6) : `${frame.data}\n${line.slice(6)}`
          else if (line.startsWith('retry: ')) frame.retry = Number(line.slice(7))
        }
        if (frame.id !== undefined) this.lastId = frame.id
        return frame
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no SSE frame within ${timeoutMs} ms (buffer: ${JSON.stringify(this.buffer.slice(0, 200))})`)
      let timer: ReturnType<typeof setTimeout> | undefined
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), left)
        }),
      ]).finally(() => clearTimeout(timer))
      if (chunk === 'timeout') continue
      if (chunk.done) return undefined
      this.buffer += this.decoder.decode(chunk.value, { stream: true })
    }
  }

  /** The next `n` frames that carry data (events), parsed; skips heartbeats and bare ids. */
  async events(n: number, timeoutMs = 5_000): Promise<Array<{ id: string; type: string; guid: string; version: number; record?: { guid: string; user: string; expire: number } }>> {
    const out = []
    while (out.length < n) {
      const frame = await this.next(timeoutMs)
      if (frame === undefined) throw new Error(`stream ended after ${out.length} of ${n} events`)
      if (frame.data !== undefined) out.push({ id: frame.id!, ...JSON.parse(frame.data) })
    }
    return out
  }

  async cancel(): Promise<void> {
    await this.reader.cancel().catch(() => undefined)
  }
}
