/**
 * @module membership/core/relay
 * Whether a received heartbeat must be relayed (gossipsub: forwarded to this node's mesh peers) or only
 * absorbed (issue 16). Its author already flood-publishes it to every member it is connected to, so in a
 * full mesh a forwarded copy reaches only members that have it already: 3 of every 4 heartbeat copies a node
 * handled were such duplicates (D = 3 mesh peers, docs/bench/scale.md). The author states in each heartbeat
 * how many members it is directly connected to and hears (`reach`); a receiver that knows more live members than
 * that relays the heartbeat, since some member may have no direct copy: a joiner connected to its seed only,
 * a member across a broken link (the author stops counting a member it no longer hears), a member the author
 * has not heard of yet. Otherwise it absorbs it.
 *
 * A wrong `reach` hurts only its author: too high, its heartbeats are not relayed where a link is missing;
 * too low, they are relayed as before this rule. A heartbeat without `reach` (an older node) is relayed.
 */
import type { NodeState } from './types.js'

/**
 * True when a heartbeat should be relayed: its author is connected to fewer live members than this node knows
 * other than the author (`liveMembers` counts this node and the author, as `MemberTable.liveCount` does).
 */
export function needsRelay (state: Pick<NodeState, 'reach'>, liveMembers: number): boolean {
  if (state.reach === undefined) return true
  return state.reach < liveMembers - 1
}
