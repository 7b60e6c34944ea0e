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
 * apply, a chain block). A batch of one never lingers, so one client waits for nothing. On the leader the
 * followers' commands an envelope carried count too, and the wait may then last two flights: their
 * callers come back a hop later each way (the commit notice, their node's next request).
 *
 * Forwarded requests (issue 16): on a follower (`forwarding()` true) a batch is not signed here; it goes to
 * the leader as an unsigned request under a request id of this node (`forward`), and its callers are
 * answered when an entry carrying that id applies here. On the leader, a follower's request arrives as a
 * group (`submitGroup`) and queues with the leader's own commands: the next envelope carries both (v3,
 * each forwarded group under its `via`), so several nodes' commands cost one envelope on every node. A
 * group is never split, one envelope holds at most one group per follower session, a group already queued
 * or in flight here is not queued again (the follower retries every second), and a node that stops leading
 * drops the groups it holds (their followers retry with the next leader).
 *
 * A lost envelope (issue 16): a merged envelope this node appended as leader that the committed log rules
 * out (ProposalLostError, raft-node.ts `resolveLeaderOnly`) applied nothing, so this node's own commands in
 * it go again, first in line, into the next batch — a request to the new leader, or this node's next
 * envelope if it leads again — and their callers are answered by that entry. The followers' groups in it are
 * theirs to retry. A command goes again at most `resubmitsMax` times; then its caller gets the error.
 * Its caller's deadline does not move: each submission again carries the lost proposal's deadline
 * (`ProposalLostError.deadlineMs`, the first submission's), so the caller hears of it — result, timeout or
 * loss — no later than the operation timeout after it was first proposed. When that deadline has passed before
 * the command could go again, the driver proposes nothing (`ConsensusTimeoutError.proposed` false) and the
 * caller hears ProposalLostError — not applied, safe to retry — not a timeout. Commands that go again travel in a
 * batch without commands that have not been proposed yet (those keep a whole operation timeout of their own).
 */
import { assert } from '../util/assert.js'
import { ConsensusBusyError, ProposalLostError } from './errors.js'
import type { ProposalResult } from './raft-node.js'
import type { ApplyResult, BatchedCommand, CommandGroup, RequestId } from './shape/core/index.js'
import { MAX_BATCH_COMMANDS, requestOwner } from './shape/core/index.js'

export interface ProposalBatcherLimits {
  /** Commands per batch (at most MAX_BATCH_COMMANDS). */
  commandsMax: number
  /** Encoded bytes of one batch's commands. */
  bytesMax: number
  /** Batches proposed and not yet applied here. */
  inFlightMax: number
  /**
   * This node's own commands waiting; beyond it submit() rejects with ConsensusBusyError. Followers' groups
   * have a budget of their own, as large: they never crowd this node's commands out.
   */
  queueMax: number
  /**
   * Commands of one other node's groups waiting (a member may flood requests under fresh sessions); beyond
   * it submitGroup() refuses that node's next group with ConsensusBusyError, and it retries.
   * @default max(commandsMax, queueMax / 16)
   */
  groupCommandsPerSenderMax?: number
  /**
   * How long, at most, a batch waits for the callers the previous batch answered (never longer than half of
   * that batch's flight, or two flights when it carried followers' groups; 0: never waits).
   */
  lingerMaxMs: number
  /** Times one command is submitted again after its envelope was lost (ProposalLostError). @default 0 */
  resubmitsMax?: number
}

/** What the batcher tells each proposal it makes. */
export interface BatchProposeOptions {
  /**
   * Set when the batch carries commands submitted again after a lost envelope: their first submission's
   * deadline (the driver's monotonic clock), which the proposal must not outlive (RaftNode ProposeOptions).
   */
  deadlineMs?: number
  /**
   * proposeMerged: whether a group comes from another node (then only this node, leading, may append the
   * envelope: RaftNode ProposeOptions.leaderOnly). The batcher knows, it built the batch. The policy engine sets
   * it for its own single commands (EntryProposer.one), decided from this leader's snapshot.
   */
  leaderOnly?: boolean
}

export interface ProposalBatcherDeps {
  /** Signs and proposes one command alone (a v1 envelope); resolves once applied here. */
  proposeOne: (item: BatchedCommand, options: BatchProposeOptions) => Promise<ProposalResult<ApplyResult>>
  /** Signs and proposes 2+ commands in one batch envelope; resolves once applied here. */
  proposeBatch: (items: BatchedCommand[], options: BatchProposeOptions) => Promise<ProposalResult<ApplyResult>>
  /** Encoded size of one command with its reason (what the batch envelope will carry). */
  encodedBytes: (item: BatchedCommand) => number
  /**
   * Leader: signs and proposes this node's commands (first, possibly none) with followers' forwarded groups
   * in one envelope (v3); resolves once applied here. Absent: groups are never queued.
   */
  proposeMerged?: (items: BatchedCommand[], groups: CommandGroup[], options: BatchProposeOptions) => Promise<ProposalResult<ApplyResult>>
  /**
   * Follower: sends the commands to the leader unsigned, as one request; resolves with the result of the
   * group that carried them once applied here (`outcomes`: one per command).
   */
  forward?: (items: BatchedCommand[], options: BatchProposeOptions) => Promise<ProposalResult<ApplyResult>>
  /** Whether batches go to the leader as requests (this node does not lead). @default never */
  forwarding?: () => boolean
  /**
   * Whether 2+ commands may share an envelope (the cluster's protocol level knows v2 batches); when not,
   * every batch is one command, a v1 envelope. @default always
   */
  batching?: () => boolean
  /** Monotonic milliseconds, to time a batch's flight. @default performance.now */
  nowMs?: () => number
  /** This node's id: a group whose request id names another node makes its envelope leader-only. @default none: every group is another node's */
  self?: string
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
  /** Follower: requests (and their commands) sent to the leader instead of signed batches. */
  requestsForwarded: number
  requestCommandsForwarded: number
  /** Leader: followers' groups (and their commands) carried in this node's envelopes; groups dropped on losing leadership. */
  groupsMerged: number
  groupCommandsMerged: number
  groupsDropped: number
  /** This node's commands submitted again because the envelope that carried them was lost (ProposalLostError). */
  commandsResubmitted: number
}

/** One of this node's callers' commands. */
interface Queued {
  kind: 'own'
  item: BatchedCommand
  bytes: number
  resolve: (result: CommandResult) => void
  reject: (error: Error) => void
  /** Times it was submitted again after a lost envelope. */
  resubmits: number
  /** Once submitted again: the deadline of its first submission (the driver's clock), which it keeps. */
  deadlineMs?: number
}

/** A follower's forwarded group, waiting for the leader's next envelope (nobody waits for it here). */
interface QueuedGroup {
  kind: 'group'
  group: CommandGroup & { via: RequestId }
  key: string
  bytes: number
}

type Waiting = Queued | QueuedGroup

const commandsOf = (w: Waiting): number => w.kind === 'own' ? 1 : w.group.commands.length
const requestKey = (id: RequestId): string => `${id.clientId}/${id.seq}`

/**
 * Splits a batch's result into the result of the command at `position` (of `commands`). A forwarded
 * group's result (`group`) holds the group's outcomes: the answer names the command's place in the entry.
 */
export function commandResultOf (batch: ProposalResult<ApplyResult>, position: number, commands: number): CommandResult {
  const { outcomes, group, ...entry } = batch.result
  const outcome = outcomes?.[position] ?? entry.outcome
  const place = group !== undefined ? { position: group.first + position, commands: group.commands } : { position, commands }
  return { ...batch, result: { ...entry, outcome }, batch: place }
}

export class ProposalBatcher {
  private queue: Waiting[] = []
  /** Commands in the queue (own ones count 1, a group its commands). Invariant: own + groups' commands. */
  private queuedCommands = 0
  /** Of queuedCommands, this node's own: at most queueMax. The rest are groups', at most queueMax too. */
  private queuedOwn = 0
  /** Commands of the groups queued, by the node that sent them (requestOwner): at most the sender's share. */
  private readonly queuedBySender = new Map<string, number>()
  private readonly senderShareMax: number
  /** Keys of the forwarded groups queued or in an envelope in flight here. */
  private readonly groupKeys = new Set<string>()
  private inFlight = 0
  /** Of inFlight, the requests forwarded to the leader (they stop blocking once this node leads). */
  private forwardsInFlight = 0
  private readonly counts: ProposalBatcherCounters = {
    batches: 0, batchedCommands: 0, lingers: 0, lingerTimeouts: 0, requestsForwarded: 0, requestCommandsForwarded: 0, groupsMerged: 0, groupCommandsMerged: 0, groupsDropped: 0,
    commandsResubmitted: 0
  }
  /** While set, the next batch waits until `target` commands are queued or the timer fires. */
  private linger: { target: number, timer: NodeJS.Timeout } | undefined

  private readonly now: () => number

  constructor (private readonly deps: ProposalBatcherDeps, private readonly limits: ProposalBatcherLimits) {
    this.now = deps.nowMs ?? (() => performance.now())
    assert(limits.commandsMax >= 1 && limits.commandsMax <= MAX_BATCH_COMMANDS, () => `commandsMax ${limits.commandsMax} outside 1..${MAX_BATCH_COMMANDS}`)
    assert(limits.inFlightMax >= 1, 'inFlightMax must be positive')
    assert(limits.queueMax >= limits.commandsMax, 'queueMax below commandsMax')
    this.senderShareMax = limits.groupCommandsPerSenderMax ?? Math.max(limits.commandsMax, Math.floor(limits.queueMax / 16))
    assert(this.senderShareMax >= limits.commandsMax, 'groupCommandsPerSenderMax below commandsMax: a whole group could never queue')
    assert(this.senderShareMax <= limits.queueMax, 'groupCommandsPerSenderMax above queueMax')
  }

  counters (): ProposalBatcherCounters {
    return { ...this.counts }
  }

  /**
   * Proposes `item` now, or with the next batch when one is in flight; resolves with its own result.
   * @throws ConsensusBusyError (async) when SHAPE_BATCH_QUEUE_MAX commands already wait
   */
  async submit (item: BatchedCommand): Promise<CommandResult> {
    if (this.queuedOwn >= this.limits.queueMax) throw new ConsensusBusyError(`${this.limits.queueMax} operator commands wait for a batch`)
    const promise = new Promise<CommandResult>((resolve, reject) => {
      this.queue.push({ kind: 'own', item, bytes: this.deps.encodedBytes(item), resolve, reject, resubmits: 0 })
      this.queuedCommands++
      this.queuedOwn++
    })
    this.dispatch()
    return await promise
  }

  /**
   * Leader: queues a follower's forwarded group for this node's next envelope. `bytes` is its encoded size
   * as the envelope will carry it (commands and via), measured here, never the follower's figure.
   * Returns false when the same request is already queued or in flight here (a retry: nothing to do).
   * @throws ConsensusBusyError when SHAPE_BATCH_QUEUE_MAX followers' commands already wait, or the sender's
   *   share of them (groupCommandsPerSenderMax) would be passed: one member's flood of requests under fresh
   *   sessions filled the whole queue, and this node's and other members' commands were refused
   */
  submitGroup (group: CommandGroup & { via: RequestId }, bytes: number): boolean {
    assert(this.deps.proposeMerged !== undefined, 'groups need proposeMerged')
    assert(group.commands.length >= 1 && group.commands.length <= this.limits.commandsMax, () => `group of ${group.commands.length}`)
    const key = requestKey(group.via)
    if (this.groupKeys.has(key)) return false
    const n = group.commands.length
    if (this.queuedCommands - this.queuedOwn + n > this.limits.queueMax) throw new ConsensusBusyError(`${this.limits.queueMax} followers' commands wait for a batch`)
    const sender = requestOwner(group.via)
    const senderQueued = this.queuedBySender.get(sender) ?? 0
    if (senderQueued + n > this.senderShareMax) {
      throw new ConsensusBusyError(`${senderQueued} commands of ${sender} wait for a batch, its share is ${this.senderShareMax}`)
    }
    this.queue.push({ kind: 'group', group, key, bytes })
    this.queuedCommands += n
    this.queuedBySender.set(sender, senderQueued + n)
    this.groupKeys.add(key)
    this.dispatch()
    return true
  }

  /** This node stopped leading: the followers' queued groups go (they retry with the next leader). */
  dropGroups (): number {
    const before = this.queue.length
    this.queue = this.queue.filter((w) => {
      if (w.kind === 'own') return true
      this.groupKeys.delete(w.key)
      this.unqueued(w)
      return false
    })
    const dropped = before - this.queue.length
    this.counts.groupsDropped += dropped
    return dropped
  }

  /** Sends batches while fewer than inFlightMax are in flight (and no linger holds the next one back). */
  private dispatch (): void {
    while (!this.busy() && this.queue.length > 0) {
      if (this.linger !== undefined) {
        if (this.queuedCommands < this.linger.target && !this.queueFull()) return
        clearTimeout(this.linger.timer)
        this.linger = undefined
      }
      // A node that does not lead sends no group on: they are other followers' requests.
      if (this.deps.forwarding?.() === true && this.dropGroups() > 0 && this.queue.length === 0) return
      const batch = this.take()
      const commands = batch.reduce((n, w) => n + commandsOf(w), 0)
      assert(batch.length >= 1 && commands <= this.limits.commandsMax, () => `batch of ${commands}`)
      this.inFlight++
      const sentAt = this.now()
      void this.send(batch, commands).then(({ own, forwarded }) => {
        this.inFlight--
        // Followers' callers come back a hop later each way (the commit notice, their node's request), after
        // their node applied the entry too: the next envelope may wait for them up to two flights of this one
        // (one flight timed out too often under load: docs/bench/consensus.md); for this node's own, half of one.
        const flightMs = this.now() - sentAt
        if (own + forwarded >= 2) this.startLinger(own + forwarded, forwarded > 0 ? 2 * flightMs : flightMs / 2)
        this.dispatch()
      })
    }
  }

  /**
   * Whether inFlightMax batches are in flight. A request this node forwarded while it followed does not
   * count once it leads: that request now waits for this node's own next envelope (it reaches it as a
   * group through the driver), which must not wait for it in turn.
   */
  private busy (): boolean {
    const leading = this.deps.forwarding?.() !== true
    return this.inFlight - (leading ? this.forwardsInFlight : 0) >= this.limits.inFlightMax
  }

  /** The next batch waits for the `answered` callers to come back, at most `ms` (and lingerMaxMs). */
  private startLinger (answered: number, ms: number): void {
    const waitMs = Math.min(this.limits.lingerMaxMs, ms)
    if (waitMs <= 0 || this.linger !== undefined || this.inFlight > 0) return
    const target = Math.min(this.limits.commandsMax, this.queuedCommands + answered)
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
    if (this.queuedCommands >= this.limits.commandsMax) return true
    let bytes = 0
    for (const q of this.queue) {
      bytes += q.bytes
      if (bytes >= this.limits.bytesMax) return true
    }
    return false
  }

  /**
   * The next batch: queued commands and groups in arrival order, up to the count and byte limits (at least
   * one); a group is never split, and a second group of one follower session waits for the next batch.
   */
  private take (): Waiting[] {
    let bytes = 0
    let commands = 0
    const taken: Waiting[] = []
    const left: Waiting[] = []
    const sessions = new Set<string>()
    /** Whether the batch's own commands were submitted again (they carry a deadline); unset until one is taken. */
    let ownDeadlined: boolean | undefined
    if (this.deps.batching?.() === false) {
      // One command, alone in a v1 envelope (a group never reaches a node below the forwarding level).
      const first = this.queue.shift() as Waiting
      this.unqueued(first)
      return [first]
    }
    for (const next of this.queue) {
      const n = commandsOf(next)
      const full = commands + n > this.limits.commandsMax || (taken.length > 0 && bytes + next.bytes > this.limits.bytesMax)
      const sameSession = next.kind === 'group' && sessions.has(next.group.via.clientId)
      // Commands submitted again keep their first deadline: a command not proposed yet does not share it.
      const otherDeadline = next.kind === 'own' && ownDeadlined !== undefined && ownDeadlined !== (next.deadlineMs !== undefined)
      if (left.length > 0 || full || sameSession || otherDeadline) {
        // Arrival order holds for own commands: once one waits, everything after it waits too.
        left.push(next)
        continue
      }
      if (next.kind === 'group') sessions.add(next.group.via.clientId)
      else ownDeadlined ??= next.deadlineMs !== undefined
      taken.push(next)
      bytes += next.bytes
      commands += n
    }
    this.queue = left
    for (const w of taken) this.unqueued(w)
    assert(commands === taken.reduce((k, w) => k + commandsOf(w), 0), 'batch count')
    return taken
  }

  /** Takes `w`, which left the queue, off the counts of what waits. */
  private unqueued (w: Waiting): void {
    this.queuedCommands -= commandsOf(w)
    if (w.kind === 'own') {
      this.queuedOwn--
    } else {
      const sender = requestOwner(w.group.via)
      const left = (this.queuedBySender.get(sender) ?? 0) - w.group.commands.length
      assert(left >= 0, () => `${sender}'s queued commands went below 0`)
      if (left === 0) this.queuedBySender.delete(sender)
      else this.queuedBySender.set(sender, left)
    }
    assert(this.queuedOwn >= 0 && this.queuedOwn <= this.queuedCommands, 'own queued commands out of range')
  }

  /**
   * Proposes `batch` and settles its callers; returns how many of this node's callers it answered and how
   * many followers' commands it carried (both 0 when it failed). Signed here, or, on a follower, forwarded
   * to the leader as one request.
   */
  private async send (batch: Waiting[], commands: number): Promise<{ own: number, forwarded: number }> {
    const own = batch.filter((w): w is Queued => w.kind === 'own')
    const groups = batch.filter((w): w is QueuedGroup => w.kind === 'group')
    try {
      const result = await this.propose(own, groups, commands)
      if (own.length === 1 && groups.length === 0 && result.result.outcomes === undefined) {
        (own[0] as Queued).resolve(result)
      } else {
        // In a merged envelope this node's commands come first, among the entry's `outcomes`.
        const commands = result.result.outcomes?.length ?? own.length
        own.forEach((q, position) => { q.resolve(commandResultOf(result, position, commands)) })
      }
      return { own: own.length, forwarded: groups.reduce((n, g) => n + g.group.commands.length, 0) }
    } catch (err) {
      // Known not applied: this node's commands go again, ahead of everything queued since.
      const lost = (err as Error).name === 'ProposalLostError' ? err as Error & { deadlineMs?: number } : undefined
      const again = lost !== undefined ? own.filter((q) => q.resubmits < (this.limits.resubmitsMax ?? 0)) : []
      for (const q of again) {
        q.resubmits++
        if (lost?.deadlineMs !== undefined) q.deadlineMs = Math.min(q.deadlineMs ?? Number.POSITIVE_INFINITY, lost.deadlineMs)
      }
      this.queue.unshift(...again)
      this.queuedCommands += again.length
      this.queuedOwn += again.length
      this.counts.commandsResubmitted += again.length
      // Timeout, busy, stopped: the batch's fate is unknown or refused, and so is each command's. Lost once
      // too often: the caller hears how many times (still known not applied). Lost, then its first deadline
      // passed before it could go again: not proposed either, so also known not applied.
      const unsent = isUnproposed(err)
      for (const q of own) {
        if (again.includes(q)) continue
        if (lost !== undefined && q.resubmits > 0) {
          q.reject(new ProposalLostError(`sent ${q.resubmits + 1} times, each time in an envelope lost with its leader before it committed (leadership keeps changing); the last: ${lost.message}`, lost.deadlineMs))
        } else if (unsent && q.resubmits > 0) {
          q.reject(new ProposalLostError(`lost with its leader before it committed (${q.resubmits} time(s)); its first deadline passed before it could be sent again, so it was not: ${(err as Error).message}`, q.deadlineMs))
        } else {
          q.reject(err as Error)
        }
      }
      return { own: 0, forwarded: 0 }
    } finally {
      for (const g of groups) this.groupKeys.delete(g.key)
    }
  }

  /** The one proposal a batch becomes: a request to the leader, a v1 or v2 envelope, or a merged one. */
  private async propose (own: Queued[], groups: QueuedGroup[], commands: number): Promise<ProposalResult<ApplyResult>> {
    const items = own.map((q) => q.item)
    const deadlines = own.flatMap((q) => q.deadlineMs !== undefined ? [q.deadlineMs] : [])
    const options: BatchProposeOptions = deadlines.length > 0 ? { deadlineMs: Math.min(...deadlines) } : {}
    if (groups.length === 0 && this.deps.forward !== undefined && this.deps.forwarding?.() === true) {
      this.counts.requestsForwarded++
      this.counts.requestCommandsForwarded += items.length
      this.forwardsInFlight++
      try {
        return await this.deps.forward(items, options)
      } finally {
        this.forwardsInFlight--
      }
    }
    this.counts.batches++
    this.counts.batchedCommands += commands
    if (groups.length > 0) {
      this.counts.groupsMerged += groups.length
      this.counts.groupCommandsMerged += commands - items.length
      // A request this node forwarded before it led comes back as a group of its own: not another node's.
      const leaderOnly = groups.some((g) => this.deps.self === undefined || requestOwner(g.group.via) !== this.deps.self)
      return await (this.deps.proposeMerged as NonNullable<ProposalBatcherDeps['proposeMerged']>)(items, groups.map((g) => g.group), { ...options, leaderOnly })
    }
    if (items.length === 1) return await this.deps.proposeOne(items[0] as BatchedCommand, options)
    return await this.deps.proposeBatch(items, options)
  }
}

/** A timeout whose proposal was never made (raft-node.ts: the deadline had passed): nothing of it can commit. */
function isUnproposed (err: unknown): boolean {
  return (err as Error).name === 'ConsensusTimeoutError' && (err as { proposed?: unknown }).proposed === false
}
