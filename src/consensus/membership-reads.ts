/**
 * @module consensus/membership-reads
 * What the consensus layer reads of the membership service (looked up by name, and maybe absent): who is
 * alive, which protocol level each node advertised, and when a member is heard for the first time.
 */
import type { MeshShape } from './shape/core/index.js'
import { PROTOCOL_LEVEL_MIN } from './shape/core/index.js'

/** The part of the membership service the consensus layer reads (who is alive), looked up by name. */
export interface HealthSource {
  view: () => { members: Array<{ nodeId: string, health: string, state?: { protocol?: number } }> }
  subscribe?: (listener: (view: unknown, events: Array<{ kind: string }>) => void) => () => void
}

/**
 * The admission loop's `onPeerHeard` from membership: the listener runs once per view update that has a
 * member heard for the first time (`joined`: its first heartbeat carries its protocol level), not for the
 * other events; without a membership service (or one that cannot be subscribed to), nothing is heard.
 */
export function peerHeardFrom (membership: Pick<HealthSource, 'subscribe'> | undefined): (listener: () => void) => () => void {
  return (listener) => membership?.subscribe?.((_view, events) => {
    if (events.some((e) => e.kind === 'joined')) listener()
  }) ?? (() => {})
}

/**
 * Members the membership layer does not consider gone (alive or merely suspect; every member of `shape` when
 * there is no membership service). Suspects count: a loaded machine's late heartbeats make members suspect
 * for a moment, and a safety check should not flip with them.
 */
export function liveMembersOf (membership: Pick<HealthSource, 'view'> | undefined, shape: () => Pick<MeshShape, 'memberIds'>): string[] {
  if (membership === undefined) return shape().memberIds()
  return membership.view().members.filter((m) => m.health === 'alive' || m.health === 'suspect').map((m) => m.nodeId)
}

/**
 * The protocol level each node advertised in a heartbeat since this node started, its own included; empty
 * without a membership service.
 */
export function advertisedLevelsOf (membership: Pick<HealthSource, 'view'> | undefined): Map<string, number> {
  const levels = new Map<string, number>()
  for (const m of membership?.view().members ?? []) levels.set(m.nodeId, m.state?.protocol ?? PROTOCOL_LEVEL_MIN)
  return levels
}
