/**
 * @module test/consensus/sim/faults
 * The fault scheduler of the safety phase: at seeded intervals it picks one fault and applies it to the
 * cluster: partitions (symmetric minority or majority splits, one-way asymmetric cuts, a flapping cut,
 * a single isolated node), healing, crashes and restarts, membership changes (add a learner, promote a
 * learner, remove a voter, replace a voter through a joint configuration) and leadership transfers.
 */
import type { ConfChange, NodeId } from '../../../src/consensus/core/types.js'
import { FAULT_INTERVAL_TICKS_MAX, FAULT_INTERVAL_TICKS_MIN, FLAP_PERIOD_TICKS, SPARE_NODES_MAX } from './constants.js'
import type { SimNetwork } from './network.js'
import type { SimRandom } from './random.js'
import type { Trace } from './trace.js'

/** What the fault scheduler may do to the cluster. */
export interface FaultTarget {
  allIds: () => NodeId[]
  upIds: () => NodeId[]
  downIds: () => NodeId[]
  leader: () => NodeId | null
  /** The leader's current configuration (voters, learners). */
  voters: () => NodeId[]
  learners: () => NodeId[]
  crash: (id: NodeId) => void
  restart: (id: NodeId) => void
  /** Creates a new, empty node (a joiner) and returns its id, or null when the id space is used up. */
  spawn: () => NodeId | null
  proposeConfChange: (change: ConfChange) => boolean
  transferLeadership: (to: NodeId) => boolean
  /**
   * A voter that membership faults must neither remove nor demote, or null: the node recovering a lost
   * quorum, until the lost voters are out (without it the live nodes could never form a quorum again).
   */
  keptVoter: () => NodeId | null
}

const FAULT_KINDS = ['partition-minority', 'partition-majority', 'partition-asymmetric', 'flapping', 'isolate',
  'isolate-leader', 'isolate-leader',
  'heal', 'heal', 'crash', 'restart', 'restart', 'add-learner', 'promote', 'remove-voter', 'replace-voter',
  'transfer'] as const
type FaultKind = typeof FAULT_KINDS[number]

export class FaultScheduler {
  private nextAt: number
  private flap: { side: NodeId[], rest: NodeId[], open: boolean } | null = null
  readonly counts = new Map<FaultKind, number>()
  spawned = 0

  constructor (private readonly random: SimRandom, private readonly network: SimNetwork,
    private readonly trace: Trace, private readonly intervalMean: number) {
    this.nextAt = this.interval()
  }

  private interval (): number {
    const mean = Math.min(FAULT_INTERVAL_TICKS_MAX, Math.max(FAULT_INTERVAL_TICKS_MIN, this.intervalMean))
    return this.random.between(Math.ceil(mean / 2), Math.ceil(mean * 3 / 2))
  }

  tick (now: number, target: FaultTarget): void {
    if (this.flap !== null && now % FLAP_PERIOD_TICKS === 0) this.toggleFlap()
    if (now < this.nextAt) return
    this.nextAt = now + this.interval()
    const kind = this.random.pick(FAULT_KINDS)
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1)
    this.apply(kind, target)
  }

  private toggleFlap (): void {
    const flap = this.flap
    if (flap === null) return
    flap.open = !flap.open
    if (flap.open) this.network.heal()
    else this.network.partition(flap.side, flap.rest)
  }

  /** Lifts every partition (the liveness phase). */
  healAll (): void {
    this.flap = null
    this.network.heal()
  }

  /**
   * Leader churn: cut `id` off alone, lifting earlier cuts, so leaders change while their newest entries
   * sit on a minority (the Figure 8 pattern of the Raft paper). Also called the moment a leader is elected.
   */
  isolateAlone (id: NodeId, ids: readonly NodeId[]): void {
    this.flap = null
    this.network.heal()
    this.network.partition([id], ids.filter((other) => other !== id))
    this.trace.add(`fault isolate leader ${id}`)
  }

  private split (ids: NodeId[], sideSize: number): { side: NodeId[], rest: NodeId[] } {
    const shuffled = this.random.shuffle(ids)
    return { side: shuffled.slice(0, sideSize), rest: shuffled.slice(sideSize) }
  }

  private apply (kind: FaultKind, target: FaultTarget): void {
    const ids = target.allIds()
    const half = Math.floor(ids.length / 2)
    switch (kind) {
      case 'partition-minority':
      case 'partition-majority': {
        // A majority split puts the leader on the minority side (it must step down, a new leader rises).
        const leader = target.leader()
        const size = this.random.between(1, Math.max(1, half))
        let { side, rest } = this.split(ids, size)
        if (kind === 'partition-majority' && leader !== null && !side.includes(leader)) {
          side = [leader, ...side.slice(1)]
          rest = ids.filter((id) => !side.includes(id))
        }
        this.network.partition(side, rest)
        this.trace.add(`fault ${kind}: [${side.join(',')}] | [${rest.join(',')}]`)
        return
      }
      case 'partition-asymmetric': {
        const { side, rest } = this.split(ids, this.random.between(1, Math.max(1, half)))
        this.network.partition(side, rest, true)
        this.trace.add(`fault one-way cut: [${side.join(',')}] -> [${rest.join(',')}] dropped`)
        return
      }
      case 'flapping': {
        const { side, rest } = this.split(ids, this.random.between(1, Math.max(1, half)))
        this.flap = { side, rest, open: false }
        this.network.partition(side, rest)
        this.trace.add(`fault flapping partition every ${FLAP_PERIOD_TICKS} ticks: [${side.join(',')}] | [${rest.join(',')}]`)
        return
      }
      case 'isolate': {
        const victim = this.random.pick(ids)
        this.network.partition([victim], ids.filter((id) => id !== victim))
        this.trace.add(`fault isolate ${victim}`)
        return
      }
      case 'isolate-leader': {
        const leader = target.leader()
        if (leader !== null) this.isolateAlone(leader, ids)
        return
      }
      case 'heal':
        this.healAll()
        this.trace.add('fault heal all links')
        return
      default:
        this.applyNodeFault(kind, target)
    }
  }

  private applyNodeFault (kind: FaultKind, target: FaultTarget): void {
    switch (kind) {
      case 'crash': {
        const up = target.upIds()
        // Keep a majority of the founding nodes able to come back: crash at most all-but-one at once.
        if (up.length <= 1) return
        const victim = this.random.pick(up)
        this.trace.add(`fault crash ${victim}`)
        target.crash(victim)
        return
      }
      case 'restart': {
        const down = target.downIds()
        if (down.length === 0) return
        const id = this.random.pick(down)
        this.trace.add(`fault restart ${id}`)
        target.restart(id)
        return
      }
      case 'add-learner': {
        if (this.spawned >= SPARE_NODES_MAX) return
        const id = target.spawn()
        if (id === null) return
        this.spawned++
        const ok = target.proposeConfChange({ steps: [{ type: 'add-learner', nodeId: id }], transition: 'auto' })
        this.trace.add(`fault add learner ${id}${ok ? '' : ' (refused)'}`)
        return
      }
      default:
        this.applyMembershipFault(kind, target)
    }
  }

  private applyMembershipFault (kind: FaultKind, target: FaultTarget): void {
    const voters = target.voters()
    const learners = target.learners()
    const kept = target.keptVoter()
    const removable = kept === null ? voters : voters.filter((id) => id !== kept)
    if (kind === 'promote' && learners.length > 0) {
      const id = this.random.pick(learners)
      const ok = target.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: id }], transition: 'auto' })
      this.trace.add(`fault promote learner ${id}${ok ? '' : ' (refused)'}`)
    } else if (kind === 'remove-voter' && voters.length > 3 && removable.length > 0) {
      const id = this.random.pick(removable)
      const ok = target.proposeConfChange({ steps: [{ type: 'remove', nodeId: id }], transition: 'auto' })
      this.trace.add(`fault remove voter ${id}${ok ? '' : ' (refused)'}`)
    } else if (kind === 'replace-voter' && learners.length > 0 && removable.length > 0 && voters.length >= 3) {
      // NB: never from fewer than 3 voters (only a quorum recovery leaves fewer). From {old}, the joint change
      // {new}/{old} stalls for good when {old} has left it and holds an entry {new} lost in a crash: as a
      // learner it may not campaign, and it refuses its vote to the older log (Raft's rules, as in etcd).
      const incoming = this.random.pick(learners)
      const outgoing = this.random.pick(removable)
      const change: ConfChange = { steps: [{ type: 'add-voter', nodeId: incoming }, { type: 'add-learner', nodeId: outgoing }],
        transition: 'auto' }
      const ok = target.proposeConfChange(change)
      this.trace.add(`fault joint change: ${incoming} in, ${outgoing} demoted${ok ? '' : ' (refused)'}`)
    } else if (kind === 'transfer' && voters.length > 0) {
      const to = this.random.pick(voters)
      const ok = target.transferLeadership(to)
      this.trace.add(`fault transfer leadership to ${to}${ok ? '' : ' (refused)'}`)
    }
  }
}
