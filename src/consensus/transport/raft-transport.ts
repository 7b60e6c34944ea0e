/**
 * @module consensus/transport/raft-transport
 * Raft messages over libp2p streams (`/revoada/raft/1.0.0`, issue 6 item 1).
 *
 * - Outbound: one long-lived stream per peer, opened lazily, re-opened with backoff after an error. Each
 *   peer has a bounded queue; `send()` never blocks the driver: on overflow the newest message is dropped
 *   and counted (Raft retransmits). The pump starts in a microtask, so the messages for one peer produced
 *   in one synchronous run leave together; it hands every queued frame to the stream in one `send`, and
 *   waits for the stream's `drain` event when that returns false (libp2p-notes §4.5: `onDrain()` alone stops
 *   applying backpressure). That wait is bounded by DRAIN_TIMEOUT_MS: a peer that stops reading (stalled,
 *   half dead) never sends the window update, so the stream is aborted, its queue dropped and counted as
 *   send errors, and the next send opens a fresh stream after the usual backoff (issue 16).
 * - Inbound: streams from peers the injected `isMember` refuses are closed and logged, when they open and
 *   again at every `recheckInbound()` (the node calls it when its role, leader or configuration changes, so
 *   a member removed from the configuration loses the stream it already had); the frames are split
 *   out of the stream's bytes as they arrive (src/net/length-prefixed.ts: no per-byte reads, no promise
 *   per frame) and handed to the handler in the same turn; each is decoded strictly and its `from` must
 *   equal the remote PeerId (no spoofing); a malformed frame, a length above the limit or a frame that stops
 *   arriving halfway (FRAME_STALL_TIMEOUT_MS) closes that stream only.
 *
 * The bytes on the stream are those `lpStream` wrote and read before (an unsigned varint length, the frame).
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream, Libp2p, StreamCloseEvent, StreamMessageEvent } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { MessageType } from '../core/types.js'
import type { Message } from '../core/types.js'
import type { Logger, MessageTransport } from '../raft-node.js'
import { PerPeerLogLimiter } from '../log-limiter.js'
import { steadyNowMs } from '../../util/clock.js'
import { LengthPrefixedSplitter, varintBytes, writeVarint } from '../../net/length-prefixed.js'
import { decodeFrame, encodeFrames, MAX_FRAME_BYTES, RAFT_PROTOCOL } from './wire.js'

/** Messages queued per peer; the newest is dropped beyond it. */
export const MAX_QUEUED_MESSAGES_PER_PEER = 4096
/** Inbound raft streams per connection (one is normal; a few allow reconnect overlap). */
const MAX_INBOUND_STREAMS = 8
const BACKOFF_MIN_MS = 50
const BACKOFF_MAX_MS = 2000
const DIAL_TIMEOUT_MS = 3000
/** Bytes handed to the stream per send; the pump waits for each to drain before the next. */
const MAX_BATCH_BYTES = 1024 * 1024
/**
 * How long the pump waits for a full stream to drain before it gives the stream up: as long as the
 * ping timeout that declares a silent connection dead (net.pingTimeoutMs, 10 s). A peer that has read
 * nothing for that long has stalled, and Raft is better served by a fresh stream and a retransmission than
 * by a queue that only grows until it drops (droppedQueueFull) while the link hangs.
 */
export const DRAIN_TIMEOUT_MS = 10_000

/**
 * How long a frame received in part may go without a byte more before its inbound stream is closed: as long
 * as an honest sender waits for a stalled stream to drain before it gives the stream up (DRAIN_TIMEOUT_MS).
 * Without it, a peer that announced a frame and stopped sending held what it had sent (up to MAX_FRAME_BYTES
 * per stream, 8 streams per connection) for as long as its connection lived.
 */
export const FRAME_STALL_TIMEOUT_MS = DRAIN_TIMEOUT_MS

/** An inbound frame that stopped arriving halfway: the sender stalled or means to hold our memory. */
export class FrameStallError extends Error {
  static override readonly name = 'FrameStallError'
  constructor (timeoutMs: number) {
    super(`raft frame received in part made no progress for ${timeoutMs} ms; the peer stalled`)
    this.name = 'FrameStallError'
  }
}

/** A stream that did not drain within the bound: the remote stopped reading. */
export class DrainTimeoutError extends Error {
  static override readonly name = 'DrainTimeoutError'
  constructor (timeoutMs: number) {
    super(`raft stream did not drain within ${timeoutMs} ms; the peer stopped reading`)
    this.name = 'DrainTimeoutError'
  }
}

/** Messages sent, dropped by reason, received, and refused by reason; inbound stream failures. */
export interface TransportCounters {
  sent: number
  received: number
  droppedQueueFull: number
  droppedSendError: number
  /** Messages (or the tail of a split App) too big for any frame: never written. */
  droppedOversize: number
  rejectedNotMember: number
  rejectedMalformed: number
  rejectedSpoofed: number
  /** Inbound streams that failed (reset, bad length prefix, read error); each was closed. */
  inboundStreamErrors: number
  /**
   * Messages handed to send(), by type; appends without entries apart from `app`: `app-commit` (only a new
   * commit index, not answered: Message.commitOnly) and `app-empty` (a probe, answered). Divided by a run's
   * batches it gives the messages a batch costs (issue 16).
   */
  sentByType: Record<string, number>
  /** Sends to a stream (each one or more frames; usually one socket write). */
  writes: number
}

export interface RaftTransportInit {
  libp2p: Libp2p
  /** Whether `peer` may use the raft protocol with us now. */
  isMember: (peer: string) => boolean
  log: Logger
  /** Called when a peer could not be reached (the driver tells the core to probe). */
  onUnreachable?: (peer: string) => void
  /**
   * Receives an error thrown by the message handler: a bug (a failed core assertion), never bad
   * input, which the core drops and counts. It must stay loud.
   * @default rethrow on the next tick, which stops the process
   */
  onFatal?: (err: unknown) => void
  /**
   * How long a full stream may take to drain before it is aborted (tests shorten it).
   * @default DRAIN_TIMEOUT_MS
   */
  drainTimeoutMs?: number
  /**
   * How long a frame received in part may make no progress before its inbound stream is closed (tests
   * shorten it).
   * @default FRAME_STALL_TIMEOUT_MS
   */
  frameStallTimeoutMs?: number
}

interface PeerLink {
  /** Encoded frames, each at most MAX_FRAME_BYTES. */
  queue: Uint8Array[]
  stream?: Stream
  pumping: boolean
  backoffMs: number
  retryTimer?: NodeJS.Timeout
}

export class RaftTransport implements MessageTransport {
  private handler: (message: Message) => void = () => {}
  private readonly links = new Map<string, PeerLink>()
  private readonly counts: TransportCounters = {
    sent: 0, received: 0, droppedQueueFull: 0, droppedSendError: 0, droppedOversize: 0, rejectedNotMember: 0,
    rejectedMalformed: 0, rejectedSpoofed: 0, inboundStreamErrors: 0, sentByType: {}, writes: 0
  }

  private running = false
  /**
   * Open inbound streams: the remote peer, how to close the stream as refused (`recheckInbound`), and how to close
   * it at `stop()` (not counted as a stream error).
   */
  private readonly inbound = new Map<Stream, { peer: string, refuse: () => void, stop: () => void }>()
  /** Bad input is counted every time and logged once per peer and kind per interval. */
  private readonly badInputLog = new PerPeerLogLimiter(steadyNowMs)

  constructor (private readonly init: RaftTransportInit) {}

  async start (): Promise<void> {
    this.running = true
    await this.init.libp2p.handle(RAFT_PROTOCOL, (stream, connection) => { this.onInbound(stream, connection) }, {
      maxInboundStreams: MAX_INBOUND_STREAMS, maxOutboundStreams: MAX_INBOUND_STREAMS
    })
  }

  async stop (): Promise<void> {
    this.running = false
    await this.init.libp2p.unhandle(RAFT_PROTOCOL)
    // Unhandling refuses new streams only: the open ones would keep their peer's slot and be read into a
    // handler nobody drives any more, for as long as the connection lives.
    for (const { stop } of [...this.inbound.values()]) stop()
    this.inbound.clear()
    for (const link of this.links.values()) {
      clearTimeout(link.retryTimer)
      link.queue = []
      link.stream?.abort(new Error('raft transport stopped'))
    }
    this.links.clear()
  }

  setHandler (handler: (message: Message) => void): void {
    this.handler = handler
  }

  send (message: Message): void {
    if (!this.running) return
    const kind = message.type !== MessageType.App || message.entries.length > 0
      ? message.type
      : message.commitOnly === true ? 'app-commit' : 'app-empty'
    this.counts.sentByType[kind] = (this.counts.sentByType[kind] ?? 0) + 1
    let link = this.links.get(message.to)
    if (link === undefined) {
      link = { queue: [], pumping: false, backoffMs: BACKOFF_MIN_MS }
      this.links.set(message.to, link)
    }
    const { frames, complete } = encodeFrames(message)
    if (!complete) {
      this.counts.droppedOversize++
      this.warnLimited(message.to, 'oversize', { peer: message.to, type: message.type }, 'a raft message (or its tail) is too big for any frame; dropped')
    }
    if (frames.length === 0) return
    if (link.queue.length + frames.length > MAX_QUEUED_MESSAGES_PER_PEER) {
      this.counts.droppedQueueFull++
      return
    }
    link.queue.push(...frames)
    if (!link.pumping && link.retryTimer === undefined) {
      // After the current task's synchronous work: every message the driver hands over for this peer in
      // one go (a Ready's messages) leaves in one send, one socket write.
      link.pumping = true
      queueMicrotask(() => { void this.pump(message.to, link) })
    }
  }

  /** Drains `link`'s queue onto its stream until empty; on error backs off and retries. */
  private async pump (peer: string, link: PeerLink): Promise<void> {
    link.pumping = true
    try {
      while (this.running && link.queue.length > 0) {
        const stream = link.stream ?? await this.open(peer, link)
        const batch = new Uint8ArrayList()
        let frames = 0
        while (link.queue.length > 0 && batch.byteLength < MAX_BATCH_BYTES) {
          const frame = link.queue.shift() as Uint8Array
          const prefix = new Uint8Array(varintBytes(frame.byteLength))
          writeVarint(frame.byteLength, prefix, 0)
          batch.append(prefix, frame)
          frames++
        }
        const canSendMore = stream.send(batch)
        this.counts.sent += frames
        this.counts.writes++
        link.backoffMs = BACKOFF_MIN_MS
        if (!canSendMore) await drained(stream, this.init.drainTimeoutMs ?? DRAIN_TIMEOUT_MS)
      }
    } catch (err) {
      this.counts.droppedSendError += link.queue.length
      link.queue = []
      link.stream?.abort(err instanceof Error ? err : new Error('raft stream failed'))
      link.stream = undefined
      // Stopped meanwhile (stop() aborted the stream): nothing to retry, and no timer may outlive stop().
      if (!this.running) return
      this.init.onUnreachable?.(peer)
      if (err instanceof DrainTimeoutError) this.warnLimited(peer, 'drain-timeout', { peer, err: err.message }, 'raft stream to a peer that stopped reading aborted; reopening')
      else this.init.log.debug({ peer, err: errorMessage(err) }, 'raft stream failed; backing off')
      link.retryTimer = setTimeout(() => {
        link.retryTimer = undefined
        if (link.queue.length > 0 && !link.pumping) void this.pump(peer, link)
        else this.maybeForget(peer, link)
      }, link.backoffMs)
      link.backoffMs = Math.min(BACKOFF_MAX_MS, link.backoffMs * 2)
    } finally {
      link.pumping = false
    }
  }

  private async open (peer: string, link: PeerLink): Promise<Stream> {
    const stream = await this.init.libp2p.dialProtocol(peerIdFromString(peer), RAFT_PROTOCOL, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) })
    // A dial that completes after stop(): nobody would write to or close this stream, which would hold one
    // of the peer's raft stream slots for the life of the connection.
    if (!this.running) {
      const stopped = new Error('raft transport stopped')
      stream.abort(stopped)
      throw stopped
    }
    stream.addEventListener('close', () => {
      if (link.stream !== stream) return
      link.stream = undefined
      this.maybeForget(peer, link)
    })
    link.stream = stream
    return stream
  }

  /**
   * Drops `peer`'s link once it holds nothing: no stream, nothing queued, no pump and no retry pending. Raft sends
   * to every id that sent it something (a vote request, an answer), and a key holder can sign with as many ids as
   * it likes: kept for good, each id grew the map. Invariant: every link has a stream, queued frames, a pump or a
   * retry timer, so the map is bounded by the open streams and the peers with work. A peer sent to again gets a
   * fresh link (the backoff restarts from its minimum: nothing was queued through the wait).
   */
  private maybeForget (peer: string, link: PeerLink): void {
    if (link.stream !== undefined || link.queue.length > 0 || link.pumping || link.retryTimer !== undefined) return
    if (this.links.get(peer) === link) this.links.delete(peer)
  }

  /**
   * Asks `isMember` again for every open inbound stream and closes those it now refuses (counted and
   * logged like a refusal at open). Call it when the answer may have changed: the node's role, leader or
   * configuration. Cheaper than asking per frame, which the receive path would pay for every message.
   * @returns the streams closed
   */
  recheckInbound (): number {
    let closed = 0
    for (const [stream, { peer, refuse }] of [...this.inbound]) {
      if (this.init.isMember(peer)) continue
      this.inbound.delete(stream)
      refuse()
      closed++
    }
    return closed
  }

  private refuse (stream: Stream, peer: string, line: string): void {
    this.counts.rejectedNotMember++
    this.warnLimited(peer, 'not-member', { peer }, line)
    stream.abort(new Error('not a cluster member'))
  }

  private onInbound (stream: Stream, connection: Connection): void {
    const peer = connection.remotePeer.toString()
    if (!this.init.isMember(peer)) {
      this.refuse(stream, peer, 'refused a raft stream from a peer that is not a cluster member')
      return
    }
    /** Set once this side closed the stream for a reason it already counted. */
    let closedHere = false
    const close = (err: Error): false => {
      closedHere = true
      stream.abort(err)
      return false
    }
    this.inbound.set(stream, {
      peer,
      refuse: () => {
        closedHere = true
        this.refuse(stream, peer, 'closed the raft stream of a peer that may no longer use it')
      },
      stop: () => close(new Error('raft transport stopped'))
    })
    const splitter = new LengthPrefixedSplitter('varint', MAX_FRAME_BYTES, (frame) => this.onFrame(peer, frame, close))
    const stallMs = this.init.frameStallTimeoutMs ?? FRAME_STALL_TIMEOUT_MS
    const stall = frameStallWatch(stallMs, () => this.running && !closedHere && splitter.bufferedBytes > 0, () => {
      this.counts.inboundStreamErrors++
      this.warnLimited(peer, 'frame-stall', { peer, bufferedBytes: splitter.bufferedBytes }, 'raft frame stopped arriving halfway; stream closed')
      close(new FrameStallError(stallMs))
    })
    stream.addEventListener('message', (evt: StreamMessageEvent) => {
      if (!this.running || closedHere) return
      try {
        splitter.push(evt.data)
        if (splitter.bufferedBytes > 0) stall.progressed()
      } catch (err) {
        // A length prefix above the frame limit, or one that cannot be a length: nothing of it is read.
        this.counts.inboundStreamErrors++
        this.warnLimited(peer, 'stream-error', { peer, err: errorMessage(err) }, 'raft inbound stream failed; closed')
        close(err instanceof Error ? err : new Error(errorMessage(err)))
      }
    })
    stream.addEventListener('close', (evt: StreamCloseEvent) => {
      stall.stop()
      this.inbound.delete(stream)
      // The remote closing its end is normal; a reset or a failed connection is counted.
      if (closedHere || evt.error === undefined) {
        this.init.log.debug({ peer }, 'raft inbound stream ended')
        return
      }
      this.counts.inboundStreamErrors++
      this.warnLimited(peer, 'stream-error', { peer, err: errorMessage(evt.error) }, 'raft inbound stream failed; closed')
    })
  }

  /** One inbound frame: decoded, checked and handed on; false once the stream is being closed. */
  private onFrame (peer: string, frame: Uint8Array, close: (err: Error) => false): boolean {
    let message: Message
    try {
      message = decodeFrame(frame)
    } catch (err) {
      this.counts.rejectedMalformed++
      this.warnLimited(peer, 'malformed', { peer, err: errorMessage(err) }, 'malformed raft frame; closing the stream')
      return close(new Error('malformed frame'))
    }
    if (message.from !== peer) {
      this.counts.rejectedSpoofed++
      this.warnLimited(peer, 'spoofed', { peer, claimed: message.from }, 'raft frame claims another sender; dropped')
      return true
    }
    this.counts.received++
    try {
      this.handler(message)
    } catch (err) {
      // Not bad input (the core drops and counts that): a bug. It must reach the top, not a debug log.
      close(err instanceof Error ? err : new Error(String(err)))
      this.onFatal(err)
      return false
    }
    return true
  }

  private onFatal (err: unknown): void {
    if (this.init.onFatal !== undefined) { this.init.onFatal(err); return }
    process.nextTick(() => { throw err })
  }

  private warnLimited (peer: string, kind: string, fields: object, line: string): void {
    if (this.badInputLog.allow(peer, kind)) this.init.log.warn({ ...fields, kind }, `${line} (counted; logged once per interval)`)
  }

  counters (): TransportCounters {
    return { ...this.counts, sentByType: { ...this.counts.sentByType } }
  }

  /** Peers with outbound state (a stream, queued frames, a pump or a retry pending): status and tests. */
  linkCount (): number {
    return this.links.size
  }
}

/**
 * Watches a frame received in part: `progressed()` after each read that leaves one in progress; `onStall`
 * runs once `inProgress()` has held for `stallMs` without progress. One timer per partial run, re-armed from
 * the last progress, so a read costs a clock reading, not a timer.
 */
function frameStallWatch (stallMs: number, inProgress: () => boolean, onStall: () => void): { progressed: () => void, stop: () => void } {
  let timer: NodeJS.Timeout | undefined
  let progressMs = 0
  const check = (confirmed = false): void => {
    timer = undefined
    if (!inProgress()) return
    const idleMs = steadyNowMs() - progressMs
    if (idleMs < stallMs) { timer = setTimeout(check, stallMs - idleMs); return }
    // NB: after this process itself stalled, timers run before the I/O that waited meanwhile: judge only
    // once that I/O was read (setImmediate runs after the poll phase), or an honest frame would be cut.
    if (!confirmed) { setImmediate(() => { if (timer === undefined) check(true) }); return }
    onStall()
  }
  return {
    progressed: () => { progressMs = steadyNowMs(); timer ??= setTimeout(check, stallMs) },
    stop: () => { clearTimeout(timer) }
  }
}

/**
 * Resolves on the stream's next `drain`; rejects when it closes first, or with DrainTimeoutError when no
 * drain comes within `timeoutMs`.
 */
async function drained (stream: Stream, timeoutMs: number): Promise<void> {
  if (stream.status !== 'open') throw new Error(`raft stream ${stream.status} while waiting to drain`)
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer)
      stream.removeEventListener('drain', onDrain)
      stream.removeEventListener('close', onClose)
    }
    const onDrain = (): void => { done(); resolve() }
    const onClose = (evt: StreamCloseEvent): void => {
      done()
      reject(evt.error ?? new Error('raft stream closed while waiting to drain'))
    }
    const timer = setTimeout(() => { done(); reject(new DrainTimeoutError(timeoutMs)) }, timeoutMs)
    stream.addEventListener('drain', onDrain, { once: true })
    stream.addEventListener('close', onClose, { once: true })
  })
}

/** A stream may fail with a DOM Event (StreamResetEvent) whose `.error` holds the error. */
function errorMessage (err: unknown): string {
  if (typeof Event !== 'undefined' && err instanceof Event) return String((err as Event & { error?: Error }).error?.message ?? err.type)
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}
