/**
 * @module consensus/member-removal
 * Taking members out of the cluster (`revoada remove-member`, `revoada leave`), and this node's stop once it
 * learns it was taken out: from the committed log, or from a leader's notice that removal.ts trusts. Either
 * way it writes the removal record once and asks the node to stop (EXIT_CODE_REMOVED, or 0 when it left).
 */
import type { ServiceContext } from '../node/service.js'
import type { ProposalResult, RaftNode } from './raft-node.js'
import type { ApplyResult, Command, ControlPlaneRole, MeshShape, Reason } from './shape/core/index.js'
import { CONTROL_PLANE_ROLES } from './shape/core/index.js'
import { noticeRefusal, writeRemovalRecord } from './removal.js'
import type { RemovalRecord } from './removal.js'
import { RequestRefusedError, UnknownMemberError } from './errors.js'
import { PerPeerLogLimiter } from './log-limiter.js'
import { steadyNowMs } from '../util/clock.js'

/** Exit code of `revoada start` when the node stops because it left or was removed (docs/OPERATIONS.md). */
export const EXIT_CODE_REMOVED = 6

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

/** What removal needs of the consensus service. */
export interface MemberRemovalDeps {
  /** The driver: built after this, so looked up when needed. */
  raft: () => Pick<RaftNode<ApplyResult>, 'read' | 'configurationView' | 'leaderId'>
  /** The applied shape. */
  shape: () => MeshShape
  /** Signs and proposes a shape command from this node; resolves once applied here. */
  propose: (command: Command, reason: Reason) => Promise<ProposalResult<ApplyResult>>
  /** Members the membership layer does not consider gone (ConsensusService.liveMembers). */
  liveMembers: () => string[]
  ctx: Pick<ServiceContext, 'nodeId' | 'cluster' | 'config' | 'log' | 'requestStop'>
}

export class MemberRemoval {
  /** Removal notices about this node refused (noticeRefusal). */
  noticesRefused = 0
  /** A key holder may send refused notices one after another: counted each time, logged once per peer and interval. */
  private readonly refusalLog = new PerPeerLogLimiter(steadyNowMs)
  private removedHandled = false
  private leaving = false
  /** Whether an applied shape held this node: only a member that was in the shape can be removed from it. */
  private wasMember = false

  constructor (private readonly deps: MemberRemovalDeps) {}

  /** Each applied shape: one that removed this node, having held it, stops the node. */
  onShapeChange (shape: MeshShape): void {
    const { ctx } = this.deps
    if (shape.has(ctx.nodeId)) this.wasMember = true
    else if (this.wasMember && shape.wasRemoved(ctx.nodeId)) this.onRemoved({ clusterId: ctx.cluster.clusterId, nodeId: ctx.nodeId, how: this.leaving ? 'left' : 'removed', atMs: Date.now() }, 'the committed log')
  }

  /** A removal notice about this node: acted on only from a peer removal.ts trusts with it. */
  onNotice (record: RemovalRecord, from: string): void {
    const { ctx } = this.deps
    const raft = this.deps.raft()
    const refusal = noticeRefusal(from, { self: ctx.nodeId, conf: raft.configurationView(), leader: raft.leaderId() })
    if (refusal === undefined) {
      this.onRemoved(record, `a removal notice from ${from}`)
      return
    }
    this.noticesRefused++
    if (this.refusalLog.allow(from, refusal)) ctx.log.warn({ from, why: refusal }, 'refused a removal notice about this node')
  }

  /** Writes the removal record once and asks the node to stop (the process exits with EXIT_CODE_REMOVED). */
  private onRemoved (record: RemovalRecord, source: string): void {
    if (this.removedHandled) return
    this.removedHandled = true
    const { ctx } = this.deps
    // The rejoin advice is NodeRemovedError's, which every later start and `status` print too.
    const message = record.how === 'left'
      ? `left cluster ${record.clusterId}`
      : `removed from cluster ${record.clusterId} (learned from ${source}); stopping. It will not be re-admitted under its NodeId. ` +
        `To rejoin, reset it: move ${ctx.config.dataDir} away and start with a fresh --data-dir and a new join string`
    ctx.log.warn({ how: record.how, source }, message)
    writeRemovalRecord(ctx.config.dataDir, record).catch((err: unknown) => {
      ctx.log.error({ err: (err as Error).message }, 'could not write the removal record')
    }).finally(() => { ctx.requestStop({ exitCode: record.how === 'left' ? 0 : EXIT_CODE_REMOVED, message }) })
  }

  /**
   * Removes `nodeId` from the cluster: demotes its control-plane roles first (one pinned command; the etcd
   * role moves the voters in the same joint change), then commits `remove-member`. The leader then takes it out of the
   * Raft configuration, and the node, once it learns, stops and refuses to run until reset.
   *
   * @throws UnknownMemberError when `nodeId` is not a member
   */
  async removeMember (nodeId: string, reason: Reason = 'operator'): Promise<ProposalResult<ApplyResult>> {
    await this.deps.raft().read()
    if (!this.deps.shape().has(nodeId)) throw new UnknownMemberError(nodeId)
    const roles = this.deps.shape().rolesOf(nodeId).filter((r): r is ControlPlaneRole => (CONTROL_PLANE_ROLES as readonly string[]).includes(r))
    if (roles.length > 0) {
      // Pinned: until remove-member commits, the policy must not hand the roles back (a lost voter at the
      // quorum edge would otherwise be restored onto this very node, and remove-member refused).
      const demoted = await this.deps.propose({ kind: 'demote', nodeId, roles, pin: true }, reason)
      if (demoted.result.outcome.kind !== 'applied') return demoted
    }
    return await this.deps.propose({ kind: 'remove-member', nodeId }, reason)
  }

  /**
   * This node leaves the cluster. It hands off first: each control-plane role it holds is promoted onto a live
   * member that lacks it (so the voter count stays when a live non-voter exists), then it removes itself like
   * `removeMember`; applying its own removal writes `removed.json` and asks the node to stop.
   *
   * @throws RequestRefusedError when this node is the only member, or leaving would cost the voters their quorum
   */
  async leave (): Promise<ProposalResult<ApplyResult>> {
    await this.deps.raft().read()
    const self = this.deps.ctx.nodeId
    let shape = this.deps.shape()
    if (shape.memberIds().every((id) => id === self)) throw new RequestRefusedError('this node is the only member of its cluster: there is nobody to hand its roles to; stop it instead')
    const alive = new Set(this.deps.liveMembers())
    for (const [successor, roles] of handOffPlan(shape, self, alive)) {
      const promoted = await this.deps.propose({ kind: 'promote', nodeId: successor, roles }, 'replacing-failed')
      if (promoted.result.outcome.kind !== 'applied') return promoted
    }
    shape = this.deps.shape()
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
}
