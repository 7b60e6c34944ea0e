/**
 * @module content/membership
 * Who counts as a cluster member for content: a peer in the Raft configuration (voter or learner, incoming
 * or outgoing), the same set the raft transport talks to. A key holder that was never admitted, or was
 * removed, can neither announce nor fetch. And when a peer stops being one to ask: removed from the
 * configuration, or judged dead, leaving or removed by membership (`peerWatch`), so that the content service
 * forgets it as a provider at once rather than when its entries expire (docs/CONTENT.md §4).
 */
import type { ConfState } from '../consensus/core/types.js'
import { isMemberOf } from '../consensus/core/quorum.js'

export function isConfMember (conf: ConfState, peer: string): boolean {
  return isMemberOf(conf, peer)
}

/** The membership verdicts after which a peer is no provider to ask: judged dead, leaving, removed. */
export type PeerGoneKind = 'dead' | 'left' | 'removed'

const GONE_KINDS: ReadonlySet<string> = new Set<PeerGoneKind>(['dead', 'left', 'removed'])

/** What the content service does when peers may have stopped being providers. */
export interface PeerWatcher {
  /** The applied configuration may have changed: every provider that is no member any more is forgotten. */
  configurationChanged: () => void
  /** Membership judged `peer` dead, or heard it leave, or saw it removed. */
  peerGone: (peer: string, kind: PeerGoneKind) => void
}

/** Where the news comes from; each returns its unsubscribe. */
export interface PeerSources {
  /** Consensus's state changes: after every batch that changed the applied configuration (and on role or leader changes). */
  onStateChange: (listener: () => void) => () => void
  /** Membership's events (any kind; only the verdicts in PeerGoneKind are passed on). @default none */
  onMembershipEvents?: (listener: (events: ReadonlyArray<{ kind: string, nodeId: string }>) => void) => () => void
}

/**
 * Feeds a PeerWatcher from consensus and membership: the content service's `watchPeers`.
 *
 * @example
 * ```ts
 * watchPeers: peerWatch({ onStateChange: (l) => raft.onStateChange(l), onMembershipEvents: (l) => membership.subscribe((_v, e) => { l(e) }) })
 * ```
 */
export function peerWatch (sources: PeerSources): (watcher: PeerWatcher) => () => void {
  return (watcher) => {
    const unsubscribes = [sources.onStateChange(() => { watcher.configurationChanged() })]
    const onEvents = sources.onMembershipEvents
    if (onEvents !== undefined) {
      unsubscribes.push(onEvents((events) => {
        for (const e of events) if (GONE_KINDS.has(e.kind)) watcher.peerGone(e.nodeId, e.kind as PeerGoneKind)
      }))
    }
    return () => { for (const unsubscribe of unsubscribes) unsubscribe() }
  }
}
