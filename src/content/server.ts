/**
 * @module content/server
 * Serves blocks over `/revoada/content/1.0.0` (docs/CONTENT.md §5): only to cluster members (the injected
 * `isMember`, as the raft transport does), one request at a time per stream, and at most
 * UPLOAD_STREAMS_PER_PEER_MAX streams per requesting peer and UPLOAD_STREAMS_MAX in total (upload slots): a
 * stream beyond them is answered `busy` and closed, so one greedy peer cannot starve the others. A stream
 * idle for SERVE_IDLE_TIMEOUT_MS, or whose reader stalls a write for SERVE_WRITE_TIMEOUT_MS, is cut off.
 * When the fetcher closes its end the server closes its own, so no half-closed stream stays counted against
 * the connection's stream limit. Every block is re-verified as it is read from disk. Chunks of objects still
 * being fetched are served too: that is what makes fetchers providers (swarming). A `map` request is answered
 * from the chunk keys of recently mapped manifests (map-cache.ts), so repeating it costs only the bitmap.
 *
 * A malformed or oversize request closes that stream only, counted and logged; the node keeps running.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { lpStream } from '@libp2p/utils'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type { Logger } from '../log/index.js'
import {
  encodeBlockFrame,
  BUSY_RETRY_AFTER_MS, CONTENT_PROTOCOL, INBOUND_STREAMS_PER_CONNECTION_MAX, REQUEST_FRAME_BYTES_MAX, FRAME_BYTES_MAX,
  SERVE_IDLE_TIMEOUT_MS, SERVE_WRITE_TIMEOUT_MS, UPLOAD_STREAMS_MAX, UPLOAD_STREAMS_PER_PEER_MAX,
  decodeRequest, encodeResponse
} from './core/index.js'
import type { ContentRequest, ContentResponse } from './core/index.js'
import { RAW_CODE } from '../codec/index.js'
import type { ContentStore } from './store.js'
import { errorMessage, errorName } from './errors-io.js'
import { MapCache } from './map-cache.js'

/** What lpStream throws for a length prefix over the limit or malformed. */
const OVERSIZE_ERRORS = new Set(['InvalidDataLengthError', 'InvalidMessageLengthError', 'InvalidDataLengthLengthError'])

export interface ServerCounters {
  streams: number
  blocksServed: number
  bytesServed: number
  notFound: number
  rejectedNotMember: number
  rejectedBusy: number
  rejectedMalformed: number
  /** Chunk answers held back by the TEST ONLY serve delay (always 0 outside tests). */
  delayedAnswers: number
}

export interface ContentServerInit {
  libp2p: Libp2p
  store: ContentStore
  isMember: (peer: string) => boolean
  log: Logger
  /**
   * TEST ONLY: flip a byte of every chunk served, to play a lying provider. The service sets it only from
   * TEST_ONLY_CONTENT_CORRUPT_SERVED_CHUNKS=1 together with NODE_ENV=test, and logs an error when it does.
   */
  corruptServedChunks?: boolean
  /**
   * TEST ONLY: wait this long before answering each chunk request, to play a slow provider. The service sets
   * it only from TEST_ONLY_CONTENT_SERVE_DELAY_MS=<ms> together with NODE_ENV=test, and logs an error when it does.
   */
  serveDelayMs?: number
}

export class ContentServer {
  private readonly counts: ServerCounters = { streams: 0, blocksServed: 0, bytesServed: 0, notFound: 0, rejectedNotMember: 0, rejectedBusy: 0, rejectedMalformed: 0, delayedAnswers: 0 }
  private readonly open = new Set<Stream>()
  /** Streams being served per requesting peer (the per-peer upload limit). */
  private readonly openByPeer = new Map<string, number>()
  private running = false
  /** Aborted on stop: ends the TEST ONLY serve delays still waiting. */
  private readonly stopping = new AbortController()
  private readonly maps: MapCache

  constructor (private readonly init: ContentServerInit) {
    this.maps = new MapCache(init.store)
  }

  async start (): Promise<void> {
    this.running = true
    await this.init.libp2p.handle(CONTENT_PROTOCOL, (stream, connection) => { void this.onStream(stream, connection) }, {
      maxInboundStreams: INBOUND_STREAMS_PER_CONNECTION_MAX, maxOutboundStreams: INBOUND_STREAMS_PER_CONNECTION_MAX
    })
  }

  async stop (): Promise<void> {
    this.running = false
    this.stopping.abort(new Error('content server stopped'))
    await this.init.libp2p.unhandle(CONTENT_PROTOCOL)
    for (const stream of this.open) stream.abort(new Error('content server stopped'))
    this.open.clear()
  }

  /**
   * The counters, plus the map cache's (`mapCacheHits`: `map` requests answered without reading the manifest;
   * `mapManifestReads`: manifests read for one), `openStreams` (streams being served) and `connectionStreams`:
   * inbound content streams libp2p still holds on our connections, served or not. A stream only one side has closed stays counted
   * there (against the per-connection cap), so this returning to 0 shows streams are finished on both sides.
   */
  counters (): ServerCounters & { mapCacheHits: number, mapManifestReads: number, openStreams: number, connectionStreams: number } {
    const connectionStreams = this.init.libp2p.getConnections()
      .reduce((n, c) => n + c.streams.filter((s) => s.protocol === CONTENT_PROTOCOL && s.direction === 'inbound').length, 0)
    const maps = this.maps.counters()
    return { ...this.counts, mapCacheHits: maps.hits, mapManifestReads: maps.reads, openStreams: this.open.size, connectionStreams }
  }

  private async onStream (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (!this.init.isMember(peer)) {
      this.counts.rejectedNotMember++
      this.init.log.warn({ peer }, 'refused a content stream from a peer that is not a cluster member')
      stream.abort(new Error('not a cluster member'))
      return
    }
    const ofPeer = this.openByPeer.get(peer) ?? 0
    if (ofPeer >= UPLOAD_STREAMS_PER_PEER_MAX || this.open.size >= UPLOAD_STREAMS_MAX) {
      this.counts.rejectedBusy++
      this.init.log.debug({ peer, ofPeer, open: this.open.size }, 'content stream refused: upload limit reached (answered busy)')
      await this.refuseBusy(stream)
      return
    }
    this.open.add(stream)
    this.openByPeer.set(peer, ofPeer + 1)
    this.counts.streams++
    try {
      await this.serve(stream, peer)
    } finally {
      this.open.delete(stream)
      const left = (this.openByPeer.get(peer) ?? 1) - 1
      if (left > 0) this.openByPeer.set(peer, left)
      else this.openByPeer.delete(peer)
    }
  }

  /** Answers `busy` and closes our end; the fetcher asks elsewhere and comes back later. */
  private async refuseBusy (stream: Stream): Promise<void> {
    try {
      const lp = lpStream(stream, { maxDataLength: Math.max(REQUEST_FRAME_BYTES_MAX, 16), maxBufferSize: 64 * REQUEST_FRAME_BYTES_MAX })
      await lp.write(encodeResponse({ type: 'busy', retryAfterMs: BUSY_RETRY_AFTER_MS }), { signal: AbortSignal.timeout(SERVE_WRITE_TIMEOUT_MS) })
      await stream.close({ signal: AbortSignal.timeout(SERVE_WRITE_TIMEOUT_MS) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(errorMessage(err)))
    }
  }

  /** Answers requests in order until the peer closes its end (then ours is closed too), or fails. */
  private async serve (stream: Stream, peer: string): Promise<void> {
    const lp = lpStream(stream, { maxDataLength: Math.max(REQUEST_FRAME_BYTES_MAX, 16), maxBufferSize: 64 * REQUEST_FRAME_BYTES_MAX })
    try {
      while (this.running) {
        // A stream with no request for SERVE_IDLE_TIMEOUT_MS gives its upload slot back.
        const frame = await lp.read({ signal: AbortSignal.timeout(SERVE_IDLE_TIMEOUT_MS) })
        let request: ContentRequest
        try {
          request = decodeRequest(frame.subarray())
        } catch (err) {
          this.counts.rejectedMalformed++
          this.init.log.warn({ peer, err: errorMessage(err) }, 'malformed content request; closing the stream')
          stream.abort(new Error('malformed request'))
          return
        }
        const response = await this.answer(request)
        // A block's data goes out as it was read, not copied into the frame (block-frame.ts).
        const bytes = response.type === 'block' ? encodeBlockFrame(response.cid, response.data) : encodeResponse(response)
        if (bytes.byteLength > FRAME_BYTES_MAX) throw new Error('response over the frame limit')
        await lp.write(bytes, { signal: AbortSignal.timeout(SERVE_WRITE_TIMEOUT_MS) })
      }
    } catch (err) {
      const name = errorName(err)
      if (name === 'UnexpectedEOFError' && stream.status === 'open') {
        // The fetcher closed its end (it is done with us): close ours, so the stream ends on both sides
        // and leaves the connection's stream count. A half-closed stream would stay counted forever.
        await stream.close({ signal: AbortSignal.timeout(SERVE_WRITE_TIMEOUT_MS) }).catch((closeErr: unknown) => {
          stream.abort(closeErr instanceof Error ? closeErr : new Error(errorMessage(closeErr)))
        })
        return
      }
      if (OVERSIZE_ERRORS.has(name)) {
        this.counts.rejectedMalformed++
        this.init.log.warn({ peer, err: errorMessage(err) }, 'oversize content request; closing the stream')
      } else {
        this.init.log.debug({ peer, err: errorMessage(err) }, 'content stream ended')
      }
      stream.abort(err instanceof Error ? err : new Error(errorMessage(err)))
    }
  }

  private async answer (request: ContentRequest): Promise<ContentResponse> {
    const { store } = this.init
    if (request.type === 'map') {
      const bitmap = await this.maps.bitmap(request.cid)
      return bitmap === null ? { type: 'none', cid: request.cid } : { type: 'map', cid: request.cid, bitmap }
    }
    const delayMs = this.init.serveDelayMs ?? 0
    if (delayMs > 0 && request.cid.code === RAW_CODE && this.running) {
      this.counts.delayedAnswers++
      await sleep(delayMs, undefined, { signal: this.stopping.signal, ref: false })
    }
    const data = await store.readBlock(request.cid)
    if (data === null) {
      this.counts.notFound++
      return { type: 'none', cid: request.cid }
    }
    this.counts.blocksServed++
    this.counts.bytesServed += data.length
    if (this.init.corruptServedChunks === true && request.cid.code === RAW_CODE && data.length > 0) {
      data[0] = (data[0] as number) ^ 0xff
    }
    return { type: 'block', cid: request.cid, data }
  }
}


