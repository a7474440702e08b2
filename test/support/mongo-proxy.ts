import { createServer, type Server, type Socket, connect } from 'node:net'

/**
 * A TCP proxy in front of a MongoDB-wire server that can fail the way a database going away
 * was seen to under Bun: the driver's operation connections close (it notices at once), while
 * its monitoring connection is left open and silent (it never learns). Each connection is
 * sorted by what its client sent: one that has carried only handshakes and heartbeats
 * (`hello`, `isMaster`) is a monitor's; any other command makes it an operation connection.
 */
export interface MongoProxy {
  /** `mongodb://127.0.0.1:<port>/`: the driver talks to the proxy as if it were the server. */
  url: string
  /**
   * Strands every monitoring connection (kept open, nothing forwarded either way, ever) and
   * makes every operation connection close, unanswered, at its next request: the driver
   * sees an operation fail on a closed connection, as when the server dies under it.
   * Connections made later pass as before: the server is back.
   */
  strandMonitorsAndFailOperations(): { stranded: number; failing: number }
  /**
   * Strands every operation connection (kept open, nothing forwarded either way, ever), the
   * monitors left as they are: the driver's next command on one gets neither an answer nor a
   * close, as when its server was killed and Bun never told the driver the socket had closed.
   * Connections made later pass as before. Returns how many were stranded.
   */
  silenceOperations(): number
  close(): Promise<void>
}

interface Piped {
  client: Socket
  server: Socket
  /** Bytes from the client not yet parsed into whole messages. */
  pending: Buffer
  onlyHeartbeats: boolean
  stranded: boolean
  /** Closed, unanswered, at the next request it carries. */
  failNext: boolean
}

const OP_MSG = 2013
const OP_QUERY = 2004
const HEARTBEATS = new Set(['hello', 'ismaster', 'isMaster'])

/**
 * The command an OP_MSG carries: the first key of its body document (section kind 0), after
 * the 16-byte header, the 4-byte flags, the kind byte and the document's 4-byte length and
 * element-type byte. OP_QUERY only ever carries the legacy handshake here.
 */
const commandOf = (message: Buffer): string => {
  const opCode = message.readInt32LE(12)
  if (opCode === OP_QUERY) return 'isMaster'
  if (opCode !== OP_MSG || message[20] !== 0) return '?'
  const start = 26
  const end = message.indexOf(0, start)
  return message.toString('latin1', start, end)
}

export const startMongoProxy = async (target: { host: string; port: number }): Promise<MongoProxy> => {
  const live = new Set<Piped>()
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    const piped: Piped = { client, server: upstream, pending: Buffer.alloc(0), onlyHeartbeats: true, stranded: false, failNext: false }
    live.add(piped)
    const end = () => {
      live.delete(piped)
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (chunk: Buffer) => {
      if (piped.stranded) return
      if (piped.failNext) return end()
      piped.pending = Buffer.concat([piped.pending, chunk])
      while (piped.pending.length >= 16 && piped.pending.length >= piped.pending.readInt32LE(0)) {
        const length = piped.pending.readInt32LE(0)
        if (!HEARTBEATS.has(commandOf(piped.pending.subarray(0, length)))) piped.onlyHeartbeats = false
        piped.pending = piped.pending.subarray(length)
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!piped.stranded) client.write(chunk)
    })
    // A stranded client hears nothing more, not even that the server went.
    upstream.on('close', () => {
      if (!piped.stranded) end()
    })
    client.on('close', end)
    client.on('error', end)
    upstream.on('error', () => {
      if (!piped.stranded) end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy: no port')
  return {
    url: `mongodb://127.0.0.1:${address.port}/`,
    strandMonitorsAndFailOperations: () => {
      let stranded = 0
      let failing = 0
      for (const piped of live) {
        if (piped.stranded || piped.failNext) continue
        if (piped.onlyHeartbeats) {
          piped.stranded = true
          piped.server.destroy()
          stranded++
        } else {
          piped.failNext = true
          failing++
        }
      }
      return { stranded, failing }
    },
    silenceOperations: () => {
      let stranded = 0
      for (const piped of live) {
        if (piped.stranded || piped.onlyHeartbeats) continue
        piped.stranded = true
        piped.server.destroy()
        stranded++
      }
      return stranded
    },
    close: async () => {
      for (const piped of live) {
        piped.client.destroy()
        piped.server.destroy()
      }
      live.clear()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
