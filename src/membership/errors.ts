/**
 * @module membership/errors
 * Operating errors of the membership layer (STYLE §10): one class per condition, matched by `name`.
 */
import { MAX_LABELS } from './core/constants.js'

/**
 * This node's own heartbeat would encode to more than MAX_HEARTBEAT_BYTES: every peer would drop it
 * (`too-large`), so a joiner would never be admitted and a member would be judged dead by everyone.
 */
export class HeartbeatTooLargeError extends Error {
  static override readonly name = 'HeartbeatTooLargeError'
  constructor (readonly bytes: number, readonly bytesMax: number) {
    super(`this node's heartbeat encodes to up to ${bytes} bytes, above the ${bytesMax} every peer accepts: ` +
      'shorten or remove labels (membership.labels)')
    this.name = 'HeartbeatTooLargeError'
  }
}

/** This node's own heartbeat fails the validator every peer runs (core/validate.ts): every peer would drop it. */
export class HeartbeatInvalidError extends Error {
  static override readonly name = 'HeartbeatInvalidError'
  constructor (message = `this node's heartbeat fails the checks every peer applies (more than ${MAX_LABELS} labels, or a label, version or address too long)`) {
    super(message)
    this.name = 'HeartbeatInvalidError'
  }
}
