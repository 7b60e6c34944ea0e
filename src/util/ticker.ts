/**
 * @module util/ticker
 * One wake-up for a node's periodic duties (issue 16: what an idle node costs). An idle node's CPU is mostly
 * the event loop waking up, not the work each timer does: a lone node measured ≈ 43 timer callbacks a second
 * from a dozen `setInterval`s (Raft's 100 ms tick and membership's 100 ms detector tick each woke the process
 * ten times a second, out of phase; admission, dashboard, attestation, metrics, redial on their own 0.5–1 s
 * timers), and one empty wake-up costs ≈ 70–170 µs of CPU on this machine (docs/bench/scale.md, "What a lone
 * idle node does"). A `Ticker` runs every duty whose period is a multiple of its base period from one
 * interval: a 500 ms duty runs on every fifth base tick, so the process wakes ten times a second in all.
 * Duties with other periods get their own interval, as before.
 *
 * Each node owns one ticker (`ServiceContext.ticker`); nodes sharing a process (tests) do not share one, so
 * their Raft ticks keep independent phases as separate processes have.
 */

/** Stops one duty; idempotent. */
export type StopDuty = () => void

/** Runs periodic duties. */
export interface Ticker {
  /**
   * Runs `run` every `periodMs` (first after one period, like `setInterval`) until the returned function
   * is called. A duty that throws does not stop the others: the error is rethrown on the next tick of
   * the process (an uncaught exception, as from its own `setInterval`).
   */
  every: (periodMs: number, run: () => void) => StopDuty
}

/** Base period of a node's ticker: Raft's and membership's tick. */
export const NODE_TICK_MS = 100

interface Duty { every: number, left: number, run: () => void, stopped: boolean }

/** A ticker that gives every duty its own `setInterval` (tests, and code run outside a node). */
export const intervalTicker: Ticker = {
  every (periodMs, run) {
    const timer = setInterval(run, periodMs)
    timer.unref?.()
    return () => { clearInterval(timer) }
  }
}

/**
 * A ticker with one `setInterval` of `baseMs` for every duty whose period is a whole multiple of it. The
 * interval exists only while such duties do, and never holds the process open (`unref`).
 */
export function createTicker (baseMs: number = NODE_TICK_MS): Ticker & { readonly duties: number } {
  const duties: Duty[] = []
  let timer: NodeJS.Timeout | undefined
  const tick = (): void => {
    // Duties added or stopped by a duty take effect from the next tick.
    for (const duty of [...duties]) {
      if (duty.stopped || --duty.left > 0) continue
      duty.left = duty.every
      try {
        duty.run()
      } catch (err) {
        process.nextTick(() => { throw err })
      }
    }
  }
  return {
    get duties () { return duties.length },
    every (periodMs, run) {
      const every = periodMs / baseMs
      if (!Number.isInteger(every) || every < 1) return intervalTicker.every(periodMs, run)
      const duty: Duty = { every, left: every, run, stopped: false }
      duties.push(duty)
      if (timer === undefined) {
        timer = setInterval(tick, baseMs)
        timer.unref?.()
      }
      return () => {
        if (duty.stopped) return
        duty.stopped = true
        duties.splice(duties.indexOf(duty), 1)
        if (duties.length === 0) {
          clearInterval(timer)
          timer = undefined
        }
      }
    }
  }
}
