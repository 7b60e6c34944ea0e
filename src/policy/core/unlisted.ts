/**
 * @module policy/core/unlisted
 * Members of the committed shape missing from the membership view, as the policies should see them. Membership
 * only tracks nodes it has heard (and drops a dead one after its retention), so a missing member is one this
 * node never heard since it started — it died while the cluster was down — or one membership declared dead
 * or gone and then removed. Either way the policy must be able to replace its roles; left out of the view it
 * counted as a present holder for good. A member removed after a verdict keeps that verdict at once; one never
 * listed is dead once missing for `graceMs` from when the leader first missed it.
 */
import type { Health, MemberInfo, NodeId } from './types.js'

export interface UnlistedInput {
  /** The committed shape's members. */
  memberIds: readonly NodeId[]
  /** The members the view lists, whatever their health. */
  listed: ReadonlySet<NodeId>
  /** Members membership removed while dead or left, with that verdict. */
  removedGone: ReadonlyMap<NodeId, 'dead' | 'left'>
  /** When each unlisted member was first missed (the previous call's `sinceMs`). */
  sinceMs: ReadonlyMap<NodeId, number>
  nowMs: number
  graceMs: number
}

export interface Unlisted {
  /** The entries to add to the view: health dead or left, nothing else known. */
  gone: MemberInfo[]
  /** When each still-unlisted member was first missed: members listed again or out of the shape are dropped. */
  sinceMs: Map<NodeId, number>
  /** When the next member missed for less than the grace is due to count as dead (undefined: none is waiting). */
  nextDueMs: number | undefined
}

const NOTHING_KNOWN = { labels: {}, capacity: { cpuMillis: 0, memoryBytes: 0, storageBytes: 0, pods: 0 }, uptimeMs: 0 }

export function unlistedMembers (input: UnlistedInput): Unlisted {
  const { memberIds, listed, removedGone, nowMs, graceMs } = input
  const gone: MemberInfo[] = []
  const sinceMs = new Map<NodeId, number>()
  let nextDueMs: number | undefined
  for (const id of memberIds) {
    if (listed.has(id)) continue
    const verdict: Health | undefined = removedGone.get(id)
    if (verdict !== undefined) { gone.push({ nodeId: id, health: verdict, ...NOTHING_KNOWN }); continue }
    const since = input.sinceMs.get(id) ?? nowMs
    sinceMs.set(id, since)
    const dueMs = since + graceMs
    if (nowMs >= dueMs) gone.push({ nodeId: id, health: 'dead', ...NOTHING_KNOWN })
    else if (nextDueMs === undefined || dueMs < nextDueMs) nextDueMs = dueMs
  }
  return { gone, sinceMs, nextDueMs }
}
