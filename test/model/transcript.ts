import { bodyShell } from './body'
import type { Req } from './wire'

/**
 * What one run did, as a bash script a human can replay against any guidd: the GUIDs are
 * fresh ones of the replay's own, every `expire` is computed from the replay's clock with
 * the same offsets, the replay starts at the same point within a second as the run did
 * (expiry is in whole seconds) and sends each request at the same moment after its start
 * (`at MS`, a little early: curl and the shell take ~20-30 ms to start, which the original
 * run did not spend; LEAD_MS sets how much), and an If-Match or If-None-Match that carried
 * an ETag answered earlier carries that step's ETag again. Each step's comment says what the
 * model expected and what the service answered. After a step done by hand the clock of the
 * replay starts again from there.
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
# at MS: waits until MS after the start (less LEAD_MS); rebase MS: the start is now MS ago.
at() { local d=$(( START + $1 - \${LEAD_MS:-30} - $(date +%s%3N) )); if (( d > 0 )); then sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"; fi; }
rebase() { START=$(( $(date +%s%3N) - $1 )); }
pause() { read -r -p "--- $1; then press Enter " _ </dev/tty; }
`

const dq = (s: string): string => s.replace(/[\\"$`]/g, (c) => `\\${c}`)

export class Transcript {
  private readonly lines: string[] = []
  private steps = 0
  /** ETag header value -> the shell variable of the step that was answered with it. */
  private readonly etagVars = new Map<string, string>()
  readonly startMs = Date.now()

  constructor(private readonly guidCount: number) {}

  /** One request and its answer (or its failure), with what the model expected. */
  http(req: Req, shellPath: string, t0: number, answer: string, expected: string[], etag: string | null, generated: string | null): void {
    const n = ++this.steps
    const url = `"$B${shellPath}"`
    const args = req.method === 'GET' ? [] : ['-X', req.method]
    for (const [name, value] of Object.entries(req.headers)) {
      let v = dq(value)
      for (const [tag, variable] of this.etagVars) v = v.replaceAll(dq(tag), `$${variable}`)
      args.push('-H', `"${name}: ${v}"`)
    }
    this.lines.push(`# expected: ${expected.join(' | ')}`, `# answered: ${answer}`)
    // The body is built before the wait, so its date arithmetic does not delay the request.
    if (req.body !== null) {
      this.lines.push(`body=${bodyShell(req.body, Math.floor(this.startMs / 1000))}`)
      args.push('-H', "'content-type: application/json'", '--data-binary', '"$body"')
    }
    this.lines.push(`at ${t0 - this.startMs}`, `call ${n} ${args.concat(url).join(' ')}`)
    if (etag !== null && !this.etagVars.has(etag)) this.etagVars.set(etag, `E${n}`)
    if (generated !== null) this.lines.push(`G${this.guidCount - 1}=$J${n}`)
  }

  /** A step a human does by hand (kill -9 and restart, a fault); the replay's clock goes on from its end. */
  manual(what: string, t0: number, t1: number): void {
    this.lines.push(`at ${t0 - this.startMs}`, `pause '${what.replace(/'/g, '')}'`, `rebase ${t1 - this.startMs}`)
  }

  /** A deliberate wait for an expiry: the next step's `at` keeps it. */
  waited(t0: number, t1: number): void {
    this.lines.push(`# the model waits ${t1 - t0} ms for an expiry`)
  }

  script(): string {
    const phase = this.startMs % 1000
    const guids = Array.from({ length: this.guidCount }, (_, i) => `G${i}=$(fresh)`).join('; ')
    return [
      HEADER,
      guids,
      `# Start at the same point within a second as the run did (${phase} ms past); T0 is that second.`,
      `now=$(date +%s%3N); sleep "$(printf '0.%03d' $(( (${phase} - now % 1000 + 1000) % 1000 )))"`,
      'START=$(date +%s%3N); T0=$(( START / 1000 ))',
      ...this.lines,
      '',
    ].join('\n')
  }
}
