import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020'

/**
 * Holds responses to the OpenAPI document the service serves: status, content type, required
 * headers (and their patterns) and body (JSON Schema 2020-12, as OpenAPI 3.1 uses). Ajv in
 * strict mode, so a keyword OpenAPI does not allow, or a schema that cannot compile, is an
 * error here too rather than something silently ignored; openapi-response-validator and the
 * like stop at OpenAPI 3.0's schema dialect. What the document can only say in prose is held
 * here too: a method a path does not list is 405 with an `Allow` naming exactly the listed
 * methods, and a path it does not list is 404 `route-not-found` (the documentation's own paths,
 * /docs and /docs/*, aside).
 */

type Json = Record<string, any>

export interface Conformance {
  /** Checks one answer (reads a clone of its body) and records every mismatch. */
  check(method: string, url: string, response: Response): Promise<string[]>
  /** Every mismatch so far, each naming the request and the answer. */
  readonly mismatches: string[]
  /** How many answers were checked. */
  readonly checked: number
}

const DOC_ID = 'urn:guidd:openapi'
const PROBLEM_TYPE = 'urn:guidd:problem:'

/** `#/components/schemas/X` -> a reference into the one schema ajv holds the components in. */
const rewriteRefs = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(rewriteRefs)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, key === '$ref' && typeof v === 'string' ? v.replace('#/components/schemas/', `${DOC_ID}#/$defs/`) : rewriteRefs(v)]))
}

const mediaType = (contentType: string | null): string | undefined => contentType?.split(';', 1)[0]?.trim().toLowerCase() || undefined

export const openApiConformance = (doc: Json): Conformance => {
  const ajv = new Ajv2020({ strict: true, allErrors: true })
  ajv.addSchema({ $id: DOC_ID, $defs: rewriteRefs(doc.components?.schemas ?? {}) })
  const compiled = new Map<string, ValidateFunction>()
  const validator = (key: string, schema: unknown): ValidateFunction => {
    let v = compiled.get(key)
    if (v === undefined) {
      v = ajv.compile(rewriteRefs(schema) as object)
      compiled.set(key, v)
    }
    return v
  }
  const resolve = (object: Json | undefined): Json | undefined => {
    if (object?.$ref === undefined) return object
    const [, , kind, name] = String(object.$ref).split('/')
    return resolve(doc.components?.[kind!]?.[name!])
  }
  const templates = Object.keys(doc.paths).map((template) => ({
    template,
    regex: new RegExp(`^${template.replace(/\{[^}]+\}/g, '([^/]+)')}$`),
  }))

  const mismatches: string[] = []
  let checked = 0

  const problemMismatches = (body: unknown, status: number, code: string): string[] => {
    const v = validator('Problem', { $ref: '#/components/schemas/Problem' })
    const out: string[] = []
    if (!v(body)) out.push(`body: ${ajv.errorsText(v.errors)}`)
    const b = body as Json
    if (b?.type !== PROBLEM_TYPE + code || b?.status !== status) out.push(`expected a ${status} ${code} problem, got ${JSON.stringify(body)}`)
    return out
  }

  const check = async (method: string, url: string, response: Response): Promise<string[]> => {
    checked++
    const path = new URL(url, 'http://x').pathname
    const upper = method.toUpperCase()
    const status = response.status
    const found: string[] = []
    const text = upper === 'HEAD' ? '' : await response.clone().text()
    const parse = (): unknown => {
      try {
        return JSON.parse(text)
      } catch {
        found.push(`body is not JSON: ${text.slice(0, 100)}`)
        return undefined
      }
    }
    // The documentation (Swagger UI, its files, the document itself) is served beside the API, not described by it.
    if (path === '/docs' || path.startsWith('/docs/')) {
      checked--
      return []
    }
    const match = templates.find(({ regex }) => regex.test(path))
    const item: Json | undefined = match === undefined ? undefined : doc.paths[match.template]
    const operation: Json | undefined = item?.[method.toLowerCase()]

    if (match === undefined) {
      if (status !== 404 || mediaType(response.headers.get('content-type')) !== 'application/problem+json') found.push(`an undocumented path must be a 404 problem, got ${status}`)
      else if (upper !== 'HEAD') found.push(...problemMismatches(parse(), 404, 'route-not-found'))
    } else if (operation === undefined) {
      const listed = Object.keys(item!)
        .filter((key) => ['get', 'head', 'post', 'put', 'patch', 'delete', 'options', 'trace'].includes(key) && key !== 'options')
        .map((m) => m.toUpperCase())
        .sort()
      const allow = (response.headers.get('allow') ?? '')
        .split(',')
        .map((m) => m.trim())
        .filter((m) => m !== '')
        .sort()
      if (status !== 405) found.push(`${upper} is not documented on ${match.template}: expected 405, got ${status}`)
      else {
        if (allow.join() !== listed.join()) found.push(`Allow: ${allow.join(', ')} but the document lists ${listed.join(', ')}`)
        if (upper !== 'HEAD') found.push(...problemMismatches(parse(), 405, 'method-not-allowed'))
      }
    } else {
      const documented = resolve(operation.responses?.[String(status)])
      if (documented === undefined) found.push(`status ${status} is not documented`)
      else {
        for (const [name, header] of Object.entries<Json>(documented.headers ?? {})) {
          const h = resolve(header)!
          const value = response.headers.get(name)
          if (value === null) {
            if (h.required === true) found.push(`required header ${name} is missing`)
            continue
          }
          const v = validator(`header ${name} ${JSON.stringify(h.schema)}`, h.schema ?? {})
          if (!v(value)) found.push(`header ${name}: ${JSON.stringify(value)} ${ajv.errorsText(v.errors)}`)
        }
        const type = mediaType(response.headers.get('content-type'))
        if (upper !== 'HEAD') {
          const content: Json | undefined = documented.content
          if (content === undefined) {
            if (text !== '') found.push(`no body is documented, got ${type ?? 'no content type'}: ${text.slice(0, 100)}`)
          } else if (type === undefined || content[type] === undefined) {
            found.push(`content type ${type} is not documented (${Object.keys(content).join(', ')})`)
          } else if (content[type].schema !== undefined) {
            const body = type.endsWith('json') ? parse() : text
            const v = validator(`${match.template} ${method} ${status} ${type}`, content[type].schema)
            if (!v(body)) found.push(`body: ${ajv.errorsText(v.errors)}: ${text.slice(0, 200)}`)
          }
        }
      }
    }
    const labelled = found.map((m) => `${upper} ${path} -> ${status}: ${m}`)
    mismatches.push(...labelled)
    return labelled
  }

  return {
    check,
    mismatches,
    get checked() {
      return checked
    },
  }
}

/** The conformance checker for the document a running service serves at /docs/json. */
export const servedConformance = async (base: string, headers: Record<string, string> = {}): Promise<Conformance> => {
  const res = await fetch(`${base}/docs/json`, { headers, signal: AbortSignal.timeout(5_000) })
  if (res.status !== 200) throw new Error(`GET /docs/json answered ${res.status}`)
  return openApiConformance((await res.json()) as Json)
}
