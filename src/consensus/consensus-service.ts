/**
 * @module consensus/consensus-service
 * Plugs role consensus into the node (issue 6): durable Raft storage in `<data-dir>/raft`, the Raft
 * transport over libp2p streams, the RaftNode driver, the MeshShape state machine, admission of joined
 * peers as learners, and the API routes for status, shape and proposals.
 *
 * The cluster's creator (a node started without a join string) bootstraps a single-voter cluster on its
 * first start: entry 1 makes it the only voter, entry 2 its signed `bootstrap` command (every
 * control-plane role). Every other node waits to be admitted by the leader.
 */
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { FastifyInstance } from 'fastify'
import { createSigner, peerIdTextProblem } from '../codec/index.js'
import type { NodeService, ServiceContext } from '../node/service.js'
import { RaftNode } from './raft-node.js'
import type { ProposalResult, MessageTransport } from './raft-node.js'
import { ShapeMachine } from './shape/shape-machine.js'
import { ShapeProposer } from './shape/proposer.js'
import type { ApplyResult, Command, Reason, MeshShape } from './shape/core/index.js'
import type { ProposalId } from './core/index.js'
import { encodeCanonicalFast } from '../codec/index.js'
import { ProposalBatcher } from './proposal-batcher.js'
import type { BatchProposeOptions, CommandResult } from './proposal-batcher.js'
import { SHAPE_BATCH_BYTES_MAX, SHAPE_BATCH_COMMANDS_MAX, SHAPE_BATCH_LINGER_MAX_MS, SHAPE_BATCH_QUEUE_MAX, SHAPE_BATCH_QUEUE_SENDER_MAX, SHAPE_BATCH_RESUBMITS_MAX, SHAPE_BATCHES_IN_FLIGHT_MAX } from './constants.js'
import { caughtUpMembers, mayTalkRaft, unheardPeers, ADMISSION_ROUND_INTERVAL_MS } from './admission.js'
import { AdmissionLoop } from './admission-loop.js'
import { VoterPriority, VOTER_NICE_DEFAULT } from './voter-priority.js'
import type { ThreadPriority } from '../util/thread-priority.js'
import { allVoters } from './core/quorum.js'
import { ProtocolLoop } from './protocol-loop.js'
import { PROTOCOL_REFUSALS_ANSWERED, PROTOCOL_BATCH_ENVELOPES, PROTOCOL_FORWARDED_REQUESTS, PROTOCOL_JOINED_PROMOTION, PROTOCOL_LEVEL, PROTOCOL_LEVEL_MIN, PROTOCOL_REPLACEMENT } from './shape/core/index.js'
import type { Storage } from './storage/types.js'
import type { ReplicatedStateMachine } from './state-machine.js'
import { registerConsensusRoutes } from './routes.js'
import { shapeCommandRules } from './shape-command-rules.js'
import { wallClockMs } from '../util/wall-clock.js'
import { steadyNowMs } from '../util/clock.js'
import { assertNotRemoved, RemovalNotices } from './removal.js'
import { ConsensusStoppedError, RequestRefusedError } from './errors.js'
import { RemovedRedials } from './removed-redials.js'
import { MemberRemoval } from './member-removal.js'
import type { DepartureSeal, RemovalResult } from './member-removal.js'
import { QuorumRecoveryRun } from './quorum-recovery-run.js'
import { batchableAgainst, ForwardedRequestIntake } from './forwarded-request-intake.js'
import { EntryProposer } from './entry-proposer.js'
import { advertisedLevelsOf, liveMembersOf, peerHeardFrom } from './membership-reads.js'
import type { HealthSource } from './membership-reads.js'

// Moved to their own modules; still exported from here for the callers that know them here.
export { EXIT_CODE_REMOVED, handOffPlan } from './member-removal.js'
export type { Departure, DepartureSeal, RemovalResult } from './member-removal.js'
export { peerHeardFrom } from './membership-reads.js'
/** Exit code of `revoada start` when the cluster runs a protocol level this build does not know (upgrade it). */
export const EXIT_CODE_PROTOCOL = 7

/** What the service needs from the outside, injectable for tests. */
export interface ConsensusServiceInit {
  /** Opens durable storage in `dir`. */
  openStorage: (dir: string) => Storage
  /** Builds the Raft transport on the node's libp2p instance. */
  createTransport: (ctx: ServiceContext, isMember: (peer: string) => boolean) => MessageTransport & {
    start(): Promise<void>
    stop(): Promise<void>
    counters?: () => object
    /** Closes the open inbound streams `isMember` now refuses (called when the role, leader or configuration changes). */
    recheckInbound?: () => number
  }
  /** Wraps the shape machine before Raft applies to it (the attestation chain hooks in here). */
  wrapMachine?: (shape: ShapeMachine, ctx: ServiceContext) => ReplicatedStateMachine<ApplyResult>
  /** The chain's side of a member's departure: `remove-member` and `leave` wait for a seal it needs (member-removal.ts). */
  departureSeal?: DepartureSeal
  /**
   * The event loop's thread priority, raised while this node is a voter (voter-priority.ts). Only where one
   * node owns the process (the CLI): in-process nodes share one thread. @default none: left as started
   */
  threadPriority?: ThreadPriority
}

export interface ShapeView {
  shape: MeshShape
  cid: string
  appliedIndex: number
}

export class ConsensusService implements NodeService {
  readonly name = 'consensus'
  private ctx!: ServiceContext
  /** This node's quorum recovery, run or checked for at start (quorum-recovery-run.ts). */
  private recovery: QuorumRecoveryRun | undefined
  private storage!: Storage
  private transport!: ReturnType<ConsensusServiceInit['createTransport']>
  private raft!: RaftNode<ApplyResult>
  private machine!: ShapeMachine
  private proposer!: ShapeProposer
  private entries!: EntryProposer
  private admission: AdmissionLoop | undefined
  private batcher!: ProposalBatcher
  /**
   * Checks an operator's command before `POST /v1/proposals` proposes it (the policy engine installs one:
   * a change the policy would undo is refused, issue 12 item 2); returns the error to refuse it with.
   */
  operatorGuard: ((command: Command) => Error | null) | undefined
  private notices!: RemovalNotices
  private removal!: MemberRemoval
  private intake!: ForwardedRequestIntake

  constructor (private readonly init: ConsensusServiceInit) {}

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    await assertNotRemoved(ctx.config.dataDir)
    const dir = path.join(ctx.config.dataDir, 'raft')
    // The storage makes the directory itself, durably (FileStorage: makeDirDurable); made here first, its
    // parent was never fsynced and a power cut could take the vote and the acknowledged entries with it.
    this.storage = this.init.openStorage(dir)
    this.machine = new ShapeMachine(ctx.cluster.clusterId)
    this.removal = new MemberRemoval({
      raft: () => this.raft,
      shape: () => this.machine.shape,
      propose: async (command, reason) => await this.propose(command, reason),
      liveMembers: () => this.liveMembers(),
      departureSeal: this.init.departureSeal,
      ctx
    })
    // Removed members leave the redial loop on every node (removed-redials.ts).
    const removedRedials = new RemovedRedials((peer) => { ctx.redialer.forget(peer) })
    this.machine.onChange((shape) => {
      removedRedials.update(shape)
      this.removal.onShapeChange(shape)
    })
    this.notices = new RemovalNotices(ctx.net, { clusterId: ctx.cluster.clusterId, nodeId: ctx.nodeId }, ctx.log)
    const signer = createSigner(ctx.privateKey, ctx.nodeId)
    // Random, not the time: after a wall-clock step back a restarted node must not reuse an old session
    // id, whose applied sequence numbers would make its new proposals look like duplicates.
    const clientId = `${ctx.nodeId}/${randomBytes(8).toString('hex')}`
    this.proposer = new ShapeProposer(signer, ctx.cluster.clusterId, clientId)
    this.entries = new EntryProposer({ raft: () => this.raft, proposer: this.proposer, machine: this.machine })
    this.batcher = new ProposalBatcher({
      proposeOne: async ({ command, reason }, options) => {
        if (!this.raft.isRunning) throw new ConsensusStoppedError()
        return await this.propose(command, reason, options)
      },
      proposeBatch: async (items, options) => await this.entries.batch(items, options),
      proposeMerged: async (items, groups, options) => await this.entries.merged(items, groups, options),
      forward: async (items, options) => await this.entries.request(items, options),
      self: ctx.nodeId,
      // A follower's batches go to the leader unsigned (issue 16); so do a lone node's without a leader.
      // Only once the cluster runs the level that knows requests (v3): below it, each node signs its own.
      forwarding: () => this.raft.isRunning && !this.raft.isLeader() && this.level() >= PROTOCOL_FORWARDED_REQUESTS,
      // Below the batch level, one v1 envelope per command.
      batching: () => this.level() >= PROTOCOL_BATCH_ENVELOPES,
      encodedBytes: (item) => encodeCanonicalFast(item).length
    }, {
      commandsMax: SHAPE_BATCH_COMMANDS_MAX, bytesMax: SHAPE_BATCH_BYTES_MAX, inFlightMax: SHAPE_BATCHES_IN_FLIGHT_MAX,
      queueMax: SHAPE_BATCH_QUEUE_MAX, groupCommandsPerSenderMax: SHAPE_BATCH_QUEUE_SENDER_MAX, lingerMaxMs: SHAPE_BATCH_LINGER_MAX_MS,
      resubmitsMax: SHAPE_BATCH_RESUBMITS_MAX
    })
    this.intake = new ForwardedRequestIntake({ isLeader: () => this.raft.isLeader(), level: () => this.level(), shape: () => this.machine.shape, batcher: this.batcher })
    // NB: the driver numbers the commands that carry no signed id (seal entries) in a session of its own:
    // sharing the envelopes' session would give two different commands one proposal id, and exactly-once
    // would answer the second with the first one's result.
    const driverClientId = `${ctx.nodeId}/${randomBytes(8).toString('hex')}`
    // A lost raft directory in an existing cluster never bootstraps again (node/raft-dir-check.ts).
    const raftStart = ctx.raftStart ?? 'normal'
    const creator = raftStart === 'force-new' || (raftStart === 'normal' && ctx.cluster.seeds.length === 0)
    // A new cluster starts at its creator's protocol level: no raise round before batching and forwarding.
    const level = ctx.config.protocolLevel ?? PROTOCOL_LEVEL
    const bootstrapCommand = creator
      ? this.proposer.build(this.machine.shape, { kind: 'bootstrap', nodeId: ctx.nodeId, ...(level > PROTOCOL_LEVEL_MIN ? { protocol: level } : {}) }, 'bootstrap', wallClockMs()).bytes
      : undefined
    this.transport = this.init.createTransport(ctx, (peer) => this.mayTalk(peer))
    const raftConfig = ctx.config.raft
    this.raft = new RaftNode<ApplyResult>({
      id: ctx.nodeId,
      clientId: driverClientId,
      bootstrap: creator,
      rejoinAsLearner: raftStart === 'rejoin',
      ...(bootstrapCommand !== undefined ? { bootstrapCommand } : {}),
      ...(raftConfig?.tickMs !== undefined ? { tickMs: raftConfig.tickMs } : {}),
      ...(raftConfig?.electionTicks !== undefined ? { electionTicks: raftConfig.electionTicks } : {}),
      ...(raftConfig?.heartbeatTicks !== undefined ? { heartbeatTicks: raftConfig.heartbeatTicks } : {}),
      ...(raftConfig?.snapshotEveryEntries !== undefined ? { snapshotEveryEntries: raftConfig.snapshotEveryEntries } : {}),
      ...(raftConfig?.retainEntries !== undefined ? { retainEntries: raftConfig.retainEntries } : {}),
      ...(raftConfig?.operationTimeoutMs !== undefined ? { operationTimeoutMs: raftConfig.operationTimeoutMs } : {})
    }, {
      storage: this.storage,
      transport: this.transport,
      stateMachine: this.init.wrapMachine?.(this.machine, ctx) ?? this.machine,
      logger: ctx.log,
      commandRules: shapeCommandRules(() => this.machine.shape),
      nowMs: wallClockMs,
      requestRejoin: async () => await this.propose({ kind: 'rejoin', nodeId: ctx.nodeId }, 'health-degraded'),
      takeRequest: (command, id, from) => this.takeRequest(command, id, from),
      // A `prop-resp` only once every member knows it (a build before it would drop the message as invalid).
      answerRefusals: () => this.level() >= PROTOCOL_REFUSALS_ANSWERED,
      ...(ctx.ticker !== undefined ? { ticker: ctx.ticker } : {})
    })
    // A voter's event loop is raised, and lowered again when it stops voting (voter-priority.ts).
    if (this.init.threadPriority !== undefined) {
      const configured = raftConfig?.voterNice
      const priority = new VoterPriority(this.init.threadPriority, configured ?? VOTER_NICE_DEFAULT, ctx.log, configured !== undefined ? 'warn' : 'info')
      this.priority = priority
      // The first call comes with the driver's first batch (its configuration is read only once it runs).
      this.raft.onStateChange(() => { priority.update(allVoters(this.raft.configurationView()).includes(ctx.nodeId)) })
    }
    // Who may speak Raft with this node depends on its role, leader and configuration (mayTalk): when one
    // of them changes, a stream opened under the old answer is asked again, so a member removed from the
    // configuration does not keep the stream it had.
    this.raft.onStateChange((status) => {
      this.transport.recheckInbound?.()
      removedRedials.update(this.machine.shape)
      // Followers' groups queued here go with the leadership; each follower retries with the next leader.
      if (status.role !== 'leader') this.batcher.dropGroups()
    })
    await this.transport.start()
    await this.notices.start((record, from) => { this.removal.onNotice(record, from) })
    // A committed level above this build's halts the driver (raft-node.ts): the process stops with its code.
    this.raft.onHalt((err) => { ctx.requestStop({ exitCode: EXIT_CODE_PROTOCOL, message: err.message }) })
    await this.replayLocalLog()
    // The shape a snapshot restored came without an apply: its removed members are forgotten here.
    removedRedials.update(this.machine.shape)
    this.recovery = new QuorumRecoveryRun({
      raft: this.raft,
      shape: () => this.machine.shape,
      propose: async (command, reason) => await this.propose(command, reason),
      removeMember: async (nodeId) => await this.removal.removeMember(nodeId),
      raftDir: dir,
      ctx,
      closeFailedStart: async () => { await this.closeFailedStart() }
    })
    if (raftStart === 'recover-quorum') await this.recovery.start()
    else await this.recovery.checkUnfinished()
    this.admission = this.createAdmission(ctx)
    this.admission.start(ADMISSION_ROUND_INTERVAL_MS, ctx.ticker)
    this.protocolLoop = new ProtocolLoop({
      isLeader: () => this.raft.isLeader(),
      shape: () => this.machine.shape,
      advertised: () => this.advertisedLevels(),
      proposeLevel: async (level) => (await this.propose({ kind: 'set-protocol', level }, 'operator')).result.outcome,
      log: ctx.log
    })
    this.protocolLoop.start(ADMISSION_ROUND_INTERVAL_MS, ctx.ticker)
  }

  private protocolLoop: ProtocolLoop | undefined

  /**
   * Starts the driver and lets it apply what the local log already committed (its first batch) before the
   * node serves anything. A protocol level above this build's — in the node's own latest snapshot (start
   * throws) or in a committed WAL entry (the driver halts) — fails the start with
   * ProtocolLevelUnsupportedError, so `revoada start` exits with EXIT_CODE_PROTOCOL before its API, the
   * materializer or the policy engine act on a shape this build cannot follow (test/cli/protocol-level.test.ts).
   * @throws ProtocolLevelUnsupportedError (the transport is stopped first)
   */
  private async replayLocalLog (): Promise<void> {
    try {
      this.raft.start()
      this.driverStarted = true
      await this.raft.nextBatch()
      if (this.raft.halted !== undefined) throw this.raft.halted
    } catch (err) {
      await this.closeFailedStart()
      throw err
    }
  }

  /** Undoes what start() opened before it failed: the driver, the removal notices, the transport, the log. */
  private async closeFailedStart (): Promise<void> {
    this.raft.stop()
    await this.notices.stop()
    await this.transport.stop()
    this.storage.close()
  }

  /** The committed shape's protocol level: which wire features this node may propose with. */
  level (): number {
    return this.machine.shape.protocol
  }

  /**
   * The protocol level each node advertised in a heartbeat since this node started (membership), its own
   * included; empty without a membership service (then nothing is ever raised, nor anybody admitted above
   * level 1: every node runs one, src/node/services.ts).
   */
  advertisedLevels (): Map<string, number> {
    return advertisedLevelsOf(this.membership())
  }

  /** The membership service, when the node runs one (membership-reads.ts). */
  private membership (): (NodeService & HealthSource) | undefined {
    return this.ctx.service<NodeService & HealthSource>('membership')
  }

  /** The leader's admission of connected peers (admission-loop.ts). */
  private createAdmission (ctx: ServiceContext): AdmissionLoop {
    return new AdmissionLoop({
      self: ctx.nodeId,
      isLeader: () => this.raft.isLeader(),
      configuration: () => this.raft.configuration(),
      shape: () => this.machine.shape,
      connectedPeers: () => ctx.net.getPeers().map((id) => id.toString()),
      memberIdProblem: peerIdTextProblem,
      // A joiner below the cluster's protocol level (or not heard yet) is not admitted (admission.ts).
      advertisedLevels: () => this.advertisedLevels(),
      // The leader derives the learner step from the signed command (shape-command-rules.ts).
      proposeAddMember: async (nodeId) => (await this.propose({ kind: 'add-member', nodeId }, 'admission')).result.outcome,
      // Below the batch level a wave is admitted one peer at a time (v1 envelopes).
      batchAdmission: () => this.level() >= PROTOCOL_BATCH_ENVELOPES,
      proposeAddMembers: async (nodeIds) => {
        const { result } = await this.entries.batch(nodeIds.map((nodeId) => ({ command: { kind: 'add-member', nodeId }, reason: 'admission' })))
        return result.outcomes ?? nodeIds.map(() => result.outcome)
      },
      proposeConfChange: (change) => { this.raft.proposeConfChange(change) },
      notifyRemoved: (nodeId) => { void this.notices.notify(nodeId, { clusterId: ctx.cluster.clusterId, nodeId, how: 'removed', atMs: Date.now() }) },
      nowMs: steadyNowMs,
      // A peer's first heartbeat makes its protocol level known: the leader admits it then, not up to a
      // round (500 ms) later.
      onPeerHeard: peerHeardFrom(this.membership()),
      log: ctx.log
    })
  }

  async stop (): Promise<void> {
    this.admission?.stop()
    this.protocolLoop?.stop()
    this.raft?.stop()
    await this.notices?.stop()
    await this.transport?.stop()
    this.storage?.close()
    this.priority?.reset()
  }

  private priority: VoterPriority | undefined

  private mayTalk (peer: string): boolean {
    // Before the driver starts it can neither answer (its core does not exist yet) nor take a message.
    if (!this.driverStarted) return false
    return mayTalkRaft(peer, this.raft.configurationView(), {
      connected: () => this.ctx.net.getConnections(peerIdFromString(peer)).length > 0,
      removed: () => this.machine.shape.wasRemoved(peer)
    })
  }

  /**
   * Signs and proposes a shape command from this node; resolves with the typed result once applied here.
   * A follower forwards the signed command alone; the leader derives the configuration change it needs
   * from its own applied shape (shape-command-rules.ts), and apply judges it against the committed shape.
   */
  async propose (command: Command, reason: Reason, options: BatchProposeOptions = {}): Promise<ProposalResult<ApplyResult>> {
    return await this.entries.one(command, reason, options)
  }

  /**
   * An operator's command (`POST /v1/proposals`): batched with the other operator commands that arrive
   * while this node's previous batch is in flight (proposal-batcher.ts). A command that needs a
   * configuration change against this node's shape, or is not a batchable kind, goes alone as before.
   */
  async proposeOperator (command: Command, reason: Reason): Promise<CommandResult> {
    if (command.kind === 'promote' && command.with !== undefined && this.level() < PROTOCOL_JOINED_PROMOTION) {
      throw new RequestRefusedError(`a joined promotion (with) needs protocol level ${PROTOCOL_JOINED_PROMOTION}; the cluster runs ${this.level()}`)
    }
    if (command.kind === 'promote' && command.replacing !== undefined && this.level() < PROTOCOL_REPLACEMENT) {
      throw new RequestRefusedError(`a replacement (replacing) needs protocol level ${PROTOCOL_REPLACEMENT}; the cluster runs ${this.level()}`)
    }
    if (!batchableAgainst(this.machine.shape, command)) return await this.propose(command, reason)
    return await this.batcher.submit({ command, reason })
  }

  /** The driver's `takeRequest`: the leader's intake of a forwarded request (forwarded-request-intake.ts). */
  private takeRequest (command: Uint8Array, id: ProposalId | undefined, from: string): Error | null {
    return this.intake.take(command, id, from)
  }

  /**
   * Removes `nodeId` from the cluster: its control-plane roles demoted first, then `remove-member` (member-removal.ts).
   * @throws UnknownMemberError when `nodeId` is not a member
   */
  async removeMember (nodeId: string, reason: Reason = 'operator'): Promise<RemovalResult> {
    return await this.removal.removeMember(nodeId, reason)
  }

  /**
   * This node leaves the cluster, its roles handed off first (member-removal.ts).
   * @throws RequestRefusedError when this node is the only member, or leaving would cost the voters their quorum
   */
  async leave (): Promise<RemovalResult> {
    return await this.removal.leave()
  }

  /**
   * Members the membership layer does not consider gone (alive or merely suspect; every member when there is
   * no membership service). Suspects count: a loaded machine's late heartbeats make members suspect for a
   * moment, and a safety check should not flip with them.
   */
  liveMembers (): string[] {
    return liveMembersOf(this.membership(), () => this.machine.shape)
  }

  /** On the leader, the members caught up with its log (`caughtUpMembers`); undefined elsewhere. */
  caughtUpMembers (): ReadonlySet<string> | undefined {
    return caughtUpMembers(this.raft.status())
  }

  /** On the leader, the peers it has not heard from since it began leading (`unheardPeers`); undefined elsewhere. */
  unheardPeers (): ReadonlySet<string> | undefined {
    return unheardPeers(this.raft.status())
  }

  /** The shape as this node has applied it; `stale: false` waits for a linearizable read first. */
  async readShape (options: { stale?: boolean } = {}): Promise<ShapeView> {
    // Stopped (a halt stops the driver before the node): unavailable, as a proposal is, not a failed assertion.
    if (!this.raft.isRunning) throw new ConsensusStoppedError()
    await this.raft.read(options)
    return { shape: this.machine.shape, cid: this.machine.shapeCid(), appliedIndex: this.raft.appliedIndex() }
  }

  /** The driver, for other layers (the policy engine) and tests. */
  get node (): RaftNode<ApplyResult> {
    return this.raft
  }

  get shapeMachine (): ShapeMachine {
    return this.machine
  }

  /**
   * Whether the driver has started, so that `node` can be read (its configuration, role, leader). NB: `start` builds
   * the driver first and awaits the transport and the removal notices before starting it, while the services that
   * started before this one (membership: every tick and heartbeat) already read it (service-start-window.test.ts).
   */
  get started (): boolean {
    return this.driverStarted
  }

  private driverStarted = false

  get nodeId (): string {
    return this.ctx.nodeId
  }

  /** `leader, term, commitIndex, appliedIndex, lastIndex, lastTerm, roles, voters, learners` at the top of `status --json`. */
  statusFields (): Record<string, unknown> {
    const status = this.raft.status()
    const conf = status.confState
    const quorumRecovery = this.recovery?.status()
    return {
      leader: status.leader,
      term: status.term,
      role: status.role,
      // A driver that stopped (a halt, or the node stopping) claims no leader or role (RaftNode.status).
      ...(status.stopped ? { stopped: true } : {}),
      commitIndex: status.commit,
      appliedIndex: this.raft.appliedIndex(),
      // The log's last entry: which surviving voter `revoada recover-quorum` should run on (docs/OPERATIONS.md).
      lastIndex: status.lastIndex,
      lastTerm: status.lastTerm,
      roles: this.machine.shape.rolesOf(this.ctx.nodeId),
      voters: [...conf.voters].sort(),
      learners: [...conf.learners].sort(),
      shapeCid: this.machine.shapeCid(),
      protocol: { cluster: this.level(), build: PROTOCOL_LEVEL, raises: this.protocolLoop?.raises ?? 0 },
      admission: this.admission?.withheld ?? { belowLevel: 0, levelUnheard: 0 },
      proposals: { ...this.raft.counters(), ...this.batcher.counters() },
      elections: this.raft.electionCounters(),
      refused: {
        messages: status.droppedMessages, proposals: status.droppedProposals, snapshots: status.rejectedSnapshots,
        oversizeSnapshots: status.oversizeSnapshots, snapshotsAboveLevel: this.raft.refusedSnapshotsAboveLevel,
        removalNotices: this.removal.noticesRefused, removalNoticesIgnored: this.notices.counters().ignored
      },
      storage: this.raft.storageHealth(),
      ...(this.priority !== undefined ? { cpuPriority: this.priority.status() } : {}),
      ...(this.raft.isRejoining() ? { rejoining: true } : {}),
      // An unfinished `revoada recover-quorum` (docs/OPERATIONS.md): `running` false means it must be run again.
      ...(quorumRecovery !== undefined ? { quorumRecovery } : {}),
      ...(this.transport.counters !== undefined ? { transport: this.transport.counters() } : {})
    }
  }

  routes (app: FastifyInstance): void {
    registerConsensusRoutes(app, this)
  }
}