/**
 * @module consensus/snapshot-keeper
 * This node's snapshots: taken every `snapshotEveryEntries` applied entries (the machine and the session
 * table at the applied index), after which the log is compacted; and a snapshot from the leader, checked
 * before anything of it is persisted (`canRestore`, which the core asks) and decoded into the machine when
 * it is installed. A snapshot at a protocol level above this build's is refused, never halted on.
 */
import { ProposalSessions } from './core/index.js'
import type { ProposalSessionsData, RawNode, Snapshot } from './core/index.js'
import type { Storage } from './storage/types.js'
import { RETRYABLE_STORAGE_ERRORS } from './storage/errors.js'
import { snapshotFileName } from './storage/snapshot-file.js'
import type { ReplicatedStateMachine } from './state-machine.js'
import { decodeNodeSnapshot, encodeNodeSnapshot, isAppliedRecord } from './node-snapshot.js'
import type { AppliedRecord } from './node-snapshot.js'
import { HALTING_APPLY_ERRORS, SnapshotDecodeError } from './errors.js'
import type { PerPeerLogLimiter } from './log-limiter.js'
import type { Logger } from './raft-node-types.js'
import type { PersistencePipeline } from './persistence-pipeline.js'

/** What the snapshot keeper needs of the driver. */
export interface SnapshotKeeperDeps<R> {
  storage: Storage
  machine: ReplicatedStateMachine<R>
  log: Logger
  /** Bad input from peers (a snapshot that cannot be restored): one line per peer and kind per interval. */
  badInputLog: PerPeerLogLimiter
  /** Unflushed Readies are made durable before a snapshot is saved; a failed flush stalls the node. */
  persistence: Pick<PersistencePipeline, 'unflushedCount' | 'syncUnflushed' | 'stall'>
  snapshotEveryEntries: number
  retainEntries: number
  /** The core: created when the driver starts (undefined while it starts), so looked up when needed. */
  raw: () => Pick<RawNode, 'status' | 'compact' | 'entries' | 'leader' | 'termAt'>
  /** The applied index. */
  applied: () => number
  /** The session table (replaced when a snapshot is restored). */
  sessions: () => ProposalSessions<AppliedRecord<R>>
}

export class SnapshotKeeper<R> {
  private lastSnapshotIndex = 0
  /** Snapshots from a leader refused for a protocol level above this build's (refuseSnapshotAboveLevel). */
  private snapshotsAboveLevel = 0

  constructor (private readonly deps: SnapshotKeeperDeps<R>) {}

  /** Snapshots from a leader refused because their protocol level is above this build's (refuseSnapshotAboveLevel). */
  get refusedAboveLevel (): number {
    return this.snapshotsAboveLevel
  }

  /** Takes a snapshot once `snapshotEveryEntries` entries applied since the last one. */
  maybeSnapshot (): void {
    if (this.deps.applied() - this.lastSnapshotIndex < this.deps.snapshotEveryEntries) return
    try {
      this.takeSnapshot()
    } catch (err) {
      // The inline flush of unflushed Readies failed and rolled them back: rewrite them (stall).
      if (this.deps.persistence.unflushedCount > 0) return this.deps.persistence.stall(err, undefined)
      // A snapshot is an optimisation: the log still holds everything; the next batch tries again.
      if (!RETRYABLE_STORAGE_ERRORS.has((err as Error).name)) throw err
      this.deps.log.warn({ err: (err as Error).message }, 'snapshot not written; the log keeps growing until it is')
    }
  }

  /**
   * Snapshots the machine and the session table at the applied index, then compacts, keeping `retainEntries`
   * entries before it in memory (a quorum recovery's end keeps none: quorum-recovery-run.ts).
   */
  takeSnapshot (retainEntries = this.deps.retainEntries): Snapshot {
    // Saving a snapshot syncs the WAL inline, and a failed save rolls it back: flush and acknowledge
    // the unflushed Readies first (once per snapshot), so a failure can never drop them unseen.
    this.deps.persistence.syncUnflushed()
    const { storage, machine } = this.deps
    const raw = this.deps.raw()
    const status = raw.status()
    const index = this.deps.applied()
    // The term of the entry at `index`, also when `index` is the last snapshot's (compacted away): a snapshot
    // again at the same index after a new term (a quorum recovery's end with nothing left to change) took the
    // current term and failed compact's check ('snapshot term does not match the log').
    const term = index === 0 ? 0 : (raw.termAt(index) ?? status.term)
    const data = encodeNodeSnapshot({ machine: machine.snapshot(), sessions: this.deps.sessions().encode() as ProposalSessionsData<unknown> })
    const snapshot: Snapshot = { meta: { index, term, confState: status.confState }, data }
    storage.saveSnapshot(snapshot)
    raw.compact(snapshot, retainEntries)
    // The WAL keeps every entry after the previous snapshot too: if the new snapshot file turns out
    // unreadable at the next start, storage falls back to the previous one and replays from there.
    storage.compact(Math.max(0, Math.min(this.lastSnapshotIndex, index - retainEntries)))
    this.lastSnapshotIndex = index
    this.deps.log.info({ index, term, bytes: data.length }, 'snapshot taken')
    return snapshot
  }

  /** Whether a snapshot from the leader can be restored: checked before anything is persisted. */
  canRestore (snapshot: Snapshot): boolean {
    const decoded = decodeNodeSnapshot(snapshot.data)
    let ok: boolean
    try {
      ok = decoded !== null && ProposalSessions.tryDecode(decoded.sessions, isAppliedRecord) !== null &&
        (this.deps.machine.canRestore?.(decoded.machine) ?? true)
    } catch (err) {
      if (!HALTING_APPLY_ERRORS.has((err as Error).name)) throw err
      this.refuseSnapshotAboveLevel(snapshot, err as Error)
      return false
    }
    if (!ok && this.deps.badInputLog.allow(this.deps.raw()?.leader() ?? 'leader', 'snapshot')) {
      this.deps.log.warn({ index: snapshot.meta.index, term: snapshot.meta.term }, 'refused a snapshot from the leader that cannot be restored (counted; logged once per interval)')
    }
    return ok
  }

  /**
   * Restores the machine from `snapshot` (this node's own at start, or the leader's once persisted) and
   * returns its session table; the driver takes the applied index, term and configuration from its meta.
   * @throws SnapshotDecodeError when the snapshot cannot be decoded, naming the repair
   */
  restore (snapshot: Snapshot): ProposalSessions<AppliedRecord<R>> {
    const decoded = decodeNodeSnapshot(snapshot.data)
    const sessions = decoded === null ? null : ProposalSessions.tryDecode(decoded.sessions, isAppliedRecord as (v: unknown) => v is AppliedRecord<R>)
    if (decoded === null || sessions === null) {
      throw new SnapshotDecodeError(`snapshot at index ${snapshot.meta.index} cannot be decoded. Repair: move ` +
        `<data-dir>/raft/${snapshotFileName(snapshot.meta.index)} aside to start from the previous snapshot, or empty ` +
        'the data directory and start with the join string to rejoin')
    }
    this.deps.machine.restore(decoded.machine)
    this.lastSnapshotIndex = snapshot.meta.index
    return sessions
  }

  /**
   * A snapshot from the leader at a protocol level above this build's is refused, not halted on
   * (docs/OPERATIONS.md, "Rolling upgrades"). The halt exists so that a build left behind stops instead of
   * applying the committed log differently; refusing a snapshot applies nothing and persists nothing, so
   * this node cannot diverge by it, only stay behind. And the snapshot is only its sender's word: any key
   * holder may speak Raft (mayTalkRaft) and be the leader of a higher term for one frame, so halting here let
   * one frame per node stop the cluster. Halting only for a voter's snapshot would still trust the voter and
   * would miss an honest leader this node's lagging configuration does not name yet. What still halts is
   * the level in an entry this node applies from its own log, or in its own snapshot at start. An honest
   * cluster above this build keeps resending, so the warning repeats once per interval per leader and
   * `refused.snapshotsAboveLevel` grows: both name the fix.
   */
  private refuseSnapshotAboveLevel (snapshot: Snapshot, err: Error): void {
    this.snapshotsAboveLevel++
    const leader = this.deps.raw()?.leader() ?? 'leader'
    if (!this.deps.badInputLog.allow(leader, 'snapshot-level')) return
    this.deps.log.warn({ leader, index: snapshot.meta.index, term: snapshot.meta.term, err: err.message },
      `refused a snapshot from ${leader} that this build cannot apply, staying behind (counted; logged once per interval): ${err.message}`)
  }
}
