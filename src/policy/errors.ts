/**
 * @module policy/errors
 * Operating errors of the policy layer (STYLE §10); callers match on `name`.
 */

/**
 * An operator's role change contradicts the target topology: the policy would undo or counteract it.
 * The message says what the counts would be and what the policy would do (issue 12 item 2).
 */
export class ContradictsTargetError extends Error {
  static override readonly name = 'ContradictsTargetError'
  constructor (message: string) {
    super(message)
    this.name = 'ContradictsTargetError'
  }
}
