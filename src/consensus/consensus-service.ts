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
import type { FastifyInstance } from 'fastify'
import { createSigner } from '../codec/index.js'
import type { NodeService, ServiceContext } from '../node/service.js'
import { RaftNode } from './raft-node.js'
import type { ProposalResult, MessageTransport } from './raft-node.js'
import { ShapeMachine } from './shape/shape-machine.js'
import { ShapeProposer } from './shape/proposer.js'
import type { ApplyResult, Command, Reason, MeshShape } from './shape/core/index.js'
import { candidatesForAdmission, mayTalkRaft, ADMISSION_RETRY_ROUNDS } from './admission.js'
import type { Storage } from './storage/types.js'
import type { ReplicatedStateMachine } from './state-machine.js'
import { registerConsensusRoutes } from './routes.js'

/** What the service needs from the outside, injectable for tests. */
export interface ConsensusServiceInit {
  /** Opens durable storage in `dir`. */
  openStorage: (dir: string) => Storage
  /** Builds the Raft transport on the node's libp2p instance. */
  createTransport: (ctx: ServiceContext, isMember: (peer: string) => boolean) => MessageTransport & { start(): Promise<void>, stop(): Promise<void>, counters?: () => object }
  /** Wraps the shape machine before Raft applies to it (the attestation chain hooks in here). */
  wrapMachine?: (shape: ShapeMachine, ctx: ServiceContext) => ReplicatedStateMachine<ApplyResult>
}

export interface ShapeView {
  shape: MeshShape
  cid: string
  appliedIndex: number
}

function mayMoveVoters (command: Command): boolean {
  switch (command.kind) {
    case 'promote': case 'demote': return command.roles.includes('etcd')
    case 'quarantine': case 'remove-member': case 'bootstrap': return true
    default: return false
  }
}

export class ConsensusService implements NodeService {
  readonly name = 'consensus'
  private ctx!: ServiceContext
  private storage!: Storage
  private transport!: ReturnType<ConsensusServiceInit['createTransport']>
  private raft!: RaftNode<ApplyResult>
  private machine!: ShapeMachine
  private proposer!: ShapeProposer
  private admissionTimer: NodeJS.Timeout | undefined
  private admissionBackoff = new Map<string, number>()
  private admissionInFlight = false

  constructor (private readonly init: ConsensusServiceInit) {}

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    const dir = path.join(ctx.config.dataDir, 'raft')
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.storage = this.init.openStorage(dir)
    this.machine = new ShapeMachine(ctx.cluster.clusterId)
    const signer = createSigner(ctx.privateKey, ctx.nodeId)
    const clientId = `${ctx.nodeId}/${Date.now().toString(36)}`
    this.proposer = new ShapeProposer(signer, ctx.cluster.clusterId, clientId)
    const creator = ctx.cluster.seeds.length === 0
    const bootstrapCommand = creator
      ? this.proposer.build(this.machine.shape, { kind: 'bootstrap', nodeId: ctx.nodeId }, 'bootstrap', Date.now()).bytes
      : undefined
    this.transport = this.init.createTransport(ctx, (peer) => this.mayTalk(peer))
    const raftConfig = ctx.config.raft
    this.raft = new RaftNode<ApplyResult>({
      id: ctx.nodeId,
      clientId,
      bootstrap: creator,
      ...(bootstrapCommand !== undefined ? { bootstrapCommand } : {}),
      ...(raftConfig?.tickMs !== undefined ? { tickMs: raftConfig.tickMs } : {}),
      ...(raftConfig?.electionTicks !== undefined ? { electionTicks: raftConfig.electionTicks } : {}),
      ...(raftConfig?.heartbeatTicks !== undefined ? { heartbeatTicks: raftConfig.heartbeatTicks } : {}),
      ...(raftConfig?.snapshotEveryEntries !== undefined ? { snapshotEveryEntries: raftConfig.snapshotEveryEntries } : {}),
      ...(raftConfig?.retainEntries !== undefined ? { retainEntries: raftConfig.retainEntries } : {})
    }, { storage: this.storage, transport: this.transport, stateMachine: this.init.wrapMachine?.(this.machine, ctx) ?? this.machine, logger: ctx.log })
    await this.transport.start()
    this.raft.start()
    this.admissionTimer = setInterval(() => { this.admitPeers() }, 500)
    this.admissionTimer.unref?.()
  }

  async stop (): Promise<void> {
    clearInterval(this.admissionTimer)
    this.raft?.stop()
    await this.transport?.stop()
    this.storage?.close()
  }

  private mayTalk (peer: string): boolean {
    if (this.raft === undefined) return false
    const connected = this.ctx.net.getPeers().some((id) => id.toString() === peer)
    return mayTalkRaft(peer, this.raft.configuration(), { isLeader: this.raft.isLeader(), connected })
  }

  /** Leader only: admits one connected, unknown peer per round as a learner plus shape member. */
  private admitPeers (): void {
    if (!this.raft.isLeader() || this.admissionInFlight) return
    const connected = this.ctx.net.getPeers().map((id) => id.toString())
    const candidates = candidatesForAdmission(connected, this.raft.configuration(), this.ctx.nodeId)
    const next = candidates.find((id) => (this.admissionBackoff.get(id) ?? 0) <= 0)
    for (const [id, rounds] of this.admissionBackoff) this.admissionBackoff.set(id, rounds - 1)
    if (next === undefined) return
    this.admissionInFlight = true
    const known = this.machine.shape.has(next)
    const command: Command = { kind: 'add-member', nodeId: next }
    const built = this.proposer.build(this.machine.shape, command, 'admission', Date.now())
    const confChange = { steps: [{ type: 'add-learner' as const, nodeId: next }], transition: 'auto' as const }
    // A member removed from the configuration but still in the shape is re-added as a learner only.
    const proposal = known
      ? (this.raft.proposeConfChange(confChange), Promise.resolve(null))
      : this.raft.propose(built.bytes, { confChange })
    proposal.then((result) => {
      if (result !== null) this.ctx.log.info({ peer: next, outcome: result.result.outcome }, 'admitted peer as learner')
    }, (err: unknown) => {
      this.admissionBackoff.set(next, ADMISSION_RETRY_ROUNDS)
      this.ctx.log.warn({ peer: next, err: (err as Error).message }, 'admission failed; will retry')
    }).finally(() => { this.admissionInFlight = false })
  }

  /**
   * Signs and proposes a shape command from this node; resolves with the typed result once applied here.
   * The shape is read linearizably first so the required voter change matches the committed shape.
   */
  async propose (command: Command, reason: Reason): Promise<ProposalResult<ApplyResult>> {
    // Only a command that may move voters needs the freshest shape (to build the matching configuration
    // change); for the others a stale view costs nothing — apply judges against the committed shape anyway.
    if (mayMoveVoters(command)) await this.raft.read()
    const built = this.proposer.build(this.machine.shape, command, reason, Date.now())
    return await this.raft.propose(built.bytes, built.confChange !== undefined ? { confChange: built.confChange } : {})
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

  /** `leader, term, commitIndex, appliedIndex, roles, voters, learners` at the top of `status --json`. */
  statusFields (): Record<string, unknown> {
    const status = this.raft.status()
    const conf = status.confState
    return {
      leader: status.leader,
      term: status.term,
      role: status.role,
      commitIndex: status.commit,
      appliedIndex: this.raft.appliedIndex(),
      roles: this.machine.shape.rolesOf(this.ctx.nodeId),
      voters: [...conf.voters].sort(),
      learners: [...conf.learners].sort(),
      shapeCid: this.machine.shapeCid(),
      ...(this.transport.counters !== undefined ? { transport: this.transport.counters() } : {})
    }
  }

  routes (app: FastifyInstance): void {
    registerConsensusRoutes(app, this)
  }
}
