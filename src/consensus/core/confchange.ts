/**
 * @module consensus/core/confchange
 * Pure configuration arithmetic (STYLE §8, after etcd raft's confchange/): a change is applied to a copy
 * of the ConfState, the copy is checked, and only then returned. Joint consensus (thesis §4.3): a change
 * of more than one voter, or any `explicit` change, enters a joint configuration; an empty change leaves it.
 */
import { base64 } from 'multiformats/bases/base64'
import type { ConfChange, ConfState, NodeId } from './types.js'

/** Copies a ConfState (arrays are never shared between configurations). */
export function copyConfState (cs: ConfState): ConfState {
  return {
    voters: [...cs.voters],
    votersOutgoing: [...cs.votersOutgoing],
    learners: [...cs.learners],
    learnersNext: [...cs.learnersNext],
    autoLeave: cs.autoLeave
  }
}

/** True when `cs` is a joint configuration. */
export function isJoint (cs: ConfState): boolean {
  return cs.votersOutgoing.length > 0
}

/** Returns why `cs` is malformed, or null when it is well formed. */
export function confStateProblem (cs: ConfState): string | null {
  const voters = new Set(cs.voters)
  const outgoing = new Set(cs.votersOutgoing)
  if (voters.size !== cs.voters.length) return 'duplicate voter'
  if (voters.size === 0 && cs.learners.length + outgoing.size > 0) return 'no voters'
  for (const id of cs.learners) {
    if (voters.has(id)) return `${id} is both voter and learner`
    if (outgoing.has(id)) return `${id} is both outgoing voter and learner`
  }
  for (const id of cs.learnersNext) {
    if (!outgoing.has(id)) return `${id} is in learnersNext but not an outgoing voter`
    if (voters.has(id)) return `${id} is in learnersNext and an incoming voter`
  }
  if (!isJoint(cs) && cs.learnersNext.length > 0) return 'learnersNext outside a joint configuration'
  if (!isJoint(cs) && cs.autoLeave) return 'autoLeave outside a joint configuration'
  return null
}

function without (list: NodeId[], id: NodeId): NodeId[] {
  return list.filter((x) => x !== id)
}

function withId (list: NodeId[], id: NodeId): NodeId[] {
  return list.includes(id) ? list : [...list, id]
}

function applySteps (cs: ConfState, cc: ConfChange): void {
  for (const step of cc.steps) {
    const id = step.nodeId
    if (typeof id !== 'string' || id.length === 0) throw new Error('empty node id')
    cs.learners = without(cs.learners, id)
    cs.learnersNext = without(cs.learnersNext, id)
    cs.voters = without(cs.voters, id)
    if (step.type === 'add-voter') {
      cs.voters = withId(cs.voters, id)
    } else if (step.type === 'add-learner') {
      // NB: an outgoing voter cannot be a learner until the joint config is left (thesis §4.3).
      if (cs.votersOutgoing.includes(id)) cs.learnersNext = withId(cs.learnersNext, id)
      else cs.learners = withId(cs.learners, id)
    }
  }
}

function voterDifference (a: NodeId[], b: NodeId[]): number {
  const setA = new Set(a); const setB = new Set(b)
  let count = 0
  for (const id of setA) if (!setB.has(id)) count++
  for (const id of setB) if (!setA.has(id)) count++
  return count
}

/**
 * Applies `cc` to `cs`, returning the new configuration or a reason string when the change is invalid
 * for this configuration. Never mutates `cs`.
 */
export function changeConf (cs: ConfState, cc: ConfChange): ConfState | string {
  const next = copyConfState(cs)
  if (cc.steps.length === 0) {
    if (!isJoint(cs)) return 'leave-joint outside a joint configuration'
    next.votersOutgoing = []
    next.learners = [...next.learners, ...next.learnersNext.filter((id) => !next.learners.includes(id))]
    next.learnersNext = []
    next.autoLeave = false
  } else {
    if (isJoint(cs)) return 'a change while in a joint configuration'
    const simple = cc.transition === 'auto' && cc.steps.length === 1 && cc.enterJoint !== true
    if (!simple) {
      if (cs.voters.length === 0) return 'cannot enter joint from an empty configuration'
      next.votersOutgoing = [...cs.voters]
      next.autoLeave = cc.transition === 'auto'
    }
    try {
      applySteps(next, cc)
    } catch (err) {
      return (err as Error).message
    }
    if (simple && voterDifference(cs.voters, next.voters) > 1) return 'simple change of more than one voter'
  }
  if (next.voters.length === 0) return 'change removes every voter'
  const problem = confStateProblem(next)
  return problem ?? next
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * Encodes a ConfChange as an entry payload (JSON text: small, rare, deterministic key order; the
 * context travels as base64).
 */
export function encodeConfChange (cc: ConfChange): Uint8Array {
  const steps = cc.steps.map((s) => ({ type: s.type, nodeId: s.nodeId }))
  return encoder.encode(JSON.stringify({
    steps,
    transition: cc.transition,
    ...(cc.enterJoint === true ? { enterJoint: true } : {}),
    ...(cc.context !== undefined ? { context: base64.baseEncode(cc.context) } : {})
  }))
}

/** Decodes an entry payload written by encodeConfChange; returns null when it is not one. */
export function decodeConfChange (data: Uint8Array): ConfChange | null {
  try {
    const value = JSON.parse(decoder.decode(data)) as Omit<ConfChange, 'context'> & { context?: unknown }
    if (!Array.isArray(value.steps)) return null
    if (value.transition !== 'auto' && value.transition !== 'explicit') return null
    if (value.enterJoint !== undefined && value.enterJoint !== true) return null
    const { context, ...rest } = value
    if (context === undefined) return rest
    if (typeof context !== 'string') return null
    return { ...rest, context: base64.baseDecode(context) }
  } catch {
    return null
  }
}
