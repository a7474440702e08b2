/**
 * Polls `check` until it holds, bounded: for effects that arrive on their own schedule (the
 * flusher, an invalidation, a signal's effect, a background sampler). Throws naming `what`
 * when `timeoutMs` passes first, or at once when `abort` returns an error (a failure seen
 * elsewhere that makes waiting pointless).
 */
export const eventually = async (
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 5_000, everyMs = 10, abort }: { timeoutMs?: number; everyMs?: number; abort?: () => Error | undefined } = {},
): Promise<void> => {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    const aborted = abort?.()
    if (aborted !== undefined) throw aborted
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`)
    await Bun.sleep(everyMs)
  }
}
