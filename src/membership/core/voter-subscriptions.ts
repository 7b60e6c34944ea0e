/**
 * Which connected voters this node's gossipsub does not count as heartbeat subscribers, long enough to act on.
 * Every voter subscribes to the heartbeat topic, and a node's heartbeats reach a voter only if its gossipsub
 * holds that subscription (flood publishing sends to known subscribers). A voter's SUBSCRIBE can go astray —
 * sent on a stream that then closed, or overtaken by an older UNSUBSCRIBE (it was an observer, which leaves the
 * topic) delivered late on another connection — and gossipsub never asks again: this node then never reaches
 * that voter (docs/MEMBERSHIP.md, "A voter's lost subscription"). Pure: the caller reconnects to the voters
 * returned (a new connection restates both ends' subscriptions).
 *
 * A voter promoted a moment ago subscribes only once it has applied its promotion, which a starved node may do
 * seconds after this node: so the wait counts from when this node first saw it as a voter too, and a voter
 * reconnected to is left alone for `retryMs` (a lagging voter is not cut off again and again).
 */
import type { RaftMembers } from './tier.js'

/** What `votersToReconnect` remembers between calls (one per node). */
export interface VoterWatch {
  /** When each current voter was first seen as a voter of this node's configuration. */
  voterSinceMs: Map<string, number>
  /** When each connected voter was first seen missing from the subscribers in its current spell. */
  missingSinceMs: Map<string, number>
  /** When this node last reconnected to each voter. */
  reconnectedAtMs: Map<string, number>
}

export function newVoterWatch (): VoterWatch {
  return { voterSinceMs: new Map(), missingSinceMs: new Map(), reconnectedAtMs: new Map() }
}

export interface VoterSubscriptionInput {
  conf: RaftMembers | undefined
  self: string
  /** Voters with an open connection, and since when (its oldest open connection). */
  connectedSinceMs: ReadonlyMap<string, number>
  subscribed: (peer: string) => boolean
  watch: VoterWatch
  nowMs: number
  /** How long a voter must have been one, been connected and been missing before it is reconnected to. */
  graceMs: number
  /** How long after a reconnection the same voter is not reconnected to again. */
  retryMs: number
}

/** The voters to reconnect to now (updates `watch`). */
export function votersToReconnect (input: VoterSubscriptionInput): string[] {
  const { conf, self, connectedSinceMs, subscribed, watch, nowMs, graceMs, retryMs } = input
  const voters = new Set(conf === undefined ? [] : [...conf.voters, ...conf.votersOutgoing])
  voters.delete(self)
  for (const map of [watch.voterSinceMs, watch.missingSinceMs, watch.reconnectedAtMs]) {
    for (const peer of map.keys()) if (!voters.has(peer)) map.delete(peer)
  }
  const due: string[] = []
  for (const voter of voters) {
    if (!watch.voterSinceMs.has(voter)) watch.voterSinceMs.set(voter, nowMs)
    const since = connectedSinceMs.get(voter)
    if (since === undefined || subscribed(voter)) {
      watch.missingSinceMs.delete(voter)
      continue
    }
    if (!watch.missingSinceMs.has(voter)) watch.missingSinceMs.set(voter, nowMs)
    const waited = Math.min(nowMs - (watch.missingSinceMs.get(voter) as number), nowMs - since, nowMs - (watch.voterSinceMs.get(voter) as number))
    const retryDue = nowMs - (watch.reconnectedAtMs.get(voter) ?? -Infinity) >= retryMs
    if (waited >= graceMs && retryDue) {
      due.push(voter)
      watch.reconnectedAtMs.set(voter, nowMs)
      watch.missingSinceMs.delete(voter)
    }
  }
  return due
}
