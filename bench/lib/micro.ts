/**
 * @module bench/lib/micro
 * Timing of small synchronous operations against each other: each is calibrated to about `targetMs` per batch,
 * then `batches` batches of every operation run in turn (alternated, so a busy moment of the machine falls on
 * all of them), and the median µs per call of each is returned. Wall time, single-threaded: a busy machine shows.
 */
import { median } from './stats.js'

export interface MicroOptions {
  /** @default 200 */
  targetMs?: number
  /** @default 7 */
  batches?: number
}

/** Iterations of `run` that take about `targetMs`. */
function calibrate (run: (i: number) => unknown, targetMs: number): number {
  let iterations = 1
  for (;;) {
    const start = performance.now()
    for (let i = 0; i < iterations; i++) run(i)
    const elapsed = performance.now() - start
    if (elapsed >= 20) return Math.max(1, Math.round(iterations * targetMs / elapsed))
    iterations *= 4
  }
}

/** Median µs per call of each operation (called with its iteration index), by name, in the order given. */
export function alternatedMicros (operations: ReadonlyMap<string, (i: number) => unknown>, options: MicroOptions = {}): Map<string, number> {
  const targetMs = options.targetMs ?? 200
  const batches = options.batches ?? 7
  const iterations = new Map([...operations].map(([name, run]) => [name, calibrate(run, targetMs)]))
  const samples = new Map([...operations.keys()].map((name) => [name, [] as number[]]))
  for (let batch = 0; batch < batches; batch++) {
    for (const [name, run] of operations) {
      const n = iterations.get(name) as number
      const start = performance.now()
      for (let i = 0; i < n; i++) run(i)
      samples.get(name)?.push((performance.now() - start) * 1000 / n)
    }
  }
  return new Map([...samples].map(([name, s]) => [name, median(s)]))
}
