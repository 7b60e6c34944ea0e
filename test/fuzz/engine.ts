/**
 * @module test/fuzz/engine
 * Runs one target for N inputs from one seed. Input i is a pure function of (seed, i): its own
 * FuzzRng is seeded from both, so any failing input is reproduced without replaying the ones before it.
 * Half the inputs are structure-aware (target.generate), half are byte mutations of the corpus or of a
 * structured input.
 */
import { mutateBytes } from './mutate.js'
import { FuzzRng } from './rng.js'
import type { FuzzTarget } from './target.js'
import { FuzzInvariantError } from './target.js'

export interface FuzzFailure {
  target: string
  seed: number
  run: number
  input: Uint8Array
  error: Error
}

export interface FuzzReport {
  target: string
  seed: number
  runs: number
  /** Inputs rejected with one of the target's typed errors (the rest were accepted). */
  typedRejections: number
  failures: FuzzFailure[]
  seconds: number
  /** CPU seconds (user + system) this process spent: on a loaded machine a fairer cost than `seconds`. */
  cpuSeconds: number
}

/** The seed of input `run` under `seed` (a 32-bit mix of both). */
export function inputSeed (seed: number, run: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(run + 1, 0x165667b1)) | 0
}

/** Input `run` of `target` under `seed`. */
export function makeInput (target: FuzzTarget, corpus: readonly Uint8Array[], seed: number, run: number): Uint8Array {
  const rng = new FuzzRng(inputSeed(seed, run))
  const mode = rng.int(4)
  if (mode <= 1 || corpus.length === 0) return target.generate(rng, corpus)
  if (mode === 2) return mutateBytes(rng, target.generate(rng, corpus), corpus)
  return mutateBytes(rng, rng.pick(corpus), corpus)
}

/**
 * Keys an input added to Object.prototype (prototype pollution), removed again so that later inputs
 * run in a clean process. Empty when the prototype is untouched.
 */
function takePollution (): string[] {
  const keys = Object.keys(Object.prototype)
  for (const key of keys) delete (Object.prototype as Record<string, unknown>)[key]
  return keys
}

/** Runs one input; returns 'ok', 'typed' or the crash (prototype pollution counts as one). */
export async function runInput (target: FuzzTarget, input: Uint8Array): Promise<'ok' | 'typed' | Error> {
  let outcome: 'ok' | 'typed' | Error
  try {
    const pending = target.run(input)
    if (pending !== undefined) await pending
    outcome = 'ok'
  } catch (err) {
    const error = err instanceof Error ? err : new Error(`non-Error thrown: ${String(err)}`)
    outcome = target.typedErrors.includes(error.name) ? 'typed' : error
  }
  const polluted = takePollution()
  if (polluted.length > 0) return new FuzzInvariantError(`the input polluted Object.prototype with ${polluted.join(', ')}`)
  return outcome
}

export interface RunOptions {
  seed: number
  runs: number
  /** Stop after this many failures. @default 5 */
  maxFailures?: number
  /** Stop after this many seconds even if fewer than `runs` inputs ran (long runs on a shared machine). */
  maxSeconds?: number
  onProgress?: (done: number) => void
}

export async function fuzzTarget (target: FuzzTarget, options: RunOptions): Promise<FuzzReport> {
  const started = performance.now()
  const cpuBefore = process.cpuUsage()
  if (target.setup !== undefined) await target.setup()
  const corpus = target.corpus(new FuzzRng(options.seed))
  const failures: FuzzFailure[] = []
  let typedRejections = 0
  let run = 0
  const deadline = options.maxSeconds !== undefined ? started + options.maxSeconds * 1000 : Infinity
  for (; run < options.runs && failures.length < (options.maxFailures ?? 5); run++) {
    if (run % 256 === 0 && performance.now() > deadline) break
    const input = makeInput(target, corpus, options.seed, run)
    const outcome = await runInput(target, input)
    if (outcome === 'typed') typedRejections++
    else if (outcome !== 'ok') failures.push({ target: target.name, seed: options.seed, run, input, error: outcome })
    if (options.onProgress !== undefined && (run + 1) % 100_000 === 0) options.onProgress(run + 1)
  }
  const cpu = process.cpuUsage(cpuBefore)
  return {
    target: target.name, seed: options.seed, runs: run, typedRejections, failures,
    seconds: (performance.now() - started) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6
  }
}
