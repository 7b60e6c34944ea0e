/**
 * @module net/link-monitor
 * Finds dead links: a connection that brought nothing from its peer for half a round is pinged, and one
 * whose ping is not answered within `net.pingTimeoutMs` is aborted (the redial loop and membership reconnect
 * what still lives). A one-link partition — both ends alive and heard through others — is what only this
 * finds (docs/MEMBERSHIP.md, "What it changes for a link that silently dies").
 *
 * It replaces libp2p's connection monitor, which pinged every connection every round on a new stream: a yamux
 * stream, multistream-select, a peer-store write (with its `peer:update` event) and about six socket writes at
 * each end, per connection, every 10 s from both ends. A ping here is yamux's own PING frame where the
 * connection's muxer has one (`muxerPingOf`): one frame each way, answered by the other end's muxer; a
 * stream of the ping protocol otherwise. With 50 idle nodes on 2 cores those pings were about a
 * third of the fleet's CPU (docs/bench/scale.md, "Pings only for quiet connections"), to learn what the
 * connection's own traffic already shows: bytes that arrived — a Raft message, gossip, yamux's keep-alive —
 * prove the link alive in that direction. A link dead one way is found by the end that hears nothing: its
 * ping's answer is lost, it aborts, and the reset reaches the other end.
 *
 * A connection is quiet when it received nothing for half a round; its ping's own answer is then a round old
 * at the next round, so a quiet link is pinged every round, as before. Arrivals are stamped by the cluster's
 * connection protector (net/pnet.ts), which sees every connection's bytes first; `LinkActivity` keys the
 * stamp by the raw connection's `timeline` object, which libp2p hands on to the upgraded connection
 * (`Connection.timeline`). A connection the protector did not see (none here: the cluster is closed) counts
 * as quiet, so it is pinged every round, as libp2p's monitor did.
 */
import { randomBytes } from 'node:crypto'
import { byteStream } from '@libp2p/utils'
import type { AbortOptions, Connection, Stream } from '@libp2p/interface'
import type { Logger } from '../log/index.js'
import { intervalTicker, type StopDuty, type Ticker } from '../util/ticker.js'
import { steadyNowMs } from '../util/clock.js'
import { deadline } from '../util/deadline.js'

/** The libp2p ping protocol (the `ping` service answers it on every node). */
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
/** Bytes of one ping, echoed back (the ping protocol's size). */
export const PING_BYTES = 32

/**
 * Ping failures that are this node's own refusal, not the peer's silence: libp2p allows one outbound ping
 * stream per connection, so while another ping stream is in flight on it (membership's suspicion ping; this
 * monitor's own, on a connection without a muxer ping) a second is refused at once. libp2p counts the streams only after the peer answered the
 * protocol negotiation, so a refused ping proves the peer alive: nothing to close.
 */
const LOCAL_PING_REFUSALS = new Set(['TooManyOutboundProtocolStreamsError'])

/** True when a failed ping says nothing about the peer (this node refused to send it). */
export function isLocalPingRefusal (err: unknown): boolean {
  return typeof err === 'object' && err !== null && LOCAL_PING_REFUSALS.has((err as Error).name)
}

/** When one connection last received bytes (steady ms). */
export interface LinkCounter { lastReceivedMs: number }

/** When each protected connection last received bytes, by the timeline object libp2p gives its upgraded connection. */
export class LinkActivity {
  private readonly counters = new WeakMap<object, LinkCounter>()

  /** @param nowMs the clock the protector stamps arrivals with and the monitor judges them by */
  constructor (readonly nowMs: () => number = steadyNowMs) {}

  /** The counter of the raw connection whose `timeline` this is; the protector stamps it on every chunk. */
  track (timeline: object): LinkCounter {
    const counter = { lastReceivedMs: this.nowMs() }
    this.counters.set(timeline, counter)
    return counter
  }

  /** When the connection with this timeline last received bytes; undefined if the protector never saw it. */
  lastReceivedMs (timeline: object): number | undefined {
    return this.counters.get(timeline)?.lastReceivedMs
  }
}

/**
 * Whether a connection needs a ping at `nowMs`: it received nothing for `quietMs` (half a round, so a quiet
 * link is pinged every round: its last ping's answer is a round old by then). Unknown activity is quiet (as
 * libp2p's monitor pinged every connection). Pure.
 */
export function isQuiet (lastReceivedMs: number | undefined, nowMs: number, quietMs: number): boolean {
  return lastReceivedMs === undefined || nowMs - lastReceivedMs >= quietMs
}

/** What the monitor did since the node started (node status `links`). */
export interface LinkMonitorCounters {
  /** Quiet connections pinged. */
  pinged: number
  /** Pings answered (or refused by a peer without the ping protocol: it answered the negotiation). */
  answered: number
  /** Connections aborted because their ping failed or timed out. */
  aborted: number
  /** Connections skipped because they received something within the last half round. */
  skippedActive: number
}

export interface LinkMonitorInit {
  /** Round period (`net.pingIntervalMs`). */
  intervalMs: number
  /** How long a ping may take before its connection is aborted (`net.pingTimeoutMs`). */
  timeoutMs: number
  /** The arrival stamps of the node's connection protector. */
  activity: LinkActivity
  /** The node's open connections (libp2p's `getConnections`). */
  connections: () => Connection[]
  log: Logger
}

/** Pings the node's quiet connections every `intervalMs` and aborts those that do not answer. */
export class LinkMonitor {
  private readonly counts: LinkMonitorCounters = { pinged: 0, answered: 0, aborted: 0, skippedActive: 0 }
  private readonly inFlight = new WeakSet<Connection>()
  private stopDuty: StopDuty | undefined
  private stopping: AbortController | undefined

  constructor (private readonly init: LinkMonitorInit) {}

  start (ticker: Ticker = intervalTicker): void {
    if (this.stopDuty !== undefined) return
    this.stopping = new AbortController()
    this.stopDuty = ticker.every(this.init.intervalMs, () => { this.round() })
  }

  /** Stops the rounds and abandons the pings in flight (their connections are left alone). */
  stop (): void {
    this.stopDuty?.()
    this.stopDuty = undefined
    this.stopping?.abort()
  }

  counters (): LinkMonitorCounters {
    return { ...this.counts }
  }

  /** One look at every open connection at `nowMs`; returns how many it pinged. */
  round (nowMs: number = this.init.activity.nowMs()): number {
    const quietMs = this.init.intervalMs / 2
    let pinged = 0
    for (const connection of this.init.connections()) {
      if (connection.status !== 'open' || this.inFlight.has(connection)) continue
      if (!isQuiet(this.init.activity.lastReceivedMs(connection.timeline), nowMs, quietMs)) {
        this.counts.skippedActive++
        continue
      }
      pinged++
      void this.ping(connection)
    }
    return pinged
  }

  private async ping (connection: Connection): Promise<void> {
    const stopping = this.stopping?.signal
    // Held strongly until settled: a collected `AbortSignal.any` never fired, and the ping waited for good (util/deadline.ts).
    const { signal, clear } = stopping === undefined ? deadline(this.init.timeoutMs) : deadline(this.init.timeoutMs, stopping)
    this.inFlight.add(connection)
    this.counts.pinged++
    let stream: Stream | undefined
    try {
      const muxerPing = muxerPingOf(connection)
      if (muxerPing !== undefined) {
        await muxerPing({ signal })
      } else {
        stream = await connection.newStream(PING_PROTOCOL, { signal, runOnLimitedConnection: true })
        await echo(stream, { signal })
        await stream.close({ signal })
      }
      this.counts.answered++
    } catch (err) {
      stream?.abort(err as Error)
      if (stopping?.aborted === true || connection.status !== 'open') return
      // A peer without the ping protocol answered the negotiation: alive.
      if ((err as Error).name === 'UnsupportedProtocolError') {
        this.counts.answered++
        return
      }
      // Another ping stream in flight on this connection (membership's suspicion ping) decides for it.
      if (isLocalPingRefusal(err)) return
      this.counts.aborted++
      this.init.log.info({ peer: connection.remotePeer.toString(), timeoutMs: this.init.timeoutMs, err: (err as Error).message },
        'a quiet connection did not answer its ping; closing it')
      connection.abort(err as Error)
    } finally {
      clear()
      this.inFlight.delete(connection)
    }
  }
}

/** The part of @libp2p/yamux 8's muxer used here (not in libp2p's `Connection` type). */
interface YamuxPing { ping: (options?: AbortOptions) => Promise<number> }

/**
 * The connection's muxer-level ping, where its muxer has one (yamux: one PING frame each way, answered by the
 * other end's muxer itself; no stream, no protocol negotiation, no peer-store write). Undefined otherwise:
 * the monitor then pings on a stream of the ping protocol. `test/net/link-monitor.test.ts` shows the real
 * connections take this path.
 */
export function muxerPingOf (connection: Connection): ((options: AbortOptions) => Promise<number>) | undefined {
  const muxer = (connection as unknown as { muxer?: Partial<YamuxPing> }).muxer
  if (typeof muxer?.ping !== 'function') return undefined
  const ping = muxer.ping
  return async (options) => await ping.call(muxer, options)
}

/** Writes PING_BYTES random bytes and reads them back. @throws PingMismatchError when the echo differs */
async function echo (stream: Stream, options: AbortOptions): Promise<void> {
  const bytes = byteStream(stream)
  const sent = randomBytes(PING_BYTES)
  const [, back] = await Promise.all([bytes.write(sent, options), bytes.read({ bytes: PING_BYTES, ...options })])
  if (!sent.equals(back.subarray())) throw new PingMismatchError()
}

/** A ping answered with other bytes than it sent. */
export class PingMismatchError extends Error {
  override readonly name = 'PingMismatchError'
  constructor () {
    super('the ping was answered with other bytes')
  }
}
