/**
 * @module test/fuzz/target
 * What a fuzz target is: a decoder (or a decoder plus the code that consumes its output) fed one input
 * of bytes at a time. An input passes when the target returns, or throws one of its typed errors (an
 * operating error whose `name` the target lists). Anything else — a TypeError, a RangeError, an
 * AssertionError, a FuzzInvariantError from the target's own checks — is a crash.
 */
import type { FuzzRng } from './rng.js'

export interface FuzzTarget {
  readonly name: string
  readonly description: string
  /** Error names that are the target's typed rejections of bad input. */
  readonly typedErrors: readonly string[]
  /** One-time async preparation (keys, servers) before corpus() and run(). */
  setup?(): Promise<void>
  /** Valid inputs (built once per process): the byte mutator's starting points. */
  corpus(rng: FuzzRng): Uint8Array[]
  /** A structure-aware input: a valid structure with extreme or wrong-typed values. */
  generate(rng: FuzzRng, corpus: readonly Uint8Array[]): Uint8Array
  /** Feeds one input; throws on a crash or an invariant violation. */
  run(input: Uint8Array): void | Promise<void>
  /** Releases what the target holds (temp dirs, servers). */
  close?(): void | Promise<void>
}

/** The target's own check failed: the code accepted an input and then broke a stated invariant. */
export class FuzzInvariantError extends Error {
  static override readonly name = 'FuzzInvariantError'
  constructor (message: string) {
    super(message)
    this.name = 'FuzzInvariantError'
  }
}

/** Asserts a target invariant. */
export function invariant (condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new FuzzInvariantError(typeof message === 'function' ? message() : message)
}
