/**
 * @module cli/validate
 * Checks the CLI makes before any request, so a typo gets a clear message and exit code 3 without touching
 * the node. The server checks again (the API is also used directly); these exist for the message.
 */
import { CONTROL_PLANE_ROLES } from '../consensus/shape/core/types.js'
import type { ControlPlaneRole, TargetTopology } from '../consensus/shape/core/types.js'

/** Bad arguments or options (exit code 3). */
export class CliInputError extends Error {
  static override readonly name = 'CliInputError'
  constructor (message: string) {
    super(message)
    this.name = 'CliInputError'
  }
}

/** A NodeId is a libp2p PeerId in base58btc (`12D3KooW…`, 52 characters for the ed25519 keys we make). */
const NODE_ID_PATTERN = /^[1-9A-HJ-NP-Za-km-z]{40,64}$/

export function checkNodeId (value: string): string {
  if (!NODE_ID_PATTERN.test(value)) {
    throw new CliInputError(`"${value}" is not a NodeId (a base58 PeerId like 12D3KooW…; see \`revoada shape\` or \`revoada members\`)`)
  }
  return value
}

export function parseRoles (value: string): ControlPlaneRole[] {
  const roles = value.split(',').map((r) => r.trim()).filter((r) => r !== '')
  const bad = roles.filter((r) => !(CONTROL_PLANE_ROLES as readonly string[]).includes(r))
  if (roles.length === 0 || bad.length > 0) {
    throw new CliInputError(`--roles: ${bad.length > 0 ? `unknown role ${bad.join(',')}` : 'empty'}; expected a comma-separated list of ${CONTROL_PLANE_ROLES.join(', ')}`)
  }
  return [...new Set(roles)] as ControlPlaneRole[]
}

/** Inclusive ranges of each target count (the shape's own limits). */
export const TARGET_RANGES: Readonly<Record<keyof TargetTopology, readonly [number, number]>> = {
  apiServers: [0, 16], etcd: [1, 7], schedulers: [0, 16], controllerManagers: [0, 16], minWorkers: [0, 1024]
}

/** A whole number as the CLI takes one: decimal digits, few enough to stay a safe integer. */
export const DECIMAL_DIGITS = /^\d{1,15}$/

/**
 * A count or an index the operator wrote: decimal digits only (`Number()` alone also took `0x3`, ` 3`, `3.0`,
 * `1e1` and `+3`), within [min, max].
 * @throws CliInputError (exit 3) for anything else
 */
export function parseCount (flag: string, value: string, [min, max]: readonly [number, number]): number {
  const n = DECIMAL_DIGITS.test(value) ? Number(value) : NaN
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new CliInputError(`${flag}: expected a whole number ${min}..${max}, got "${value}"`)
  return n
}

/**
 * A positive duration in seconds, decimal (`0.5`, `120`): no hexadecimal, exponent, sign or spaces.
 * @throws CliInputError (exit 3) for anything else
 */
export function parseSeconds (flag: string, value: string): number {
  const n = /^\d{1,9}(\.\d{1,9})?$/.test(value) ? Number(value) : NaN
  if (!Number.isFinite(n) || n <= 0) throw new CliInputError(`${flag}: expected a positive number of seconds, got "${value}"`)
  return n
}
