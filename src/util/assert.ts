/**
 * @module util/assert
 * Programmer-error assertions (STYLE §10–11). They stay on in production: a failed assertion means the
 * process is in a state the code never meant to reach, and crashing is safer than continuing.
 */

/** Thrown only for programmer errors; never caught except at the top of the process. */
export class AssertionError extends Error {
  static override readonly name = 'AssertionError'
  constructor (message = 'assertion failed') {
    super(message)
    this.name = 'AssertionError'
  }
}

/** Asserts `condition`; the message is built lazily only on failure. */
export function assert (condition: unknown, message?: string | (() => string)): asserts condition {
  if (condition) return
  throw new AssertionError(typeof message === 'function' ? message() : (message ?? 'assertion failed'))
}

/** Marks a branch that must be unreachable (exhaustive switches). */
export function unreachable (value: never, label = 'value'): never {
  throw new AssertionError(`unreachable ${label}: ${String(value)}`)
}

/**
 * Operating errors (no leader, a pending change) are retried; a failed assertion is a bug and must
 * reach the top of the process, never a debug line.
 */
export function rethrowBug (err: unknown): void {
  if (err instanceof Error && err.name === 'AssertionError') throw err
}
