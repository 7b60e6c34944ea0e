/**
 * @module consensus/admission-loop
 * The leader's admission loop (issue 6 item 3; issue 16: a fleet booting together). Each round, on the
 * leader only:
 *   - removed members still in the configuration as learners are taken out (one change, several steps);
 *   - a removed member that connects again is told so, never admitted;
 *   - connected peers the shape already knows but the configuration does not (re-added after a rejoin)
 *     become learners together: one configuration change with one add-learner step each (no voter moves,
 *     so not a joint change);
 *   - otherwise one new peer is admitted through its signed `add-member` command, from which the leader
 *     derives the learner step (shape-command-rules.ts): nobody else ever names a configuration change.
 *
 * Raft allows one pending configuration change, so new members go one at a time, but the next round runs
 * as soon as the previous admission is applied, not on the next timer tick: 49 joiners cost 49 commits,
 * not 49 rounds of the timer (≥ 25 s at 500 ms). The timer only restarts the loop (a new leader, a newly
 * connected peer, a retry after a refusal).
 */
import type { Logger } from '../log/index.js'
import type { ConfChange, ConfState, NodeId } from './core/types.js'
import type { Outcome } from './shape/core/index.js'
import { candidatesForAdmission, ADMISSION_RETRY_MS } from './admission.js'

/** What admission reads of the applied MeshShape. */
export interface AdmissionShape {
  has: (nodeId: NodeId) => boolean
  wasRemoved: (nodeId: NodeId) => boolean
}

/** The loop's view of the node; injected so tests drive it without Raft or libp2p. */
export interface AdmissionDeps {
  self: NodeId
  isLeader: () => boolean
  /** The configuration in force after the entries applied so far. */
  configuration: () => ConfState
  shape: () => AdmissionShape
  /** Peers with an open connection to this node (they passed the cluster-key handshake). */
  connectedPeers: () => NodeId[]
  /** Proposes the signed `add-member` command of a new member; resolves with its outcome once applied here. */
  proposeAddMember: (nodeId: NodeId) => Promise<Outcome>
  /** Proposes a configuration change without a command; throws while another one is pending. */
  proposeConfChange: (change: ConfChange) => void
  /** Tells a removed member that it was removed. */
  notifyRemoved: (nodeId: NodeId) => void
  /** Steady clock (ms) for retry deadlines. */
  nowMs: () => number
  log: Logger
  /** Runs the next round after the current call stack. @default setImmediate */
  soon?: (run: () => void) => void
}

export class AdmissionLoop {
  /** Peer → steady time before which it is not tried again (a refused admission, a removed member told). */
  private readonly retryAt = new Map<NodeId, number>()
  private inFlight = false
  private timer: NodeJS.Timeout | undefined
  private stopped = false
  private readonly soon: (run: () => void) => void

  constructor (private readonly deps: AdmissionDeps) {
    this.soon = deps.soon ?? ((run) => { setImmediate(run) })
  }

  /** Runs a round every `intervalMs` (a restart, not the pace: admissions chain on their own). */
  start (intervalMs: number): void {
    this.timer = setInterval(() => { this.round() }, intervalMs)
    this.timer.unref?.()
  }

  stop (): void {
    this.stopped = true
    clearInterval(this.timer)
  }

  /** True while an `add-member` proposal has not settled. */
  get admitting (): boolean {
    return this.inFlight
  }

  /** One round (see the module comment). Never throws: a refusal is logged and retried on a later round. */
  round (): void {
    if (this.stopped || this.inFlight || !this.deps.isLeader()) return
    const now = this.deps.nowMs()
    for (const [id, at] of this.retryAt) if (at <= now) this.retryAt.delete(id)
    const shape = this.deps.shape()
    const conf = this.deps.configuration()
    // Learner steps while voters move would land in learnersNext; wait until the joint change is left.
    const settled = conf.votersOutgoing.length === 0 && conf.learnersNext.length === 0
    const stale = conf.learners.filter((id) => shape.wasRemoved(id))
    if (stale.length > 0) {
      if (settled) this.changeConf(stale.map((nodeId) => ({ type: 'remove' as const, nodeId })), 'removing removed members from the raft configuration')
      return
    }
    const waiting = candidatesForAdmission(this.deps.connectedPeers(), conf, this.deps.self).filter((id) => !this.retryAt.has(id))
    for (const id of waiting.filter((id) => shape.wasRemoved(id))) {
      this.retryAt.set(id, now + ADMISSION_RETRY_MS)
      this.deps.log.info({ peer: id }, 'a removed member connected; telling it so')
      this.deps.notifyRemoved(id)
    }
    const known = waiting.filter((id) => shape.has(id) && !shape.wasRemoved(id))
    if (known.length > 0) {
      // Already members of the shape: no command to apply, only the learner steps, all in one change.
      if (settled) this.changeConf(known.map((nodeId) => ({ type: 'add-learner' as const, nodeId })), 'adding known members as learners')
      return
    }
    const next = waiting.find((id) => !shape.has(id) && !shape.wasRemoved(id))
    if (next !== undefined) this.admitNew(next)
  }

  private changeConf (steps: ConfChange['steps'], message: string): void {
    const peers = steps.map((s) => s.nodeId)
    this.deps.log.info({ peers }, message)
    try {
      this.deps.proposeConfChange({ steps, transition: 'auto' })
    } catch (err) {
      // Another configuration change pending, or leadership lost meanwhile: a later round tries again.
      this.deps.log.debug({ peers, err: (err as Error).message }, 'configuration change not accepted yet')
    }
  }

  private admitNew (peer: NodeId): void {
    this.inFlight = true
    let admitted = false
    this.deps.proposeAddMember(peer).then((outcome) => {
      admitted = outcome.kind === 'applied'
      this.deps.log.info({ peer, outcome }, admitted ? 'admitted peer as learner' : 'admission refused by the shape')
      // A refused command would be refused again at once: the peer waits like after a failure.
      if (!admitted) this.retryAt.set(peer, this.deps.nowMs() + ADMISSION_RETRY_MS)
    }, (err: unknown) => {
      this.retryAt.set(peer, this.deps.nowMs() + ADMISSION_RETRY_MS)
      this.deps.log.warn({ peer, err: (err as Error).message }, 'admission failed; will retry')
    }).finally(() => {
      this.inFlight = false
      // Applied: the next waiting peer goes now. After a refusal the timer paces the retries.
      if (admitted) this.soon(() => { this.round() })
    })
  }
}
