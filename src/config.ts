import { type Static, type TSchema, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

const Int = (options: { minimum: number; maximum?: number; default: number; description: string }) => Type.Integer(options)

/**
 * Every setting the service reads, validated once at start (SPEC §6). Names are the
 * environment variables; README's configuration table is this schema.
 */
export const Config = Type.Object(
  {
    PORT: Int({ minimum: 0, maximum: 65535, default: 8888, description: 'TCP port to listen on (0 = any free port).' }),
    HOST: Type.String({ minLength: 1, default: '0.0.0.0', description: 'Address to bind.' }),
    REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://', description: 'Redis for the shared cache and the write-behind journal; unset = embedded default.' })),
    REDIS_PREFIX: Type.String({ minLength: 1, default: 'guidd:', description: 'Prefix of every Redis key and channel guidd uses.' }),
    REDIS_TIMEOUT_MS: Int({ minimum: 1, default: 2_000, description: 'Longest a Redis call may take before the request gets 503.' }),
    MONGODB_URL: Type.Optional(Type.String({ pattern: '^mongodb(\\+srv)?://', description: 'MongoDB as the durable store; unset = SQLite.' })),
    MONGODB_DB: Type.String({ minLength: 1, default: 'guidd', description: 'MongoDB database name.' }),
    SQLITE_PATH: Type.String({ minLength: 1, default: './data/guidd.sqlite', description: 'SQLite file (WAL mode) for the embedded store.' }),
    SQLITE_SYNCHRONOUS: Type.Union([Type.Literal('NORMAL'), Type.Literal('FULL')], {
      default: 'NORMAL',
      description: 'NORMAL survives a process crash; FULL also survives power loss (one fsync per commit).',
    }),
    LRU_MAX_ENTRIES: Int({ minimum: 0, default: 100_000, description: 'Records kept in memory (0 disables the LRU).' }),
    NEGATIVE_CACHE_MS: Int({ minimum: 0, default: 2_000, description: 'How long an "absent" answer is remembered in memory.' }),
    DEFAULT_TTL_SECONDS: Int({ minimum: 1, default: 2_592_000, description: 'Lifetime of a GUID created without expire (30 days).' }),
    TOMBSTONE_TTL_SECONDS: Int({ minimum: 1, default: 86_400, description: 'How long a deleted GUID keeps its last version, so a re-create continues from it.' }),
    COMMIT_WINDOW_MS: Int({ minimum: 0, maximum: 100, default: 0, description: 'Embedded journal: how long a group commit waits for company (0 = end of the current I/O turn).' }),
    COMMIT_BATCH_MAX: Int({ minimum: 1, default: 1_000, description: 'Embedded journal: most mutations per SQLite transaction.' }),
    FLUSH_BATCH_MAX: Int({ minimum: 1, default: 500, description: 'Write-behind: most journal entries per store batch.' }),
    FLUSH_INTERVAL_MS: Int({ minimum: 1, default: 100, description: 'Write-behind: longest wait for journal entries.' }),
    JOURNAL_MAX_LAG: Int({ minimum: 1, default: 100_000, description: 'Write-behind: unflushed mutations past which writes get 503.' }),
    JOURNAL_CLAIM_IDLE_MS: Int({ minimum: 1, default: 30_000, description: 'Write-behind: journal entries pending this long on another instance are claimed.' }),
    JOURNAL_MAX_ATTEMPTS: Int({ minimum: 1, default: 5, description: 'Write-behind: store rejections of one entry before it is dead-lettered.' }),
    SWEEP_INTERVAL_MS: Int({ minimum: 1, default: 60_000, description: 'How often expired records are deleted from the store.' }),
    SWEEP_BATCH: Int({ minimum: 1, default: 1_000, description: 'Most expired records deleted per sweep step.' }),
    ACTOR_MAILBOX_MAX: Int({ minimum: 1, default: 1_000, description: 'Requests that may wait on one GUID before 503.' }),
    SHUTDOWN_TIMEOUT_MS: Int({ minimum: 0, default: 10_000, description: 'Longest drain on SIGTERM/SIGINT.' }),
    LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)), {
      default: 'info',
      description: 'Least severe level logged.',
    }),
    API_KEYS: Type.Optional(Type.String({ description: 'Comma-separated bearer keys; when set, /guid routes need one.' })),
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

const describe = (schema: TSchema): string =>
  schema.anyOf ? `one of ${schema.anyOf.map((s: TSchema) => s.const).join(', ')}` : schema.type === 'integer' ? `an integer${schema.minimum !== undefined ? ` >= ${schema.minimum}` : ''}${schema.maximum !== undefined ? ` and <= ${schema.maximum}` : ''}` : schema.pattern ? `a string matching ${schema.pattern}` : 'a non-empty string'

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
    // Integers must be written as plain digits: no "80.5", "1e3", "0x50" or "true" turned into
    // numbers behind the operator's back (TypeBox's Value.Convert would).
    raw[key] = properties[key]!.type === 'integer' && /^[0-9]{1,15}$/.test(value) ? Number(value) : value
  }
  const value = Value.Default(Config, raw)
  const problems = new Map<string, string>()
  for (const error of Value.Errors(Config, value)) {
    const key = error.path.split('/')[1] ?? ''
    if (problems.has(key)) continue
    const schema = (Config.properties as Record<string, TSchema>)[key]
    problems.set(key, `${key}=${JSON.stringify(raw[key])}: must be ${schema ? describe(schema) : 'known'}`)
  }
  if (raw.MONGODB_URL !== undefined && raw.REDIS_URL === undefined && !problems.has('MONGODB_URL')) {
    problems.set('MONGODB_URL', 'MONGODB_URL needs REDIS_URL: the write-behind journal in front of MongoDB lives in Redis')
  }
  if (problems.size > 0) throw new ConfigError([...problems.values()])
  return value as Config
}
