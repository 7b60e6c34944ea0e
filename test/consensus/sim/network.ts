/**
 * @module test/consensus/sim/network
 * The simulated network: every message waits in flight for a seeded delay and is then delivered, unless a
 * fault drops it. Faults: per-link blocks (symmetric and asymmetric partitions; the fault scheduler flaps
 * them), loss, duplication, delay spikes; reordering follows from independent delays. Deterministic: the
 * in-flight list is ordered by (deliverAt, sequence number).
 */
import type { Message, NodeId } from '../../../src/consensus/core/types.js'
import { DELAY_SPIKE_TICKS_MAX, NETWORK_IN_FLIGHT_MAX } from './constants.js'
import type { SimRandom } from './random.js'

export interface NetworkOptions {
  delayTicksMax: number
  lossRate: number
  duplicateRate: number
  spikeRate: number
}

interface InFlight {
  deliverAt: number
  seq: number
  message: Message
}

export class SimNetwork {
  private inFlight: InFlight[] = []
  private seq = 0
  /** Directed links that drop everything: `from>to`. */
  private readonly blocked = new Set<string>()
  /** Nodes lost for good (a quorum loss): nothing to or from them is delivered again, and heal() keeps it so. */
  private readonly lost = new Set<NodeId>()
  /** Faults stop when false (the liveness phase heals the network). */
  faulty = true
  delivered = 0
  dropped = 0

  constructor (private readonly random: SimRandom, readonly options: NetworkOptions) {}

  send (message: Message, now: number): void {
    if (this.faulty && this.random.chance(this.options.lossRate)) { this.dropped++; return }
    if (this.inFlight.length >= NETWORK_IN_FLIGHT_MAX) { this.dropped++; return }
    const copies = this.faulty && this.random.chance(this.options.duplicateRate) ? 2 : 1
    for (let i = 0; i < copies; i++) {
      let delay = this.random.between(0, this.options.delayTicksMax)
      if (this.faulty && this.random.chance(this.options.spikeRate)) delay += this.random.between(1, DELAY_SPIKE_TICKS_MAX)
      // NB: entries are shared by reference between copies; the driver and cores treat messages as immutable.
      this.inFlight.push({ deliverAt: now + delay, seq: this.seq++, message })
    }
  }

  /** Removes and returns every message due at `now` on an open link, in (deliverAt, seq) order. */
  due (now: number): Message[] {
    const ready: InFlight[] = []
    const waiting: InFlight[] = []
    for (const item of this.inFlight) (item.deliverAt <= now ? ready : waiting).push(item)
    this.inFlight = waiting
    ready.sort((a, b) => a.deliverAt - b.deliverAt || a.seq - b.seq)
    const out: Message[] = []
    for (const item of ready) {
      if (this.isBlocked(item.message.from, item.message.to)) { this.dropped++; continue }
      out.push(item.message)
    }
    this.delivered += out.length
    return out
  }

  isBlocked (from: NodeId, to: NodeId): boolean {
    return this.blocked.has(`${from}>${to}`) || this.lost.has(from) || this.lost.has(to)
  }

  /**
   * Loses `ids` for good: nothing reaches them or comes from them again, and their messages in flight are
   * dropped, as if their links went down with them.
   */
  lose (ids: readonly NodeId[]): void {
    for (const id of ids) this.lost.add(id)
    this.dropFrom(ids)
  }

  /** Drops the messages `ids` sent that are still in flight (lost messages, which Raft tolerates). */
  dropFrom (ids: readonly NodeId[]): void {
    const senders = new Set(ids)
    const kept = this.inFlight.filter((item) => !senders.has(item.message.from))
    this.dropped += this.inFlight.length - kept.length
    this.inFlight = kept
  }

  block (from: NodeId, to: NodeId): void {
    this.blocked.add(`${from}>${to}`)
  }

  /** Cuts every link between `side` and `rest` in both directions (or only side→rest when one-way). */
  partition (side: readonly NodeId[], rest: readonly NodeId[], oneWay = false): void {
    for (const a of side) {
      for (const b of rest) {
        this.block(a, b)
        if (!oneWay) this.block(b, a)
      }
    }
  }

  heal (): void {
    this.blocked.clear()
  }

  blockedLinks (): number {
    return this.blocked.size
  }

  inFlightCount (): number {
    return this.inFlight.length
  }
}
