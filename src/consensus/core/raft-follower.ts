/**
 * @module consensus/core/raft-follower
 * Follower and (pre-)candidate behaviour: accepting appends with the log-matching check, heartbeats,
 * reassembling chunked InstallSnapshot, forwarding proposals, reads and transfers to the leader, and
 * counting votes.
 */
import { MAX_REJECT_HINT_WALK_ENTRIES, MAX_SNAPSHOT_BYTES } from './constants.js'
import type { Raft } from './raft.js'
import { MessageType } from './types.js'
import type { Message, Snapshot } from './types.js'

export function stepFollower (r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Prop:
    case MessageType.ReadIndex:
    case MessageType.TransferLeader:
      // NB: local requests are forwarded by RawNode itself; one that reaches a follower over the network
      // was forwarded on a stale view of the leader. Dropping it (the client retries) rules out loops.
      if (m.type === MessageType.Prop) r.droppedProposals++
      else r.droppedMessages++
      return
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      // One leader per term: once this node follows a leader of the term, appends, heartbeats and
      // snapshots from any other member of that term are a bug or an attack, never a second leader.
      if (r.lead !== null && r.lead !== m.from) { r.droppedMessages++; return }
      r.electionElapsed = 0
      r.lead = m.from
      noteTransferAnnouncement(r, m)
      if (m.type === MessageType.App) handleAppendEntries(r, m)
      else if (m.type === MessageType.Heartbeat) handleHeartbeat(r, m)
      else handleSnapshotChunk(r, m)
      return
    case MessageType.TimeoutNow:
      // The leader chose us (thesis §3.10): campaign at once, skipping pre-vote and leader stickiness.
      // Only the leader we follow may ask; from anyone else it would start an election at will.
      if (r.lead === null || m.from !== r.lead) { r.droppedMessages++; return }
      r.hup('transfer')
      return
    case MessageType.ReadIndexResp:
      // Only our leader confirms reads: a forged answer would serve a stale read as linearizable.
      if (r.lead === null || m.from !== r.lead) { r.droppedMessages++; return }
      r.readStates.push({ index: m.index, context: m.context ?? new Uint8Array(0) })
      return
    default:
      r.droppedMessages++
  }
}

export function stepCandidate (r: Raft, m: Message): void {
  const ourResponse = r.role === 'pre-candidate' ? MessageType.PreVoteResp : MessageType.VoteResp
  switch (m.type) {
    case MessageType.App:
    case MessageType.Heartbeat:
    case MessageType.Snap:
      // A leader of our term exists (stepTerm already handled higher terms): follow it.
      r.becomeFollower(m.term, m.from)
      stepFollower(r, m)
      return
    case ourResponse:
      r.poll(m.from, !m.reject)
      return
    case MessageType.Prop:
    case MessageType.ReadIndex:
      r.droppedProposals++
      return
    default:
      r.droppedMessages++
  }
}

/**
 * The leader names its transferee on appends and heartbeats while a transfer runs, so that the
 * followers grant the transferee's forced vote (which skips leader stickiness) and nobody else's.
 */
function noteTransferAnnouncement (r: Raft, m: Message): void {
  if (m.type === MessageType.Snap) return
  r.announcedTransferee = m.transferee ?? null
}

function handleAppendEntries (r: Raft, m: Message): void {
  const log = r.log
  if (m.index < log.committed) {
    r.send({ type: MessageType.AppResp, to: m.from, index: log.committed })
    return
  }
  const planted = r.cfg.testingBugs.acceptMismatchedEntries === true && m.index <= log.lastIndex()
  if (log.matchTerm(m.index, m.logTerm) || planted) {
    const lastNew = log.maybeAppend(m.index, m.entries)
    log.commitTo(Math.min(m.commit, lastNew))
    // Each append with entries up to m.index is (or will be, once flushed) answered on its own.
    if (m.commitOnly === true && m.entries.length === 0) return
    r.send({ type: MessageType.AppResp, to: m.from, index: lastNew })
    return
  }
  // Hint the leader at the last index whose term is not above the leader's term at m.index, so it
  // skips a whole conflicting term per round trip (thesis §5.3 optimization, etcd findConflictByTerm).
  let hint = Math.min(m.index, log.lastIndex())
  const floor = Math.max(log.offset, hint - MAX_REJECT_HINT_WALK_ENTRIES)
  while (hint > floor && (log.term(hint) ?? 0) > m.logTerm) hint--
  r.send({
    type: MessageType.AppResp, to: m.from, index: m.index, reject: true, rejectHint: hint,
    logTerm: log.term(hint) ?? 0
  })
}

function handleHeartbeat (r: Raft, m: Message): void {
  r.log.commitTo(Math.min(m.commit, r.log.lastIndex()))
  r.send({ type: MessageType.HeartbeatResp, to: m.from, ...(m.context !== undefined ? { context: m.context } : {}) })
}

function handleSnapshotChunk (r: Raft, m: Message): void {
  const meta = m.snapshotMeta
  const chunk = m.snapshotChunk
  const offset = m.snapshotOffset
  if (meta === undefined || chunk === undefined || offset === undefined) { r.droppedMessages++; return }
  if (meta.index <= r.log.committed) {
    // Already covered: tell the leader where we are so it resumes appends.
    r.snapshotInbox = undefined
    if (m.snapshotDone === true) r.send({ type: MessageType.AppResp, to: m.from, index: r.log.committed })
    return
  }
  if (offset === 0) r.snapshotInbox = { meta, chunks: [], bytes: 0 }
  const inbox = r.snapshotInbox
  if (inbox === undefined || inbox.meta.index !== meta.index || inbox.meta.term !== meta.term ||
      inbox.bytes !== offset) {
    // A lost or reordered chunk: drop; the leader resends the snapshot after its retry timeout.
    r.droppedMessages++
    return
  }
  if (inbox.bytes + chunk.length > MAX_SNAPSHOT_BYTES) {
    // Chunks that never end would fill memory: drop all of it (the retry starts again at offset 0).
    r.snapshotInbox = undefined
    r.oversizeSnapshots++
    return
  }
  inbox.chunks.push(chunk)
  inbox.bytes += chunk.length
  if (m.snapshotDone !== true) return
  r.snapshotInbox = undefined
  const data = new Uint8Array(inbox.bytes)
  let at = 0
  for (const part of inbox.chunks) { data.set(part, at); at += part.length }
  const snapshot = { meta: inbox.meta, data }
  if (!r.log.matchTerm(snapshot.meta.index, snapshot.meta.term) && !r.cfg.snapshotAcceptable(snapshot)) {
    // Validated before anything is installed or persisted: a snapshot this node could not restore
    // would otherwise stop it at once and again at every start. The leader resends after probing.
    r.rejectedSnapshots++
    r.send({ type: MessageType.SnapResp, to: m.from, index: snapshot.meta.index, reject: true })
    return
  }
  installSnapshot(r, snapshot)
  // NB: answer the commit index, never lastIndex() (etcd raft handleSnapshot). After a fast-forward the
  // entries past the snapshot may be an uncommitted tail of an older term that conflicts with the
  // leader's log; counting them toward the quorum would commit a write this node does not hold
  // (testdata/snapshot_answer_is_commit_not_conflicting_tail.txt). The leader probes on from here.
  r.send({ type: MessageType.AppResp, to: m.from, index: r.log.committed })
}

function installSnapshot (r: Raft, snapshot: Snapshot): void {
  const { index, term } = snapshot.meta
  if (r.log.matchTerm(index, term)) {
    // Our log already holds the snapshot's last entry: fast-forward the commit instead (etcd restore).
    r.log.commitTo(index)
    return
  }
  r.log.restore(snapshot)
  r.switchConf(snapshot.meta.confState)
}
