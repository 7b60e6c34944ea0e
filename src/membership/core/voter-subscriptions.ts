/**
 * Which connected voters this node's gossipsub does not count as heartbeat subscribers, long enough to act on.
 * Every voter subscribes to the heartbeat topic, and a node's heartbeats reach a voter only if its gossipsub
 * holds that subscription (flood publishing sends to known subscribers). A voter's SUBSCRIBE can go astray —
 * sent on a stream that then closed, or overtaken by an older UNSUBSCRIBE (it was an observer, which leaves the
 * topic) delivered late on another connection — and gossipsub never asks again: this node then never reaches
 * that voter, which finds it dead while every other voter sees it alive (docs/MEMBERSHIP.md, "A voter's lost
 * subscription"). Pure: the caller reconnects to the voters returned (a new connection restates subscriptions).
 */
import type { RaftMembers } from './tier.js'

export interface VoterSubscriptionInput {
  conf: RaftMembers | undefined
  self: string
  /** Voters with an open connection, and since when (its oldest open connection). */
  connectedSinceMs: ReadonlyMap<string, number>
  subscribed: (peer: string) => boolean
  /** When each voter was first seen connected and unsubscribed; updated in place. */
  missingSinceMs: Map<string, number>
  nowMs: number
  /** How long a connected voter may be missing (a new voter subscribes on its next tick, a new connection's streams open). */
  graceMs: number
}

/** The voters to reconnect to now; each is returned once per spell (its entry then starts again from `nowMs`). */
export function votersToReconnect (input: VoterSubscriptionInput): string[] {
  const { conf, self, connectedSinceMs, subscribed, missingSinceMs, nowMs, graceMs } = input
  const voters = conf === undefined ? [] : [...new Set([...conf.voters, ...conf.votersOutgoing])].filter((v) => v !== self)
  const due: string[] = []
  const watching = new Set<string>()
  for (const voter of voters) {
    const since = connectedSinceMs.get(voter)
    if (since === undefined || subscribed(voter)) continue
    watching.add(voter)
    const missing = missingSinceMs.get(voter) ?? nowMs
    missingSinceMs.set(voter, missing)
    if (nowMs - missing >= graceMs && nowMs - since >= graceMs) {
      due.push(voter)
      missingSinceMs.set(voter, nowMs)
    }
  }
  for (const voter of missingSinceMs.keys()) if (!watching.has(voter)) missingSinceMs.delete(voter)
  return due
}
