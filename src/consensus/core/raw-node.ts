/**
 * @module consensus/core/raw-node
 * RawNode: the public, single-threaded API of the pure Raft core (etcd raft rawnode.go). The driver
 * feeds it ticks, messages, proposals and reads, and drains Ready batches:
 *
 *   ready() → send messages → persist hardState/entries/snapshot → send messagesAfterPersist
 *           → apply committedEntries (calling applyConfChange for ConfChange entries) → advance()
 *
 * NB: between ready() and advance() the driver may call only applyConfChange(), status(), its read-only
 * parts (role(), leader(), term(), lastIndex()) and checkInvariants(); every other input asserts.
 *
 * With `asyncStorageWrites` the acknowledgement has two steps (etcd raft's asynchronous storage writes):
 *
 *   ready() → send messages → issue the writes (in order, no fsync yet) → apply committedEntries
 *           → advanceIssued() → … other input … → once durable: persisted(ticket), then send that
 *             Ready's messagesAfterPersist
 *
 * so a flush runs while the node keeps stepping input. The node's own vote and append acknowledgement
 * (which count toward elections and commit) are stepped only by persisted(): a leader replicates entries
 * it has not flushed yet, but counts itself toward their commit only once they are durable on its disk.
 * Committed entries are handed out once an earlier Ready issued their writes, flushed here or not: being
 * committed, they are durable on a majority (two followers may commit an entry before the leader's own
 * flush ends, and the leader then answers without waiting for it).
 */
import { assert } from '../../util/assert.js'
import { changeConf, confStateProblem, copyConfState, encodeConfChange, isJoint } from './confchange.js'
import { resolveRaftConfig } from './config.js'
import type { RaftConfig } from './config.js'
import { MAX_ENTRIES_PER_MSG, RETAIN_ENTRIES_DEFAULT } from './constants.js'
import { ConfChangeRejectedError, ProposalDroppedError, TransferRejectedError } from './errors.js'
import { RaftLog, entryBytes } from './log.js'
import { Raft } from './raft.js'
import { bcastAppend, proposalRefusal } from './raft-leader.js'
import { EntryType, MessageType } from './types.js'
import type {
  ConfChange, ConfState, Entry, HardState, Message, NodeId, ProposalId, RaftStatus, Ready, Snapshot
} from './types.js'
import { checkRaftInvariants, validateMessage } from './invariants.js'

/** What one Ready handed out, so advance() knows exactly what became durable and applied. */
interface ReadyRecord {
  stableTo: number
  applyingTo: number
  hardState: HardState
  snapshot: Snapshot | undefined
  selfMessages: Message[]
}

/**
 * The durability half of an issued Ready (asynchronous storage writes): pass it to persisted() once the
 * Ready's writes are durable, in the order advanceIssued() returned the tickets.
 */
export interface PersistTicket {
  readonly seq: number
  /** The last index handed out to storage so far, and its term (ignored if overwritten since). */
  readonly stableTo: number
  readonly stableTerm: number
  /** The node's own vote and append acknowledgement, stepped once durable. */
  readonly selfMessages: readonly Message[]
}

/**
 * Splits `entries` into runs of at most `maxBytes` (counted as entryBytes; at least one entry each) and at
 * most MAX_ENTRIES_PER_MSG entries, which is all the leader's transport decodes in one frame.
 */
function chunkBySize (entries: Entry[], maxBytes: number): Entry[][] {
  const chunks: Entry[][] = []
  let current: Entry[] = []
  let bytes = 0
  for (const entry of entries) {
    const size = entryBytes(entry)
    if (current.length > 0 && (bytes + size > maxBytes || current.length >= MAX_ENTRIES_PER_MSG)) {
      chunks.push(current)
      current = []
      bytes = 0
    }
    current.push(entry)
    bytes += size
  }
  if (current.length > 0) chunks.push(current)
  return chunks
}

const EMPTY_CONF: ConfState = { voters: [], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }

export class RawNode {
  private readonly raft: Raft
  /** The hard state last handed out to storage (a Ready carries a hard state only when it differs). */
  private issuedHardState: HardState
  /** Tickets: the next advanceIssued() returns `issuedSeq + 1`; persisted() expects `persistedSeq + 1`. */
  private issuedSeq = 0
  private persistedSeq = 0
  private lastSoftState: Ready['softState']
  private inFlight: ReadyRecord | undefined
  /** Highest term seen by checkInvariants (Invariant: term never decreases). */
  private checkedTerm: number

  /**
   * @param initial what `Storage.load()` returned.
   * @param bootstrap the initial configuration, used when storage holds no snapshot. Pass the same
   *   value on every start: conf change entries after it are replayed through applyConfChange().
   * @throws InvalidRaftConfigError when `config` is invalid.
   */
  constructor (config: RaftConfig, initial: { hardState: HardState, snapshot?: Snapshot, entries: Entry[] },
    bootstrap?: ConfState) {
    const cfg = resolveRaftConfig(config)
    const log = RaftLog.fromStorage(initial.snapshot, initial.entries, initial.hardState.commit)
    const conf = initial.snapshot?.meta.confState ?? bootstrap ?? EMPTY_CONF
    assert(confStateProblem(conf) === null, () => `bad bootstrap config: ${confStateProblem(conf) ?? ''}`)
    this.raft = new Raft(cfg, log, initial.hardState.term, initial.hardState.vote, conf)
    this.issuedHardState = { ...initial.hardState, commit: log.committed }
    this.lastSoftState = { leader: null, role: 'follower' }
    this.checkedTerm = this.raft.term
  }

  private assertIdle (): void {
    assert(this.inFlight === undefined, 'input between ready() and advance()')
  }

  /** Advances logical time by one tick (elections, heartbeats, check-quorum). */
  tick (): void {
    this.assertIdle()
    this.raft.tickRole(this.raft)
  }

  /** Steps a message from the network. Invalid, misaddressed or stale messages are dropped and counted. */
  step (msg: Message): void {
    this.assertIdle()
    if (msg.type === MessageType.Hup || msg.to !== this.raft.id || msg.from === this.raft.id ||
        !validateMessage(msg)) {
      this.raft.droppedMessages++
      return
    }
    this.raft.step(msg)
  }

  /**
   * Proposes an application command. On a leader it is appended; on a follower it is forwarded.
   * @throws ProposalDroppedError when no leader is known, a transfer is in progress, or too many bytes
   *   are uncommitted.
   */
  propose (data: Uint8Array, proposalId?: ProposalId): void {
    this.proposeEntry({
      index: 0, term: 0, type: EntryType.Normal, data, ...(proposalId !== undefined ? { proposalId } : {})
    })
  }

  /**
   * Proposes several application commands at once (group commit at the proposer): on a leader they are
   * appended together and go out in one App per follower; on a follower they are forwarded in as few
   * Props as the message size limit allows. All or nothing.
   * @throws ProposalDroppedError as propose()
   */
  proposeMany (items: ReadonlyArray<{ data: Uint8Array, proposalId?: ProposalId }>): void {
    this.assertIdle()
    if (items.length === 0) return
    const entries: Entry[] = items.map(({ data, proposalId }) => ({
      index: 0, term: 0, type: EntryType.Normal, data, ...(proposalId !== undefined ? { proposalId } : {})
    }))
    const r = this.raft
    if (r.role !== 'leader') {
      if (r.lead === null || r.role !== 'follower') {
        r.droppedProposals += entries.length
        throw new ProposalDroppedError('no leader known')
      }
      for (const chunk of chunkBySize(entries, r.cfg.maxSizePerMsgBytes)) {
        r.msgs.push(this.localMessage(MessageType.Prop, r.lead, { entries: chunk }))
      }
      return
    }
    const refusal = proposalRefusal(r, entries.reduce((sum, e) => sum + e.data.length, 0))
    if (refusal !== null) {
      r.droppedProposals += entries.length
      throw new ProposalDroppedError(refusal)
    }
    r.appendEntries(entries)
    bcastAppend(r)
  }

  private proposeEntry (entry: Entry): void {
    this.assertIdle()
    const r = this.raft
    if (r.role !== 'leader') {
      if (r.lead === null || r.role !== 'follower') {
        r.droppedProposals++
        throw new ProposalDroppedError('no leader known')
      }
      r.msgs.push(this.localMessage(MessageType.Prop, r.lead, { entries: [entry] }))
      return
    }
    const refusal = proposalRefusal(r, entry.data.length)
    if (refusal !== null) {
      r.droppedProposals++
      throw new ProposalDroppedError(refusal)
    }
    r.appendEntries([entry])
    if (entry.type === EntryType.ConfChange) r.noteConfChangeAppended(entry.data)
    bcastAppend(r)
  }

  /**
   * Proposes a configuration change at the leader (one at a time). It is never forwarded: a leader
   * refuses configuration changes from peers and derives them from commands itself (issue 9 item 4).
   * @throws ConfChangeRejectedError when another change is pending or `cc` is invalid for the config.
   * @throws ProposalDroppedError when this node is not the leader, or as propose().
   */
  proposeConfChange (cc: ConfChange): void {
    this.assertIdle()
    const r = this.raft
    if (r.role !== 'leader') {
      r.droppedProposals++
      throw new ProposalDroppedError('configuration changes are proposed at the leader only')
    }
    if (r.pendingConfIndex > r.log.applied) {
      throw new ConfChangeRejectedError(`conf change at ${r.pendingConfIndex} not yet applied`)
    }
    const next = changeConf(r.conf, cc)
    if (typeof next === 'string') throw new ConfChangeRejectedError(next)
    this.proposeEntry({ index: 0, term: 0, type: EntryType.ConfChange, data: encodeConfChange(cc) })
  }

  /**
   * Applies a committed ConfChange entry's change; the driver calls it while applying that entry.
   * A change that is invalid for the current configuration is ignored (the same on every replica).
   * @returns the configuration now in force.
   */
  applyConfChange (cc: ConfChange): ConfState {
    const r = this.raft
    const next = changeConf(r.conf, cc)
    if (typeof next !== 'string') r.switchConf(next)
    return copyConfState(r.conf)
  }

  /**
   * Unsafe, for an operator whose other voters are gone for good (`revoada recover-quorum`): from now on the
   * voters of this node's configuration and of its log's tail (or `lostVoters`, the set an earlier run that
   * did not end returned) are lost, and this node is a quorum on its own, so it elects itself and commits
   * alone. A voter added later counts as usual; this node counts even when its tail demoted it, and must
   * then be promoted back. Once no lost voter is left and this node is an incoming voter, quorums are
   * the configuration's again (`recovery()`). A lost voter that was alive after all can lead a second
   * history: Raft's safety rests on the operator here, as with etcd's `--force-new-cluster`.
   * @returns the lost voters: persist them until the recovery ends, and pass them to a run that resumes it
   * @throws AssertionError when this node is not a voter and no `lostVoters` are given
   */
  recoverAsSoleVoter (lostVoters?: readonly NodeId[]): NodeId[] {
    this.assertIdle()
    return this.raft.startRecovery(lostVoters)
  }

  /** The voters `recoverAsSoleVoter()` called now without `lostVoters` would treat as lost (see there). */
  recoveryLostVoters (): NodeId[] {
    return this.raft.recoveryLostVoters()
  }

  /** The voters a quorum recovery treats as lost, or undefined when not recovering. */
  recovery (): { lostVoters: NodeId[] } | undefined {
    const r = this.raft
    return r.recovering ? { lostVoters: [...r.lostVoters].sort() } : undefined
  }

  /**
   * Requests a linearizable read. The ReadState with this `context` (non-empty, unique per request)
   * appears in a later Ready; serve it once applied >= its index.
   * @throws ProposalDroppedError when no leader is known.
   */
  readIndex (context: Uint8Array): void {
    this.assertIdle()
    assert(context.length > 0, 'readIndex needs a non-empty context')
    const r = this.raft
    if (r.role === 'leader') {
      r.step(this.localMessage(MessageType.ReadIndex, r.id, { context }))
    } else if (r.lead !== null && r.role === 'follower') {
      r.msgs.push(this.localMessage(MessageType.ReadIndex, r.lead, { context }))
    } else {
      throw new ProposalDroppedError('no leader known')
    }
  }

  /**
   * Asks the leader to hand leadership to `to` (forwarded when not leader).
   * @throws TransferRejectedError when no leader is known.
   */
  transferLeadership (to: NodeId): void {
    this.assertIdle()
    const r = this.raft
    if (r.role === 'leader') {
      r.step(this.localMessage(MessageType.TransferLeader, r.id, { transferee: to }))
    } else if (r.lead !== null) {
      r.msgs.push(this.localMessage(MessageType.TransferLeader, r.lead, { transferee: to }))
    } else {
      throw new TransferRejectedError('no leader known')
    }
  }

  /** Starts an election now (pre-vote first when enabled). */
  campaign (): void {
    this.assertIdle()
    this.raft.hup()
  }

  /** Tells the leader a peer is unreachable: its pipeline falls back to probing. */
  reportUnreachable (id: NodeId): void {
    this.assertIdle()
    const pr = this.raft.role === 'leader' ? this.raft.prs.get(id) : undefined
    if (pr !== undefined && pr.state === 'replicate') pr.becomeProbe()
  }

  /** Tells the leader a snapshot to `id` failed to send: it is retried from probe. */
  reportSnapshotFailure (id: NodeId): void {
    this.assertIdle()
    const pr = this.raft.role === 'leader' ? this.raft.prs.get(id) : undefined
    if (pr !== undefined && pr.state === 'snapshot') pr.becomeProbe()
  }

  private localMessage (type: MessageType, to: NodeId, extra: Partial<Message>): Message {
    return {
      type, from: this.raft.id, to, term: 0, index: 0, logTerm: 0, entries: [], commit: 0, reject: false,
      rejectHint: 0, ...extra
    }
  }

  private hardState (): HardState {
    return { term: this.raft.term, vote: this.raft.vote, commit: this.raft.log.committed }
  }

  private softState (): Ready['softState'] {
    return { leader: this.raft.lead, role: this.raft.role }
  }

  /** True when ready() would return work. */
  hasReady (): boolean {
    if (this.inFlight !== undefined) return false
    const r = this.raft
    const ps = this.issuedHardState
    // The fields themselves, not hardState()/softState() objects: the driver asks after every input (issue 16).
    return r.term !== ps.term || r.vote !== ps.vote || r.log.committed !== ps.commit ||
      r.log.stableIndex < r.log.lastIndex() || r.log.pendingSnapshot !== undefined ||
      (r.log.applying < this.applyLimit()) || r.msgs.length > 0 || r.msgsAfterPersist.length > 0 ||
      r.readStates.length > 0 || r.lead !== this.lastSoftState.leader || r.role !== this.lastSoftState.role
  }

  /** Takes the next batch of work; the driver must handle it in the order documented on Ready. */
  ready (): Ready {
    this.assertIdle()
    const r = this.raft
    const log = r.log
    const hs = this.hardState()
    const ps = this.issuedHardState
    const hardStateChanged = hs.term !== ps.term || hs.vote !== ps.vote || hs.commit !== ps.commit
    const entries = log.stableIndex < log.lastIndex()
      ? log.slice(log.stableIndex + 1, log.lastIndex() + 1, Number.MAX_SAFE_INTEGER) : []
    const snapshot = log.pendingSnapshot
    const applyLimit = this.applyLimit()
    const committedEntries = snapshot === undefined && log.applying < applyLimit
      ? log.slice(log.applying + 1, applyLimit + 1, r.cfg.maxCommittedBytesPerReady) : []
    // The node's own acknowledgements wait in the ticket; the rest go out after the write (one pass, no filters).
    const messagesAfterPersist: Message[] = []
    const selfMessages: Message[] = []
    for (const m of r.msgsAfterPersist) (m.to === r.id ? selfMessages : messagesAfterPersist).push(m)
    const ready: Ready = {
      entries,
      committedEntries,
      messages: r.msgs,
      messagesAfterPersist,
      readStates: r.readStates,
      mustSync: hs.term !== ps.term || hs.vote !== ps.vote || entries.length > 0 || snapshot !== undefined,
      softState: this.softState()
    }
    // Optional keys set when present rather than spread in (one object per Ready, not three).
    if (hardStateChanged) ready.hardState = hs
    if (snapshot !== undefined) ready.snapshot = snapshot
    const applyingTo = snapshot !== undefined ? snapshot.meta.index
      : committedEntries.length > 0 ? committedEntries[committedEntries.length - 1]!.index : log.applying
    this.inFlight = {
      stableTo: log.lastIndex(), applyingTo, hardState: hs, snapshot, selfMessages
    }
    log.applying = applyingTo
    r.msgs = []
    r.msgsAfterPersist = []
    r.readStates = []
    this.lastSoftState = ready.softState
    return ready
  }

  /**
   * The highest index that may be handed out to apply: everything committed when a Ready is persisted
   * before it is applied; with asynchronous storage writes, what is committed and already handed out to
   * storage here (written by an earlier Ready), flushed or not. A committed entry is durable on a majority
   * (the node's own copy counts only once flushed), which is all an answer needs (thesis §10.2.1: the
   * leader may commit, and so apply, an entry its own disk has not flushed yet). Entries are never applied
   * before they are written here, so a snapshot (which syncs the log first) never runs ahead of the log.
   */
  private applyLimit (): number {
    const log = this.raft.log
    return this.raft.cfg.asyncStorageWrites ? Math.min(log.committed, log.stableIndex) : log.committed
  }

  /** Acknowledges the last Ready: it is persisted and its committed entries applied. */
  advance (): void {
    this.persisted(this.advanceIssued())
  }

  /**
   * Asynchronous storage writes: the last Ready's writes are issued to storage (in order) and its committed
   * entries applied, but they are not durable yet. Input may be stepped again; the node's own vote and
   * append acknowledgement wait in the returned ticket for persisted().
   */
  advanceIssued (): PersistTicket {
    const record = this.inFlight
    assert(record !== undefined, 'advance() without ready()')
    this.inFlight = undefined
    const r = this.raft
    const log = r.log
    if (record.snapshot !== undefined && log.pendingSnapshot === record.snapshot) log.pendingSnapshot = undefined
    log.stableIndex = Math.max(log.stableIndex, Math.min(record.stableTo, log.lastIndex()))
    log.applied = Math.max(log.applied, record.applyingTo)
    this.clearSelfRemovalIfKept()
    this.issuedHardState = record.hardState
    const stableTo = Math.min(record.stableTo, log.lastIndex())
    let selfMessages = record.selfMessages
    if (r.cfg.testingBugs.selfAckBeforePersist === true) {
      for (const m of selfMessages) r.step(m)
      selfMessages = []
    }
    return { seq: ++this.issuedSeq, stableTo, stableTerm: log.term(stableTo) ?? 0, selfMessages }
  }

  /**
   * The writes of `ticket` (and of every ticket before it) are durable: entries up to its index count as
   * durable (unless overwritten since), and the node's own vote and append acknowledgement are stepped.
   */
  persisted (ticket: PersistTicket): void {
    this.assertIdle()
    assert(ticket.seq === this.persistedSeq + 1, () => `persisted ticket ${ticket.seq} out of order (after ${this.persistedSeq})`)
    this.persistedSeq = ticket.seq
    const r = this.raft
    r.log.markDurable(ticket.stableTo, ticket.stableTerm)
    // An acknowledgement from an earlier term is moot (the term moved on): drop it quietly.
    for (const m of ticket.selfMessages) if (m.term === r.term) r.step(m)
    this.maybeAutoLeave()
  }

  /** Asynchronous storage writes: tickets issued but not yet persisted. */
  unpersistedTickets (): number {
    return this.issuedSeq - this.persistedSeq
  }

  /**
   * Leader: the change that was to remove it is applied and it is still a voter, outside a joint change. The
   * machine refused the command that carried the change (the driver then skips applyConfChange), so nothing
   * left: it takes proposals again instead of refusing them for the rest of its term.
   */
  private clearSelfRemovalIfKept (): void {
    const r = this.raft
    if (r.selfRemovalIndex === 0 || r.log.applied < r.selfRemovalIndex) return
    if (!isJoint(r.conf) && r.conf.voters.includes(r.id)) r.selfRemovalIndex = 0
  }

  /** Leader: once an auto-leave joint configuration is applied, propose leaving it (thesis §4.3). */
  private maybeAutoLeave (): void {
    const r = this.raft
    if (r.role !== 'leader' || !isJoint(r.conf) || !r.conf.autoLeave) return
    if (r.pendingConfIndex > r.log.applied || r.leadTransferee !== null) return
    const data = encodeConfChange({ steps: [], transition: 'auto' })
    r.appendEntries([{ index: 0, term: 0, type: EntryType.ConfChange, data }])
    r.noteConfChangeAppended(data)
    bcastAppend(r)
  }

  /**
   * The application took `snapshot` of its state at `snapshot.meta.index` (<= applied). The core keeps
   * it to send to lagging followers and drops entries up to `retainEntries` before its index.
   */
  compact (snapshot: Snapshot, retainEntries = RETAIN_ENTRIES_DEFAULT): void {
    this.assertIdle()
    const log = this.raft.log
    assert(snapshot.meta.index <= log.applied, () => `snapshot ${snapshot.meta.index} beyond applied ${log.applied}`)
    assert(log.term(snapshot.meta.index) === undefined || log.term(snapshot.meta.index) === snapshot.meta.term,
      'snapshot term does not match the log')
    if (log.latestSnapshot === undefined || log.latestSnapshot.meta.index < snapshot.meta.index) {
      log.latestSnapshot = snapshot
    }
    log.compactTo(Math.max(log.offset, snapshot.meta.index - Math.max(0, retainEntries)))
  }

  /**
   * Parts of status() without its copies of the configuration and of every follower's progress: the driver
   * and the batcher ask them several times per proposal (issue 16: status() was the leader's largest
   * allocation outside the shape machine).
   */
  role (): RaftStatus['role'] {
    return this.raft.role
  }

  leader (): NodeId | null {
    return this.raft.lead
  }

  term (): number {
    return this.raft.term
  }

  lastIndex (): number {
    return this.raft.log.lastIndex()
  }

  /** Leader: how far `id`'s log is known to match this one (its progress), or undefined when not leading or not a member. */
  matchOf (id: NodeId): number | undefined {
    return this.raft.role === 'leader' ? this.raft.prs.get(id)?.match : undefined
  }

  /**
   * The configuration in force, not copied: Raft replaces it on every change and never mutates it, so a
   * reader may keep it (membership reads it every tick to decide its tier). Do not modify it.
   */
  confState (): Readonly<ConfState> {
    return this.raft.conf
  }

  /** A copy of the node's state for status pages, tests and the simulator. */
  status (): RaftStatus {
    const r = this.raft
    const status: RaftStatus = {
      id: r.id, term: r.term, vote: r.vote, leader: r.lead, role: r.role, commit: r.log.committed,
      applied: r.log.applied, firstIndex: r.log.firstIndex(), lastIndex: r.log.lastIndex(),
      lastTerm: r.log.lastTerm(), confState: copyConfState(r.conf), leadTransferee: r.leadTransferee,
      droppedMessages: r.droppedMessages, droppedProposals: r.droppedProposals, rejectedSnapshots: r.rejectedSnapshots,
      oversizeSnapshots: r.oversizeSnapshots, snapshotInboxBytes: r.snapshotInbox?.bytes ?? 0
    }
    if (r.role === 'leader') {
      status.progress = {}
      for (const [id, pr] of r.prs) {
        status.progress[id] = {
          match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive, isLearner: pr.isLearner
        }
      }
    }
    return status
  }

  /** The term of the entry at `index`, when the in-memory log holds it (or its compaction point is `index`). */
  termAt (index: number): number | undefined {
    return this.raft.log.term(index)
  }

  /** The entries [lo, hi) still in the in-memory log (for tests and the simulator's checkers). */
  entries (lo: number, hi: number): Entry[] {
    const log = this.raft.log
    return log.slice(Math.max(lo, log.firstIndex()), Math.min(hi, log.lastIndex() + 1), Number.MAX_SAFE_INTEGER)
  }

  /** Asserts the core's internal invariants; the simulator calls it after every step. */
  checkInvariants (): void {
    assert(this.raft.term >= this.checkedTerm, () => `term went back ${this.checkedTerm} -> ${this.raft.term}`)
    this.checkedTerm = this.raft.term
    checkRaftInvariants(this.raft)
  }
}
