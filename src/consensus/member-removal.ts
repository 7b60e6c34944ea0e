/**
 * @module consensus/member-removal
 * Taking members out of the cluster (`revoada remove-member`, `revoada leave`), and this node's stop once it
 * learns it was taken out: from the committed log, or from a leader's notice that removal.ts trusts. Either
 * way it writes the removal record once and asks the node to stop (EXIT_CODE_REMOVED, or 0 when it left).
 *
 * A voter is demoted before it is removed, and when the attestation chain's next seal needs its signature (a
 * hand-over voter the other live ones cannot outvote: from two voters to one, always) the removal waits,
 * bounded, for a seal that covers the demotion: removed at once, the node stops as soon as it applies its
 * removal, maybe before it signed, and the one voter left could never seal again (docs/CHAIN.md §4).
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
import { REMOVAL_SEAL_PROGRESS_MS, REMOVAL_SEAL_WAIT_MS } from './constants.js'

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

/**
 * The attestation chain's side of a departure (docs/CHAIN.md §4, the hand-over), installed by the composition
 * root; without it (no chain, or attestation disabled) nothing waits.
 */
export interface DepartureSeal {
  /** Whether the next seal needs `nodeId`'s signature: a hand-over voter the other `live` ones cannot outvote. */
  needed: (nodeId: string, live: ReadonlySet<string>) => boolean
  /** Resolves true once a committed seal covers `nodeId`'s departure (it is no hand-over voter any more), false after `timeoutMs`. */
  covered: (nodeId: string, timeoutMs: number) => Promise<boolean>
  /** The chain's height and sealed height, for the log. */
  progress: () => { height: number, sealedHeight: number }
}

/**
 * What the removal did about the chain's hand-over, when the removed node's signature was needed: it waited for
 * a seal over the departure (`covered`), or could not, the node being gone (`member-gone`: the chain cannot seal
 * without it; docs/OPERATIONS.md, "Removal, leaving, and coming back").
 */
export type Departure = { seal: 'covered', waitedMs: number, sealedHeight: number } | { seal: 'member-gone' }

/** A removal's last proposal, and what it did about the chain's hand-over when that mattered. */
export type RemovalResult = ProposalResult<ApplyResult> & { departure?: Departure }

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
  /** The chain's side of a departure; absent, a removal never waits for a seal. */
  departureSeal?: DepartureSeal | undefined
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
   * role moves the voters in the same joint change), waits for a seal over its departure when the chain needs
   * its signature (`awaitDepartureSeal`), then commits `remove-member`. The leader then takes it out of the
   * Raft configuration, and the node, once it learns, stops and refuses to run until reset.
   *
   * @throws UnknownMemberError when `nodeId` is not a member
   * @throws RequestRefusedError when no seal covered its departure in time (it stays a member, demoted)
   */
  async removeMember (nodeId: string, reason: Reason = 'operator'): Promise<RemovalResult> {
    await this.deps.raft().read()
    if (!this.deps.shape().has(nodeId)) throw new UnknownMemberError(nodeId)
    const roles = this.deps.shape().rolesOf(nodeId).filter((r): r is ControlPlaneRole => (CONTROL_PLANE_ROLES as readonly string[]).includes(r))
    if (roles.length > 0) {
      // Pinned: until remove-member commits, the policy must not hand the roles back (a lost voter at the
      // quorum edge would otherwise be restored onto this very node, and remove-member refused).
      const demoted = await this.deps.propose({ kind: 'demote', nodeId, roles, pin: true }, reason)
      if (demoted.result.outcome.kind !== 'applied') return demoted
    }
    const departure = await this.awaitDepartureSeal(nodeId)
    const removed = await this.deps.propose({ kind: 'remove-member', nodeId }, reason)
    return departure === undefined ? removed : { ...removed, departure }
  }

  /**
   * When the chain's next seal needs `nodeId`'s signature (`DepartureSeal.needed`, this node counted live): waits
   * until a committed seal covers its departure, logging progress, at most REMOVAL_SEAL_WAIT_MS. A node that
   * membership says is gone signs nothing however long one waits: it is removed at once, with a warning (what
   * remove-member is for when a machine is gone). Undefined when the signature is not needed.
   *
   * @throws RequestRefusedError when no seal covered the departure in time
   */
  private async awaitDepartureSeal (nodeId: string): Promise<Departure | undefined> {
    const { departureSeal: seal, ctx } = this.deps
    if (seal === undefined) return undefined
    const live = new Set([...this.deps.liveMembers(), ctx.nodeId])
    if (!seal.needed(nodeId, live)) return undefined
    if (!live.has(nodeId)) {
      ctx.log.warn({ nodeId, ...seal.progress() }, `removing ${nodeId} without a seal over its departure: it is gone (membership), and the ` +
        'attestation chain needs its signature to seal again, which it can no longer give; the chain stays unsealed (docs/OPERATIONS.md, "Removal, leaving, and coming back")')
      return { seal: 'member-gone' }
    }
    const started = steadyNowMs()
    ctx.log.info({ nodeId, ...seal.progress(), waitMsMax: REMOVAL_SEAL_WAIT_MS },
      `waiting for a seal over ${nodeId}'s departure before removing it: the attestation chain needs its signature (docs/CHAIN.md §4)`)
    const rounds = Math.ceil(REMOVAL_SEAL_WAIT_MS / REMOVAL_SEAL_PROGRESS_MS)
    for (let round = 1; round <= rounds; round++) {
      if (await seal.covered(nodeId, REMOVAL_SEAL_PROGRESS_MS)) {
        const waitedMs = Math.round(steadyNowMs() - started)
        const { sealedHeight } = seal.progress()
        ctx.log.info({ nodeId, waitedMs, sealedHeight }, `a seal covers ${nodeId}'s departure; removing it`)
        return { seal: 'covered', waitedMs, sealedHeight }
      }
      if (round < rounds) ctx.log.info({ nodeId, waitedMs: Math.round(steadyNowMs() - started), ...seal.progress() }, `still waiting for a seal over ${nodeId}'s departure`)
    }
    throw new RequestRefusedError(`no seal covered the departure of ${nodeId} within ${REMOVAL_SEAL_WAIT_MS / 1000} s: the attestation chain needs its ` +
      'signature to seal again (a voter where the chain was last sealed, docs/CHAIN.md §4), and removed now it would stop before giving it. ' +
      `It is demoted but still a member. Check that it runs and gossips (revoada members, revoada chain) and run this again; if it is gone for good, ` +
      'run it again once revoada members shows it dead: the removal then goes ahead without the seal')
  }

  /**
   * This node leaves the cluster. It hands off first: each control-plane role it holds is promoted onto a live
   * member that lacks it (so the voter count stays when a live non-voter exists), then it removes itself like
   * `removeMember` (waiting, as a voter the chain needs, for a seal over its departure); applying its own removal
   * writes `removed.json` and asks the node to stop.
   *
   * @throws RequestRefusedError when this node is the only member, leaving would cost the voters their quorum, or
   *   no seal covered its departure in time (it stays a member, demoted)
   */
  async leave (): Promise<RemovalResult> {
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
