/**
 * @module consensus/removed-redials
 * Stops this node redialling the members its applied shape records as removed (`remove-member`, `leave`). The
 * redial loop (net/redial.ts) keeps every peer that ever connected as a target, so without this a removed
 * member stayed one for the life of the process, and came back from `peers.json` after every restart. Run
 * after every apply, after the local log is replayed at start (a snapshot restores the shape without an
 * apply) and on every Raft state change (a leader's snapshot installed, the configuration moved). The removed
 * list is replaced, never changed, when it grows (MeshShape copy-on-write), so an unchanged list costs one
 * comparison.
 *
 * Nothing else changes for a removed member: its open connections stay (over them it learns its removal from
 * the log, or the leader tells it: removal.ts), and it is still refused Raft (admission.ts mayTalkRaft) and
 * re-admission (apply's `removed-member`). Only this node's own dials end.
 */
import { assert } from '../util/assert.js'
import type { NodeId } from './core/types.js'

/** What this reads of the applied MeshShape. */
export interface RemovedSource {
  removedView: () => readonly NodeId[]
}

export class RemovedRedials {
  /** The removed list last handed to `forget` (by identity; see the module comment). */
  private seen: readonly NodeId[] | undefined

  /** `forget`: the redial loop's (Redialer.forget); called once per removed member per list change. */
  constructor (private readonly forget: (peer: NodeId) => void) {}

  /** Forgets every removed member of `shape` when its removed list changed since the last call; returns how many were passed on. */
  update (shape: RemovedSource): number {
    const removed = shape.removedView()
    if (removed === this.seen) return 0
    this.seen = removed
    for (const peer of removed) this.forget(peer)
    assert(this.seen === shape.removedView(), 'the removed list changed while it was being forgotten')
    return removed.length
  }
}
