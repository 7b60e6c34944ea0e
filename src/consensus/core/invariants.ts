/**
 * @module consensus/core/invariants
 * The core's internal invariants (STYLE §12), asserted by RawNode.checkInvariants() after every step in
 * tests and the simulator, and the shape check that lets network input be dropped instead of crashing.
 */
import { assert } from '../../util/assert.js'
import { confStateProblem } from './confchange.js'
import {
  INVARIANT_CHECK_TAIL_ENTRIES, MAX_CLIENT_ID_CHARS, MAX_ENTRIES_PER_MSG, MAX_NODE_ID_CHARS, MAX_READ_CONTEXT_BYTES,
  MAX_SNAPSHOT_BYTES, STEP_NUMBER_MAX
} from './constants.js'
import type { Raft } from './raft.js'
import { MessageType } from './types.js'
import type { Message } from './types.js'

const MESSAGE_TYPES = new Set<string>(Object.values(MessageType))

/** A term, index or count the core takes from a peer: an integer in [0, STEP_NUMBER_MAX]. */
function isIndex (value: unknown): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= STEP_NUMBER_MAX
}

function isNodeId (value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_NODE_ID_CHARS
}

/**
 * Messages a node sends without a term: requests it forwards to its leader (RawNode.localMessage). Every
 * other message carries its sender's term, which is at least 1 (a node campaigns before it leads), and a
 * term-0 one would bypass the term rules (Raft.stepTerm treats term 0 as local) and move a candidate back.
 */
const TERMLESS_TYPES = new Set<string>([MessageType.Prop, MessageType.ReadIndex, MessageType.TransferLeader])

/** True when `m` has the shape every handler relies on (network input is untrusted). */
export function validateMessage (m: Message): boolean {
  if (typeof m !== 'object' || m === null) return false
  if (!MESSAGE_TYPES.has(m.type)) return false
  if (!isNodeId(m.from) || !isNodeId(m.to)) return false
  if (!isIndex(m.term) || !isIndex(m.index) || !isIndex(m.logTerm) || !isIndex(m.commit)) return false
  if (m.term === 0 && !TERMLESS_TYPES.has(m.type)) return false
  if (!isIndex(m.rejectHint) || typeof m.reject !== 'boolean' || !Array.isArray(m.entries)) return false
  if (m.entries.length > MAX_ENTRIES_PER_MSG || m.index + m.entries.length > STEP_NUMBER_MAX) return false
  if (m.context !== undefined && (!(m.context instanceof Uint8Array) || m.context.length > MAX_READ_CONTEXT_BYTES)) return false
  // The leader matches heartbeat acknowledgements to a forwarded read by its context.
  if (m.type === MessageType.ReadIndex && (m.context === undefined || m.context.length === 0)) return false
  if (m.transferee !== undefined && !isNodeId(m.transferee)) return false
  if (!entriesValid(m)) return false
  if (m.type === MessageType.Snap) {
    const meta = m.snapshotMeta
    if (meta === undefined || !isIndex(meta.index) || !isIndex(meta.term)) return false
    // A leader of term T holds no entry of a later term, so neither does its snapshot.
    if (meta.term > m.term) return false
    if (!(m.snapshotChunk instanceof Uint8Array) || !isIndex(m.snapshotOffset)) return false
    if (m.snapshotOffset! + m.snapshotChunk.length > STEP_NUMBER_MAX) return false
    if (confStateProblem(meta.confState) !== null) return false
  }
  return true
}

/**
 * Entry fields; for an App also the log's shape: contiguous indexes after m.index, terms that never go
 * below m.logTerm nor decrease, and none above the message's term (a leader only holds entries of its
 * term or earlier). A follower appends what passes, so anything else would break its log invariants.
 */
function entriesValid (m: Message): boolean {
  const isApp = m.type === MessageType.App
  if (isApp && m.logTerm > m.term) return false
  let expectedIndex = m.index + 1
  let minTerm = m.logTerm
  for (const e of m.entries) {
    if (typeof e !== 'object' || e === null || !(e.data instanceof Uint8Array)) return false
    if (!isIndex(e.index) || !isIndex(e.term)) return false
    const id = e.proposalId
    if (id !== undefined && (typeof id.clientId !== 'string' || id.clientId.length > MAX_CLIENT_ID_CHARS ||
        !isIndex(id.seq))) return false
    // Forwarded proposals carry index 0 and term 0; the leader stamps both.
    if (!isApp) continue
    if (e.index !== expectedIndex++ || e.term < 1 || e.term < minTerm || e.term > m.term) return false
    minTerm = e.term
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
  assert(log.durableIndex <= log.stableIndex, () => `durable ${log.durableIndex} beyond stable ${log.stableIndex}`)
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
  const inbox = r.snapshotInbox
  if (inbox !== undefined) {
    assert(r.role === 'follower', () => `${r.role} holds a snapshot inbox`)
    assert(r.lead !== null, 'snapshot inbox without a leader')
    assert(inbox.bytes <= MAX_SNAPSHOT_BYTES, () => `snapshot inbox of ${inbox.bytes} bytes`)
  }
}
