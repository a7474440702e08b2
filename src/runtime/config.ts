import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import { DEFAULT_CACHE_MIB } from '../adapters/sqlite/store'

const Int = (options: { minimum: number; maximum?: number; default: number; description: string }) => Type.Integer(options)
const Bool = (options: { default: boolean; description: string }) => Type.Boolean(options)
const Num = (options: { minimum: number; maximum: number; default: number; description: string }) => Type.Number(options)

// Keys are RFC 6750 b64token characters; origins are scheme://host[:port] with no path.
const KEY_LIST = '^\\s*[A-Za-z0-9._~+/-]+=*\\s*(,\\s*[A-Za-z0-9._~+/-]+=*\\s*)*$'
const ORIGIN_LIST = '^(\\*|https?://[^\\s,/]+(\\s*,\\s*https?://[^\\s,/]+)*)$'

/**
 * Every setting the service reads, validated once at start (SPEC §6). Names are the
 * environment variables; README's configuration table is this schema.
 */
export const Config = Type.Object(
  {
    PORT: Int({ minimum: 0, maximum: 65535, default: 8888, description: 'TCP port to listen on (0 = any free port).' }),
    HOST: Type.String({ minLength: 1, default: '0.0.0.0', description: 'Address to bind.' }),
    REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'Redis for the shared cache and the write-behind journal; unset = embedded default.' })),
    REDIS_CLUSTER_NODES: Type.Optional(
      Type.String({
        pattern: '^\\s*[^\\s,:]+:[0-9]{1,5}\\s*(,\\s*[^\\s,:]+:[0-9]{1,5}\\s*)*$',
        errorMessage: 'comma-separated host:port seed nodes of a Redis Cluster',
        description: 'Seed nodes (`host:port,...`) of a Redis Cluster to use instead of one Redis (exclusive with REDIS_URL); see docs/cluster.md.',
      }),
    ),
    JOURNAL_PARTITIONS: Int({
      minimum: 1,
      maximum: 16_384,
      default: 64,
      description: "Redis Cluster: partitions of the journal; a GUID's keys and its partition's journal share one hash slot. Changing it needs the procedure in docs/cluster.md.",
    }),
    REDIS_WAIT_REPLICAS: Int({
      minimum: 0,
      maximum: 16,
      default: 0,
      description:
        "Replicas that must have each write before it is acknowledged (Redis WAIT); not reached within REDIS_WAIT_TIMEOUT_MS means 503. 0 = don't wait (a failover may lose the last acknowledged writes).",
    }),
    REDIS_WAIT_TIMEOUT_MS: Int({ minimum: 1, default: 1_000, description: 'Longest a write waits for REDIS_WAIT_REPLICAS replicas.' }),
    REDIS_PREFIX: Type.String({
      minLength: 1,
      pattern: '^[^{}]+$',
      errorMessage: 'a non-empty string without { or }',
      default: 'guidd:',
      description: 'Prefix of every Redis key and channel guidd uses.',
    }),
    REDIS_TIMEOUT_MS: Int({ minimum: 1, default: 2_000, description: 'Longest a Redis call may take before the request gets 503.' }),
    MONGODB_URL: Type.Optional(
      Type.String({
        pattern: '^mongodb(\\+srv)?://',
        description: 'MongoDB as the durable store; unset = SQLite. Without REDIS_URL it is the journal too (MongoDB-only mode: each write is written through before the reply).',
      }),
    ),
    MONGODB_DB: Type.String({ minLength: 1, default: 'guidd', description: 'MongoDB database name.' }),
    MONGODB_WRITE_CONCERN: Type.String({
      pattern: '^(majority|[1-9][0-9]?)$',
      default: 'majority',
      errorMessage: '`majority` or a number of members from 1 to 99',
      description: "MongoDB-only mode: the `w` of each write's write concern (`majority`, or a number of members), always journaled (`j: true`); it overrides one in MONGODB_URL.",
    }),
    SQLITE_PATH: Type.String({ minLength: 1, default: './data/guidd.sqlite', description: 'SQLite file (WAL mode) for the embedded store.' }),
    SQLITE_SYNCHRONOUS: Type.Union([Type.Literal('NORMAL'), Type.Literal('FULL')], {
      default: 'NORMAL',
      description: 'NORMAL survives a process crash; FULL also survives power loss (one fsync per commit).',
    }),
    SQLITE_CACHE_MIB: Int({
      minimum: 1,
      maximum: 65_536,
      default: DEFAULT_CACHE_MIB,
      description: "Embedded store: SQLite's page cache in MiB, taken as pages are read. Writes stay fast while the GUID index fits: ~28 MiB per million stored GUIDs.",
    }),
    LRU_MAX_ENTRIES: Int({ minimum: 0, maximum: 50_000_000, default: 100_000, description: 'GUIDs kept in memory (0 disables the LRU); ~90 B each, taken as entries arrive.' }),
    NEGATIVE_CACHE_MS: Int({ minimum: 0, default: 2_000, description: 'How long an "absent" answer is remembered in memory.' }),
    LRU_TTL_MS: Type.Optional(
      Type.Integer({
        minimum: 0,
        description:
          'Longest (ms) the LRU answers for a GUID before asking below again (0 = no limit); unset = 1000 in MongoDB-only mode, where it bounds how long an instance serves a GUID another instance changed, 0 otherwise.',
      }),
    ),
    DEFAULT_TTL_SECONDS: Int({ minimum: 1, default: 2_592_000, description: 'Lifetime of a GUID created without expire (30 days).' }),
    TOMBSTONE_TTL_SECONDS: Int({
      minimum: 1,
      default: 86_400,
      description:
        "How long a deleted GUID's tombstone is kept (a replayed older write cannot resurrect it), and in Redis mode how long Redis keeps a state past its `expire` (so a read never falls through to an older version the flusher has not yet replaced).",
    }),
    COMMIT_WINDOW_MS: Int({ minimum: 0, maximum: 100, default: 0, description: 'Embedded journal: how long a group commit waits for company (0 = end of the current I/O turn).' }),
    COMMIT_BATCH_MAX: Int({ minimum: 1, default: 1_000, description: 'Embedded journal: most mutations per SQLite transaction.' }),
    FLUSH_BATCH_MAX: Int({ minimum: 1, default: 500, description: 'Write-behind: most journal entries per store batch.' }),
    FLUSH_INTERVAL_MS: Int({ minimum: 1, default: 100, description: 'Write-behind: longest wait for journal entries.' }),
    JOURNAL_MAX_LAG: Int({ minimum: 1, default: 100_000, description: 'Write-behind: unflushed mutations past which writes get 503.' }),
    JOURNAL_CLAIM_IDLE_MS: Int({ minimum: 1, default: 30_000, description: 'Write-behind: entries pending this long on a live instance are claimed (on a gone one: at once).' }),
    JOURNAL_MAX_ATTEMPTS: Int({ minimum: 1, default: 5, description: 'Write-behind: store rejections of one entry before it is dead-lettered.' }),
    EVENTS_RETENTION_SECONDS: Int({
      minimum: 1,
      default: 86_400,
      description: 'How long the change feed (GET /events) keeps events; a consumer resuming from an older position gets 410 and lists again.',
    }),
    MAX_EVENT_STREAMS: Int({ minimum: 1, default: 1_000, description: 'Most change feed streams one instance serves at once (503 with Retry-After beyond).' }),
    LIST_FLUSH_WAIT_MS: Int({
      minimum: 1,
      maximum: 60_000,
      default: 2_000,
      description: 'Redis modes: longest a listing (GET /guid?user=) waits for the flusher to store the writes journalled before it arrived, so it reflects them; past it, 503 unavailable.',
    }),
    IDEMPOTENCY_TTL_SECONDS: Int({
      minimum: 1,
      maximum: 2_592_000,
      default: 86_400,
      description: 'How long the answer to a write sent with an `Idempotency-Key` is kept and replayed to a retry with the same key.',
    }),
    SWEEP_INTERVAL_MS: Int({ minimum: 1, default: 60_000, description: 'How often expired records are deleted from the store.' }),
    SWEEP_BATCH: Int({ minimum: 1, default: 1_000, description: 'Most expired records deleted per sweep step.' }),
    ACTOR_MAILBOX_MAX: Int({ minimum: 1, default: 1_000, description: 'Requests that may wait on one GUID before 503.' }),
    SHUTDOWN_TIMEOUT_MS: Int({ minimum: 0, default: 10_000, description: 'Longest drain on SIGTERM/SIGINT.' }),
    LOG_LEVEL: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      {
        default: 'info',
        description: "Least severe level logged: JSON lines on stdout in pino's format (pipe them through `npx pino-pretty` to read them in a terminal); info logs one line per request.",
      },
    ),
    LOG_SAMPLE_2XX: Num({
      minimum: 0,
      maximum: 1,
      default: 1,
      description: 'Share of 2xx request lines logged, picked at random (1 = every line, 0.01 = one in a hundred, 0 = none); other statuses are always logged.',
    }),
    API_KEYS: Type.Optional(
      Type.String({
        pattern: KEY_LIST,
        secret: true,
        errorMessage: 'comma-separated keys of letters, digits and -._~+/ (then optional =)',
        description: 'Comma-separated bearer keys; when set (or API_KEYS_FILE is), /guid routes need `Authorization: Bearer <key>`.',
      }),
    ),
    API_KEYS_FILE: Type.Optional(Type.String({ minLength: 1, description: 'File of bearer keys, one a line (`#` comments, blank lines ignored); re-read on SIGHUP.' })),
    AUTH_OPS_ENDPOINTS: Bool({ default: false, description: 'true: /metrics and /docs need a key too (/healthz and /readyz stay open).' }),
    RATE_LIMIT_PER_SECOND: Int({ minimum: 0, default: 0, description: 'Requests per second each client (API key, else address) may make to /guid routes; 0 = no limit.' }),
    RATE_LIMIT_BURST: Int({ minimum: 1, default: 100, description: 'Requests a client may make at once before the rate applies (token bucket size).' }),
    RATE_LIMIT_CLIENTS: Int({ minimum: 1, default: 100_000, description: 'Most clients whose buckets are remembered (least recently seen are forgotten).' }),
    TRUST_PROXY: Bool({ default: false, description: 'true: the client address is the last X-Forwarded-For entry (one trusted proxy in front).' }),
    REQUEST_TIMEOUT_MS: Int({ minimum: 0, default: 10_000, description: 'Longest a request may take before it is answered 503 timeout (0 = none).' }),
    MAX_HEADER_BYTES: Int({
      minimum: 0,
      maximum: 16_384,
      default: 0,
      description: "Most bytes of request headers, answered 431 problem+json above; 0 = Bun's own 16 KiB limit only (a plain 431, and no cost per request).",
    }),
    IDLE_TIMEOUT_SECONDS: Int({ minimum: 1, maximum: 255, default: 10, description: 'Seconds a connection may stay silent (a stalled or slow client) before it is closed.' }),
    CORS_ORIGINS: Type.Optional(
      Type.String({
        pattern: ORIGIN_LIST,
        errorMessage: '`*` or comma-separated origins like https://app.example:8443 (no path)',
        description: 'Comma-separated origins allowed by CORS, or `*`; unset = CORS off.',
      }),
    ),
  },
  { additionalProperties: false },
)
export type Config = Static<typeof Config>

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`)
    this.name = 'ConfigError'
  }
}

/** What a setting accepts, in words: for errors and for `guidd --help`. */
export const describe = (schema: TSchema): string =>
  schema.type === 'boolean'
    ? 'true or false'
    : schema.anyOf
      ? `one of ${schema.anyOf.map((s: TSchema) => s.const).join(', ')}`
      : schema.type === 'integer' || schema.type === 'number'
        ? `${schema.type === 'integer' ? 'an integer' : 'a number'}${schema.minimum !== undefined ? ` >= ${schema.minimum}` : ''}${schema.maximum !== undefined ? ` and <= ${schema.maximum}` : ''}`
        : schema.errorMessage
          ? schema.errorMessage
          : schema.pattern
            ? `a string matching ${schema.pattern}`
            : 'a non-empty string'

/**
 * Reads the known variables out of `env`, converts and defaults them, and checks them all;
 * throws one ConfigError naming every bad variable. Empty strings count as unset.
 */
export const loadConfig = (env: Record<string, string | undefined>): Config => {
  const raw: Record<string, unknown> = {}
  const properties = Config.properties as Record<string, TSchema>
  for (const key of Object.keys(properties)) {
    const value = env[key]
    if (value === undefined || value === '') continue
    // Numbers must be written as plain digits (with a decimal point where a fraction is allowed):
    // no "80.5" for an integer, no "1e3", "0x50" or "true" turned into numbers behind the
    // operator's back (TypeBox's Value.Convert would).
    const type = properties[key]!.type
    raw[key] =
      (type === 'integer' && /^[0-9]{1,15}$/.test(value)) || (type === 'number' && /^[0-9]{1,15}(\.[0-9]{1,15})?$/.test(value))
        ? Number(value)
        : type === 'boolean' && (value === 'true' || value === 'false')
          ? value === 'true'
          : value
  }
  const value = Value.Default(Config, raw)
  const problems = new Map<string, string>()
  for (const error of Value.Errors(Config, value)) {
    const key = error.path.split('/')[1] ?? ''
    if (problems.has(key)) continue
    const schema = (Config.properties as Record<string, TSchema>)[key]
    // A secret's value is never echoed: the message ends up in logs and terminals.
    const shown = schema?.secret ? '(hidden)' : JSON.stringify(raw[key])
    problems.set(key, `${key}=${shown}: must be ${schema ? describe(schema) : 'known'}`)
  }
  if (raw.REDIS_URL !== undefined && raw.REDIS_CLUSTER_NODES !== undefined) {
    problems.set('REDIS_CLUSTER_NODES', 'REDIS_URL and REDIS_CLUSTER_NODES are both set: give one (REDIS_URL for one Redis, REDIS_CLUSTER_NODES for a Redis Cluster)')
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()])
  return value as Config
}
