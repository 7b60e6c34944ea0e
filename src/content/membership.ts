/**
 * @module content/membership
 * Who counts as a cluster member for content: a peer in the Raft configuration (voter or learner, incoming
 * or outgoing), the same set the raft transport talks to. A key holder that was never admitted, or was
 * removed, can neither announce nor fetch.
 */
import type { ConfState } from '../consensus/core/types.js'
import { isMemberOf } from '../consensus/core/quorum.js'

export function isConfMember (conf: ConfState, peer: string): boolean {
  return isMemberOf(conf, peer)
}
