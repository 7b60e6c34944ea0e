/**
 * @module consensus/core/invariants
 * The core's internal invariants (STYLE §12), asserted by RawNode.checkInvariants() after every step in
 * tests and the simulator, and the shape check that lets network input be dropped instead of crashing.
 */
import { assert } from '../../util/assert.js'
import { confStateProblem } from './confchange.js'
import {
  INVARIANT_CHECK_TAIL_ENTRIES, MAX_CLIENT_ID_CHARS, MAX_ENTRIES_PER_MSG, MAX_NODE_ID_CHARS, MAX_READ_CONTEXT_BYTES,
  WIRE_NUMBER_MAX
} from './constants.js'
import type { Raft } from './raft.js'
import { MessageType } from './types.js'
import type { Message } from './types.js'

const MESSAGE_TYPES = new Set<string>(Object.values(MessageType))

/** A term, index or count a peer may send: an integer in [0, WIRE_NUMBER_MAX]. */
function isIndex (value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= WIRE_NUMBER_MAX
}

function isNodeId (value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NODE_ID_CHARS
}

/** True when `m` has the shape every handler relies on (network input is untrusted). */
export function validateMessage (m: Message): boolean {
  if (typeof m !== 'object' || m === null) return false
  if (!MESSAGE_TYPES.has(m.type)) return false
  if (!isNodeId(m.from) || !isNodeId(m.to)) return false
  if (!isIndex(m.term) || !isIndex(m.index) || !isIndex(m.logTerm) || !isIndex(m.commit)) return false
  if (!isIndex(m.rejectHint) || typeof m.reject !== 'boolean' || !Array.isArray(m.entries)) return false
  if (m.entries.length > MAX_ENTRIES_PER_MSG || m.index + m.entries.length > WIRE_NUMBER_MAX) return false
  if (m.context !== undefined && (!(m.context instanceof Uint8Array) || m.context.length > MAX_READ_CONTEXT_BYTES)) return false
  if (m.transferee !== undefined && !isNodeId(m.transferee)) return false
  let expected = m.index + 1
  for (const e of m.entries) {
    if (typeof e !== 'object' || e === null || !(e.data instanceof Uint8Array)) return false
    if (!isIndex(e.index) || !isIndex(e.term)) return false
    const id = e.proposalId
    if (id !== undefined && (typeof id.clientId !== 'string' || id.clientId.length > MAX_CLIENT_ID_CHARS ||
        !isIndex(id.seq))) return false
    // Forwarded proposals carry index 0; appends carry contiguous indexes after m.index.
    if (m.type === MessageType.App && (e.index !== expected++ || !isIndex(e.term) || e.term < 1)) return false
  }
  if (m.type === MessageType.App && m.entries.length > 0 && m.entries[0]!.term < m.logTerm) return false
  if (m.type === MessageType.Snap) {
    const meta = m.snapshotMeta
    if (meta === undefined || !isIndex(meta.index) || !isIndex(meta.term)) return false
    if (!(m.snapshotChunk instanceof Uint8Array) || !isIndex(m.snapshotOffset)) return false
    if (m.snapshotOffset! + m.snapshotChunk.length > WIRE_NUMBER_MAX) return false
    if (confStateProblem(meta.confState) !== null) return false
  }
  return true
}

/** Asserts every invariant of `r` that does not need history (term monotonicity is checked by RawNode). */
export function checkRaftInvariants (r: Raft): void {
  const log = r.log
  assert(log.committed <= log.lastIndex(), () => `commit ${log.committed} > last ${log.lastIndex()}`)
  assert(log.applied <= log.committed, () => `applied ${log.applied} > commit ${log.committed}`)
  assert(log.applied <= log.applying, 'applied > applying')
  assert(log.offset <= log.applied || log.pendingSnapshot !== undefined, 'compacted beyond applied')
  assert(log.stableIndex <= log.lastIndex(), 'stable beyond last index')
  // Only the tail: append() asserts contiguity on every write, and a full scan per step would make the
  // simulator quadratic in the log length.
  for (let i = Math.max(0, log.entries.length - INVARIANT_CHECK_TAIL_ENTRIES); i < log.entries.length; i++) {
    const entry = log.entries[i]!
    assert(entry.index === log.offset + 1 + i, () => `log hole at ${log.offset + 1 + i}`)
    const prevTerm = i === 0 ? log.offsetTerm : log.entries[i - 1]!.term
    assert(entry.term >= prevTerm, () => `term decreases at index ${entry.index}`)
  }
  assert(log.lastTerm() <= r.term, () => `last term ${log.lastTerm()} > current term ${r.term}`)
  const problem = confStateProblem(r.conf)
  assert(problem === null, () => `bad config: ${problem ?? ''}`)
  if (r.role === 'leader') {
    assert(r.lead === r.id, 'leader does not name itself')
    assert(r.vote === r.id, 'leader did not vote for itself')
    for (const [id, pr] of r.prs) {
      assert(pr.match <= log.lastIndex(), () => `progress ${id} match ${pr.match} > last ${log.lastIndex()}`)
      assert(pr.match < pr.next, () => `progress ${id} match ${pr.match} >= next ${pr.next}`)
    }
  } else {
    assert(r.prs.size === 0, 'non-leader holds progress')
  }
  if (r.role === 'candidate') assert(r.vote === r.id, 'candidate did not vote for itself')
}
