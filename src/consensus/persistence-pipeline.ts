/**
 * @module consensus/persistence-pipeline
 * How the driver makes each Ready durable before what depends on it goes out (STYLE §5). When the storage
 * can flush off the event loop (`syncAsync`, FileStorage) the driver uses the core's asynchronous storage
 * writes: each Ready's records are written at once, but the fdatasync runs on libuv's thread pool while the
 * loop keeps receiving, replicating and writing the next Readies; when it completes, every Ready it covers
 * is acknowledged (`persisted()`, in order) and only then are their `messagesAfterPersist` sent. One flush at
 * a time, covering everything written before it started: group commit. Without `syncAsync` (or with
 * `asyncStorageWrites: false`) each Ready is fsynced inline. A disk that cannot write (full, EIO) stalls the
 * node instead of crashing it, and the write is retried until it succeeds.
 *
 * The driver hands it each Ready in the contract's order; around each write it sends (through the outbox),
 * installs a snapshot and applies (through the driver), and it acknowledges the core.
 */
import type { HardState, Entry, Message, NodeId, PersistTicket, RawNode, Ready, Snapshot } from './core/index.js'
import { MessageType } from './core/index.js'
import type { Storage } from './storage/types.js'
import { RETRYABLE_STORAGE_ERRORS } from './storage/errors.js'
import type { Logger, RaftNodeCounters } from './raft-node-types.js'
import type { Outbox } from './outbox.js'
import * as C from './constants.js'

/** A Ready written to storage but not yet durable (asynchronous storage writes), in ticket order. */
interface UnflushedWrite {
  ticket: PersistTicket
  hardState: HardState | undefined
  entries: Entry[]
  /** Sent once durable. */
  after: Message[]
  mustSync: boolean
}

/**
 * A write that failed (disk full, EIO): retried until it succeeds; no input reaches the core. `ready` is
 * a Ready between ready() and its acknowledgement (written inline); `unflushed` writes are rewritten too.
 */
export interface StalledWrite {
  ready: Ready | undefined
  error: Error
  sinceMs: number
  nextRetryMs: number
}

/** What the pipeline needs of the driver. */
export interface PersistencePipelineDeps {
  id: NodeId
  storage: Storage
  log: Logger
  monotonicMs: () => number
  /** Asynchronous storage writes: on when the storage has syncAsync and the init did not turn it off. */
  asyncWrites: boolean
  /** The driver's counters (shared): the WAL flushes and the entries they made durable. */
  counts: Pick<RaftNodeCounters, 'walFlushes' | 'walFlushedEntries'>
  outbox: Pick<Outbox, 'send' | 'sendAfterAnswers'>
  /** The core: created when the driver starts, so looked up when needed. */
  raw: () => Pick<RawNode, 'advance' | 'advanceIssued' | 'persisted'>
  running: () => boolean
  /** Runs the driver's next batch (a flush that completed may have unblocked the core). */
  scheduleBatch: () => void
  /** Applies a Ready's committed entries and read states. */
  apply: (ready: Ready) => void
  /** Installs a snapshot from the leader once it is persisted (restores, compacts, settles what it covered). */
  installSnapshot: (snapshot: Snapshot) => void
}

export class PersistencePipeline {
  readonly asyncWrites: boolean
  private stalledWrite: StalledWrite | undefined
  private unflushed: UnflushedWrite[] = []
  private flushRunning = false

  constructor (private readonly deps: PersistencePipelineDeps) {
    this.asyncWrites = deps.asyncWrites
  }

  /** The failed write the node is stalled on (see StalledWrite), or undefined while the disk takes writes. */
  get stalled (): StalledWrite | undefined {
    return this.stalledWrite
  }

  /** Readies written but not yet acknowledged as durable (asynchronous storage writes). */
  get unflushedCount (): number {
    return this.unflushed.length
  }

  /** Handles one Ready from the core; false when persisting it failed (the node is then stalled). */
  handle (ready: Ready): boolean {
    if (this.asyncWrites) return this.handleReadyAsync(ready)
    if (!this.handleReady(ready, false)) return false
    this.deps.raw().advance()
    return true
  }

  /** Retries the stalled write: the unflushed Readies are rewritten in order, then synced inline. */
  retryStalled (): boolean {
    const stalled = this.stalledWrite as StalledWrite
    try {
      for (const write of this.unflushed) this.writeRecords(write.hardState, write.entries)
      if (stalled.ready === undefined) this.deps.storage.sync()
    } catch (err) {
      this.stall(err, stalled.ready)
      return false
    }
    // A stalled Ready's own write (with its inline sync) also covers the unflushed ones rewritten before it.
    if (stalled.ready !== undefined && !this.handleReady(stalled.ready, true)) return false
    this.deps.log.info({ id: this.deps.id, stalledMs: this.deps.monotonicMs() - stalled.sinceMs }, 'storage writable again; resuming')
    this.stalledWrite = undefined
    if (!this.asyncWrites) {
      this.deps.raw().advance()
      return true
    }
    if (stalled.ready !== undefined) this.unflushed.push(this.issued(stalled.ready, []))
    this.acknowledgeFlushed(Number.MAX_SAFE_INTEGER)
    return true
  }

  /**
   * Starts one flush for every unflushed Ready when none runs. Readies that need no fsync (a commit index
   * only) are acknowledged at once unless an earlier one waits for a flush.
   */
  maybeFlush (): void {
    if (this.flushRunning || this.stalledWrite !== undefined || this.unflushed.length === 0 || !this.deps.running()) return
    const last = (this.unflushed[this.unflushed.length - 1] as UnflushedWrite).ticket.seq
    if (!this.unflushed.some((write) => write.mustSync)) {
      this.acknowledgeFlushed(last)
      this.deps.scheduleBatch()
      return
    }
    this.flushRunning = true
    const storage = this.deps.storage
    const flush = storage.syncAsync as () => Promise<void>
    flush.call(storage).then(() => {
      this.flushRunning = false
      if (!this.deps.running() || this.stalledWrite !== undefined) return
      this.deps.counts.walFlushes++
      this.acknowledgeFlushed(last)
      this.deps.scheduleBatch()
    }, (err: unknown) => {
      this.flushRunning = false
      if (!this.deps.running()) return
      if (!RETRYABLE_STORAGE_ERRORS.has((err as Error).name)) throw err
      if (this.stalledWrite === undefined) this.stall(err, undefined)
    })
  }

  /**
   * Syncs the WAL inline and acknowledges every unflushed Ready (before a snapshot is saved: the save syncs
   * inline too, and a failed one rolls the WAL back). Throws what the sync throws, acknowledging nothing.
   */
  syncUnflushed (): void {
    if (this.unflushed.length === 0) return
    this.deps.storage.sync()
    this.acknowledgeFlushed(Number.MAX_SAFE_INTEGER)
    this.deps.scheduleBatch()
  }

  /** Stalls the node on a failed write (rethrowing anything that is not a retryable storage error). */
  stall (err: unknown, ready: Ready | undefined): void {
    if (!RETRYABLE_STORAGE_ERRORS.has((err as Error).name)) throw err
    const now = this.deps.monotonicMs()
    if (this.stalledWrite === undefined) {
      this.deps.log.warn({ id: this.deps.id, err: (err as Error).message }, 'cannot write the log; refusing proposals until the disk takes writes again')
    }
    this.stalledWrite = { ready, error: err as Error, sinceMs: this.stalledWrite?.sinceMs ?? now, nextRetryMs: now + C.STORAGE_RETRY_INTERVAL_MS }
  }

  /**
   * Handles one Ready; false when persisting it failed (the node is then stalled on it). `retry` skips
   * the messages already sent on the first attempt.
   */
  private handleReady (ready: Ready, retry: boolean): boolean {
    const outbox = this.deps.outbox
    if (!retry) for (const message of ready.messages) outbox.send(message)
    if (!this.persist(ready)) return false
    if (ready.snapshot !== undefined) this.deps.installSnapshot(ready.snapshot)
    for (const message of ready.messagesAfterPersist) outbox.send(message)
    this.deps.apply(ready)
    return true
  }

  /**
   * Asynchronous storage writes: sends what may go first, writes the records without syncing, applies
   * what is durable, and queues the Ready until a flush covers it. A snapshot from the leader (rare) is
   * written and synced inline, which also makes every earlier unflushed Ready durable. False when a write
   * failed (the node is then stalled; the retry rewrites every unflushed Ready).
   */
  private handleReadyAsync (ready: Ready): boolean {
    if (ready.snapshot !== undefined) {
      if (!this.handleReady(ready, false)) return false
      this.unflushed.push(this.issued(ready, []))
      this.acknowledgeFlushed(Number.MAX_SAFE_INTEGER)
      return true
    }
    const outbox = this.deps.outbox
    // Appends without entries (the commit index after a commit) wait until this Ready's answers are out.
    const answersFirst = ready.committedEntries.length > 0
    for (const message of ready.messages) {
      if (answersFirst && message.type === MessageType.App && message.entries.length === 0) outbox.sendAfterAnswers(message)
      else outbox.send(message)
    }
    let failure: unknown
    try {
      this.writeRecords(ready.hardState, ready.entries)
    } catch (err) {
      if (!RETRYABLE_STORAGE_ERRORS.has((err as Error).name)) throw err
      failure = err
    }
    this.unflushed.push(this.issued(ready, ready.messagesAfterPersist))
    // The disk flushes while this node applies: a follower's Ready often holds the next entries and the
    // commit of the previous ones, and its acknowledgement then waits for the longer of the two, not both.
    // Nothing steps the core between issuing and applying (starting a flush only calls the storage).
    if (failure === undefined && ready.mustSync && ready.committedEntries.length > 0) this.maybeFlush()
    // Committed entries are handed out only up to the durable index, so they apply even if this write failed.
    this.deps.apply(ready)
    if (failure === undefined) return true
    this.stall(failure, undefined)
    return false
  }

  /** Acknowledges the Ready being handled as issued; its durability is acknowledged from the queue. */
  private issued (ready: Ready, after: Message[]): UnflushedWrite {
    return { ticket: this.deps.raw().advanceIssued(), hardState: ready.hardState, entries: ready.entries, after, mustSync: ready.mustSync }
  }

  /** Hard state before entries: a torn write may keep a newer term without its entries, never the reverse. */
  private writeRecords (hardState: HardState | undefined, entries: Entry[]): void {
    const storage = this.deps.storage
    if (hardState !== undefined && entries.length > 0 && storage.setHardStateAndAppend !== undefined) {
      storage.setHardStateAndAppend(hardState, entries)
      return
    }
    if (hardState !== undefined) storage.setHardState(hardState)
    if (entries.length > 0) storage.append(entries)
  }

  /** The unflushed Readies up to ticket `seq` are durable: acknowledge them in order and send what waited. */
  private acknowledgeFlushed (seq: number): void {
    const raw = this.deps.raw()
    while (this.unflushed.length > 0 && (this.unflushed[0] as UnflushedWrite).ticket.seq <= seq) {
      const write = this.unflushed.shift() as UnflushedWrite
      this.deps.counts.walFlushedEntries += write.entries.length
      raw.persisted(write.ticket)
      for (const message of write.after) this.deps.outbox.send(message)
    }
  }

  /**
   * Persists a Ready: snapshot, hard state, entries, one fsync. A disk that cannot write (full, EIO) stalls
   * the node on this Ready instead of crashing: nothing in it is acknowledged (messagesAfterPersist wait),
   * proposals are refused, and the retry rewrites it all (FileStorage rolled the partial write back).
   */
  private persist (ready: Ready): boolean {
    try {
      if (ready.snapshot !== undefined) this.deps.storage.saveSnapshot(ready.snapshot)
      this.writeRecords(ready.hardState, ready.entries)
      // Inline, the sync also covers every unflushed Ready written before (asynchronous storage writes).
      if (ready.mustSync || this.unflushed.length > 0) this.deps.storage.sync()
      return true
    } catch (err) {
      this.stall(err, ready)
      return false
    }
  }
}
