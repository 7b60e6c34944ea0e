/**
 * @module policy/core/ranking
 * Deterministic candidate ranking for a control-plane role (issue 5 item 3): healthy first, then spread
 * across zones (a zone already holding fewer of the role wins), then fewest control-plane roles already
 * held, then most free capacity, then longest uptime, then NodeId — so every leader, given the same
 * snapshot, picks the same node. A scale-down walks the same ranking from the other end (issue 12 item 3):
 * the holder the ranking likes least goes first, protected holders (pinned, just promoted) never go, and
 * between holders the ranking cannot tell apart the current leader goes last (no needless leadership move).
 */
import type { MemberInfo, NodeId, Role, ShapeView } from './types.js'

const zoneOf = (m: MemberInfo): string => m.labels.zone ?? ''

/** A comparable capacity score: cpu and memory, normalized so neither dominates. */
function capacityScore (m: MemberInfo): number {
  return m.capacity.cpuMillis / 1000 + m.capacity.memoryBytes / 2 ** 30
}

const byNodeId = (a: MemberInfo, b: MemberInfo): number => a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0

/** Compares two members for `role` by merit only (negative: `a` is better); 0 means "all else equal". */
function meritComparator (shape: ShapeView, role: Role, view: readonly MemberInfo[]): (a: MemberInfo, b: MemberInfo) => number {
  const byId = new Map<NodeId, MemberInfo>(view.map((m) => [m.nodeId, m]))
  const zoneLoad = new Map<string, number>()
  for (const holder of shape.holders(role)) {
    const zone = zoneOf(byId.get(holder) ?? { labels: {} } as MemberInfo)
    zoneLoad.set(zone, (zoneLoad.get(zone) ?? 0) + 1)
  }
  // Fewer control-plane roles already held means less co-location on one machine.
  const load = (id: NodeId): number => shape.rolesOf(id).filter((r) => r !== 'worker').length
  return (a, b) =>
    Number(b.health === 'alive') - Number(a.health === 'alive') ||
    (zoneLoad.get(zoneOf(a)) ?? 0) - (zoneLoad.get(zoneOf(b)) ?? 0) ||
    load(a.nodeId) - load(b.nodeId) ||
    capacityScore(b) - capacityScore(a) ||
    b.uptimeMs - a.uptimeMs
}

/** Best candidate first. */
export function rankCandidates (candidates: readonly MemberInfo[], shape: ShapeView, role: Role, view: readonly MemberInfo[]): MemberInfo[] {
  const merit = meritComparator(shape, role, view)
  return [...candidates].sort((a, b) => merit(a, b) || byNodeId(a, b))
}

/**
 * The order in which holders of `role` go on a scale-down: least liked first; `protect`ed holders are left
 * out; on equal merit the leader goes last, then the higher NodeId goes first (deterministic).
 */
export function rankForDemotion (holders: readonly MemberInfo[], shape: ShapeView, role: Role, view: readonly MemberInfo[],
  options: { protect: ReadonlySet<NodeId>, leaderId?: NodeId }): MemberInfo[] {
  const merit = meritComparator(shape, role, view)
  const isLeader = (m: MemberInfo): number => Number(m.nodeId === options.leaderId)
  return holders.filter((m) => !options.protect.has(m.nodeId))
    .sort((a, b) => merit(b, a) || isLeader(a) - isLeader(b) || byNodeId(b, a))
}
