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
import type { Member, NodeState } from './types.js'

/**
 * A heartbeat's `reach`: the members other than `self` that this node has a connection to and hears
 * (`alive`). A suspect member is left out although its connection may still look open: on a link that
 * silently died (a one-link partition) the member at the other end stops hearing this node at the same time,
 * and this node's next heartbeat, now relayed, reaches it around the dead link before its suspicion turns to
 * `dead`.
 */
export function reachOf (members: readonly Pick<Member, 'nodeId' | 'health'>[], self: string, connected: ReadonlySet<string>): number {
  let reach = 0
  for (const member of members) if (member.health === 'alive' && member.nodeId !== self && connected.has(member.nodeId)) reach++
  return reach
}

/**
 * True when a heartbeat should be relayed: its author is connected to fewer live members than this node knows
 * other than the author (`liveMembers` counts this node and the author, as `MemberTable.liveCount` does).
 */
export function needsRelay (state: Pick<NodeState, 'reach'>, liveMembers: number): boolean {
  if (state.reach === undefined) return true
  return state.reach < liveMembers - 1
}
