/**
 * @module consensus/quorum-recovery-run
 * `revoada recover-quorum` on this node (docs/OPERATIONS.md, "A majority of the voters lost for good"): once
 * the local log is applied, this node — a voter — elects itself and commits alone (core `recoverAsSoleVoter`),
 * demotes the etcd role of every other voter, one joint change each, then removes each of them from the
 * cluster (`remove-member`), and asks to be stopped. Its lost voters are kept in recovery-record.ts until it
 * ends; a start as usual on a data dir whose recovery did not end says how to resume it (`checkUnfinished`).
 *
 * The removals fence the lost voters out of the recovered history on every node that applies it. Demoted
 * only, they stayed learners, and a learner may speak Raft: two of them started again with their data are a
 * majority of their old configuration, and through any node of the recovered cluster they learnt its term,
 * then elected each other past it and took over a learner that had followed this node, and led the same term
 * as this node (seen on processes, test/consensus/cluster/quorum-recovery-processes.test.ts). Removed, they are
 * refused Raft by every node that applied it (admission.ts `mayTalkRaft`), and the leader's notice stops them.
 */
import type { ServiceContext } from '../node/service.js'
import { QuorumRecoveryError } from '../node/errors.js'
import { steadyNowMs } from '../util/clock.js'
import type { ProposalResult, RaftNode } from './raft-node.js'
import { PROTOCOL_SEAL_HANDOVER } from './shape/core/index.js'
import type { ApplyResult, Command, MeshShape, Reason } from './shape/core/index.js'
import type { NodeId } from './core/index.js'
import { allMembers, allVoters } from './core/quorum.js'
import { readRecoveryRecord, removeRecoveryRecord, writeRecoveryRecord } from './recovery-record.js'

/** How long `revoada recover-quorum` may take to lead and demote the lost voters before it gives up (exit 1). */
const QUORUM_RECOVERY_TIMEOUT_MS = 60_000
/** How long recovery at least listens for a live leader before it acts (it also waits 3 election timeouts). */
const QUORUM_RECOVERY_LISTEN_MIN_MS = 3000
/** How often the recovery looks again while it waits (to lead, or for a joint change to be left). */
const QUORUM_RECOVERY_POLL_MS = 100

/** What the recovery needs of the consensus service, its local log already applied. */
export interface QuorumRecoveryDeps {
  raft: Pick<RaftNode<ApplyResult>, 'isRunning' | 'isLeader' | 'leaderId' | 'status' | 'appliedIndex' | 'configurationView' |
  'electionTimeoutMaxMs' | 'recoveryLostVoters' | 'recoverAsSoleVoter' | 'recovery' | 'takeSnapshot'>
  /** The applied shape (who holds etcd, who is a member, its protocol level). */
  shape: () => Pick<MeshShape, 'holds' | 'has' | 'protocol'>
  /** Signs and proposes a shape command from this node; resolves once applied here. */
  propose: (command: Command, reason: Reason) => Promise<ProposalResult<ApplyResult>>
  /** Takes a member out of the cluster: its roles demoted, then `remove-member` (member-removal.ts). */
  removeMember: (nodeId: NodeId) => Promise<ProposalResult<ApplyResult>>
  /** The raft directory, where the recovery record is kept. */
  raftDir: string
  ctx: Pick<ServiceContext, 'nodeId' | 'log' | 'requestStop'>
  /** Undoes what the service's start opened, before a refused recovery fails it. */
  closeFailedStart: () => Promise<void>
}

export class QuorumRecoveryRun {
  /** The lost voters of this node's quorum recovery while it runs or is left unfinished (`status`). */
  private lost: NodeId[] | undefined
  /** True from the moment this process runs the recovery until it ends or fails. */
  private running = false

  constructor (private readonly deps: QuorumRecoveryDeps) {}

  /** `quorumRecovery` of `status --json` for an unfinished recovery (`running` false: it must be run again); undefined without one. */
  status (): { lostVoters: NodeId[], running: boolean } | undefined {
    return this.lost !== undefined ? { lostVoters: this.lost, running: this.running } : undefined
  }

  /**
   * Starts the recovery. First it listens for a leader for a few election timeouts: a cluster whose quorum
   * answers has nothing to recover, and forcing it would drop what its majority committed beyond this node's log.
   * @throws QuorumRecoveryError when this node is not a voter, or a leader is heard (the transport is stopped first)
   */
  async start (): Promise<void> {
    const { raft, ctx, raftDir } = this.deps
    const refuse = async (message: string): Promise<never> => {
      await this.deps.closeFailedStart()
      throw new QuorumRecoveryError(message)
    }
    // An earlier run that did not end resumes with its lost voters, even if its log's tail demoted this node.
    const resumed = await readRecoveryRecord(raftDir).catch(async (err: unknown) => await refuse((err as Error).message))
    if (resumed !== undefined && !allVoters(raft.configurationView()).some((id) => resumed.includes(id))) {
      // An earlier run demoted every lost voter and stopped before it removed them all: the configuration works
      // (quorums are its own), so there is no leader to listen for and nothing to force; only the removals remain.
      this.lost = resumed
      this.running = true
      ctx.log.warn({ lostVoters: resumed }, 'resuming a quorum recovery whose lost voters are demoted: removing them from the cluster')
      void this.run()
      return
    }
    if (resumed === undefined && !allVoters(raft.configurationView()).includes(ctx.nodeId)) {
      await refuse(`${ctx.nodeId} is not a voter (voters: ${allVoters(raft.configurationView()).join(', ')}): ` +
        'only a voter holds every committed entry; run recover-quorum on the voter that survived')
    }
    const listenMs = Math.max(QUORUM_RECOVERY_LISTEN_MIN_MS, 3 * raft.electionTimeoutMaxMs())
    ctx.log.warn({ listenMs }, 'quorum recovery: listening for a leader first')
    const until = steadyNowMs() + listenMs
    while (raft.leaderId() === null && steadyNowMs() < until) await new Promise((resolve) => setTimeout(resolve, QUORUM_RECOVERY_POLL_MS))
    const leader = raft.leaderId()
    if (leader !== null) {
      await refuse(`the cluster has a leader (${leader === ctx.nodeId ? 'this node, elected by a quorum' : leader}, term ${raft.status().term}): ` +
        'its quorum is not lost, so there is nothing to recover; start the node as usual')
    }
    const voters = allVoters(raft.configurationView())
    const lost = resumed ?? raft.recoveryLostVoters()
    // Durable before the campaign: a run after a crash or a give-up must count the same voters as lost.
    await writeRecoveryRecord(raftDir, lost).catch(async (err: unknown) =>
      await refuse(`cannot record the lost voters in ${raftDir}: ${(err as Error).message}`))
    this.lost = lost
    this.running = true
    ctx.log.warn({ voters, lostVoters: lost, resumed: resumed !== undefined },
      'recovering a lost quorum: this node elects itself and commits alone until the lost voters are demoted')
    raft.recoverAsSoleVoter(lost)
    void this.run()
  }

  /**
   * A start as usual on a data dir whose quorum recovery did not end: the record goes once no lost voter is
   * left a voter or a member (the recovery is over in effect); otherwise the operator is told how to resume it.
   */
  async checkUnfinished (): Promise<void> {
    const { raft, ctx, raftDir } = this.deps
    const lost = await readRecoveryRecord(raftDir).catch((err: unknown) => {
      ctx.log.warn({ err }, 'quorum recovery record unreadable: left as it is')
      return undefined
    })
    if (lost === undefined) return
    const shape = this.deps.shape()
    const still = lost.filter((id) => allVoters(raft.configurationView()).includes(id) || shape.has(id))
    if (still.length > 0) {
      this.lost = lost
      ctx.log.warn({ lostVoters: still }, 'a quorum recovery of this node has not ended: `revoada recover-quorum` resumes it')
      return
    }
    // The run ended but stopped before its snapshot (or before removing the record): take it now. Kept when
    // it fails (a full disk, say), so the next start tries again.
    try {
      this.snapshotEnd()
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'quorum recovery ended, but its snapshot was not written: the record stays, the next start tries again')
      return
    }
    await removeRecoveryRecord(raftDir).catch((err: unknown) => { ctx.log.warn({ err }, 'cannot remove the ended quorum recovery record') })
  }

  /**
   * A snapshot at the applied index that keeps no entry before it, before the record goes. The demotions were
   * one joint change each, so the configurations between them are in the log; a node behind the recovery —
   * a voter the operator stopped and starts again, one counted lost that ran after all — would apply them one
   * by one from it, and two such nodes that applied one in which they are a majority without this node could
   * elect each other were this node gone at that moment. From the snapshot they get the outcome at once: once
   * the process restarts, this node's log begins after it (the core cuts the lost voters off until then).
   */
  private snapshotEnd (): void {
    const { raft, ctx } = this.deps
    const snapshot = raft.takeSnapshot(0)
    ctx.log.info({ index: snapshot.meta.index }, 'quorum recovery: snapshot at its end, no entry kept before it')
  }

  /**
   * Leads, demotes the lost voters, removes them, then asks the node to stop: exit 0 once recovered, 1 when it
   * failed. A run that resumes only the removals (`start`) finds the core not recovering and a leader of the
   * configuration, this node or not, to propose them to.
   */
  private async run (): Promise<void> {
    const { raft, ctx, raftDir } = this.deps
    const deadline = steadyNowMs() + QUORUM_RECOVERY_TIMEOUT_MS
    const pause = async (): Promise<void> => {
      if (steadyNowMs() > deadline) {
        const members = (this.lost ?? []).filter((id) => this.deps.shape().has(id))
        throw new QuorumRecoveryError(`not done within ${QUORUM_RECOVERY_TIMEOUT_MS} ms (still voters: ${raft.recovery()?.lostVoters.join(', ') ?? 'none'}; still members: ${members.join(', ') || 'none'})`)
      }
      await new Promise((resolve) => setTimeout(resolve, QUORUM_RECOVERY_POLL_MS))
    }
    let changes = 0
    try {
      while (raft.recovery() !== undefined ? !raft.isLeader() : raft.leaderId() === null) await pause()
      for (let recovery = raft.recovery(); recovery !== undefined; recovery = raft.recovery()) {
        const conf = raft.configurationView()
        const voters = allVoters(conf)
        const shape = this.deps.shape()
        // Its log's tail may have demoted this node (a replacement, an operator's demote): it takes etcd back first.
        const self = !conf.voters.includes(ctx.nodeId) && !shape.holds(ctx.nodeId, 'etcd') ? ctx.nodeId : undefined
        // The policy engine may replace a lost voter first (`promote … replacing`): only those still holding etcd.
        const next = self ?? recovery.lostVoters.find((id) => voters.includes(id) && shape.holds(id, 'etcd'))
        if (next === undefined) { await pause(); continue } // the last joint change is being left
        const command = next === self
          ? { kind: 'promote' as const, nodeId: next, roles: ['etcd' as const] }
          : { kind: 'demote' as const, nodeId: next, roles: ['etcd' as const] }
        // From level 8 a demote says what it is: the chain re-anchors its seals there (docs/CHAIN.md §4), and an
        // export shows it; below, `quorum-recovery` would apply as malformed on every build.
        const reason = command.kind === 'demote' && shape.protocol >= PROTOCOL_SEAL_HANDOVER ? 'quorum-recovery' : 'operator'
        const { result } = await this.deps.propose(command, reason)
        if (result.outcome.kind === 'rejected' && result.outcome.code !== 'role-not-held' && result.outcome.code !== 'role-already-held') {
          throw new QuorumRecoveryError(`the ${command.kind} of ${next} was rejected: ${result.outcome.code}: ${result.outcome.message}`)
        }
        changes++
      }
      changes += await this.removeLost(pause)
      this.snapshotEnd()
      await removeRecoveryRecord(raftDir)
      this.lost = undefined
      this.running = false
      const message = endMessage(ctx.nodeId, allVoters(raft.configurationView()), raft.appliedIndex(), changes)
      ctx.log.warn({ appliedIndex: raft.appliedIndex(), changes }, message)
      ctx.requestStop({ exitCode: 0, message })
    } catch (err) {
      this.running = false
      if (!raft.isRunning) return
      ctx.requestStop({ exitCode: 1, message: `quorum recovery failed: ${(err as Error).message}` })
    }
  }

  /**
   * Takes each lost voter still a member out of the cluster (see the module comment), and waits until none is in
   * the configuration: from then on every node that applied it refuses its Raft traffic, and the leader tells it
   * it was removed when it connects.
   * @throws QuorumRecoveryError when a removal is rejected for a reason other than the member being gone already
   */
  private async removeLost (pause: () => Promise<void>): Promise<number> {
    let removed = 0
    for (const id of this.lost ?? []) {
      if (!this.deps.shape().has(id)) continue
      const { result } = await this.deps.removeMember(id)
      if (result.outcome.kind === 'rejected' && result.outcome.code !== 'unknown-node') {
        throw new QuorumRecoveryError(`the removal of ${id} was rejected: ${result.outcome.code}: ${result.outcome.message}`)
      }
      removed++
      this.deps.ctx.log.warn({ nodeId: id }, 'quorum recovery: lost voter removed from the cluster (it must join again from an empty data dir)')
    }
    // The leader's admission round takes removed members out of the configuration after the removal commits:
    // until then they are learners, and a learner may speak Raft. The run's snapshot must not keep them.
    const lost = this.lost ?? []
    while (allMembers(this.deps.raft.configurationView()).some((id) => lost.includes(id))) await pause()
    return removed
  }
}

/**
 * What the run's end tells the operator, as the configuration is: a resumed run finds it as an earlier run (or the
 * policy engine since) left it, possibly with other voters, and a run whose record outlived its work changed nothing.
 */
export function endMessage (self: NodeId, voters: readonly NodeId[], appliedIndex: number, changes: number): string {
  const next = 'start it again with `revoada start`'
  if (changes === 0) {
    return `quorum recovery had already ended: no lost voter is a voter or a member any more, nothing was changed; its record is removed; ${next}`
  }
  const who = voters.length === 1 && voters[0] === self
    ? `${self} is the only voter`
    : `the voters are ${voters.join(', ')}`
  return `quorum recovered: ${who}, the log of ${self} kept (applied index ${appliedIndex}); ${next}: the policy engine promotes live members back to the target`
}
