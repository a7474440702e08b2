import { bodyShell } from './body'
import type { Req } from './wire'

/**
 * What one run did, as a bash script a human can replay against any guidd: the GUIDs are
 * fresh ones of the replay's own, every `expire` is computed from the replay's clock with
 * the same offsets, the replay starts at the same point within a second as the run did
 * (expiry is in whole seconds), waits between requests as the run did, and an If-Match or
 * If-None-Match that carried an ETag answered earlier carries that step's ETag again.
 * Each step's comment says what the model expected and what the service answered.
 */

const HEADER = `#!/usr/bin/env bash
# Replay of a guidd model-test failure (test/model). B is the service to replay against.
B=\${B:-http://127.0.0.1:8888}
# call STEP curl-args...: prints the status line and the body; sets E<STEP> to the ETag and J<STEP> to the body's guid.
call() {
  local n=$1 out; shift
  out=$(curl -s -i "$@" | tr -d '\\r')
  printf '[%s] %s | %s\\n' "$n" "$(printf '%s\\n' "$out" | head -1)" "$(printf '%s\\n' "$out" | tail -1)"
  printf -v "E$n" '%s' "$(printf '%s\\n' "$out" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p')"
  printf -v "J$n" '%s' "$(printf '%s\\n' "$out" | sed -n 's/.*"guid":"\\([0-9A-F]\\{32\\}\\)".*/\\1/p')"
}
fresh() { tr -d '-' </proc/sys/kernel/random/uuid | tr 'a-f' 'A-F'; }
pause() { read -r -p "--- $1; then press Enter " _ </dev/tty; }
`

const dq = (s: string): string => s.replace(/[\\"$`]/g, (c) => `\\${c}`)

export class Transcript {
  private readonly lines: string[] = []
  private steps = 0
  private lastMs: number
  /** ETag header value -> the shell variable of the step that was answered with it. */
  private readonly etagVars = new Map<string, string>()
  readonly startMs = Date.now()

  constructor(private readonly guidCount: number) {
    this.lastMs = this.startMs
  }

  /** One request and its answer (or its failure), with what the model expected. */
  http(req: Req, shellPath: string, t0: number, t1: number, answer: string, expected: string[], etag: string | null, generated: string | null): void {
    const n = ++this.steps
    this.gap(t0)
    this.lastMs = t1
    const url = `"$B${shellPath}"`
    const args = req.method === 'GET' ? [] : ['-X', req.method]
    for (const [name, value] of Object.entries(req.headers)) {
      let v = dq(value)
      for (const [tag, variable] of this.etagVars) v = v.replaceAll(dq(tag), `$${variable}`)
      args.push('-H', `"${name}: ${v}"`)
    }
    if (req.body !== null) {
      args.push('-H', "'content-type: application/json'")
      args.push('--data-binary', bodyShell(req.body, Math.floor(this.startMs / 1000)))
    }
    this.lines.push(`# expected: ${expected.join(' | ')}`, `# answered: ${answer}`, `call ${n} ${args.concat(url).join(' ')}`)
    if (etag !== null && !this.etagVars.has(etag)) this.etagVars.set(etag, `E${n}`)
    if (generated !== null) this.lines.push(`G${this.guidCount - 1}=$J${n}`)
  }

  /** A step a human does by hand (kill -9 and restart, a fault). */
  manual(what: string, t0: number, t1: number): void {
    this.gap(t0)
    this.lastMs = t1
    this.lines.push(`pause '${what.replace(/'/g, '')}'`)
  }

  /** A deliberate wait, kept as a sleep. */
  waited(t0: number, t1: number): void {
    this.gap(t0)
    this.lines.push(`sleep ${((t1 - t0) / 1000).toFixed(3)}  # the model waits for an expiry`)
    this.lastMs = t1
  }

  private gap(t: number): void {
    const ms = t - this.lastMs
    if (ms >= 20) this.lines.push(`sleep ${(ms / 1000).toFixed(3)}`)
  }

  script(): string {
    const phase = this.startMs % 1000
    const guids = Array.from({ length: this.guidCount }, (_, i) => `G${i}=$(fresh)`).join('; ')
    return [
      HEADER,
      `# Start at the same point within a second as the run did (${phase} ms past), then count from T0.`,
      `now=$(date +%s%3N); sleep "$(printf '0.%03d' $(( (${phase} - now % 1000 + 1000) % 1000 )))"`,
      'T0=$(date +%s)',
      guids,
      ...this.lines,
      '',
    ].join('\n')
  }
}
