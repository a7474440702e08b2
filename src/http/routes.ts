import type { RoutePolicy } from './guard'
import type { Handler } from './observe'

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE'

/** One route, stated once: it drives the Elysia route, `Allow` and the 405s, the metrics label and the OpenAPI document. */
export interface Route {
  method: Method
  /** Elysia's pattern (`/guid/:guid`); the OpenAPI path with `{guid}`. */
  path: string
  /** The bounded metrics/log label when it is not the pattern (the docs' files share `/docs/*`). */
  label?: string
  /** Bearer key and rate limit; open by default. */
  policy?: RoutePolicy
  /** The OpenAPI operation; absent: served but not documented (the docs' own files). */
  operation?: object
  handle: Handler
}

export const labelOf = (route: Route): string => route.label ?? route.path

/** The methods of one path as `Allow` lists them: in table order, HEAD after GET (Bun answers HEAD from GET). */
const allowOf = (methods: readonly Method[]): string => methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ')

/**
 * The route table as the HTTP edge asks it: which route a path is (for 405 + Allow and the
 * metrics label, never the raw path, whose cardinality is unbounded), and what it allows.
 */
export class RouteTable {
  /** Exact paths (no parameter) to their label and methods. */
  private readonly exact = new Map<string, { label: string; methods: Method[] }>()
  /** Patterns with parameters (`/guid/:guid`), split in segments. */
  private readonly patterns: Array<{ segments: string[]; label: string; methods: Method[] }> = []
  /** Labels that name a family of paths (`/docs/*`), for paths under them that no route serves. */
  private readonly families: string[] = []

  constructor(readonly routes: readonly Route[]) {
    for (const route of routes) {
      const label = labelOf(route)
      if (route.path.includes('/:')) {
        const segments = route.path.split('/')
        const known = this.patterns.find((p) => p.label === label)
        if (known === undefined) this.patterns.push({ segments, label, methods: [route.method] })
        else known.methods.push(route.method)
      } else {
        const known = this.exact.get(route.path)
        if (known === undefined) this.exact.set(route.path, { label, methods: [route.method] })
        else known.methods.push(route.method)
      }
      if (label.endsWith('/*') && !this.families.includes(label)) this.families.push(label)
    }
  }

  private match(path: string): { label: string; methods: Method[] } | undefined {
    const exact = this.exact.get(path)
    if (exact !== undefined) return exact
    const segments = path.split('/')
    return this.patterns.find((p) => p.segments.length === segments.length && p.segments.every((s, i) => (s.startsWith(':') ? segments[i] !== '' : s === segments[i])))
  }

  /** The route label a path belongs to, or 'unmatched'. */
  routeOf(path: string): string {
    const found = this.match(path)
    if (found !== undefined) return found.label
    return this.families.find((family) => path.startsWith(family.slice(0, -1))) ?? 'unmatched'
  }

  /** What `Allow` says for a path a route serves, or undefined for a path none serves. */
  allowedMethods(path: string): string | undefined {
    const found = this.match(path)
    return found === undefined ? undefined : allowOf(found.methods)
  }
}
