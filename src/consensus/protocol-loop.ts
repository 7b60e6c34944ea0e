/**
 * @module consensus/protocol-loop
 * The leader's protocol raise (rolling upgrades; shape/core/protocol.ts, docs/OPERATIONS.md): each round,
 * on the leader only, the pure `protocolRaise` compares the committed level with what every member of the
 * shape advertised in its heartbeats since this node started; when all of them know a higher level, the
 * leader proposes `set-protocol` to it. One proposal in flight at a time; a refusal or failure is retried
 * on a later round. The timer only paces the rounds: the decision is all in the pure core.
 */
import type { Logger } from '../log/index.js'
import type { NodeId } from './core/types.js'
import type { Outcome } from './shape/core/index.js'
import { protocolRaise, PROTOCOL_LEVEL } from './shape/core/index.js'
import { intervalTicker, type StopDuty, type Ticker } from '../util/ticker.js'

export interface ProtocolLoopDeps {
  isLeader: () => boolean
  /** The applied shape's level and members (voters and learners). */
  shape: () => { protocol: number, memberIds: () => NodeId[] }
  /** Each node's latest advertised level (this node's own included); undefined when not heard since start. */
  advertised: () => ReadonlyMap<NodeId, number>
  /** Proposes `set-protocol` to `level`; resolves with its outcome once applied here. */
  proposeLevel: (level: number) => Promise<Outcome>
  log: Logger
  /** The build's level. @default PROTOCOL_LEVEL */
  own?: number
}

export class ProtocolLoop {
  private inFlight = false
  private stopTimer: StopDuty | undefined
  private stopped = false
  /** Raises proposed since start (status). */
  raises = 0

  constructor (private readonly deps: ProtocolLoopDeps) {}

  start (intervalMs: number, ticker: Ticker = intervalTicker): void {
    this.stopTimer = ticker.every(intervalMs, () => { this.round() })
  }

  stop (): void {
    this.stopped = true
    this.stopTimer?.()
  }

  /** One round; never throws (a failed raise is logged and tried again on a later round). */
  round (): void {
    if (this.stopped || this.inFlight || !this.deps.isLeader()) return
    const shape = this.deps.shape()
    const advertised = this.deps.advertised()
    const level = protocolRaise({ current: shape.protocol, members: shape.memberIds(), advertised: (id) => advertised.get(id), own: this.deps.own ?? PROTOCOL_LEVEL })
    if (level === null) return
    this.inFlight = true
    this.raises++
    this.deps.log.info({ from: shape.protocol, to: level }, 'every member advertises a higher protocol level: raising the cluster\'s')
    this.deps.proposeLevel(level).then((outcome) => {
      if (outcome.kind !== 'applied') this.deps.log.info({ level, outcome }, 'protocol raise refused by the shape')
    }, (err: unknown) => {
      this.deps.log.warn({ level, err: (err as Error).message }, 'protocol raise failed; will retry')
    }).finally(() => { this.inFlight = false })
  }
}
