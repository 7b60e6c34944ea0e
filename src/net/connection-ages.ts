/**
 * @module net/connection-ages
 * When a connection opened, on the caller's steady clock (src/util/clock.ts). libp2p stamps `timeline.open` with
 * the wall clock (`Date.now`), which an NTP step or a date set by hand moves: a connection's age measured as the
 * wall clock now minus that stamp was negative for an hour after the wall clock stepped back an hour, so the gossip
 * stream mender reopened no lost stream, membership reconnected no voter that had lost its subscription, and an
 * observer closed no surplus link for that hour (and a step forward aged every connection at once). The stamp is
 * converted once, the first time a connection is asked about, and kept for the connection's life (weakly, by its
 * timeline object): a later step moves nothing. Only a step between the open and that first look (each caller
 * looks at least once a second) is taken in, and a stamp ahead of the wall clock counts as opened then.
 */
import type { Connection } from '@libp2p/interface'

/** Converts connections' wall-clock open stamps to one caller's steady clock, once each. */
export class ConnectionAges {
  private readonly openedAt = new WeakMap<object, number>()

  /** @param wallMs the clock libp2p stamps `timeline.open` with (tests step it) */
  constructor (private readonly wallMs: () => number = Date.now) {}

  /** When `connection` opened, on the clock `nowMs` was read from. */
  openedAtMs (connection: Pick<Connection, 'timeline'>, nowMs: number): number {
    const known = this.openedAt.get(connection.timeline)
    if (known !== undefined) return known
    const openedAtMs = nowMs - Math.max(0, this.wallMs() - connection.timeline.open)
    this.openedAt.set(connection.timeline, openedAtMs)
    return openedAtMs
  }
}
