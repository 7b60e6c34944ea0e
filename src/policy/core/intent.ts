/**
 * @module policy/core/intent
 * Operator intent against the target (issue 12 item 2): before an operator's promote or demote is
 * proposed, run the policies on the shape as it would be and compare with what they want now. If the
 * change makes them act on the roles it touches (a scale-down after a promote beyond the target, a
 * re-promotion after a demote below it) the change contradicts the target: it would be undone or
 * counteracted seconds later. The caller refuses it with this explanation unless the operator pins it
 * (`--pin`: the policies then scale around it) or forces it (`--force`: accepted as it is).
 */
import { transition } from '../../consensus/shape/core/apply.js'
import type { MeshShape } from '../../consensus/shape/core/mesh-shape.js'
import { targetFor } from '../../consensus/shape/core/types.js'
import { describe } from './gates.js'
import type { Command, ControlPlaneRole, Policy, PolicyInput, Proposal } from './types.js'

export interface IntentConflict {
  /** One line: the counts the change leads to and what the policy would do about it. */
  message: string
  /** Per touched role, holders after the change and the target. */
  counts: Array<{ role: ControlPlaneRole, holders: number, target: number }>
  /** What the policies would propose after the change that they do not propose now. */
  wouldHappen: Proposal[]
}

const key = (p: Proposal): string => JSON.stringify(p.command)

/**
 * The conflict between an operator's `command` and the target, or null when there is none (or when the
 * command is not a promote/demote, or would be rejected anyway — the commit then says why).
 */
export function intentConflict (input: Omit<PolicyInput, 'shape'> & { shape: MeshShape, command: Command, policies: readonly Policy[] }): IntentConflict | null {
  const { command, shape } = input
  if (command.kind !== 'promote' && command.kind !== 'demote') return null
  const after = transition(shape, command)
  if (after.kind !== 'applied') return null
  // The node the operator changes counts as just promoted, as it will be once committed.
  const gainedAtMs = new Map(input.gainedAtMs ?? [])
  if (command.kind === 'promote') for (const role of command.roles) gainedAtMs.set(`${command.nodeId} ${role}`, input.nowMs)
  const evaluate = (s: MeshShape, gained: ReadonlyMap<string, number>): Proposal[] =>
    input.policies.flatMap((policy) => policy.evaluate({ ...input, shape: s, gainedAtMs: gained }).proposals)
  const now = new Set(evaluate(shape, input.gainedAtMs ?? new Map()).map(key))
  const touches = (p: Proposal): boolean => (p.command.kind === 'promote' || p.command.kind === 'demote') &&
    p.command.roles.some((role) => command.roles.includes(role))
  const wouldHappen = evaluate(after.shape, gainedAtMs).filter((p) => touches(p) && !now.has(key(p)))
  if (wouldHappen.length === 0) return null
  const counts = command.roles.map((role) => ({ role, holders: after.shape.holders(role).length, target: targetFor(after.shape.target, role) }))
  const off = counts.filter((c) => c.holders !== c.target)
  const what = wouldHappen.map((p) => describe(p.command)).join(', ')
  const message = `${(off.length > 0 ? off : counts).map((c) => `${c.role} would be ${c.holders}/${c.target}`).join(', ')}; ` +
    `the policy would ${what} — pin the change (--pin) to have the policy scale around it, or --force to propose it as it is`
  return { message, counts, wouldHappen }
}
