/**
 * Idempotency keys below HTTP: where a keyed write's answer is kept, and how a key is claimed
 * while its first request runs. The answer is opaque here (the HTTP edge writes and reads it).
 */

/** An answer to keep under a key; it rides on the Mutation when the journal keeps it with the write. */
export interface KeepAnswer {
  /** The key's scope (the caller's API key id) and the key. */
  id: string
  fingerprint: string
  answer: string
  /** Unix seconds after which the answer is forgotten (IDEMPOTENCY_TTL_SECONDS). */
  expire: number
}

export type Claim =
  /** The caller runs the request. `guid`: the GUID a create must use (kept with the claim). */
  | { kind: 'claimed'; token: string; guid: string | undefined; resumed: boolean }
  /** An answer is kept: replay it (same fingerprint) or refuse (another request). */
  | { kind: 'done'; fingerprint: string; answer: string }
  /** Another request under this key runs now. */
  | { kind: 'in-flight'; fingerprint: string }

export interface IdempotencyStore {
  /**
   * Whether the journal keeps a write's answer in the write itself (Mutation.keep: the SQLite
   * transaction, the Redis script). When not (MongoDB-only), `complete` keeps it after the write.
   */
  readonly keptWithWrite: boolean
  /**
   * Where `keptWithWrite` holds only for some GUIDs (Redis Cluster: the key's record must share
   * the GUID's slot): whether a write of `guid` under `id` keeps the answer at the key's record;
   * when not, the write keeps it beside the GUID (where `claim` finds it, given `named`) and
   * `complete` copies it to the key's record after the write.
   */
  keepsWith?(id: string, guid: string): boolean
  /** A GUID for a create under `id` whose answer the write can keep (`keepsWith`); absent: any fresh GUID. */
  guidFor?(id: string): string
  /**
   * Claims `id` for a request with `fingerprint`, or says what holds it. `guid`: the GUID a
   * create would generate, fixed with the claim, so a retry that takes over a claim whose
   * request died creates that same GUID (resumed). `named`: the GUID the request names (its
   * path's, or a create's body's), whose write may have kept the answer beside it (`keepsWith`).
   */
  claim(id: string, fingerprint: string, guid: string | undefined, named?: string): Promise<Claim>
  /** Keeps the answer of a claimed request (one that wrote nothing, or whose journal does not keep answers). */
  complete(token: string, keep: KeepAnswer): Promise<void>
  /** The claimed request's answer was kept with its write: end the claim. */
  settled(id: string, token: string): Promise<void>
  /**
   * The claimed request's answer is not to be kept (401, 429, 5xx): free the key for a retry.
   * Where the write may have landed all the same and its answer is kept after it (MongoDB-only,
   * an intent recorded), the retry takes the claim over at once instead, replaying that write's
   * answer if it landed.
   */
  release(id: string, token: string): Promise<void>
  /**
   * Where answers are kept after the write (MongoDB-only): records, before the write, what it
   * will write and answer. The write itself then leaves the claim's token in its GUID's state
   * (KeyedWrite.trace), so a retry that takes over the claim of a request that died after its
   * write (and before its answer) finds that token, and replays the answer instead of running
   * again; without the token, the write did not land (whatever version another writer made).
   */
  intend?(id: string, token: string, intent: WriteIntent): Promise<void>
}

/** What a keyed write is about to write (the GUID and the version it makes) and the answer it will give. */
export interface WriteIntent {
  guid: string
  version: number
  answer: string
}

/**
 * What a keyed write tells the service: the answer to keep with the write (rendered by the
 * HTTP edge from the write's result), and the GUID a create must use.
 */
export interface KeyedWrite {
  id: string
  fingerprint: string
  expire: number
  answer(result: unknown): string
  /** The GUID fixed by the claim (POST /guid). */
  guid: string | undefined
  /** The claim was taken over from a request that died: its create may have landed. */
  resumed: boolean
  /** Set by the service when the answer went into the journal with the write. */
  committed: boolean
  /** Whether the journal keeps answers (IdempotencyStore.keptWithWrite). */
  keepWithWrite: boolean
  /** Whether it keeps this key's answer with a write of `guid` (IdempotencyStore.keepsWith); absent: whenever `keepWithWrite`. */
  keepsWith?: (guid: string) => boolean
  /** Records the write's intent before it is made (IdempotencyStore.intend), where answers are kept after the write. */
  intend?: (intent: WriteIntent) => Promise<void>
  /** With `intend`: the claim's token, which the write leaves in its GUID's state (Mutation.trace). */
  trace?: string
}
