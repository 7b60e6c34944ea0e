/**
 * @module util/deadline
 * A signal that aborts after a timeout or when any other signal aborts, held strongly until it is cleared.
 *
 * Why not `AbortSignal.any([AbortSignal.timeout(ms), other])`: on Node 20 (our floor) that composite signal is held
 * only weakly, by its sources and by the timeout's timer, so once the code waiting on it keeps no reference of its
 * own (an `await` on a promise that only listens to it) the garbage collector takes it and it never aborts: 100 of
 * 100 such signals never fired after a forced collection, while 100 plain `AbortSignal.timeout` signals with a
 * listener all did (`test/util/deadline.test.ts`). Found when a link monitor ping to a frozen peer waited for good
 * in a loaded CI run. Here the timer's callback holds the controller, and each source holds its listener, until the
 * deadline passes, a source aborts, or `clear()` is called.
 */

/** What `deadline` returns: the signal, and `clear()` to call once the operation settled (stops the timer). */
export interface Deadline {
  signal: AbortSignal
  clear: () => void
}

/**
 * A signal that aborts with a `TimeoutError` after `timeoutMs`, or with another signal's reason when it aborts
 * first. Call `clear()` when the operation settles. The timer does not hold the process open.
 */
export function deadline (timeoutMs: number, ...signals: AbortSignal[]): Deadline {
  const controller = new AbortController()
  const onAbort = (event: Event): void => { controller.abort((event.target as AbortSignal).reason) }
  const timer = setTimeout(() => { controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')) }, timeoutMs)
  timer.unref()
  const clear = (): void => {
    clearTimeout(timer)
    for (const s of signals) s.removeEventListener('abort', onAbort)
  }
  for (const s of signals) {
    if (s.aborted) {
      controller.abort(s.reason)
      break
    }
    s.addEventListener('abort', onAbort, { once: true })
  }
  controller.signal.addEventListener('abort', clear, { once: true })
  return { signal: controller.signal, clear }
}
