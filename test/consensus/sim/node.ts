/**
 * @module test/consensus/sim/node
 * One simulated node: the production `RawNode` over a `MemoryStorage`, with the key-value state machine,
 * driven exactly as the `Ready` contract says: send `messages`, persist (entries, hard state, snapshot),
 * sync, send `messagesAfterPersist`, apply committed entries, serve read states, advance. The node keeps a
 * mirror of its stable log so the cluster invariants can read it without reaching into the core.
 *
 * A crash may strike in the middle of a Ready (after the appends, before the sync): the storage then drops
 * the unsynced writes (sometimes keeping a torn prefix), and everything after that point never happens.
 *
 * With asynchronous storage writes the node writes a Ready without syncing, applies, calls advanceIssued()
 * and keeps taking input; the simulator calls flush() at random moments (sync, persisted() per ticket,
 * then the held messagesAfterPersist), and a crash in between loses every unflushed Ready.
 */
import { decodeConfChange } from '../../../src/consensus/core/confchange.js'
import { RawNode } from '../../../src/consensus/core/index.js'
import type { PersistTicket } from '../../../src/consensus/core/index.js'
import type { RaftTestingBugs } from '../../../src/consensus/core/config.js'
import { EntryType, MessageType, type ConfState, type Entry, type HardState, type Message, type NodeId, type ProposalId,
  type Ready, type Snapshot } from '../../../src/consensus/core/types.js'
import { MemoryStorage } from '../../../src/consensus/storage/memory-storage.js'
import { assert } from '../../../src/util/assert.js'
import { ELECTION_TICKS, HEARTBEAT_TICKS, LEARNER_HEARTBEAT_TICKS, SNAPSHOT_INTERVAL_ENTRIES, SNAPSHOT_RETAIN_ENTRIES } from './constants.js'
import { InvariantViolation, type ClusterInvariants } from './invariants.js'
import { KvMachine } from './kv.js'
import type { SimRandom } from './random.js'
import type { Trace } from './trace.js'

/** What a node reports to the rest of the simulation while it handles a Ready. */
export interface NodeHooks {
  send: (message: Message) => void
  invariants: ClusterInvariants
  trace: Trace
  /** A proposal id was applied here (fresh or as a duplicate). */
  onApplied: (node: NodeId, id: ProposalId) => void
  /** This node just became leader of `term` (its first Ready as leader has been handled). */
  onNewLeader: (node: NodeId, term: number) => void
  /** A read registered with `context` can be served now, by this node, from `value(key)`. */
  onRead: (node: NodeId, context: string, value: (key: string) => string | null) => void
  /**
   * Rule check: leader `node` advanced its commit index to `commit`, whose entry has `term` in its log;
   * a majority of `conf` (both halves of a joint one) must hold that entry durably. `recovery` is the
   * leader's quorum recovery (`RawNode.recovery()`), if one runs.
   */
  checkCommitDurable: (node: NodeId, commit: number, term: number, conf: ConfState,
    recovery: { lostVoters: NodeId[] } | undefined) => void
}

export interface SimNodeInit {
  id: NodeId
  random: SimRandom
  bugs: RaftTestingBugs
  /** Flow-control options the seed chose (undefined: the core's defaults). */
  maxSizePerMsgBytes?: number
  maxInflightMsgs?: number
  /** Check the Raft rules at their source (vote durability, commit rule); off = end-to-end checks only. */
  ruleChecks: boolean
  /** Harness bug: apply duplicates (bypass the session table). */
  skipSessions: boolean
  /** Harness bug: the lost-entry rule fires when the node stops leading, not when its applied log decides. */
  ruleOutOnStepDown?: boolean
  /** The initial configuration (founding members and joiners alike: it is the log's baseline). */
  bootstrap?: ConfState
  /** Drive the core with asynchronous storage writes: Readies become durable only at flush(). */
  asyncStorageWrites?: boolean
}

const decoder = new TextDecoder()

export class SimNode {
  readonly id: NodeId
  readonly storage = new MemoryStorage()
  raw: RawNode | null = null
  kv = new KvMachine()
  /** Stable-log mirror: `log[i]` holds index `logOffset + 1 + i`. */
  private log: Entry[] = []
  private logOffset = 0
  private logOffsetTerm = 0
  applied = 0
  private appliedTerm = 0
  private snapshotIndex = 0
  confState: ConfState | undefined
  /** Read contexts waiting for `applied` to reach their index. */
  private readonly pendingReads: Array<{ context: string, index: number }> = []
  private readonly leaderTerms = new Set<number>()
  /** The hard state as of the last sync (what a crash cannot take away). */
  private durableHardState: HardState = { term: 0, vote: null, commit: 0 }
  private writtenHardState: HardState | undefined
  /** The commit index this node last reported while leader. */
  private leaderCommit = 0
  crashes = 0
  /** Asynchronous storage writes: Readies written but not yet synced, in ticket order. */
  private pending: Array<{ ticket: PersistTicket, after: Message[] }> = []
  /** Coverage counters (how often rare paths ran), summed over seeds by the CLI. */
  readonly marks = {
    snapshotsInstalled: 0, snapshotsTaken: 0, confChangesApplied: 0, elections: 0, copiesRuledOut: 0,
    /** A copy decided while this node leads again in a later term: committed there, or ruled out (truncated). */
    copiesCommittedLeadingAgain: 0, copiesRuledOutLeadingAgain: 0
  }
  /**
   * Client entries this node appended as leader, at (index, term), that its applied log has not decided yet:
   * the lost-entry rule of RaftNode (`resolveLeaderOnly`) rules each out once this node applies its index
   * (another entry there) or an entry of a later term; the invariants check no node ever applies it.
   */
  private copies: Array<{ index: number, term: number }> = []

  constructor (private readonly init: SimNodeInit) {
    this.id = init.id
    this.confState = init.bootstrap
    this.start()
  }

  get up (): boolean {
    return this.raw !== null
  }

  /** (Re)starts from whatever the storage holds, rebuilding the state machine from its snapshot. */
  start (): void {
    assert(this.raw === null, 'start of a running node')
    const state = this.storage.load()
    this.durableHardState = { ...state.hardState }
    this.writtenHardState = undefined
    const snapshot = state.snapshot
    this.kv = snapshot === undefined ? new KvMachine() : KvMachine.decode(snapshot.data)
    this.logOffset = snapshot?.meta.index ?? 0
    this.logOffsetTerm = snapshot?.meta.term ?? 0
    this.snapshotIndex = this.logOffset
    this.applied = this.logOffset
    this.appliedTerm = this.logOffsetTerm
    this.log = state.entries.filter((e: Entry) => e.index > this.logOffset)
    this.confState = snapshot?.meta.confState ?? this.init.bootstrap
    this.pendingReads.length = 0
    this.pending = []
    this.copies = []
    const config = { id: this.id, asyncStorageWrites: this.init.asyncStorageWrites === true, electionTicks: ELECTION_TICKS, heartbeatTicks: HEARTBEAT_TICKS,
      learnerHeartbeatTicks: LEARNER_HEARTBEAT_TICKS,
      random: this.init.random.fork(), testingBugs: this.init.bugs,
      ...(this.init.maxSizePerMsgBytes === undefined ? {} : { maxSizePerMsgBytes: this.init.maxSizePerMsgBytes }),
      ...(this.init.maxInflightMsgs === undefined ? {} : { maxInflightMsgs: this.init.maxInflightMsgs }) }
    this.raw = new RawNode(config, state, this.init.bootstrap)
  }

  /** Drops the in-memory node; the storage loses unsynced writes (maybe keeping a torn prefix). */
  crash (random: SimRandom): void {
    assert(this.raw !== null, 'crash of a stopped node')
    this.raw = null
    this.crashes++
    this.storage.crash({ keepUnsyncedEntries: random.chance(0.3) ? random.between(0, 3) : 0 })
  }

  /**
   * A clean stop (the operator's): every written Ready is flushed first, so the restart loses nothing.
   * Not counted as a crash.
   */
  stop (hooks: NodeHooks): void {
    assert(this.raw !== null, 'stop of a stopped node')
    this.flush(hooks)
    this.raw = null
    // Nothing is unsynced after the flush: this only drops the storage's record of what was.
    this.storage.crash({ keepUnsyncedEntries: 0 })
  }

  /** The first index of the log mirror (the one after its snapshot); entries below it were applied. */
  firstIndex (): number {
    return this.logOffset + 1
  }

  lastIndex (): number {
    return this.logOffset + this.log.length
  }

  entryAt (index: number): Entry | undefined {
    return this.log[index - this.logOffset - 1]
  }

  private termAt (index: number): number {
    if (index === this.logOffset) return this.logOffsetTerm
    return this.entryAt(index)?.term ?? 0
  }

  /**
   * Handles every pending Ready. When `crashMidReady(ready)` says so, the Ready stops right after its
   * writes reach the storage unsynced (the worst moment); returns true if the node crashed.
   */
  drain (hooks: NodeHooks, rounds: number, crashMidReady: (ready: Ready) => boolean, random: SimRandom): boolean {
    for (let round = 0; round < rounds; round++) {
      const raw = this.raw
      if (raw === null || !raw.hasReady()) return false
      const ready = raw.ready()
      for (const message of ready.messages) this.send(message, hooks)
      this.persist(ready, hooks)
      if ((ready.entries.length > 0 || ready.hardState !== undefined) && crashMidReady(ready)) {
        hooks.trace.add(`${this.id} crash mid-ready (unsynced: ${ready.entries.length} entries, hs=${ready.hardState !== undefined})`)
        this.crash(random)
        return true
      }
      const async = this.init.asyncStorageWrites === true && ready.snapshot === undefined
      if (!async && (ready.mustSync || ready.entries.length > 0 || ready.hardState !== undefined)) this.sync()
      if (!async) for (const message of ready.messagesAfterPersist) this.send(message, hooks)
      this.observeRole(ready, hooks)
      this.applyCommitted(ready.committedEntries, hooks)
      for (const read of ready.readStates) {
        this.pendingReads.push({ context: decoder.decode(read.context), index: read.index })
      }
      this.serveReads(hooks)
      if (this.init.asyncStorageWrites !== true) {
        raw.advance()
      } else {
        // A snapshot Ready was synced inline (as RaftNode does), which made every earlier one durable too.
        this.pending.push({ ticket: raw.advanceIssued(), after: async ? ready.messagesAfterPersist : [] })
        if (!async) this.acknowledge(hooks)
      }
      this.maybeSnapshot(hooks)
      raw.checkInvariants()
    }
    throw new Error(`${this.id} still has a Ready after ${rounds} rounds (livelock)`)
  }

  /** Asynchronous storage writes: Readies written but not yet flushed. */
  unflushed (): number {
    return this.pending.length
  }

  /** Asynchronous storage writes: the flush completes; every written Ready is durable and acknowledged. */
  flush (hooks: NodeHooks): void {
    if (this.raw === null || this.pending.length === 0) return
    this.sync()
    this.acknowledge(hooks)
    this.raw.checkInvariants()
  }

  private acknowledge (hooks: NodeHooks): void {
    const raw = this.raw as RawNode
    for (const { ticket, after } of this.pending) {
      raw.persisted(ticket)
      for (const message of after) this.send(message, hooks)
    }
    this.pending = []
  }

  private sync (): void {
    this.storage.sync()
    if (this.writtenHardState !== undefined) this.durableHardState = this.writtenHardState
    this.writtenHardState = undefined
  }

  /**
   * Self-addressed messages (a node's own vote or append ack) are stepped by the core itself on advance.
   * Persistence ordering (thesis §3.8) is checked here: a granted vote leaves only once it is durable.
   */
  private send (message: Message, hooks: NodeHooks): void {
    if (this.init.ruleChecks && message.type === MessageType.VoteResp && !message.reject) {
      const durable = this.durableHardState
      if (durable.term < message.term || (durable.term === message.term && durable.vote !== message.to)) {
        throw new InvariantViolation(`persistence ordering: ${this.id} grants its term-${message.term} vote to ` +
          `${message.to} before it is durable (durable term ${durable.term}, vote ${String(durable.vote)})`)
      }
    }
    if (message.to !== this.id) hooks.send(message)
  }

  private persist (ready: Ready, hooks: NodeHooks): void {
    if (ready.snapshot !== undefined) this.installSnapshot(ready.snapshot, hooks)
    // Hard state before entries: a torn tail then keeps the term that covers any entry that survives.
    if (ready.hardState !== undefined) {
      this.storage.setHardState(ready.hardState)
      this.writtenHardState = { ...ready.hardState }
    }
    if (ready.entries.length > 0) {
      const first = (ready.entries[0] as Entry).index
      const isLeader = ready.softState.role === 'leader'
      if (isLeader && first <= this.lastIndex()) {
        throw new Error(`leaders only append: leader ${this.id} overwrote from index ${first} (last ${this.lastIndex()})`)
      }
      assert(first > this.logOffset && first <= this.lastIndex() + 1, () =>
        `${this.id}: append at ${first} leaves a gap (offset ${this.logOffset}, last ${this.lastIndex()})`)
      hooks.invariants.observeAppend(this.id, ready.entries, this.termAt(first - 1))
      this.log.length = first - this.logOffset - 1
      this.log.push(...ready.entries)
      this.storage.append(ready.entries)
    }
  }

  private installSnapshot (snapshot: Snapshot, hooks: NodeHooks): void {
    this.marks.snapshotsInstalled++
    hooks.trace.add(`${this.id} installs snapshot at ${snapshot.meta.index} term ${snapshot.meta.term}`)
    this.storage.saveSnapshot(snapshot)
    this.kv = KvMachine.decode(snapshot.data)
    this.log = []
    this.logOffset = snapshot.meta.index
    this.logOffsetTerm = snapshot.meta.term
    this.snapshotIndex = snapshot.meta.index
    this.applied = snapshot.meta.index
    this.appliedTerm = snapshot.meta.term
    this.confState = snapshot.meta.confState
    this.decideCopies(hooks)
  }

  private observeRole (ready: Ready, hooks: NodeHooks): void {
    const raw = this.raw as RawNode
    if (ready.softState.role !== 'leader') return
    const term = raw.status().term
    const commit = ready.hardState?.commit ?? 0
    // Raft §5.4.2: a leader commits only by counting replicas of an entry of its own term.
    if (this.init.ruleChecks && commit > this.leaderCommit && commit > this.logOffset && this.leaderTerms.has(term)) {
      const committedTerm = this.entryAt(commit)?.term
      if (committedTerm !== term) {
        throw new InvariantViolation(`commit rule: leader ${this.id} of term ${term} advanced commit to ${commit}, ` +
          `an entry of term ${String(committedTerm)}`)
      }
      hooks.checkCommitDurable(this.id, commit, committedTerm, raw.status().confState, raw.recovery())
    }
    if (commit > this.leaderCommit) hooks.invariants.observeCommit(term, Math.max(this.leaderCommit, this.logOffset), commit, (index) => this.entryAt(index))
    if (commit > 0) this.leaderCommit = commit
    hooks.invariants.observeLeader(this.id, term)
    if (this.leaderTerms.has(term)) return
    this.leaderTerms.add(term)
    this.marks.elections++
    hooks.trace.add(`${this.id} became leader at term ${term} (last index ${this.lastIndex()})`)
    hooks.invariants.checkLeaderCompleteness(this.id, term, this.logOffset, (index) => this.entryAt(index))
    hooks.onNewLeader(this.id, term)
  }

  private applyCommitted (entries: readonly Entry[], hooks: NodeHooks): void {
    const raw = this.raw as RawNode
    for (const entry of entries) {
      if (entry.index <= this.applied) continue
      assert(entry.index === this.applied + 1, () => `${this.id}: applies ${entry.index} after ${this.applied}`)
      let fresh = true
      if (entry.type === EntryType.Normal && entry.data.length > 0) {
        const outcome = this.kv.apply(entry, this.init.skipSessions)
        fresh = outcome.fresh
        if (entry.proposalId !== undefined) hooks.onApplied(this.id, entry.proposalId)
      } else if (entry.type === EntryType.ConfChange) {
        const change = decodeConfChange(entry.data)
        assert(change !== null, () => `${this.id}: undecodable conf change at ${entry.index}`)
        const conf = raw.applyConfChange(change)
        this.confState = conf
        this.marks.confChangesApplied++
        hooks.trace.add(`${this.id} applied conf change at ${entry.index}: voters=${conf.voters.join(',')}` +
          ` out=${conf.votersOutgoing.join(',')} learners=${conf.learners.join(',')}`)
      }
      hooks.invariants.observeApply(this.id, entry, fresh)
      this.applied = entry.index
      this.appliedTerm = entry.term
      this.decideCopies(hooks, entry)
    }
  }

  /** Records a client entry this node just appended as leader (after a successful propose). */
  noteAppended (): void {
    const status = this.raw?.status()
    if (status?.role === 'leader') this.copies.push({ index: status.lastIndex, term: status.term })
  }

  /**
   * Decides the copies the applied log now rules out (RaftNode's rule). `applied` is the entry just applied,
   * absent for a snapshot, which decides only copies below its index (RaftNode reads the others' fate
   * from the session table).
   */
  private decideCopies (hooks: NodeHooks, applied?: Entry): void {
    if (this.copies.length === 0) return
    const status = this.raw?.status()
    const leadingAgain = (copy: { term: number }): boolean => status?.role === 'leader' && status.term > copy.term
    this.copies = this.copies.filter((copy) => {
      if (applied !== undefined && applied.index === copy.index && applied.term === copy.term) {
        if (leadingAgain(copy)) this.marks.copiesCommittedLeadingAgain++
        return false
      }
      if (applied === undefined && this.applied >= copy.index) return false
      const stepDown = this.init.ruleOutOnStepDown === true && status?.role !== 'leader'
      if (this.applied < copy.index && this.appliedTerm <= copy.term && !stepDown) return true
      this.marks.copiesRuledOut++
      if (leadingAgain(copy)) this.marks.copiesRuledOutLeadingAgain++
      hooks.invariants.observeRuledOut(this.id, copy.index, copy.term)
      return false
    })
  }

  private serveReads (hooks: NodeHooks): void {
    for (let i = this.pendingReads.length - 1; i >= 0; i--) {
      const read = this.pendingReads[i] as { context: string, index: number }
      if (read.index > this.applied) continue
      this.pendingReads.splice(i, 1)
      hooks.onRead(this.id, read.context, (key) => this.kv.get(key))
    }
  }

  /** Log compaction: snapshot the state machine every SNAPSHOT_INTERVAL_ENTRIES applied entries. */
  private maybeSnapshot (hooks: NodeHooks): void {
    if (this.applied - this.snapshotIndex < SNAPSHOT_INTERVAL_ENTRIES) return
    this.snapshotNow(hooks, SNAPSHOT_RETAIN_ENTRIES)
  }

  /**
   * Snapshots at the applied index and compacts, keeping `retain` entries before it (RaftNode.takeSnapshot; a
   * quorum recovery's end keeps none, so a node behind it installs the snapshot, not the demotions one by one).
   */
  snapshotNow (hooks: NodeHooks, retain: number): void {
    if (this.confState === undefined) return
    // Saving a snapshot syncs the storage, so unflushed Readies become durable: acknowledge them (RaftNode).
    this.flush(hooks)
    const raw = this.raw as RawNode
    const snapshot: Snapshot = {
      meta: { index: this.applied, term: this.appliedTerm, confState: this.confState },
      data: this.kv.encode()
    }
    this.storage.saveSnapshot(snapshot)
    this.marks.snapshotsTaken++
    raw.compact(snapshot, retain)
    const through = Math.max(this.logOffset, this.applied - retain)
    this.storage.compact(through)
    const throughTerm = this.termAt(through)
    this.log = this.log.slice(through - this.logOffset)
    this.logOffsetTerm = throughTerm
    this.logOffset = through
    this.snapshotIndex = this.applied
  }
}
