/**
 * The layering, checked by `npm run lint:layers` (and so by CI). Data flows one way:
 * http -> data -> domain, adapters implement data's interfaces, runtime wires them; ops
 * (logs, metrics, readiness) is a leaf everyone may use. docs/architecture.md, "The layers and what each may import".
 */
const layer = (name) => `^src/${name}/`

module.exports = {
  forbidden: [
    {
      name: 'domain-is-pure',
      comment: 'The GUID model, its rules and neutral errors import nothing from the layers above, nor any I/O.',
      severity: 'error',
      from: { path: layer('domain') },
      to: { path: ['^src/(data|adapters|http|runtime|ops)/', '^src/main\\.ts$'] },
    },
    {
      name: 'domain-imports-no-package',
      comment: 'The domain does no I/O: no Node or Bun module (node:fs, bun:sqlite), no driver; of packages only TypeBox, whose schemas are its types.',
      severity: 'error',
      from: { path: layer('domain') },
      to: { dependencyTypesNot: ['local'], pathNot: 'node_modules/@sinclair/typebox/' },
    },
    {
      name: 'data-knows-no-adapter',
      comment: 'Records, actors and the Store/CacheTier/Journal interfaces know no adapter, no HTTP and no wiring.',
      severity: 'error',
      from: { path: layer('data') },
      to: { path: ['^src/(adapters|http|runtime)/', '^src/main\\.ts$'] },
    },
    {
      name: 'data-imports-no-package',
      comment: 'Records, actors and the Store/CacheTier/Journal interfaces are plain TypeScript over the domain: no package, no Node or Bun module (bun:sqlite is an adapter).',
      severity: 'error',
      from: { path: layer('data') },
      to: { dependencyTypesNot: ['local'] },
    },
    {
      name: 'drivers-only-in-adapters',
      comment: 'The Redis and MongoDB clients and bun:sqlite are imported by adapters alone; the other layers meet them through data/ interfaces.',
      severity: 'error',
      from: { path: '^src/', pathNot: layer('adapters') },
      to: { path: ['node_modules/(mongodb|bson|redis|@redis/[^/]+)/', '^bun:sqlite$'] },
    },
    {
      name: 'adapters-meet-only-through-data',
      comment: 'An adapter (lru, sqlite, redis, mongo) imports no other adapter; they meet through the interfaces in data/.',
      severity: 'error',
      from: { path: '^src/adapters/([^/]+)/' },
      to: { path: '^src/adapters/', pathNot: '^src/adapters/$1/' },
    },
    {
      name: 'adapters-below-http',
      comment: 'Adapters know nothing of HTTP or of the wiring.',
      severity: 'error',
      from: { path: layer('adapters') },
      to: { path: ['^src/(http|runtime)/', '^src/main\\.ts$'] },
    },
    {
      name: 'http-below-runtime',
      comment: 'The HTTP edge is built by a factory from what runtime hands it; it never reaches for config, env or adapters.',
      severity: 'error',
      from: { path: layer('http') },
      to: { path: ['^src/(runtime|adapters)/', '^src/main\\.ts$'] },
    },
    {
      name: 'ops-is-a-leaf',
      comment: 'Logs, metrics and readiness depend on nothing but the domain (clock, types).',
      severity: 'error',
      from: { path: layer('ops') },
      to: { path: ['^src/(data|adapters|http|runtime)/', '^src/main\\.ts$'] },
    },
    {
      name: 'elysia-only-in-http-and-runtime',
      comment: 'Only the HTTP edge (and the process that serves it) knows Elysia.',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/(http|runtime)/', '^src/main\\.ts$'] },
      to: { path: 'node_modules/elysia/' },
    },
    {
      name: 'bench-through-public-factories',
      comment:
        'Benchmarks build guidd as main.ts does (createRuntime from loadConfig) and use what every layer may (domain, ops); of the HTTP edge only the pure functions a floor times alone (body, validate, respond). No adapter or data module: a change below the runtime cannot break a benchmark. bench/floor-server.ts is the exception, for what its floors are by definition: one adapter (the SQLite group commit, the Redis journal) or one driver call alone; and so are bench/feed.ts, whose in-process section is the SQLite store commit alone with and without the change feed rows, bench/listing.ts, whose index section is the SQLite store commit alone with and without the listing index, and bench/cluster-journal.ts, the Redis journal\'s write path alone on one Redis and on a cluster.',
      severity: 'error',
      from: { path: '^bench/', pathNot: '^bench/(floor-server|feed|listing|cluster-journal)\\.ts$' },
      to: { path: '^src/', pathNot: ['^src/runtime/(runtime|config)\\.ts$', '^src/(domain|ops)/', '^src/http/(body|validate|respond)\\.ts$'] },
    },
    {
      name: 'no-cycles',
      comment: 'No import cycles, at any size.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // TypeScript 7 (the project's tsc) has no JavaScript API; swc parses the sources instead.
    parser: 'swc',
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/types/' },
  },
}
