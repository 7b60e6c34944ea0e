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
import { mkdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import type { FastifyInstance } from 'fastify'
import { createSigner } from '../codec/index.js'
import type { NodeService, ServiceContext } from '../node/service.js'
import { RaftNode } from './raft-node.js'
import type { ProposalResult, MessageTransport } from './raft-node.js'
import { ShapeMachine } from './shape/shape-machine.js'
import { ShapeProposer } from './shape/proposer.js'
import type { ApplyResult, BatchableCommand, BatchedCommand, Command, CommandGroup, Reason, MeshShape } from './shape/core/index.js'
import { OPERATOR_BATCHABLE_KINDS, decodeRequest, encodeRequest, requestOwner, requiredConfChange, ForwardedRequestInvalidError } from './shape/core/index.js'
import type { NodeId, ProposalId } from './core/index.js'
import { encodeCanonicalFast } from '../codec/index.js'
import { ProposalBatcher } from './proposal-batcher.js'
import type { BatchProposeOptions, CommandResult } from './proposal-batcher.js'
import { SHAPE_BATCH_BYTES_MAX, SHAPE_BATCH_COMMANDS_MAX, SHAPE_BATCH_LINGER_MAX_MS, SHAPE_BATCH_QUEUE_MAX, SHAPE_BATCH_RESUBMITS_MAX, SHAPE_BATCHES_IN_FLIGHT_MAX } from './constants.js'
import { caughtUpMembers, mayTalkRaft, unheardPeers, ADMISSION_ROUND_INTERVAL_MS } from './admission.js'
import { AdmissionLoop } from './admission-loop.js'
import { VoterPriority, VOTER_NICE_DEFAULT } from './voter-priority.js'
import type { ThreadPriority } from '../util/thread-priority.js'
import { allVoters } from './core/quorum.js'
import { ProtocolLoop } from './protocol-loop.js'
import { ForwardedRequestDeferredError, PROTOCOL_REFUSALS_ANSWERED, PROTOCOL_BATCH_ENVELOPES, PROTOCOL_FORWARDED_REQUESTS, PROTOCOL_JOINED_PROMOTION, PROTOCOL_LEVEL, PROTOCOL_LEVEL_MIN, PROTOCOL_REPLACEMENT } from './shape/core/index.js'
import type { Storage } from './storage/types.js'
import type { ReplicatedStateMachine } from './state-machine.js'
import { registerConsensusRoutes } from './routes.js'
import { shapeCommandRules } from './shape-command-rules.js'
import { wallClockMs } from '../util/wall-clock.js'
import { steadyNowMs } from '../util/clock.js'
import { assertNotRemoved, noticeRefusal, RemovalNotices, writeRemovalRecord } from './removal.js'
import type { RemovalRecord } from './removal.js'
import { ConsensusStoppedError, RequestRefusedError, UnknownMemberError } from './errors.js'
import { QuorumRecoveryError } from '../node/errors.js'
import { readRecoveryRecord, removeRecoveryRecord, writeRecoveryRecord } from './recovery-record.js'
import { RemovedRedials } from './removed-redials.js'
import { CONTROL_PLANE_ROLES } from './shape/core/index.js'
import type { ControlPlaneRole } from './shape/core/index.js'

/**
 * Who takes over `self`'s control-plane roles: for each role, the first live, non-quarantined member that does
 * not hold it (sorted ids: deterministic). Roles nobody can take are left to the policy engine.
 */
export function handOffPlan (shape: MeshShape, self: string, alive: ReadonlySet<string>): Array<[string, ControlPlaneRole[]]> {
  const plan = new Map<string, ControlPlaneRole[]>()
  for (const role of CONTROL_PLANE_ROLES) {
    if (!shape.holds(self, role)) continue
    const successor = shape.memberIds().find((id) => id !== self && alive.has(id) && !shape.isQuarantined(id) && !shape.holds(id, role))
    if (successor !== undefined) plan.set(successor, [...(plan.get(successor) ?? []), role])
  }
  return [...plan]
}

type OperatorBatchable = Extract<BatchableCommand, { kind: typeof OPERATOR_BATCHABLE_KINDS[number] }>
/** The driver's options for a batcher's proposal: its caller's deadline, when the batch carries one. */
const deadlineOf = (options: BatchProposeOptions): { deadlineMs?: number } => options.deadlineMs !== undefined ? { deadlineMs: options.deadlineMs } : {}

const isBatchable = (command: Command): command is OperatorBatchable => (OPERATOR_BATCHABLE_KINDS as readonly string[]).includes(command.kind)

/**
 * Whether `command` may travel in a batch against `shape`: an operator role shift that cannot move the
 * voters (apply judges it against the committed shape anyway, and refuses a voter move in a batch).
 */
function batchableAgainst (shape: MeshShape, command: Command): command is OperatorBatchable {
  return isBatchable(command) && (neverMovesVoters(command) || requiredConfChange(shape, command) === null)
}

/**
 * Whether `command` can never change the etcd holders, whatever the shape: it may then be batched even
 * when this node's shape would reject it (apply judges it against the committed shape anyway).
 */
function neverMovesVoters (command: OperatorBatchable): boolean {
  switch (command.kind) {
    case 'promote': case 'demote': return !command.roles.includes('etcd')
    case 'unpin': case 'restore': return true
    case 'quarantine': return false
  }
}

/** Exit code of `revoada start` when the node stops because it left or was removed (docs/OPERATIONS.md). */
export const EXIT_CODE_REMOVED = 6
/** Exit code of `revoada start` when the cluster runs a protocol level this build does not know (upgrade it). */
export const EXIT_CODE_PROTOCOL = 7

/** How long `revoada recover-quorum` may take to lead and demote the lost voters before it gives up (exit 1). */
const QUORUM_RECOVERY_TIMEOUT_MS = 60_000
/** How long recovery at least listens for a live leader before it acts (it also waits 3 election timeouts). */
const QUORUM_RECOVERY_LISTEN_MIN_MS = 3000
/** How often the recovery looks again while it waits (to lead, or for a joint change to be left). */
const QUORUM_RECOVERY_POLL_MS = 100

/** The part of the membership service the consensus layer reads (who is alive), looked up by name. */
interface HealthSource {
  view: () => { members: Array<{ nodeId: string, health: string, state?: { protocol?: number } }> }
  subscribe?: (listener: (view: unknown, events: Array<{ kind: string }>) => void) => () => void
}

/**
 * The admission loop's `onPeerHeard` from membership: the listener runs once per view update that has a
 * member heard for the first time (`joined`: its first heartbeat carries its protocol level), not for the
 * other events; without a membership service (or one that cannot be subscribed to), nothing is heard.
 */
export function peerHeardFrom (membership: Pick<HealthSource, 'subscribe'> | undefined): (listener: () => void) => () => void {
  return (listener) => membership?.subscribe?.((_view, events) => {
    if (events.some((e) => e.kind === 'joined')) listener()
  }) ?? (() => {})
}

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
  private raftDir!: string
  /** The lost voters of this node's quorum recovery while it runs or is left unfinished (`statusFields`). */
  private recoveryLost: NodeId[] | undefined
  private storage!: Storage
  private transport!: ReturnType<ConsensusServiceInit['createTransport']>
  private raft!: RaftNode<ApplyResult>
  private machine!: ShapeMachine
  private proposer!: ShapeProposer
  private admission: AdmissionLoop | undefined
  private batcher!: ProposalBatcher
  /**
   * Checks an operator's command before `POST /v1/proposals` proposes it (the policy engine installs one:
   * a change the policy would undo is refused, issue 12 item 2); returns the error to refuse it with.
   */
  operatorGuard: ((command: Command) => Error | null) | undefined
  private notices!: RemovalNotices
  /** Removal notices about this node refused (noticeRefusal). */
  private noticesRefused = 0
  private removedHandled = false

  constructor (private readonly init: ConsensusServiceInit) {}

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    await assertNotRemoved(ctx.config.dataDir)
    const dir = path.join(ctx.config.dataDir, 'raft')
    this.raftDir = dir
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.storage = this.init.openStorage(dir)
    this.machine = new ShapeMachine(ctx.cluster.clusterId)
    let wasMember = false
    // Removed members leave the redial loop on every node (removed-redials.ts).
    const removedRedials = new RemovedRedials((peer) => { ctx.redialer.forget(peer) })
    this.machine.onChange((shape) => {
      removedRedials.update(shape)
      if (shape.has(ctx.nodeId)) wasMember = true
      else if (wasMember && shape.wasRemoved(ctx.nodeId)) this.onRemoved({ clusterId: ctx.cluster.clusterId, nodeId: ctx.nodeId, how: this.leaving ? 'left' : 'removed', atMs: Date.now() }, 'the committed log')
    })
    this.notices = new RemovalNotices(ctx.net, { clusterId: ctx.cluster.clusterId, nodeId: ctx.nodeId }, ctx.log)
    const signer = createSigner(ctx.privateKey, ctx.nodeId)
    // Random, not the time: after a wall-clock step back a restarted node must not reuse an old session
    // id, whose applied sequence numbers would make its new proposals look like duplicates.
    const clientId = `${ctx.nodeId}/${randomBytes(8).toString('hex')}`
    this.proposer = new ShapeProposer(signer, ctx.cluster.clusterId, clientId)
    this.batcher = new ProposalBatcher({
      proposeOne: async ({ command, reason }, options) => {
        if (!this.raft.isRunning) throw new ConsensusStoppedError()
        return await this.propose(command, reason, options)
      },
      proposeBatch: async (items, options) => await this.proposeBatch(items, options),
      proposeMerged: async (items, groups, options) => await this.proposeMerged(items, groups, options),
      forward: async (items, options) => await this.forwardRequest(items, options),
      self: ctx.nodeId,
      // A follower's batches go to the leader unsigned (issue 16); so do a lone node's without a leader.
      // Only once the cluster runs the level that knows requests (v3): below it, each node signs its own.
      forwarding: () => this.raft.isRunning && !this.raft.isLeader() && this.level() >= PROTOCOL_FORWARDED_REQUESTS,
      // Below the batch level, one v1 envelope per command.
      batching: () => this.level() >= PROTOCOL_BATCH_ENVELOPES,
      encodedBytes: (item) => encodeCanonicalFast(item).length
    }, {
      commandsMax: SHAPE_BATCH_COMMANDS_MAX, bytesMax: SHAPE_BATCH_BYTES_MAX, inFlightMax: SHAPE_BATCHES_IN_FLIGHT_MAX,
      queueMax: SHAPE_BATCH_QUEUE_MAX, lingerMaxMs: SHAPE_BATCH_LINGER_MAX_MS, resubmitsMax: SHAPE_BATCH_RESUBMITS_MAX
    })
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
    await this.notices.start((record, from) => { this.onNotice(record, from) })
    // A committed level above this build's halts the driver (raft-node.ts): the process stops with its code.
    this.raft.onHalt((err) => { ctx.requestStop({ exitCode: EXIT_CODE_PROTOCOL, message: err.message }) })
    await this.replayLocalLog()
    // The shape a snapshot restored came without an apply: its removed members are forgotten here.
    removedRedials.update(this.machine.shape)
    if (raftStart === 'recover-quorum') await this.startRecovery(ctx)
    else await this.checkUnfinishedRecovery(ctx)
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
      await this.raft.nextBatch()
      if (this.raft.halted !== undefined) throw this.raft.halted
    } catch (err) {
      await this.closeFailedStart()
      throw err
    }
  }

  /**
   * `revoada recover-quorum` (docs/OPERATIONS.md, "A majority of the voters lost for good"): once the local log is
   * applied, this node — a voter — elects itself and commits alone (core `recoverAsSoleVoter`), demotes the
   * etcd role of every other voter, one joint change each, and asks to be stopped once none of them is a voter.
   * First it listens for a leader for a few election timeouts: a cluster whose quorum answers has nothing to
   * recover, and forcing it would drop what its majority committed beyond this node's log.
   * @throws QuorumRecoveryError when this node is not a voter, or a leader is heard (the transport is stopped first)
   */
  private async startRecovery (ctx: ServiceContext): Promise<void> {
    const refuse = async (message: string): Promise<never> => {
      await this.closeFailedStart()
      throw new QuorumRecoveryError(message)
    }
    // An earlier run that did not end resumes with its lost voters, even if its log's tail demoted this node.
    const resumed = await readRecoveryRecord(this.raftDir).catch(async (err: unknown) => await refuse((err as Error).message))
    if (resumed === undefined && !allVoters(this.raft.configurationView()).includes(ctx.nodeId)) {
      await refuse(`${ctx.nodeId} is not a voter (voters: ${allVoters(this.raft.configurationView()).join(', ')}): ` +
        'only a voter holds every committed entry; run recover-quorum on the voter that survived')
    }
    const listenMs = Math.max(QUORUM_RECOVERY_LISTEN_MIN_MS, 3 * this.raft.electionTimeoutMaxMs())
    ctx.log.warn({ listenMs }, 'quorum recovery: listening for a leader first')
    const until = steadyNowMs() + listenMs
    while (this.raft.leaderId() === null && steadyNowMs() < until) await new Promise((resolve) => setTimeout(resolve, QUORUM_RECOVERY_POLL_MS))
    const leader = this.raft.leaderId()
    if (leader !== null) {
      await refuse(`the cluster has a leader (${leader === ctx.nodeId ? 'this node, elected by a quorum' : leader}, term ${this.raft.status().term}): ` +
        'its quorum is not lost, so there is nothing to recover; start the node as usual')
    }
    const voters = allVoters(this.raft.configurationView())
    const lost = resumed ?? this.raft.recoveryLostVoters()
    // Durable before the campaign: a run after a crash or a give-up must count the same voters as lost.
    await writeRecoveryRecord(this.raftDir, lost).catch(async (err: unknown) =>
      await refuse(`cannot record the lost voters in ${this.raftDir}: ${(err as Error).message}`))
    this.recoveryLost = lost
    ctx.log.warn({ voters, lostVoters: lost, resumed: resumed !== undefined },
      'recovering a lost quorum: this node elects itself and commits alone until the lost voters are demoted')
    this.raft.recoverAsSoleVoter(lost)
    void this.runRecovery(ctx)
  }

  /**
   * A start as usual on a data dir whose quorum recovery did not end: the record goes once no lost voter is
   * left (the recovery is over in effect); otherwise the operator is told how to resume it.
   */
  private async checkUnfinishedRecovery (ctx: ServiceContext): Promise<void> {
    const lost = await readRecoveryRecord(this.raftDir).catch((err: unknown) => {
      ctx.log.warn({ err }, 'quorum recovery record unreadable: left as it is')
      return undefined
    })
    if (lost === undefined) return
    const still = allVoters(this.raft.configurationView()).filter((id) => lost.includes(id))
    if (still.length > 0) {
      this.recoveryLost = lost
      ctx.log.warn({ lostVoters: still }, 'a quorum recovery of this node has not ended: `revoada recover-quorum` resumes it')
      return
    }
    await removeRecoveryRecord(this.raftDir).catch((err: unknown) => { ctx.log.warn({ err }, 'cannot remove the ended quorum recovery record') })
  }

  private async runRecovery (ctx: ServiceContext): Promise<void> {
    const deadline = steadyNowMs() + QUORUM_RECOVERY_TIMEOUT_MS
    const pause = async (): Promise<void> => {
      if (steadyNowMs() > deadline) throw new QuorumRecoveryError(`not done within ${QUORUM_RECOVERY_TIMEOUT_MS} ms (still lost: ${this.raft.recovery()?.lostVoters.join(', ') ?? 'none'})`)
      await new Promise((resolve) => setTimeout(resolve, QUORUM_RECOVERY_POLL_MS))
    }
    try {
      while (!this.raft.isLeader()) await pause()
      for (let recovery = this.raft.recovery(); recovery !== undefined; recovery = this.raft.recovery()) {
        const conf = this.raft.configurationView()
        const voters = allVoters(conf)
        // Its log's tail may have demoted this node (a replacement, an operator's demote): it takes etcd back first.
        const self = !conf.voters.includes(ctx.nodeId) && !this.machine.shape.holds(ctx.nodeId, 'etcd') ? ctx.nodeId : undefined
        // The policy engine may replace a lost voter first (`promote … replacing`): only those still holding etcd.
        const next = self ?? recovery.lostVoters.find((id) => voters.includes(id) && this.machine.shape.holds(id, 'etcd'))
        if (next === undefined) { await pause(); continue } // the last joint change is being left
        const command = next === self
          ? { kind: 'promote' as const, nodeId: next, roles: ['etcd' as const] }
          : { kind: 'demote' as const, nodeId: next, roles: ['etcd' as const] }
        const { result } = await this.propose(command, 'operator')
        if (result.outcome.kind === 'rejected' && result.outcome.code !== 'role-not-held' && result.outcome.code !== 'role-already-held') {
          throw new QuorumRecoveryError(`the ${command.kind} of ${next} was rejected: ${result.outcome.code}: ${result.outcome.message}`)
        }
      }
      await removeRecoveryRecord(this.raftDir)
      this.recoveryLost = undefined
      const message = `quorum recovered: ${ctx.nodeId} is the only voter, its log kept (applied index ${this.raft.appliedIndex()}); ` +
        'start it again with `revoada start`: the policy engine promotes live members back to the target'
      ctx.log.warn({ appliedIndex: this.raft.appliedIndex() }, message)
      ctx.requestStop({ exitCode: 0, message })
    } catch (err) {
      if (!this.raft.isRunning) return
      ctx.requestStop({ exitCode: 1, message: `quorum recovery failed: ${(err as Error).message}` })
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
    const membership = this.ctx.service<NodeService & HealthSource>('membership')
    const levels = new Map<string, number>()
    for (const m of membership?.view().members ?? []) levels.set(m.nodeId, m.state?.protocol ?? PROTOCOL_LEVEL_MIN)
    return levels
  }

  /** The leader's admission of connected peers (admission-loop.ts). */
  private createAdmission (ctx: ServiceContext): AdmissionLoop {
    return new AdmissionLoop({
      self: ctx.nodeId,
      isLeader: () => this.raft.isLeader(),
      configuration: () => this.raft.configuration(),
      shape: () => this.machine.shape,
      connectedPeers: () => ctx.net.getPeers().map((id) => id.toString()),
      // A joiner below the cluster's protocol level (or not heard yet) is not admitted (admission.ts).
      advertisedLevels: () => this.advertisedLevels(),
      // The leader derives the learner step from the signed command (shape-command-rules.ts).
      proposeAddMember: async (nodeId) => (await this.propose({ kind: 'add-member', nodeId }, 'admission')).result.outcome,
      // Below the batch level a wave is admitted one peer at a time (v1 envelopes).
      batchAdmission: () => this.level() >= PROTOCOL_BATCH_ENVELOPES,
      proposeAddMembers: async (nodeIds) => {
        const { result } = await this.proposeBatch(nodeIds.map((nodeId) => ({ command: { kind: 'add-member', nodeId }, reason: 'admission' })))
        return result.outcomes ?? nodeIds.map(() => result.outcome)
      },
      proposeConfChange: (change) => { this.raft.proposeConfChange(change) },
      notifyRemoved: (nodeId) => { void this.notices.notify(nodeId, { clusterId: ctx.cluster.clusterId, nodeId, how: 'removed', atMs: Date.now() }) },
      nowMs: steadyNowMs,
      // A peer's first heartbeat makes its protocol level known: the leader admits it then, not up to a
      // round (500 ms) later.
      onPeerHeard: peerHeardFrom(ctx.service<NodeService & HealthSource>('membership')),
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
    if (this.raft === undefined) return false
    return mayTalkRaft(peer, this.raft.configurationView(), {
      connected: () => this.ctx.net.getConnections(peerIdFromString(peer)).length > 0,
      removed: () => this.machine.shape.wasRemoved(peer)
    })
  }

  /** A removal notice about this node: acted on only from a peer removal.ts trusts with it. */
  private onNotice (record: RemovalRecord, from: string): void {
    const refusal = noticeRefusal(from, { self: this.ctx.nodeId, conf: this.raft.configurationView(), leader: this.raft.leaderId() })
    if (refusal === undefined) {
      this.onRemoved(record, from)
      return
    }
    this.noticesRefused++
    this.ctx.log.warn({ from, why: refusal }, 'refused a removal notice about this node')
  }

  /** Writes the removal record once and asks the node to stop (the process exits with EXIT_CODE_REMOVED). */
  private onRemoved (record: RemovalRecord, source: string): void {
    if (this.removedHandled) return
    this.removedHandled = true
    const message = record.how === 'left'
      ? `left cluster ${record.clusterId}`
      : `removed from cluster ${record.clusterId} (learned from ${source}); reset the data dir to rejoin`
    this.ctx.log.warn({ how: record.how, source }, message)
    writeRemovalRecord(this.ctx.config.dataDir, record).catch((err: unknown) => {
      this.ctx.log.error({ err: (err as Error).message }, 'could not write the removal record')
    }).finally(() => { this.ctx.requestStop({ exitCode: record.how === 'left' ? 0 : EXIT_CODE_REMOVED, message }) })
  }

  /**
   * Signs and proposes a shape command from this node; resolves with the typed result once applied here.
   * A follower forwards the signed command alone; the leader derives the configuration change it needs
   * from its own applied shape (shape-command-rules.ts), and apply judges it against the committed shape.
   */
  async propose (command: Command, reason: Reason, options: BatchProposeOptions = {}): Promise<ProposalResult<ApplyResult>> {
    const built = this.proposer.build(this.machine.shape, command, reason, wallClockMs())
    // Signed here a moment ago: applying it on this node needs no second signature check.
    this.machine.signedHere(built.cid, built.signature)
    return await this.raft.propose(built.bytes, deadlineOf(options))
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

  /**
   * Follower: sends queued operator commands to the leader unsigned, as one request under a request id of
   * this node (issue 16); resolves with the result of the group that carried them once applied here.
   */
  private async forwardRequest (items: BatchedCommand[], options: BatchProposeOptions): Promise<ProposalResult<ApplyResult>> {
    if (!this.raft.isRunning) throw new ConsensusStoppedError()
    return await this.raft.propose(encodeRequest({ id: this.proposer.nextRequestId(), commands: items }), deadlineOf(options))
  }

  /** Leader: signs this node's commands and followers' forwarded groups in one envelope (v3) and proposes it. */
  private async proposeMerged (items: BatchedCommand[], groups: CommandGroup[], options: BatchProposeOptions): Promise<ProposalResult<ApplyResult>> {
    if (!this.raft.isRunning) throw new ConsensusStoppedError()
    const built = this.proposer.buildMerged(items, groups, wallClockMs())
    this.machine.signedHere(built.cid, built.signature)
    return await this.raft.propose(built.bytes, { ...deadlineOf(options), ...(options.leaderOnly === true ? { leaderOnly: true } : {}) })
  }

  /**
   * Leader: a forwarded request from member `from` (the driver authenticated it; this node itself for a
   * request it sent before it led). Trusts nothing the follower says: the request decodes strictly, its id
   * is the entry's and names `from`, its commands are at most SHAPE_BATCH_COMMANDS_MAX and, measured here,
   * SHAPE_BATCH_BYTES_MAX, each an operator role shift that cannot move the voters against this leader's
   * shape. Returns the typed error it is refused with, or null when queued for the next envelope.
   */
  private takeRequest (command: Uint8Array, id: ProposalId | undefined, from: string): Error | null {
    const refuse = (what: string): Error => new ForwardedRequestInvalidError(`forwarded request from ${from}: ${what}`)
    // Refusals a retry may overcome are not answered (the follower retries every second); the others are.
    const defer = (what: string): Error => new ForwardedRequestDeferredError(`forwarded request from ${from}: ${what}`)
    if (!this.raft.isLeader()) return defer('this node does not lead')
    if (this.level() < PROTOCOL_FORWARDED_REQUESTS) return defer(`this leader has applied protocol level ${this.level()}, below ${PROTOCOL_FORWARDED_REQUESTS} (forwarded requests)`)
    const request = decodeRequest(command)
    if (request instanceof Error) return request
    if (id === undefined || id.clientId !== request.id.clientId || id.seq !== request.id.seq) return refuse('its id is not the entry\'s')
    if (requestOwner(request.id) !== from) return refuse(`its id ${request.id.clientId} does not belong to the sender`)
    if (request.commands.length > SHAPE_BATCH_COMMANDS_MAX) return refuse(`${request.commands.length} commands, at most ${SHAPE_BATCH_COMMANDS_MAX}`)
    const position = request.commands.findIndex(({ command: c }) => !batchableAgainst(this.machine.shape, c))
    if (position >= 0) return refuse(`command ${position} (${request.commands[position]?.command.kind}) may move the voters: it is proposed signed, alone`)
    // NB: queued even when the session table already holds it (a retry): the follower may never apply the
    // entry that carried it (a snapshot covered it), and only an entry carrying its id answers it; apply
    // skips the copy as `duplicate-request`.
    const group = { commands: request.commands, via: request.id }
    const bytes = encodeCanonicalFast(group).length
    if (bytes > SHAPE_BATCH_BYTES_MAX) return refuse(`${bytes} bytes of commands, at most ${SHAPE_BATCH_BYTES_MAX}`)
    try {
      this.batcher.submitGroup(group, bytes)
    } catch (err) {
      if ((err as Error).name !== 'ConsensusBusyError') throw err
      return err as Error
    }
    return null
  }

  /** Signs several operator commands in one batch envelope and proposes it; resolves once applied here. */
  private async proposeBatch (items: BatchedCommand[], options: BatchProposeOptions = {}): Promise<ProposalResult<ApplyResult>> {
    // Commands queued behind the last batch may be sent after stop(): they fail as stopped, not as a bug.
    if (!this.raft.isRunning) throw new ConsensusStoppedError()
    const built = this.proposer.buildBatch(items, wallClockMs())
    this.machine.signedHere(built.cid, built.signature)
    return await this.raft.propose(built.bytes, deadlineOf(options))
  }

  /**
   * Removes `nodeId` from the cluster: demotes its control-plane roles first (one pinned command; the etcd
   * role moves the voters in the same joint change), then commits `remove-member`. The leader then takes it out of the
   * Raft configuration, and the node, once it learns, stops and refuses to run until reset.
   *
   * @throws UnknownMemberError when `nodeId` is not a member
   */
  async removeMember (nodeId: string, reason: Reason = 'operator'): Promise<ProposalResult<ApplyResult>> {
    await this.raft.read()
    if (!this.machine.shape.has(nodeId)) throw new UnknownMemberError(nodeId)
    const roles = this.machine.shape.rolesOf(nodeId).filter((r): r is ControlPlaneRole => (CONTROL_PLANE_ROLES as readonly string[]).includes(r))
    if (roles.length > 0) {
      // Pinned: until remove-member commits, the policy must not hand the roles back (a lost voter at the
      // quorum edge would otherwise be restored onto this very node, and remove-member refused).
      const demoted = await this.propose({ kind: 'demote', nodeId, roles, pin: true }, reason)
      if (demoted.result.outcome.kind !== 'applied') return demoted
    }
    return await this.propose({ kind: 'remove-member', nodeId }, reason)
  }

  private leaving = false

  /**
   * This node leaves the cluster. It hands off first: each control-plane role it holds is promoted onto a live
   * member that lacks it (so the voter count stays when a live non-voter exists), then it removes itself like
   * `removeMember`; applying its own removal writes `removed.json` and asks the node to stop.
   *
   * @throws RequestRefusedError when this node is the only member, or leaving would cost the voters their quorum
   */
  async leave (): Promise<ProposalResult<ApplyResult>> {
    await this.raft.read()
    const self = this.ctx.nodeId
    let shape = this.machine.shape
    if (shape.memberIds().every((id) => id === self)) throw new RequestRefusedError('this node is the only member of its cluster: there is nobody to hand its roles to; stop it instead')
    const alive = new Set(this.liveMembers())
    for (const [successor, roles] of handOffPlan(shape, self, alive)) {
      const promoted = await this.propose({ kind: 'promote', nodeId: successor, roles }, 'replacing-failed')
      if (promoted.result.outcome.kind !== 'applied') return promoted
    }
    shape = this.machine.shape
    if (shape.holds(self, 'etcd')) {
      const remaining = shape.voters().filter((id) => id !== self)
      const live = remaining.filter((id) => alive.has(id)).length
      if (live < Math.floor(remaining.length / 2) + 1) {
        throw new RequestRefusedError(`leaving would leave ${remaining.length} voter(s) of which only ${live} alive: no quorum. Bring members back, or remove the dead ones first (revoada remove-member)`)
      }
    }
    this.leaving = true
    try {
      return await this.removeMember(self, 'scaling-down')
    } catch (err) {
      this.leaving = false
      throw err
    }
  }

  /**
   * Members the membership layer does not consider gone (alive or merely suspect; every member when there is
   * no membership service). Suspects count: a loaded machine's late heartbeats make members suspect for a
   * moment, and a safety check should not flip with them.
   */
  liveMembers (): string[] {
    const health = this.ctx.service<NodeService & HealthSource>('membership')
    if (health === undefined) return this.machine.shape.memberIds()
    return health.view().members.filter((m) => m.health === 'alive' || m.health === 'suspect').map((m) => m.nodeId)
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

  get started (): boolean {
    return this.raft !== undefined
  }

  get nodeId (): string {
    return this.ctx.nodeId
  }

  /** `leader, term, commitIndex, appliedIndex, lastIndex, lastTerm, roles, voters, learners` at the top of `status --json`. */
  statusFields (): Record<string, unknown> {
    const status = this.raft.status()
    const conf = status.confState
    return {
      leader: status.leader,
      term: status.term,
      role: status.role,
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
        removalNotices: this.noticesRefused
      },
      storage: this.raft.storageHealth(),
      ...(this.priority !== undefined ? { cpuPriority: this.priority.status() } : {}),
      ...(this.raft.isRejoining() ? { rejoining: true } : {}),
      // An unfinished `revoada recover-quorum` (docs/OPERATIONS.md): `running` false means it must be run again.
      ...(this.recoveryLost !== undefined ? { quorumRecovery: { lostVoters: this.recoveryLost, running: this.raft.recovery() !== undefined } } : {}),
      ...(this.transport.counters !== undefined ? { transport: this.transport.counters() } : {})
    }
  }

  routes (app: FastifyInstance): void {
    registerConsensusRoutes(app, this)
  }
}
