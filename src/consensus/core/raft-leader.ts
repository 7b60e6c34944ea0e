/**
 * @module consensus/core/raft-leader
 * Leader behaviour: replication with probe/replicate/snapshot progress, pipelining and flow control,
 * commit by counting current-term entries, check-quorum, ReadIndex and leadership transfer.
 */
import { assert } from '../../util/assert.js'
import {
  MAX_ENTRIES_PER_MSG, MAX_PENDING_READ_INDEX, MAX_SNAPSHOT_CHUNK_BYTES, MAX_SNAPSHOT_CHUNKS_PER_SEND, SNAPSHOT_RETRY_ELECTION_TIMEOUTS
} from './constants.js'
import type { Progress } from './progress.js'
import { allVoters, hasQuorum, isVoterOf, jointCommitted } from './quorum.js'
import type { Raft } from './raft.js'
import { EntryType, MessageType } from './types.js'
import type { Message, NodeId } from './types.js'

/**
 * Leader tick: heartbeats every heartbeatTicks (to learners every learnerHeartbeatTicks), check-quorum and
 * transfer abort every electionTicks.
 */
export function tickLeader (r: Raft): void {
  r.heartbeatElapsed++
  r.learnerHeartbeatElapsed++
  r.electionElapsed++
  if (r.electionElapsed >= r.cfg.electionTicks) {
    r.electionElapsed = 0
    if (r.cfg.checkQuorum && !quorumActive(r)) {
      // Thesis §6.2: a leader that cannot reach a quorum within an election timeout steps down.
      r.becomeFollower(r.term, null)
      return
    }
    // A transfer that did not finish within an election timeout is abandoned (thesis §3.10).
    r.leadTransferee = null
    maybeHandOff(r)
  }
  if (r.heartbeatElapsed >= r.cfg.heartbeatTicks) {
    r.heartbeatElapsed = 0
    const toLearners = r.learnerHeartbeatElapsed >= r.cfg.learnerHeartbeatTicks
    if (toLearners) r.learnerHeartbeatElapsed = 0
    tickSnapshots(r)
    bcastHeartbeat(r, undefined, toLearners)
  }
}

/** True if a quorum was heard from since the last check; resets the activity marks. */
function quorumActive (r: Raft): boolean {
  const active = new Set<NodeId>()
  for (const [id, pr] of r.prs) {
    if (id === r.id || pr.recentActive) active.add(id)
    if (id !== r.id) pr.recentActive = false
  }
  return hasQuorum(r.electorate(), active)
}

/** A snapshot send that got no answer for SNAPSHOT_RETRY_ELECTION_TIMEOUTS is retried from probe. */
function tickSnapshots (r: Raft): void {
  const limit = SNAPSHOT_RETRY_ELECTION_TIMEOUTS * Math.ceil(r.cfg.electionTicks / r.cfg.heartbeatTicks)
  for (const pr of r.prs.values()) {
    if (pr.state !== 'snapshot') continue
    pr.snapshotTicks++
    if (pr.snapshotTicks > limit) pr.becomeProbe()
  }
}

export function stepLeader (r: Raft, m: Message): void {
  switch (m.type) {
    case MessageType.Prop: handleForwardedProposal(r, m); return
    case MessageType.ReadIndex: handleReadIndex(r, m); return
    case MessageType.TransferLeader: handleTransferLeader(r, m); return
    case MessageType.AppResp: handleAppendResponse(r, m); return
    case MessageType.HeartbeatResp: handleHeartbeatResponse(r, m); return
    case MessageType.SnapResp: handleSnapshotResponse(r, m); return
    default:
      r.droppedMessages++
  }
}

/** Why a proposal cannot be appended now, or null when it can. */
export function proposalRefusal (r: Raft, bytes: number): string | null {
  if (r.role !== 'leader') return 'not leader'
  if (r.leadTransferee !== null) return `leadership transfer to ${r.leadTransferee} in progress`
  // A recovering leader that its log's tail took out must still propose its own promotion back.
  if (r.selfRemovalIndex > 0 && !r.recovering) return 'leader is leaving the configuration'
  if (!r.prs.has(r.id)) return 'leader removed from the configuration'
  if (r.uncommittedBytes > 0 && r.uncommittedBytes + bytes > r.cfg.maxUncommittedEntriesBytes) {
    return 'too many uncommitted bytes'
  }
  return null
}

/**
 * A proposal a follower forwarded. Only Normal entries are accepted: a configuration change never comes
 * from a peer (the leader derives it from a command, issue 9 item 4), and an Empty entry is the
 * leader's own.
 */
function handleForwardedProposal (r: Raft, m: Message): void {
  const bytes = m.entries.reduce((sum, e) => sum + e.data.length, 0)
  if (m.entries.length === 0 || proposalRefusal(r, bytes) !== null ||
      m.entries.some((e) => e.type !== EntryType.Normal)) {
    r.droppedProposals++
    return
  }
  r.appendEntries(m.entries.map((e) => ({
    index: 0, term: 0, type: e.type, data: e.data, ...(e.proposalId !== undefined ? { proposalId: e.proposalId } : {})
  })))
  bcastAppend(r)
}

/**
 * Sends appends to every follower (pipelining up to the inflight bound). `commitOnly`: called because the
 * commit index moved; an append that carries nothing else to a follower in replicate state is marked so
 * that the follower does not answer it (Message.commitOnly).
 */
export function bcastAppend (r: Raft, commitOnly = false): void {
  for (const [id, pr] of r.prs) {
    if (id !== r.id) sendAppendLoop(r, id, pr, true, commitOnly)
  }
}

function sendAppendLoop (r: Raft, to: NodeId, pr: Progress, sendIfEmpty = true, commitOnly = false): void {
  if (!sendAppend(r, to, pr, sendIfEmpty, commitOnly)) return
  // Bounded: each further call either fills one inflight slot or returns false.
  for (let sent = 1; sent < r.cfg.maxInflightMsgs; sent++) {
    if (!sendAppend(r, to, pr, false)) return
  }
}

/** Sends one App (or a snapshot) to `to`; returns true when a message with entries was sent. */
function sendAppend (r: Raft, to: NodeId, pr: Progress, sendIfEmpty: boolean, commitOnly = false): boolean {
  // Before the progress records a send that `send` would drop.
  if (pr.isPaused() || r.cutOff(to)) return false
  const prevIndex = pr.next - 1
  const prevTerm = r.log.term(prevIndex)
  if (prevTerm === undefined) {
    sendSnapshot(r, to, pr)
    return false
  }
  const lastIndex = r.log.lastIndex()
  // At most MAX_ENTRIES_PER_MSG entries, whatever their size: a follower refuses a frame holding more.
  const sliceEnd = Math.min(lastIndex + 1, pr.next + MAX_ENTRIES_PER_MSG)
  const entries = pr.next <= lastIndex ? r.log.slice(pr.next, sliceEnd, r.cfg.maxSizePerMsgBytes) : []
  assert(entries.length <= MAX_ENTRIES_PER_MSG, () => `App of ${entries.length} entries`)
  if (entries.length === 0 && !sendIfEmpty) return false
  // Only the new commit index, to a follower in replicate state: it has answered, or will answer after its
  // flush, every append with entries it received, so an answer to this one would repeat one (or be lost
  // with it: the next heartbeat's answer then re-sends, unmarked). It still answers if it cannot match
  // (an App it missed). Never in probe state, where the answer is the point; heartbeats keep check-quorum.
  const onlyCommit = commitOnly && entries.length === 0 && pr.state === 'replicate'
  r.send({
    type: MessageType.App, to, index: prevIndex, logTerm: prevTerm, entries, commit: r.log.committed,
    ...(r.leadTransferee !== null ? { transferee: r.leadTransferee } : {}),
    ...(onlyCommit ? { commitOnly: true } : {})
  })
  pr.sentEntries(prevIndex + entries.length, entries.length)
  return entries.length > 0
}

function sendSnapshot (r: Raft, to: NodeId, pr: Progress): void {
  const snapshot = r.log.latestSnapshot
  assert(snapshot !== undefined, 'log compacted without a snapshot')
  assert(snapshot.meta.index >= r.log.offset, 'snapshot older than the compaction offset')
  const data = snapshot.data
  // Bounded message count per send: a huge snapshot gets larger chunks rather than more of them.
  const chunkBytes = Math.min(MAX_SNAPSHOT_CHUNK_BYTES,
    Math.max(r.cfg.snapshotChunkBytes, Math.ceil(data.length / MAX_SNAPSHOT_CHUNKS_PER_SEND)))
  let offset = 0
  do {
    const chunk = data.subarray(offset, offset + chunkBytes)
    const done = offset + chunk.length >= data.length
    r.send({
      type: MessageType.Snap, to, index: snapshot.meta.index, logTerm: snapshot.meta.term,
      snapshotMeta: snapshot.meta, snapshotChunk: chunk, snapshotOffset: offset, snapshotDone: done
    })
    offset += chunk.length
  } while (offset < data.length)
  pr.becomeSnapshot(snapshot.meta.index)
}

function handleAppendResponse (r: Raft, m: Message): void {
  const pr = r.prs.get(m.from)
  if (pr === undefined) { r.droppedMessages++; return }
  // A follower acknowledges at most what this leader sent it (a leader's log only grows); a higher
  // index would set a match beyond the log and the next append would find no entry to send.
  if (!m.reject && m.index > r.log.lastIndex()) { r.droppedMessages++; return }
  pr.recentActive = true
  if (m.reject) {
    if (pr.maybeDecrTo(m.index, m.rejectHint)) {
      if (pr.state === 'replicate') pr.becomeProbe()
      sendAppendLoop(r, m.from, pr)
    }
    return
  }
  if (pr.maybeUpdate(m.index)) {
    if (pr.state === 'probe') pr.becomeReplicate()
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeReplicate()
    else if (pr.state === 'replicate') pr.freeTo(m.index)
    if (maybeCommit(r)) bcastAppend(r, true)
    else if (m.from !== r.id) sendAppendLoop(r, m.from, pr, false)
    if (r.role === 'leader' && m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
      r.send({ type: MessageType.TimeoutNow, to: m.from })
    }
  } else if (pr.state === 'replicate') {
    pr.freeTo(m.index)
  }
}

/** Advances the commit index to what a quorum holds, counting only entries of this term (§3.6.2). */
export function maybeCommit (r: Raft): boolean {
  const index = jointCommitted(r.quorumConf(), (id) => r.prs.get(id)?.match ?? 0)
  if (index <= r.log.committed) return false
  if (r.cfg.testingBugs.commitOldTermByCounting !== true && r.log.term(index) !== r.term) return false
  const oldCommitted = r.log.committed
  r.log.commitTo(index)
  for (let i = Math.max(oldCommitted + 1, r.log.firstIndex()); i <= index; i++) {
    const entry = r.log.entry(i)
    if (entry !== undefined && entry.term === r.term) r.uncommittedBytes -= entry.data.length
  }
  r.uncommittedBytes = Math.max(0, r.uncommittedBytes)
  releasePendingReads(r)
  return true
}

/**
 * Heartbeats every member but this node. A learner that has acknowledged the whole log is skipped unless
 * `toLearners` (learnerHeartbeatTicks): a lagging or probing one is heartbeated every round like a voter,
 * so its repair is as quick as before; only idle, caught-up learners are heartbeated less often.
 */
function bcastHeartbeat (r: Raft, context?: Uint8Array, toLearners = true): void {
  const last = r.log.lastIndex()
  for (const [id, pr] of r.prs) {
    if (id === r.id || (pr.isLearner && !toLearners && pr.match >= last) || r.cutOff(id)) continue
    r.send({
      type: MessageType.Heartbeat, to: id, commit: Math.min(pr.match, r.log.committed),
      ...(context !== undefined ? { context } : {}),
      ...(r.leadTransferee !== null ? { transferee: r.leadTransferee } : {})
    })
  }
}

function handleHeartbeatResponse (r: Raft, m: Message): void {
  const pr = r.prs.get(m.from)
  if (pr === undefined) { r.droppedMessages++; return }
  pr.recentActive = true
  pr.probeSent = false
  if (pr.state === 'replicate' && pr.inflights.length >= r.cfg.maxInflightMsgs) pr.inflights.shift()
  if (pr.match < r.log.lastIndex()) sendAppendLoop(r, m.from, pr)
  if (m.context !== undefined && m.context.length > 0) ackRead(r, m.from, m.context)
}

function handleSnapshotResponse (r: Raft, m: Message): void {
  const pr = r.prs.get(m.from)
  if (pr === undefined) { r.droppedMessages++; return }
  pr.recentActive = true
  if (m.reject && pr.state === 'snapshot') {
    pr.becomeProbe()
    sendAppendLoop(r, m.from, pr)
  }
}

function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** ReadIndex (thesis §6.4): record the commit index, confirm leadership by a heartbeat round. */
function handleReadIndex (r: Raft, m: Message): void {
  const context = m.context ?? new Uint8Array(0)
  if (r.log.term(r.log.committed) !== r.term) {
    // The leader does not yet know the true commit index until an entry of its term commits — a single
    // voter neither: its stored commit index may lag entries it committed before a restart (found by the
    // power-loss test once the flush left the loop, which opened the window between the two).
    if (r.pendingReadMsgs.length >= MAX_PENDING_READ_INDEX) { r.droppedMessages++; return }
    r.pendingReadMsgs.push(m)
    return
  }
  const voters = allVoters(r.electorate())
  if (voters.length === 1 && voters[0] === r.id) {
    respondRead(r, { index: r.log.committed, context, from: m.from })
    return
  }
  assert(context.length > 0, 'ReadIndex needs a non-empty context to match acknowledgements')
  if (r.readQueue.length >= MAX_PENDING_READ_INDEX) { r.droppedMessages++; return }
  r.readQueue.push({ index: r.log.committed, context, from: m.from, acks: new Set([r.id]) })
  bcastHeartbeat(r, context)
}

function releasePendingReads (r: Raft): void {
  if (r.pendingReadMsgs.length === 0 || r.log.term(r.log.committed) !== r.term) return
  const msgs = r.pendingReadMsgs
  r.pendingReadMsgs = []
  for (const m of msgs) handleReadIndex(r, m)
}

function ackRead (r: Raft, from: NodeId, context: Uint8Array): void {
  const position = r.readQueue.findIndex((req) => sameBytes(req.context, context))
  if (position < 0) return
  const request = r.readQueue[position]!
  request.acks.add(from)
  if (!hasQuorum(r.electorate(), request.acks)) return
  // A quorum confirmed leadership at this request, which also confirms every earlier one.
  const released = r.readQueue.splice(0, position + 1)
  for (const req of released) respondRead(r, req)
}

function respondRead (r: Raft, req: { index: number, context: Uint8Array, from: NodeId }): void {
  if (req.from === r.id) {
    r.readStates.push({ index: req.index, context: req.context })
  } else {
    r.send({ type: MessageType.ReadIndexResp, to: req.from, index: req.index, context: req.context })
  }
}

/** A leader that is no longer a voter hands leadership to the voter with the highest match. */
export function maybeHandOff (r: Raft): void {
  if (r.role !== 'leader' || r.promotable() || r.leadTransferee !== null) return
  let best: NodeId | null = null
  let bestMatch = -1
  for (const id of allVoters(r.conf)) {
    const match = r.prs.get(id)?.match ?? -1
    if (match > bestMatch) { best = id; bestMatch = match }
  }
  if (best !== null) startTransfer(r, best)
}

function handleTransferLeader (r: Raft, m: Message): void {
  // Only a voter may ask (the leader's own request is local): any key holder can reach the leader, and a
  // transfer refuses proposals for up to an election timeout — to a dead voter, every time it is asked.
  if (m.from !== r.id && !isVoterOf(r.conf, m.from)) { r.droppedMessages++; return }
  const target = m.transferee ?? m.from
  startTransfer(r, target)
}

function startTransfer (r: Raft, target: NodeId): void {
  const pr = r.prs.get(target)
  if (pr === undefined || pr.isLearner || target === r.id) { r.droppedMessages++; return }
  if (r.leadTransferee === target) return
  r.leadTransferee = target
  // The transfer must finish within one election timeout, counted from now.
  r.electionElapsed = 0
  // Announce the transferee first: followers then grant its forced vote, and nobody else's.
  bcastHeartbeat(r)
  if (pr.match === r.log.lastIndex()) r.send({ type: MessageType.TimeoutNow, to: target })
  else sendAppendLoop(r, target, pr)
}
