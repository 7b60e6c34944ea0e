/**
 * @module consensus/core/quorum
 * Pure majority and joint-majority arithmetic (as etcd raft's quorum/ package): the committed index of a
 * configuration and the outcome of a vote. A joint configuration needs a majority of both halves.
 */
import type { ConfState, NodeId } from './types.js'

export type VoteResult = 'won' | 'lost' | 'pending'

/** Stands for "no constraint" from an empty majority config (so a joint min ignores it). */
const UNBOUNDED_INDEX = Number.MAX_SAFE_INTEGER

/** The largest index acknowledged by a majority of `voters` (UNBOUNDED_INDEX when empty). */
export function majorityCommitted (voters: readonly NodeId[], match: (id: NodeId) => number): number {
  if (voters.length === 0) return UNBOUNDED_INDEX
  const indexes = voters.map(match).sort((a, b) => b - a)
  const quorum = Math.floor(voters.length / 2) + 1
  const index = indexes[quorum - 1]
  return index ?? 0
}

/** The committed index of a (possibly joint) configuration. */
export function jointCommitted (conf: ConfState, match: (id: NodeId) => number): number {
  const index = Math.min(majorityCommitted(conf.voters, match), majorityCommitted(conf.votersOutgoing, match))
  return index === UNBOUNDED_INDEX ? 0 : index
}

/** The outcome of a vote among `voters` given the responses received so far. */
export function majorityVoteResult (voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won'
  let granted = 0
  let rejected = 0
  for (const id of voters) {
    const vote = votes.get(id)
    if (vote === true) granted++
    else if (vote === false) rejected++
  }
  const quorum = Math.floor(voters.length / 2) + 1
  if (granted >= quorum) return 'won'
  if (voters.length - rejected < quorum) return 'lost'
  return 'pending'
}

/** The outcome of a vote in a (possibly joint) configuration: won only if both halves won. */
export function jointVoteResult (conf: ConfState, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const incoming = majorityVoteResult(conf.voters, votes)
  const outgoing = majorityVoteResult(conf.votersOutgoing, votes)
  if (incoming === 'won' && outgoing === 'won') return 'won'
  if (incoming === 'lost' || outgoing === 'lost') return 'lost'
  return 'pending'
}

/** True when `active` covers a quorum of the (possibly joint) configuration. */
export function hasQuorum (conf: ConfState, active: ReadonlySet<NodeId>): boolean {
  const votes = new Map<NodeId, boolean>()
  for (const id of active) votes.set(id, true)
  return jointVoteResult(conf, votes) === 'won'
}

/** Every voter of the configuration, incoming and outgoing, without duplicates, sorted. */
export function allVoters (conf: ConfState): NodeId[] {
  return [...new Set([...conf.voters, ...conf.votersOutgoing])].sort()
}

/** Whether `id` votes in either half of the configuration. */
export function isVoterOf (conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id) || conf.votersOutgoing.includes(id)
}

/** Whether `id` is a member: a voter or learner of either half. */
export function isMemberOf (conf: ConfState, id: NodeId): boolean {
  return isVoterOf(conf, id) || conf.learners.includes(id) || conf.learnersNext.includes(id)
}

/** Every member (voters and learners of either half), without duplicates, sorted. */
export function allMembers (conf: ConfState): NodeId[] {
  return [...new Set([...conf.voters, ...conf.votersOutgoing, ...conf.learners, ...conf.learnersNext])].sort()
}
