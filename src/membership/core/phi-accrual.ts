/**
 * @module membership/core/phi-accrual
 * The phi-accrual failure detector (Hayashibara et al. 2004, as Akka and Cassandra use it): instead of a
 * yes/no timeout it reports phi = -log10(P(a heartbeat arrives later than now)), assuming inter-arrival
 * times are normal with the mean and deviation of a sliding window. phi 8 means a 1e-8 chance that the peer
 * is alive and merely late.
 *
 * Two knobs keep one slow beat from looking like a death: a minimum standard deviation (a perfectly regular
 * sender would otherwise make any jitter fatal) and an acceptable pause added to the mean (a GC pause or a
 * busy event loop). Time is an input in ms; nothing here reads a clock.
 */
import { assert } from '../../util/assert.js'

export interface PhiAccrualOptions {
  /** Intervals kept in the sliding window. */
  windowSize: number
  /** Floor for the standard deviation, in ms. */
  minStdDeviationMs: number
  /** Extra time added to the mean before a silence counts against the peer, in ms. */
  acceptablePauseMs: number
  /** The interval assumed before any sample arrives (the configured heartbeat interval), in ms. */
  firstHeartbeatEstimateMs: number
}

/**
 * phi for a silence of `elapsedMs` given the window's `meanMs` and `stdDeviationMs`, using the logistic
 * approximation of the normal CDF that Akka uses (error < 1e-4 over the range that matters).
 */
export function phi (elapsedMs: number, meanMs: number, stdDeviationMs: number): number {
  assert(stdDeviationMs > 0, 'standard deviation must be positive')
  const y = (elapsedMs - meanMs) / stdDeviationMs
  const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
  if (elapsedMs > meanMs) return -Math.log10(e / (1 + e))
  return -Math.log10(1 - 1 / (1 + e))
}

/** Per-peer heartbeat history. Bounded: at most `windowSize` intervals. */
export class PhiAccrualDetector {
  private readonly intervals: number[] = []
  private sum = 0
  private sumOfSquares = 0
  /** Invariant: undefined until the first heartbeat. */
  private lastHeartbeatMs: number | undefined

  constructor (private readonly options: PhiAccrualOptions) {
    assert(options.windowSize >= 2, 'window needs at least 2 samples')
    assert(options.minStdDeviationMs > 0, 'minStdDeviationMs must be positive')
    assert(options.acceptablePauseMs >= 0, 'acceptablePauseMs must be >= 0')
    // Seed the window as Akka does: two synthetic intervals around the expected one, so phi is usable
    // from the second heartbeat on.
    const estimate = options.firstHeartbeatEstimateMs
    const spread = estimate / 4
    this.push(estimate - spread)
    this.push(estimate + spread)
  }

  private push (interval: number): void {
    this.intervals.push(interval)
    this.sum += interval
    this.sumOfSquares += interval * interval
    if (this.intervals.length > this.options.windowSize) {
      const dropped = this.intervals.shift() as number
      this.sum -= dropped
      this.sumOfSquares -= dropped * dropped
    }
  }

  /** Records a heartbeat arriving at `nowMs`. */
  heartbeat (nowMs: number): void {
    if (this.lastHeartbeatMs !== undefined && nowMs > this.lastHeartbeatMs) this.push(nowMs - this.lastHeartbeatMs)
    this.lastHeartbeatMs = Math.max(nowMs, this.lastHeartbeatMs ?? nowMs)
  }

  /**
   * The peer is heard again at `nowMs` after a verdict (declared dead, or left): its silence restarts from now,
   * but the gap is not an interval it sends at and is not sampled. Sampled, one 10 s gap raised the spread of a
   * 500 ms sender to ≈ 1.4 s for the window's next 200 beats, and a crash then took ≈ 9 s to suspect, not 2 s.
   * Akka's detector leaves out the first heartbeat after a failure for the same reason.
   */
  resume (nowMs: number): void {
    this.lastHeartbeatMs = Math.max(nowMs, this.lastHeartbeatMs ?? nowMs)
  }

  /**
   * The observer itself was stalled for `ms` up to `nowMs`: that time is not the peer's silence, so the last
   * heartbeat moves forward by it (never past `nowMs`). Adds no interval sample.
   */
  excuse (ms: number, nowMs: number): void {
    if (this.lastHeartbeatMs === undefined || ms <= 0) return
    this.lastHeartbeatMs = Math.max(this.lastHeartbeatMs, Math.min(nowMs, this.lastHeartbeatMs + ms))
  }

  get lastHeartbeat (): number | undefined {
    return this.lastHeartbeatMs
  }

  meanMs (): number {
    return this.sum / this.intervals.length
  }

  stdDeviationMs (): number {
    const mean = this.meanMs()
    const variance = Math.max(0, this.sumOfSquares / this.intervals.length - mean * mean)
    return Math.max(Math.sqrt(variance), this.options.minStdDeviationMs)
  }

  /** phi at `nowMs`; 0 before the first heartbeat. */
  phi (nowMs: number): number {
    if (this.lastHeartbeatMs === undefined) return 0
    const elapsed = Math.max(0, nowMs - this.lastHeartbeatMs)
    return phi(elapsed, this.meanMs() + this.options.acceptablePauseMs, this.stdDeviationMs())
  }
}
