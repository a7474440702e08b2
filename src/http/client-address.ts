/** The client's address as the socket saw it; supplied by main.ts (the app never touches sockets). */
export type ClientAddress = (request: Request) => string | undefined

/**
 * With one trusted proxy in front (TRUST_PROXY), the client is the last X-Forwarded-For
 * entry: the address the proxy itself saw. Entries before it are whatever the client
 * claimed, and never trusted.
 */
export const behindProxy =
  (socket: ClientAddress): ClientAddress =>
  (request) => {
    const forwarded = request.headers.get('x-forwarded-for')
    if (forwarded === null) return socket(request)
    const last = forwarded.slice(forwarded.lastIndexOf(',') + 1).trim()
    return last === '' ? socket(request) : last
  }
