/**
 * @module consensus/pending-proposal
 * A proposal the driver holds until its entry applies here: what it keeps of it (`ProposalExtra`), the table
 * that holds it, how its proposal id is keyed, and which node an id belongs to.
 */
import type { ConfChange, NodeId, ProposalId } from './core/index.js'
import type { PendingTable } from './pending.js'
import type { ProposalResult } from './raft-node-types.js'

/** What the driver keeps of a pending proposal, to submit it (again) and to settle it. */
export interface ProposalExtra {
  command: Uint8Array
  confChange?: ConfChange
  id: ProposalId
  /** The leader the last submission went to (this node when it led), null when none was known. */
  sentTo?: NodeId | null
  /**
   * Set when the command carries other nodes' request ids (a leader's merged envelope, issue 16): any other
   * leader refuses it (forwarded-proposals.ts, `checkForwarded`), so it is never forwarded; only this node,
   * leading, appends it. `appendedAt` lists the copies it appended, each at (index, term): once the committed
   * log rules every copy out, it can never commit and the proposal fails with ProposalLostError
   * (raft-node.ts, `resolveLeaderOnly`).
   */
  leaderOnly?: { appendedAt: Array<{ index: number, term: number }> }
}

/** The driver's pending proposals, by proposal key. */
export type ProposalTable<R> = PendingTable<ProposalResult<R>, ProposalExtra>

/** A proposal's key in the table (and in the driver's logs). */
export const proposalKey = (id: ProposalId): string => `${id.clientId}/${id.seq}`

/** The node a proposal id belongs to: client ids are `<NodeId>/<session>`. */
export function clientIdOwner (clientId: string): string {
  const slash = clientId.indexOf('/')
  return slash > 0 ? clientId.slice(0, slash) : ''
}

/** Whether two proposal ids are the same. */
export const sameId = (a: ProposalId, b: ProposalId): boolean => a.clientId === b.clientId && a.seq === b.seq
