/**
 * @module test/consensus/sim/recovery
 * Quorum recovery under simulation: `revoada recover-quorum` as docs/OPERATIONS.md ("A majority of the voters
 * lost for good") tells the operator to run it. In the seeds that choose it (`chooseQuorumLoss`), a majority of
 * the leader's voters is lost for good: crashed, never started again, their messages in flight dropped and
 * nothing delivered to or from them again, not even in the liveness phase. The operator then:
 *
 * - stops every other surviving voter (they are started again only once the lost voters are out);
 * - stops the surviving voter whose log is the most up to date (highest (lastTerm, lastIndex)) and starts it
 *   in recovery: once its local log is applied, `RawNode.recoverAsSoleVoter()` and a campaign, as RaftNode does;
 * - has the leader take every lost voter (and every stopped one) out of the voters, by the seed's kind of
 *   configuration change (after promoting a live learner, in half the seeds, as the policy engine may),
 *   proposed again whenever it is refused, until `recovery()` is undefined; the recovering node then stops,
 *   and the operator starts it and the stopped voters as usual; the policy engine then promotes caught-up
 *   learners back to RECOVERY_VOTERS_TARGET voters;
 * - runs recover-quorum again when it gave up (after RECOVERY_TIMEOUT_TICKS, as the product's 60 s) or the
 *   node crashed, once no leader answers and no quorum can form without it (`maybeRun`).
 *
 * The moment of loss is chosen so that the full checks stay valid: the loss waits (from `atTick`, into the
 * liveness phase if need be) for a tick at which the survivor holds every entry applied anywhere and every
 * entry any other surviving node holds at or below its commit index. What the lost majority committed beyond
 * that, no client saw and no surviving node will apply, so losing it breaks no check. Election safety and
 * log matching hold through the loss as well: the recovery leaps past every term a lost leader used.
 */
import { changeConf, decodeConfChange, isJoint } from '../../../src/consensus/core/confchange.js'
import { EntryType } from '../../../src/consensus/core/types.js'
import type { ConfChange, ConfState, Entry, NodeId, RaftStatus } from '../../../src/consensus/core/types.js'
import { assert } from '../../../src/util/assert.js'
import { PROMOTE_WAIT_TICKS, QUORUM_LOSS_RATE, RECOVERY_LISTEN_TICKS, RECOVERY_TIMEOUT_TICKS,
  RECOVERY_VOTERS_TARGET } from './constants.js'
import { fingerprint, InvariantViolation, type ClusterInvariants } from './invariants.js'
import type { SimNetwork } from './network.js'
import type { NodeHooks, SimNode } from './node.js'
import type { SimRandom } from './random.js'
import type { Trace } from './trace.js'

/**
 * How the leader takes the lost voters out: one removal each, one joint demotion to learner each (what the
 * product's consensus service proposes), or one joint change removing them all.
 */
export type LostVoterExit = 'remove-each' | 'demote-each' | 'remove-all'

export interface QuorumLossPlan {
  /** The first tick at which the loss may happen. */
  atTick: number
  exit: LostVoterExit
  /**
   * The leader first promotes a live learner, as the product's policy engine may ("promote … replacing"):
   * a voter added during the recovery, which counts in its quorums as usual.
   */
  promoteFirst: boolean
}

/**
 * Draws whether (QUORUM_LOSS_RATE of seeds, or always when `forced`) and how a seed loses a quorum, from
 * `random`, a stream of its own so that seeds without a loss replay exactly as they did before it existed.
 */
export function chooseQuorumLoss (random: SimRandom, steps: number, forced: boolean): QuorumLossPlan | undefined {
  const chosen = random.chance(QUORUM_LOSS_RATE)
  const plan = { atTick: random.between(Math.floor(steps / 5), steps),
    exit: random.pick(['remove-each', 'demote-each', 'remove-all'] as const), promoteFirst: random.chance(0.5) }
  return chosen || forced ? plan : undefined
}

/** What the recovery needs from the simulation. */
export interface RecoveryEnv {
  nodes: ReadonlyMap<NodeId, SimNode>
  network: SimNetwork
  invariants: ClusterInvariants
  trace: Trace
  hooks: NodeHooks
  /** The up node that leads with the highest term, or null. */
  leader: () => NodeId | null
  /** Harness bug: lose the quorum without waiting for the survivor to hold every committed entry. */
  lossAnyMoment: boolean
  /** Proposes at the current leader; false when refused (no leader, a change pending, a transfer going on). */
  proposeConfChange: (change: ConfChange) => boolean
  /** Starts `id` again at tick `at` (the operator's `revoada start`). */
  restartAt: (id: NodeId, at: number) => void
}

const allVoters = (conf: ConfState): NodeId[] => [...new Set([...conf.voters, ...conf.votersOutgoing])]

/** True when the voters for which `counts` holds form a quorum of `conf` (both halves of a joint one). */
function hasQuorum (conf: ConfState, counts: (id: NodeId) => boolean): boolean {
  const majority = (ids: NodeId[]): boolean => ids.length === 0 || ids.filter(counts).length * 2 > ids.length
  return majority(conf.voters) && majority(conf.votersOutgoing)
}

/** Coverage marks of a quorum recovery, summed over seeds by the CLI (all 0 in a seed without one). */
export function recoveryMarks (): Record<'quorumLosses' | 'recoveriesStarted' | 'recoveriesEnded' | 'recoveryTimeouts' |
'recoveriesCompleted' | 'recoveriesRefused' | 'promotedWhileRecovering' | 'commitIndexPickLacking' | 'votersLostAgain', number> {
  // recoveriesRefused: recover-quorum refused the survivor (no longer a voter in its own configuration).
  // promotedWhileRecovering: a learner promoted before the lost voters left (it counts in the quorums).
  // commitIndexPickLacking: the survivor OPERATIONS.md names (highest commit index) lacked a committed entry.
  // votersLostAgain: live voters a run after an ended one counted as lost, which the operator took down for good.
  return { quorumLosses: 0, recoveriesStarted: 0, recoveriesEnded: 0, recoveryTimeouts: 0, recoveriesCompleted: 0,
    recoveriesRefused: 0, promotedWhileRecovering: 0, commitIndexPickLacking: 0, votersLostAgain: 0 }
}

export class QuorumRecovery {
  readonly marks = recoveryMarks()

  /** The voter that recovers, once the loss has happened. */
  private survivor: NodeId | null = null
  private readonly lost = new Set<NodeId>()
  /** The other surviving voters, stopped by the operator until the lost voters are out. */
  private readonly held = new Set<NodeId>()
  /** The tick the running recover-quorum started at, or null when none runs. */
  private runStartedAt: number | null = null
  /** The core the run started on: a crash and restart in between (a new core) ends the run. */
  private runCore: SimNode['raw'] = null
  private completed = false
  /** The last run ended as the core said (exit 0, "quorum recovered"), not by a give-up or a crash. */
  private lastRunEnded = false
  /** Since when the survivor has known no leader (recover-quorum listens for one first), or null. */
  private leaderlessSince: number | null = null
  /** Whether the learner promotion of `plan.promoteFirst` is over (proposed, or given up), and since when it is tried. */
  private promoted = false
  private promotingSince: number | null = null
  /** Set once recover-quorum refused the survivor (not a voter): nothing can run it again. */
  private refusal: string | null = null
  /**
   * The lost voters a run fixed, kept in the survivor's data dir (the product's `recovery.json`, written before
   * it campaigns) until a run ends with "quorum recovered": a run after one that did not end resumes that set.
   */
  private persistedLost: NodeId[] | null = null

  constructor (readonly plan: QuorumLossPlan, private readonly random: SimRandom, private readonly env: RecoveryEnv) {}

  /** False for a node lost for good or held down by the operator: nothing may start it. */
  mayRun (id: NodeId): boolean {
    return !this.lost.has(id) && !this.held.has(id)
  }

  /** True once the loss has happened and no lost or stopped voter is left among the leader's voters. */
  done (): boolean {
    return this.completed
  }

  /** The recovering node until the recovery completes: membership faults must not remove or demote it. */
  keptVoter (): NodeId | null {
    return this.completed && this.runStartedAt === null ? null : this.survivor
  }

  describe (): string {
    if (this.survivor === null) return `quorum loss planned at ${this.plan.atTick}, not happened`
    return `survivor ${this.survivor}, lost [${[...this.lost].join(',')}], stopped [${[...this.held].join(',')}], ` +
      `${this.runStartedAt === null ? 'no run' : `run since ${this.runStartedAt}`}, ` +
      `recovery ${JSON.stringify(this.node(this.survivor).raw?.recovery() ?? null)}, completed ${String(this.completed)}` +
      (this.refusal === null ? '' : `, ${this.refusal}`)
  }

  /** Called once a tick, while every node is idle (between Readies). */
  tick (now: number): void {
    if (this.survivor === null) {
      if (now >= this.plan.atTick) this.tryLoss()
      return
    }
    const node = this.node(this.survivor)
    this.watchRun(now, node)
    if (!this.completed && this.maybeComplete()) return
    const leader = node.raw?.status().leader ?? null
    if (leader !== null || node.raw === null) this.leaderlessSince = null
    else this.leaderlessSince ??= now
    this.maybeRun(now, node)
    if (this.completed && this.runStartedAt === null) this.promoteBack()
    else this.proposeNext(now)
  }

  private node (id: NodeId): SimNode {
    const node = this.env.nodes.get(id)
    assert(node !== undefined, () => `unknown node ${id}`)
    return node
  }

  private status (id: NodeId): RaftStatus {
    const raw = this.node(id).raw
    assert(raw !== null, () => `${id} is down`)
    return raw.status()
  }

  /** Loses a random majority of the leader's voters, if the best survivor holds every committed entry now. */
  private tryLoss (): void {
    const leader = this.env.leader()
    if (leader === null) return
    const conf = this.status(leader).confState
    if (isJoint(conf)) return
    const lost = this.random.shuffle(conf.voters).slice(0, Math.floor(conf.voters.length / 2) + 1)
    const eligible = conf.voters.filter((id) => !lost.includes(id) && this.canRecover(id))
    const survivor = this.mostUpToDate(eligible)
    if (survivor === undefined) return
    if (!this.env.lossAnyMoment && !this.holdsCommitted(survivor, lost)) return
    // OPERATIONS.md tells the operator to pick the voter with the highest commit index: would it lose anything?
    const byCommit = [...eligible].sort((a, b) => this.status(b).commit - this.status(a).commit)[0] as NodeId
    if (!this.holdsCommitted(byCommit, lost)) {
      this.marks.commitIndexPickLacking++
      this.env.trace.add(`quorum loss: ${byCommit} (highest commit index) lacks committed entries ${survivor} holds`)
    }
    this.lose(lost, survivor, conf)
  }

  /** A voter (in its own configuration) that is up. Its unflushed writes are flushed when the operator stops it. */
  private canRecover (id: NodeId): boolean {
    const raw = this.node(id).raw
    return raw !== null && allVoters(raw.status().confState).includes(id)
  }

  private mostUpToDate (ids: NodeId[]): NodeId | undefined {
    let best: { id: NodeId, term: number, index: number } | undefined
    for (const id of ids) {
      const { lastTerm, lastIndex } = this.status(id)
      if (best === undefined || lastTerm > best.term || (lastTerm === best.term && lastIndex > best.index)) {
        best = { id, term: lastTerm, index: lastIndex }
      }
    }
    return best?.id
  }

  /**
   * True when `id` holds every entry committed as far as any node can tell: every entry applied anywhere (a
   * client may have seen it) and every entry another surviving node holds at or below its commit index (it
   * would apply it). Nothing acknowledged is then lost, and the checks stay valid as they are.
   */
  private holdsCommitted (id: NodeId, lost: readonly NodeId[]): boolean {
    const survivor = this.node(id)
    const entryAt = (index: number): Entry | undefined => survivor.entryAt(index)
    if (this.env.invariants.firstAppliedMissing(survivor.firstIndex() - 1, entryAt) !== undefined) return false
    for (const other of this.env.nodes.values()) {
      if (other.id === id || lost.includes(other.id)) continue
      const committed = this.committedLog(other)
      const from = Math.max(survivor.firstIndex(), committed.first)
      for (let index = from; index <= committed.commit; index++) {
        const mine = survivor.entryAt(index)
        const theirs = committed.entryAt(index)
        if (mine === undefined || theirs === undefined || fingerprint(mine) !== fingerprint(theirs)) return false
      }
    }
    return true
  }

  /** A node's commit index and log: in memory when it is up, else what its storage would restart with. */
  private committedLog (node: SimNode): { first: number, commit: number, entryAt: (index: number) => Entry | undefined } {
    if (node.raw !== null) {
      return { first: node.firstIndex(), commit: node.raw.status().commit, entryAt: (index) => node.entryAt(index) }
    }
    const state = node.storage.load()
    const offset = state.snapshot?.meta.index ?? 0
    return { first: offset + 1, commit: state.hardState.commit, entryAt: (index) => state.entries[index - offset - 1] }
  }

  private lose (lost: NodeId[], survivor: NodeId, conf: ConfState): void {
    const survivorConf = this.status(survivor).confState
    const held = [...this.env.nodes.values()].filter((node) => node.id !== survivor && !lost.includes(node.id) &&
      (allVoters(conf).includes(node.id) || allVoters(survivorConf).includes(node.id) ||
        (node.raw !== null && allVoters(node.raw.status().confState).includes(node.id)))).map((node) => node.id)
    for (const id of lost) {
      const node = this.node(id)
      if (node.up) node.crash(this.random)
      this.lost.add(id)
    }
    for (const id of held) {
      const node = this.node(id)
      if (node.up) node.stop(this.env.hooks)
      this.held.add(id)
    }
    this.env.network.lose(lost)
    this.env.network.dropFrom(held)
    // recover-quorum is a way to start: the operator stops the survivor and starts it on its data dir.
    const node = this.node(survivor)
    node.stop(this.env.hooks)
    node.start()
    this.survivor = survivor
    this.marks.quorumLosses++
    const { lastTerm, lastIndex, term } = this.status(survivor)
    this.env.trace.add(`quorum loss: [${lost.join(',')}] lost for good, [${held.join(',')}] stopped; ` +
      `${survivor} (term ${term}, last ${lastIndex}@${lastTerm}) will recover, exit by ${this.plan.exit}`)
  }

  /** Follows the running recover-quorum: ended (the core says so), gave up, or died with its node. */
  private watchRun (now: number, node: SimNode): void {
    if (this.runStartedAt === null) return
    if (node.raw === null || node.raw !== this.runCore) {
      this.runStartedAt = null
      this.lastRunEnded = false
      this.env.trace.add(`${node.id} went down while recovering`)
      return
    }
    const recovery = node.raw.recovery()
    const ended = recovery === undefined
    if (!ended && now - this.runStartedAt < RECOVERY_TIMEOUT_TICKS) return
    if (ended) this.marks.recoveriesEnded++
    else this.marks.recoveryTimeouts++
    if (ended) this.persistedLost = null
    this.lastRunEnded = ended
    if (ended && this.stuck(node.raw.status().confState)) {
      // recover-quorum exits 0 ("quorum recovered") and the operator starts the node as usual: it must work.
      throw new InvariantViolation(`quorum recovery: ${node.id}'s recovery ended while its voters ` +
        `${allVoters(node.raw.status().confState).join(',')} have no quorum without the lost ones`)
    }
    this.env.trace.add(ended
      ? `${node.id} recovery ended: no lost voter left in its configuration; it stops (exit 0)`
      : `${node.id} recover-quorum gives up after ${RECOVERY_TIMEOUT_TICKS} ticks (exit 1), lost ${recovery.lostVoters.join(',')}`)
    this.runStartedAt = null
    // As the product's run does (quorum-recovery-run.ts): a snapshot at the end, no entry kept before it, so a node
    // behind the recovery installs it at once rather than apply the demotions one by one.
    if (ended) node.snapshotNow(this.env.hooks, 0)
    // Either way the process stops; the operator starts it again (as usual, or in recovery if still needed).
    node.stop(this.env.hooks)
    this.env.restartAt(node.id, now + this.random.between(1, 4))
  }

  /** Completes once no lost or stopped voter is left among the leader's voters; starts the stopped ones. */
  private maybeComplete (): boolean {
    if (this.runStartedAt !== null) return false
    const leader = this.env.leader()
    if (leader === null) return false
    const voters = allVoters(this.status(leader).confState)
    if (voters.some((id) => !this.mayRun(id))) return false
    this.completed = true
    this.marks.recoveriesCompleted++
    this.env.trace.add(`quorum recovered: voters ${voters.join(',')} under ${leader}; ` +
      `the operator starts [${[...this.held].join(',')}] again`)
    const held = [...this.held]
    this.held.clear()
    for (const id of held) this.node(id).start()
    return true
  }

  /**
   * Runs recover-quorum on the survivor, as the operator does: once it is up with its local log applied and
   * has known no leader for RECOVERY_LISTEN_TICKS (the product listens for one first and refuses when one
   * answers), provided no quorum of its configuration can form without it (the operator knows which voters
   * are gone for good and which it stopped; counting the live ones as lost is safe only then). After a run
   * that ended with "quorum recovered", the operator does so again only when no leader came for
   * RECOVERY_TIMEOUT_TICKS: a configuration of one or two voters may stall for good (OPERATIONS.md prescribes
   * recover-quorum then).
   */
  private maybeRun (now: number, node: SimNode): void {
    if (this.runStartedAt !== null || node.raw === null) return
    const raw = node.raw
    const status = raw.status()
    if (raw.recovery() !== undefined || status.applied < status.commit) return
    const patience = this.completed || this.lastRunEnded ? RECOVERY_TIMEOUT_TICKS : RECOVERY_LISTEN_TICKS
    if (this.leaderlessSince === null || now - this.leaderlessSince < patience) return
    if (this.quorumWithout(node, status.confState)) return
    assert(status.role !== 'leader', () => `${node.id} leads without knowing it`)
    if (!allVoters(status.confState).includes(node.id) && this.persistedLost === null) {
      // As the product's QuorumRecoveryError: only a voter can recover, or a node resuming its own unfinished
      // run (its log's tail may have demoted it). No other node may: nothing commits again.
      if (this.refusal !== null) return
      this.refusal = `recover-quorum refuses ${node.id}: not a voter (voters ${allVoters(status.confState).join(',')})`
      this.marks.recoveriesRefused++
      this.env.trace.add(this.refusal)
      return
    }
    const again = this.persistedLost === null && (this.completed || this.lastRunEnded)
    this.persistedLost = raw.recoverAsSoleVoter(this.persistedLost ?? undefined)
    // Run again after a run that ended, it counts live voters as lost: OPERATIONS.md asks that they never run again
    // with their data (stopped, their data dirs wiped). Started again as usual, such a voter may hold a configuration
    // of the earlier run in which it and a voter stopped for that run, started since, are a majority (seed 500399).
    if (again) this.loseForGood(this.persistedLost.filter((id) => this.mayRun(id)))
    raw.campaign()
    this.runStartedAt = now
    this.runCore = raw
    this.marks.recoveriesStarted++
    this.env.trace.add(`${node.id} runs recover-quorum (voters ${allVoters(status.confState).join(',')}, ` +
      `lost ${this.persistedLost.join(',')})`)
  }

  /** The operator takes `ids` down for good: crashed, never started again, nothing delivered to or from them. */
  private loseForGood (ids: NodeId[]): void {
    if (ids.length === 0) return
    for (const id of ids) {
      const node = this.node(id)
      if (node.up) node.crash(this.random)
      this.lost.add(id)
    }
    this.env.network.lose(ids)
    this.marks.votersLostAgain += ids.length
    this.env.trace.add(`the operator stops [${ids.join(',')}] for good (counted lost by a run again) and wipes their data dirs`)
  }

  /**
   * True when the nodes that may run form a quorum without `survivor` of its applied configuration `conf` or of
   * any configuration its log's unapplied tail moves to (what `RawNode.recoveryLostVoters` counts as lost too).
   * Counting live voters as lost is safe only when none does. Seed 377520 (`--quorum-loss`): after a completed
   * recovery the survivor n3 had applied voters n3,n6, and its tail added n2 (n2 and n6 had applied n3,n6,n2); cut
   * off, n3 ran recover-quorum counting both as lost and committed alone, and n6 later won a term with n2's vote
   * and lacked those entries. (Other nodes' own configurations are not asked: a lagging node's stale one may show
   * a quorum of nodes whose logs refuse its candidates, and the recovery would wait for good.)
   */
  private quorumWithout (survivor: SimNode, conf: ConfState): boolean {
    const others = (id: NodeId): boolean => id !== survivor.id && this.mayRun(id)
    if (hasQuorum(conf, others)) return true
    let next = conf
    for (let index = survivor.applied + 1; index <= survivor.lastIndex(); index++) {
      const entry = survivor.entryAt(index)
      const change = entry?.type === EntryType.ConfChange ? decodeConfChange(entry.data) : null
      const moved = change === null ? null : changeConf(next, change)
      if (moved === null || typeof moved === 'string') continue
      next = moved
      if (hasQuorum(next, others)) return true
    }
    return false
  }

  /** True when the voters that may run cannot form a quorum of `conf` (either half of a joint one). */
  private stuck (conf: ConfState): boolean {
    return !hasQuorum(conf, (id) => this.mayRun(id))
  }

  /**
   * After the recovery, the product's policy engine promotes live members back to its target: live learners
   * become voters, one change at a time, until the leader has RECOVERY_VOTERS_TARGET voters.
   */
  private promoteBack (): void {
    const leader = this.env.leader()
    const conf = leader === null ? undefined : this.node(leader).raw?.status().confState
    if (conf === undefined || isJoint(conf) || conf.voters.length >= RECOVERY_VOTERS_TARGET) return
    this.promoteLearner(leader as NodeId, conf)
  }

  /** Asks the leader to take out the next lost or stopped voter (and any voter its recovery counts as lost). */
  private proposeNext (now: number): void {
    const leader = this.env.leader()
    if (leader === null) return
    const raw = this.node(leader).raw
    if (raw === null) return
    const conf = raw.status().confState
    if (isJoint(conf)) return
    if (this.plan.promoteFirst && !this.promoted) {
      // A new leader learns its learners' progress from their answers: give them a little time to show it.
      this.promotingSince ??= now
      const proposed = this.promoteLearner(leader, conf)
      if (proposed) this.marks.promotedWhileRecovering++
      this.promoted = proposed || now - this.promotingSince >= PROMOTE_WAIT_TICKS
      return
    }
    const recovery = raw.recovery()
    if (recovery !== undefined && !conf.voters.includes(leader)) {
      // Its log's tail demoted the recovering leader: it promotes itself back first (the product's consensus
      // service does the same), while the voters not lost still form a quorum with it.
      if (this.env.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: leader }], transition: 'auto' })) {
        this.env.trace.add(`${leader} promotes itself back`)
      }
      return
    }
    const counted = recovery?.lostVoters ?? []
    const targets = conf.voters.filter((id) => id !== leader && (!this.mayRun(id) || counted.includes(id)))
    const first = targets[0]
    if (first === undefined) return
    const change: ConfChange = this.plan.exit === 'remove-all'
      ? { steps: targets.map((nodeId) => ({ type: 'remove' as const, nodeId })), transition: 'auto' }
      : this.plan.exit === 'remove-each'
        ? { steps: [{ type: 'remove', nodeId: first }], transition: 'auto' }
        : { steps: [{ type: 'add-learner', nodeId: first }], transition: 'auto', enterJoint: true }
    if (this.env.proposeConfChange(change)) {
      this.env.trace.add(`${leader} proposes ${this.plan.exit}: ${change.steps.map((s) => `${s.type} ${s.nodeId}`).join(', ')}`)
    }
  }

  /** Proposes to promote a live learner that is caught up (the policy engine withholds lagging ones). */
  private promoteLearner (leader: NodeId, conf: ConfState): boolean {
    const status = this.status(leader)
    const caughtUp = (id: NodeId): boolean => (status.progress?.[id]?.match ?? 0) >= status.commit
    const learner = conf.learners.find((id) => this.mayRun(id) && this.node(id).up && caughtUp(id))
    if (learner === undefined) return false
    const proposed = this.env.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: learner }], transition: 'auto' })
    if (proposed) this.env.trace.add(`${leader} promotes learner ${learner}`)
    return proposed
  }
}
