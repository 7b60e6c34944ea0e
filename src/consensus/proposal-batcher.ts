/**
 * @module consensus/proposal-batcher
 * Group commit at the API (issue 16): operator commands that reach this node while its previous batch is
 * in flight (proposed, not yet applied here) wait, and go out together as the next batch — one signed
 * envelope, one Raft entry, one WAL record, one apply and one chain block for all of them. A request that
 * finds nothing in flight is proposed at once, alone (a v1 envelope, as before batching): batching adds no
 * latency to a lone request. Each caller gets its own command's typed result out of the batch's.
 *
 * Linger: with one batch in flight, closed-loop callers split into two groups that alternate (the callers a
 * batch answers come back while the next batch, holding the others, is already in flight), so each batch
 * carries about half of them. After a batch that answered 2+ callers, the next one therefore waits until as
 * many commands as that batch answered (plus those already queued) are queued, or half of that batch's
 * flight time (at most lingerMaxMs) has passed: the answered callers' next requests join it. A caller that
 * comes back within a flight waits less this way than for the next batch's whole flight, and every merged
 * batch saves one batch's cost on every node (a signature, a Raft entry and its messages, a WAL record, an
 * apply, a chain block). A batch of one never lingers, so one client waits for nothing.
 */
import { assert } from '../util/assert.js'
import { ConsensusBusyError } from './errors.js'
import type { ProposalResult } from './raft-node.js'
import type { ApplyResult, BatchedCommand } from './shape/core/index.js'
import { MAX_BATCH_COMMANDS } from './shape/core/index.js'

export interface ProposalBatcherLimits {
  /** Commands per batch (at most MAX_BATCH_COMMANDS). */
  commandsMax: number
  /** Encoded bytes of one batch's commands. */
  bytesMax: number
  /** Batches proposed and not yet applied here. */
  inFlightMax: number
  /** Commands waiting; beyond it submit() rejects with ConsensusBusyError. */
  queueMax: number
  /**
   * How long, at most, a batch waits for the callers the previous batch answered (never longer than half of
   * that batch's flight; 0: never waits).
   */
  lingerMaxMs: number
}

export interface ProposalBatcherDeps {
  /** Signs and proposes one command alone (a v1 envelope); resolves once applied here. */
  proposeOne: (item: BatchedCommand) => Promise<ProposalResult<ApplyResult>>
  /** Signs and proposes 2+ commands in one batch envelope; resolves once applied here. */
  proposeBatch: (items: BatchedCommand[]) => Promise<ProposalResult<ApplyResult>>
  /** Encoded size of one command with its reason (what the batch envelope will carry). */
  encodedBytes: (item: BatchedCommand) => number
  /** Monotonic milliseconds, to time a batch's flight. @default performance.now */
  nowMs?: () => number
}

/** One command's result: the batch entry's position and term, with this command's own outcome. */
export interface CommandResult extends ProposalResult<ApplyResult> {
  /** Present when the command travelled in a batch of 2+: its position (0-based) and the batch size. */
  batch?: { position: number, commands: number }
}

/** Batches and commands proposed since start (status `proposals`; commands ÷ batches = mean batch size). */
export interface ProposalBatcherCounters {
  batches: number
  batchedCommands: number
  /** Batches that waited for the previous batch's callers, and those of them that stopped at lingerMaxMs. */
  lingers: number
  lingerTimeouts: number
}

interface Queued {
  item: BatchedCommand
  bytes: number
  resolve: (result: CommandResult) => void
  reject: (error: Error) => void
}

/** Splits a batch's result into the result of the command at `position`. */
export function commandResultOf (batch: ProposalResult<ApplyResult>, position: number, commands: number): CommandResult {
  const { outcomes, ...entry } = batch.result
  const outcome = outcomes?.[position] ?? entry.outcome
  return { ...batch, result: { ...entry, outcome }, batch: { position, commands } }
}

export class ProposalBatcher {
  private queue: Queued[] = []
  private inFlight = 0
  private readonly counts: ProposalBatcherCounters = { batches: 0, batchedCommands: 0, lingers: 0, lingerTimeouts: 0 }
  /** While set, the next batch waits until `target` commands are queued or the timer fires. */
  private linger: { target: number, timer: NodeJS.Timeout } | undefined

  private readonly now: () => number

  constructor (private readonly deps: ProposalBatcherDeps, private readonly limits: ProposalBatcherLimits) {
    this.now = deps.nowMs ?? (() => performance.now())
    assert(limits.commandsMax >= 1 && limits.commandsMax <= MAX_BATCH_COMMANDS, () => `commandsMax ${limits.commandsMax} outside 1..${MAX_BATCH_COMMANDS}`)
    assert(limits.inFlightMax >= 1, 'inFlightMax must be positive')
    assert(limits.queueMax >= limits.commandsMax, 'queueMax below commandsMax')
  }

  counters (): ProposalBatcherCounters {
    return { ...this.counts }
  }

  /**
   * Proposes `item` now, or with the next batch when one is in flight; resolves with its own result.
   * @throws ConsensusBusyError (async) when SHAPE_BATCH_QUEUE_MAX commands already wait
   */
  async submit (item: BatchedCommand): Promise<CommandResult> {
    if (this.queue.length >= this.limits.queueMax) throw new ConsensusBusyError(`${this.limits.queueMax} operator commands wait for a batch`)
    const promise = new Promise<CommandResult>((resolve, reject) => {
      this.queue.push({ item, bytes: this.deps.encodedBytes(item), resolve, reject })
    })
    this.dispatch()
    return await promise
  }

  /** Sends batches while fewer than inFlightMax are in flight (and no linger holds the next one back). */
  private dispatch (): void {
    while (this.inFlight < this.limits.inFlightMax && this.queue.length > 0) {
      if (this.linger !== undefined) {
        if (this.queue.length < this.linger.target && !this.queueFull()) return
        clearTimeout(this.linger.timer)
        this.linger = undefined
      }
      const batch = this.take()
      assert(batch.length >= 1 && batch.length <= this.limits.commandsMax, () => `batch of ${batch.length}`)
      this.inFlight++
      this.counts.batches++
      this.counts.batchedCommands += batch.length
      const sentAt = this.now()
      void this.send(batch).then((answered) => {
        this.inFlight--
        if (answered && batch.length >= 2) this.startLinger(batch.length, (this.now() - sentAt) / 2)
        this.dispatch()
      })
    }
  }

  /** The next batch waits for the `answered` callers to come back, at most `ms` (and lingerMaxMs). */
  private startLinger (answered: number, ms: number): void {
    const waitMs = Math.min(this.limits.lingerMaxMs, ms)
    if (waitMs <= 0 || this.linger !== undefined || this.inFlight > 0) return
    const target = Math.min(this.limits.commandsMax, this.queue.length + answered)
    this.counts.lingers++
    const timer = setTimeout(() => {
      if (this.linger?.timer !== timer) return
      this.linger = undefined
      this.counts.lingerTimeouts++
      this.dispatch()
    }, waitMs)
    timer.unref?.()
    this.linger = { target, timer }
  }

  /** Whether the queue already fills a batch (by count or bytes): no reason to wait for more. */
  private queueFull (): boolean {
    if (this.queue.length >= this.limits.commandsMax) return true
    let bytes = 0
    for (const q of this.queue) {
      bytes += q.bytes
      if (bytes >= this.limits.bytesMax) return true
    }
    return false
  }

  /** The next batch: queued commands in arrival order, up to the count and byte limits (at least one). */
  private take (): Queued[] {
    let bytes = 0
    let count = 0
    while (count < this.queue.length && count < this.limits.commandsMax) {
      const next = this.queue[count] as Queued
      if (count > 0 && bytes + next.bytes > this.limits.bytesMax) break
      bytes += next.bytes
      count++
    }
    return this.queue.splice(0, count)
  }

  /** Proposes `batch` and settles its callers; true when they got results (false when it failed). */
  private async send (batch: Queued[]): Promise<boolean> {
    try {
      if (batch.length === 1) {
        const only = batch[0] as Queued
        only.resolve(await this.deps.proposeOne(only.item))
        return true
      }
      const result = await this.deps.proposeBatch(batch.map((q) => q.item))
      batch.forEach((q, position) => { q.resolve(commandResultOf(result, position, batch.length)) })
      return true
    } catch (err) {
      // Timeout, busy, stopped: the batch's fate is unknown or refused, and so is each command's.
      for (const q of batch) q.reject(err as Error)
      return false
    }
  }
}
