/**
 * @module policy/core/ranking
 * Deterministic candidate ranking for a control-plane role (issue 5 item 3): healthy first, then spread
 * across zones (a zone already holding fewer of the role wins), then most free capacity, then longest
 * uptime, then NodeId — so every leader, given the same snapshot, picks the same node.
 */
import type { MemberInfo, NodeId, Role, ShapeView } from './types.js'

const zoneOf = (m: MemberInfo): string => m.labels.zone ?? ''

/** A comparable capacity score: cpu and memory, normalized so neither dominates. */
function capacityScore (m: MemberInfo): number {
  return m.capacity.cpuMillis / 1000 + m.capacity.memoryBytes / 2 ** 30
}

export function rankCandidates (candidates: readonly MemberInfo[], shape: ShapeView, role: Role, view: readonly MemberInfo[]): MemberInfo[] {
  const byId = new Map<NodeId, MemberInfo>(view.map((m) => [m.nodeId, m]))
  const zoneLoad = new Map<string, number>()
  for (const holder of shape.holders(role)) {
    const zone = zoneOf(byId.get(holder) ?? { labels: {} } as MemberInfo)
    zoneLoad.set(zone, (zoneLoad.get(zone) ?? 0) + 1)
  }
  // Fewer control-plane roles already held means less co-location on one machine.
  const load = (id: NodeId): number => shape.rolesOf(id).filter((r) => r !== 'worker').length
  return [...candidates].sort((a, b) =>
    Number(b.health === 'alive') - Number(a.health === 'alive') ||
    (zoneLoad.get(zoneOf(a)) ?? 0) - (zoneLoad.get(zoneOf(b)) ?? 0) ||
    load(a.nodeId) - load(b.nodeId) ||
    capacityScore(b) - capacityScore(a) ||
    b.uptimeMs - a.uptimeMs ||
    (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
}
