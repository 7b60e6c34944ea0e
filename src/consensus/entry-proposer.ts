/**
 * @module consensus/entry-proposer
 * Puts this node's shape commands into log entries and proposes them to the driver: one signed command (v1),
 * a batch envelope of its own commands (v2), the leader's merged envelope with followers' forwarded groups
 * (v3), or a follower's unsigned request to the leader (issue 16). Each resolves with the result once the
 * entry is applied here. What goes which way is the batcher's and the service's choice, not this module's.
 */
import { wallClockMs } from '../util/wall-clock.js'
import type { ProposalResult, RaftNode } from './raft-node.js'
import type { ShapeMachine } from './shape/shape-machine.js'
import type { ShapeProposer } from './shape/proposer.js'
import type { ApplyResult, BatchedCommand, Command, CommandGroup, Reason } from './shape/core/index.js'
import { encodeRequest } from './shape/core/index.js'
import type { BatchProposeOptions } from './proposal-batcher.js'
import { ConsensusStoppedError } from './errors.js'

/** The driver's options for a batcher's proposal: its caller's deadline, when the batch carries one. */
const deadlineOf = (options: BatchProposeOptions): { deadlineMs?: number } => options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}

export interface EntryProposerDeps {
  /** The driver: built after this, so looked up when needed. */
  raft: () => Pick<RaftNode<ApplyResult>, 'isRunning' | 'propose'>
  /** Signs the envelopes and numbers the requests of this node's session. */
  proposer: Pick<ShapeProposer, 'build' | 'buildBatch' | 'buildMerged' | 'nextRequestId'>
  /** The applied shape, and where an envelope signed here is marked as such. */
  machine: Pick<ShapeMachine, 'shape' | 'signedHere'>
}

export class EntryProposer {
  constructor (private readonly deps: EntryProposerDeps) {}

  /**
   * Signs and proposes one shape command. A follower forwards the signed command alone; the leader derives
   * the configuration change it needs from its own applied shape (shape-command-rules.ts), and apply judges
   * it against the committed shape. With `options.leaderOnly` (the policy engine's proposals, decided from
   * this leader's snapshot) it is never forwarded: once the node no longer leads it commits from a copy it
   * appended or fails with ProposalLostError.
   */
  async one (command: Command, reason: Reason, options: BatchProposeOptions = {}): Promise<ProposalResult<ApplyResult>> {
    const { proposer, machine } = this.deps
    // A halt stops the driver before the node: the loops that propose run until then, and so does the API.
    if (!this.deps.raft().isRunning) throw new ConsensusStoppedError()
    const built = proposer.build(machine.shape, command, reason, wallClockMs())
    // Signed here a moment ago: applying it on this node needs no second signature check.
    machine.signedHere(built.cid, built.signature)
    return await this.deps.raft().propose(built.bytes, { ...deadlineOf(options), ...(options.leaderOnly === true ? { leaderOnly: true } : {}) })
  }

  /** Signs several operator commands in one batch envelope and proposes it. */
  async batch (items: BatchedCommand[], options: BatchProposeOptions = {}): Promise<ProposalResult<ApplyResult>> {
    const raft = this.deps.raft()
    // Commands queued behind the last batch may be sent after stop(): they fail as stopped, not as a bug.
    if (!raft.isRunning) throw new ConsensusStoppedError()
    const built = this.deps.proposer.buildBatch(items, wallClockMs())
    this.deps.machine.signedHere(built.cid, built.signature)
    return await raft.propose(built.bytes, deadlineOf(options))
  }

  /** Leader: signs this node's commands and followers' forwarded groups in one envelope (v3) and proposes it. */
  async merged (items: BatchedCommand[], groups: CommandGroup[], options: BatchProposeOptions): Promise<ProposalResult<ApplyResult>> {
    const raft = this.deps.raft()
    if (!raft.isRunning) throw new ConsensusStoppedError()
    const built = this.deps.proposer.buildMerged(items, groups, wallClockMs())
    this.deps.machine.signedHere(built.cid, built.signature)
    return await raft.propose(built.bytes, { ...deadlineOf(options), ...(options.leaderOnly === true ? { leaderOnly: true } : {}) })
  }

  /**
   * Follower: sends queued operator commands to the leader unsigned, as one request under a request id of
   * this node (issue 16); resolves with the result of the group that carried them.
   */
  async request (items: BatchedCommand[], options: BatchProposeOptions): Promise<ProposalResult<ApplyResult>> {
    const raft = this.deps.raft()
    if (!raft.isRunning) throw new ConsensusStoppedError()
    return await raft.propose(encodeRequest({ id: this.deps.proposer.nextRequestId(), commands: items }), deadlineOf(options))
  }
}
