/**
 * Requests to a guidd over real HTTP, for the end-to-end tests that drive one or more
 * servers by hand: a JSON body when there is one, and a bound on every request.
 */

/** Sends `method path` to `base`, with `body` as JSON when given; aborted after 10 s. */
export const send = (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(base + path, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  })

/** The version a response's ETag names, NaN when it has none (the caller's expectation says what it should be). */
export const etagVersion = (res: Response): number => Number(/^"(\d+)"$/.exec(res.headers.get('etag') ?? '')?.[1])
