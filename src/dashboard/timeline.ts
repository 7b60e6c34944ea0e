/**
 * @module dashboard/timeline
 * A bounded, ordered record of what happened as seen by this node: membership events, leader changes,
 * role moves in the committed shape, and this node's own election lines. Pure: callers pass the time and the facts.
 */
import { TIMELINE_ENTRIES_MAX } from './constants.js'
import type { ElectionLineKind } from '../consensus/raft-node.js'

export type TimelineKind = 'membership' | 'leader' | 'roles' | 'election'

export interface TimelineEntry {
  /** Order of arrival, for stable keys in the page. */
  seq: number
  atMs: number
  kind: TimelineKind
  nodeId: string | null
  text: string
}

/** Roles per node as a plain object, for diffing shapes. */
export type RoleMap = Record<string, string[]>

export class Timeline {
  private readonly entries: TimelineEntry[] = []
  private seq = 0

  add (atMs: number, kind: TimelineKind, nodeId: string | null, text: string): void {
    this.entries.push({ seq: ++this.seq, atMs, kind, nodeId, text })
    if (this.entries.length > TIMELINE_ENTRIES_MAX) this.entries.splice(0, this.entries.length - TIMELINE_ENTRIES_MAX)
  }

  /** The last `count` entries, newest first. */
  latest (count: number): TimelineEntry[] {
    return this.entries.slice(-count).reverse()
  }
}

/** Lines describing how roles moved from `before` to `after` ("n2 gained etcd", "n1 lost api-server"). */
export function diffRoles (before: RoleMap, after: RoleMap): Array<{ nodeId: string, text: string }> {
  const lines: Array<{ nodeId: string, text: string }> = []
  const ids = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
  for (const id of ids) {
    const was = new Set(before[id] ?? [])
    const now = new Set(after[id] ?? [])
    if (before[id] === undefined) { lines.push({ nodeId: id, text: `joined the shape${now.size > 0 ? ` with ${[...now].join(', ')}` : ''}` }); continue }
    if (after[id] === undefined) { lines.push({ nodeId: id, text: 'left the shape' }); continue }
    const gained = [...now].filter((r) => !was.has(r))
    const lost = [...was].filter((r) => !now.has(r))
    if (gained.length > 0) lines.push({ nodeId: id, text: `gained ${gained.join(', ')}` })
    if (lost.length > 0) lines.push({ nodeId: id, text: `lost ${lost.join(', ')}` })
  }
  return lines
}

/** An election line of this node (consensus/election-log.ts `ElectionLine`) as the timeline says it. */
export function electionText (kind: ElectionLineKind, fields: Readonly<Record<string, unknown>>): string {
  const skipped = typeof fields.linesSkipped === 'number' && fields.linesSkipped > 0 ? ` (${fields.linesSkipped} more like it not shown)` : ''
  const stalled = typeof fields.stalledMs === 'number' ? `; this node stalled ${fields.stalledMs} ms just before` : ''
  if (kind === 'campaign') {
    const silent = typeof fields.leaderSilentMs === 'number' && typeof fields.previousLeader === 'string'
      ? `; ${shortId(fields.previousLeader)} silent for ${fields.leaderSilentMs} ms` : ''
    return `campaigned at term ${String(fields.term)}: ${String(fields.why)}${silent}${stalled}${skipped}`
  }
  if (kind === 'step-down') return `stepped down as leader at term ${String(fields.term)}: ${String(fields.reason)}${stalled}${skipped}`
  return `stalled ${String(fields.gapMs)} ms as ${String(fields.role)} (no tick ran)${skipped}`
}

/** A NodeId as the page shortens it (page.ts `short`). */
function shortId (id: string): string {
  return `${id.slice(0, 6)}\u2026${id.slice(-6)}`
}
