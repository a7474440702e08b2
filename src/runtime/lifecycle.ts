import { Deadline, TIMED_OUT, withTimeout } from '../domain/clock'
import type { Logger } from '../ops/logger'

type CloseStep = (remainingMs: number) => unknown

/**
 * The one owner of shutdown. Whoever opens a resource registers its close step right there;
 * `close` runs the steps in reverse order of registration (the last opened closes first, so
 * nothing is closed while something opened after it still uses it), all under one deadline.
 * A step that outlives the deadline is logged and left behind; the rest still run.
 */
export class Lifecycle {
  private readonly steps: Array<{ name: string; close: CloseStep }> = []
  private closing: Promise<void> | undefined

  constructor(private readonly logger: Logger) {}

  /** `close` is told how many milliseconds of the deadline are left. */
  onClose(name: string, close: CloseStep): void {
    this.steps.push({ name, close })
  }

  close(deadlineMs: number): Promise<void> {
    this.closing ??= this.run(new Deadline(deadlineMs))
    return this.closing
  }

  private async run(deadline: Deadline): Promise<void> {
    for (const step of this.steps.toReversed()) {
      try {
        const done = await withTimeout(Promise.resolve(step.close(deadline.remainingMs)), deadline.remainingMs)
        if (done === TIMED_OUT) this.logger.warn({ step: step.name }, 'shutdown deadline passed; leaving this step unfinished')
      } catch (error) {
        this.logger.error({ err: error, step: step.name }, 'shutdown step failed')
      }
    }
  }
}
