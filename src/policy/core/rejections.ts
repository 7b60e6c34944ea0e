/**
 * @module policy/core/rejections
 * Backoff after a proposal the state machine rejected at apply. A rejection leaves the shape as it was, so the
 * policy, evaluating again from the same inputs, proposed the same command again: every 250 ms (the debounce
 * after each settled proposal) for as long as the condition lasted, each one an entry in the Raft log, a block
 * in the chain and a decision record. Now each (command kind, node) the rejected command changed waits
 * REJECTED_RETRY_MS_MIN after its first rejection, twice as long after each further one in a row, at most
 * REJECTED_RETRY_MS_MAX. The wait ends at once when the inputs it was decided from change (the node's place in
 * the shape, who holds what, the target, the node's health) and is forgotten when a proposal of it applies.
 * Pure: time is an argument; the engine keeps the map between evaluations.
 */
import { assert } from '../../util/assert.js'
import { CONTROL_PLANE_ROLES } from '../../consensus/shape/core/types.js'
import { REJECTED_RETRY_MS_MAX, REJECTED_RETRY_MS_MIN } from './constants.js'
import type { Command, MemberInfo, NodeId, ShapeView } from './types.js'

/** One (command kind, node) backing off. */
export interface Rejection {
  nodeId: NodeId
  /** What the snapshot said about the node when the rejected command was decided (`rejectionInputs`). */
  inputs: string
  /** Rejections in a row from these inputs (≥ 1). */
  count: number
  /** When a proposal of it may go again (the leader's clock, ms). */
  retryAtMs: number
  /** The state machine's rejection, for the decision's `why`. */
  code: string
}

/** `kind node` → its backoff. At most one entry per command kind per node in the shape or view (prunedRejections). */
export type Rejections = ReadonlyMap<string, Rejection>

/**
 * Each (command kind, node) `command` changes, with its key: a promotion's node and every node it is joined `with`;
 * the node a promotion replaces as a demotion (the gates joined its demotion into it); any other command's node.
 */
export function rejectionKeys (command: Command): Array<{ key: string, nodeId: NodeId }> {
  const key = (kind: string, nodeId: NodeId): { key: string, nodeId: NodeId } => ({ key: `${kind} ${nodeId}`, nodeId })
  if (command.kind === 'promote') {
    return [command.nodeId, ...(command.with ?? [])].map((id) => key('promote', id))
      .concat(command.replacing !== undefined ? [key('demote', command.replacing)] : [])
  }
  return 'nodeId' in command ? [key(command.kind, command.nodeId)] : []
}

/**
 * What a proposal changing `nodeId` was decided from, as far as apply can judge it: the target, who holds each
 * control-plane role, whether the node is a member, quarantined or pinned, and its health. Equal strings: the
 * state machine would judge the same command the same way.
 */
export function rejectionInputs (nodeId: NodeId, input: { shape: ShapeView, view: readonly MemberInfo[] }): string {
  const { shape } = input
  const health = input.view.find((m) => m.nodeId === nodeId)?.health ?? 'unlisted'
  return JSON.stringify([
    shape.target, CONTROL_PLANE_ROLES.map((role) => shape.holders(role)), shape.has(nodeId), shape.isQuarantined(nodeId),
    CONTROL_PLANE_ROLES.map((role) => shape.pinOf(nodeId, role) ?? null), health
  ])
}

/** The wait after the `count`-th rejection in a row: the minimum, doubled each time, capped. */
export function rejectionDelayMs (count: number): number {
  assert(Number.isSafeInteger(count) && count >= 1, 'a backoff follows at least one rejection')
  // Capped before it is raised: 2^(count − 1) for a long run of rejections is no number a timer takes.
  const doublings = Math.min(count - 1, Math.ceil(Math.log2(REJECTED_RETRY_MS_MAX / REJECTED_RETRY_MS_MIN)))
  const delayMs = Math.min(REJECTED_RETRY_MS_MAX, REJECTED_RETRY_MS_MIN * 2 ** doublings)
  assert(delayMs >= REJECTED_RETRY_MS_MIN && delayMs <= REJECTED_RETRY_MS_MAX, 'the wait stays within its bounds')
  return delayMs
}

/**
 * The backoffs after `command`, decided from `inputs` (key → rejectionInputs when it was proposed), was rejected
 * at `nowMs` with `code`: one more in a row for each key whose inputs are the same, a first one otherwise.
 */
export function withRejection (rejections: Rejections, rejected: { command: Command, inputs: ReadonlyMap<string, string>, code: string, nowMs: number }): Map<string, Rejection> {
  const next = new Map(rejections)
  for (const { key, nodeId } of rejectionKeys(rejected.command)) {
    const inputs = rejected.inputs.get(key)
    if (inputs === undefined) continue
    const before = next.get(key)
    const count = before !== undefined && before.inputs === inputs ? before.count + 1 : 1
    next.set(key, { nodeId, inputs, count, retryAtMs: rejected.nowMs + rejectionDelayMs(count), code: rejected.code })
  }
  return next
}

/** The backoffs once `command` applied: none left for what it changed. */
export function withoutRejection (rejections: Rejections, command: Command): Map<string, Rejection> {
  const next = new Map(rejections)
  for (const { key } of rejectionKeys(command)) next.delete(key)
  return next
}

/**
 * The backoffs still worth keeping at an evaluation: the node still in the shape or the view, and its inputs
 * unchanged. A change of inputs ends the wait (the state machine may judge the command otherwise now) and
 * starts the count again; the map stays bounded by the nodes the leader knows however many come and go.
 */
export function prunedRejections (rejections: Rejections, input: { shape: ShapeView, view: readonly MemberInfo[] }): Map<string, Rejection> {
  const kept = new Map<string, Rejection>()
  for (const [key, r] of rejections) {
    const known = input.shape.has(r.nodeId) || input.view.some((m) => m.nodeId === r.nodeId)
    if (known && rejectionInputs(r.nodeId, input) === r.inputs) kept.set(key, r)
  }
  return kept
}
