/**
 * @module bench/revoada/probe
 * The failover write probe shared by bench:consensus (revoada and etcd alike) and bench:failover: after the
 * kill, start a fresh write attempt every PROBE_SPACING_MS without waiting for earlier ones, and report the
 * time of the first acknowledgement. Retrying one attempt at a time after a timeout would quantize the result
 * to the timeout (a write sent while no leader exists hangs until it expires): with a 500 ms timeout both
 * systems' figures came out as multiples of ~500 ms.
 */

/** A new attempt this often (the resolution of the measurement). */
export const PROBE_SPACING_MS = 50
/** Each attempt gives up after this long (bounds how many are in flight: timeout ÷ spacing). */
export const PROBE_ATTEMPT_TIMEOUT_MS = 3_000

/**
 * Resolves with ms from `since` to the first attempt that resolves (an attempt that throws just ends);
 * `attempt(k, timeoutMs)` is the k-th write. Rejects after `deadlineMs` without any acknowledgement.
 */
export async function firstAcknowledged (since: number, deadlineMs: number, attempt: (k: number, timeoutMs: number) => Promise<unknown>): Promise<number> {
  return await new Promise((resolve, reject) => {
    let done = false
    let k = 0
    const finish = (fn: () => void): void => {
      if (done) return
      done = true
      clearInterval(timer)
      fn()
    }
    const launch = (): void => {
      if (performance.now() - since > deadlineMs) { finish(() => { reject(new Error(`no write acknowledged within ${deadlineMs} ms`)) }); return }
      attempt(k++, PROBE_ATTEMPT_TIMEOUT_MS).then(() => { const at = performance.now() - since; finish(() => { resolve(at) }) }, () => {})
    }
    const timer = setInterval(launch, PROBE_SPACING_MS)
    launch()
  })
}
