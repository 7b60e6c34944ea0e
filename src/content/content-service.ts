/**
 * @module content/content-service
 * Layer C as a NodeService (docs/CONTENT.md): the on-disk store, gossip announce, the content protocol
 * server, a queue of swarm fetches, periodic re-announce, provider expiry and garbage collection — plus the
 * small programmatic API other layers use (the materializer fetches role manifests through `get`).
 *
 * @example
 * ```ts
 * const content = ctx.service<ContentService>('content')
 * const { cid } = await content.add(new TextEncoder().encode('kind: Pod'))
 * const bytes = await content.get(cid)   // from this store, or fetched from the swarm and verified
 * ```
 */
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { CID } from 'multiformats/cid'
import type { NodeService, ServiceContext } from '../node/service.js'
import {
  ANNOUNCE_INTERVAL_MS, FETCHES_CONCURRENT_MAX, FETCHES_QUEUED_MAX, GC_INTERVAL_MS_DEFAULT, GET_IN_MEMORY_BYTES_MAX,
  QUOTA_BYTES_DEFAULT, RETENTION_MS_DEFAULT, FetchQueueFullError, ObjectTooLargeError, ProviderScores, ProviderTable,
  ContentNotFoundError, FetchAbortedError, FetchFailedError, InvalidCidError, NotAFileError, isManifestCid
} from './core/index.js'
import type { HaveItem, ProviderEntry } from './core/index.js'
import { ContentStore, parseRootCid } from './store.js'
import type { GcResult, ObjectRecord, PinRequest } from './store.js'
import { pinChanges, pinFields } from './object-record.js'
import { Announcer } from './announcer.js'
import { ContentServer } from './server.js'
import { Fetch, endsFetchForGood, storeRefused } from './fetch.js'
import type { FetchProgress } from './fetch.js'
import { registerContentRoutes } from './routes.js'
import { intervalTicker, type StopDuty } from '../util/ticker.js'
import type { PeerGoneKind, PeerWatcher } from './membership.js'
import { steadyNowMs } from '../util/clock.js'

/** Env var that makes this node corrupt every chunk it serves; honoured only with NODE_ENV=test. */
export const TEST_ONLY_CORRUPT_ENV = 'TEST_ONLY_CONTENT_CORRUPT_SERVED_CHUNKS'
/** Env var that makes this node wait that many ms before each chunk it serves; honoured only with NODE_ENV=test. */
export const TEST_ONLY_SERVE_DELAY_ENV = 'TEST_ONLY_CONTENT_SERVE_DELAY_MS'
const EXPIRE_INTERVAL_MS = 10_000
/** Delay of the re-announcement after a peer subscribes (coalesces a burst of joins into one). */
const ANNOUNCE_ON_SUBSCRIBE_DELAY_MS = 500
/**
 * Least time between two re-announcements on a subscription; one asked sooner comes then. Each hands the
 * pacer every object held (up to OBJECTS_MAX), so a member that subscribed and unsubscribed over and over made
 * this node do so every 0.5 s (docs/CONTENT.md §4). A peer that joins learns what is held within this time.
 */
const ANNOUNCE_ON_SUBSCRIBE_INTERVAL_MS = 5_000

export interface ContentServiceInit {
  /**
   * Whether `peer` is a cluster member (may announce to us and open the content protocol).
   * The default stack passes the Raft configuration's membership.
   */
  isMember: (peer: string) => boolean
  /**
   * Tells the service when peers may have stopped being providers, so that it forgets them at once instead of
   * after their entries' TTL (90 s): the applied configuration changed (every provider `isMember` now refuses
   * is forgotten), or membership judged a peer dead, leaving or removed. Called once at start; the function
   * it returns is called at stop. The default stack passes consensus's state changes and membership's events
   * (`peerWatch`). @default none: such entries only expire
   */
  watchPeers?: (watcher: PeerWatcher) => () => void
  /**
   * Calls `admitted` once this node's own configuration lists it (at once when it does already) and returns
   * a function that stops watching, called at stop. The service subscribes to the content topic only then
   * (docs/CONTENT.md §4). The default stack watches the applied Raft configuration.
   * @default none: subscribed at start
   */
  watchAdmission?: (admitted: () => void) => () => void
  /**
   * Injected clock for every duration the service measures: provider entries' TTL, the announce pacer and the
   * per-peer rate limit, provider scores, fetch deadlines and backoffs, the want-answer interval, and the store's
   * `lastUsedMs` (gc retention). A wall-clock step moves none of them (docs/CONTENT.md §1). @default steadyNowMs
   */
  nowMs?: () => number
  /** How long a fetch waits for a provider. @default PROVIDER_WAIT_MS */
  providerWaitMs?: number
  /** TEST ONLY: serve corrupt chunks (a lying provider). @default false */
  testOnlyCorruptServedChunks?: boolean
  /** TEST ONLY: wait this long before serving each chunk (a slow provider). @default 0 */
  testOnlyServeDelayMs?: number
}

/** What a caller of `fetch` (or `get`) asks for. */
export interface FetchCallOptions {
  /**
   * Pin the object: gc keeps it and everything below it. `true` is the operator's pin, held until unpinned;
   * `'catalog'` the role catalog's, released when no applied catalog names the object (`pinCatalog`).
   * @default false
   */
  pin?: PinRequest
  /**
   * The most bytes this caller accepts (a directory: its declared size, and the files below it summed). An
   * object over it is refused with ObjectTooLargeError as soon as its manifest gives the size, before any of
   * its chunks is asked for: it is not recorded, pinned or announced (its manifest block goes at the next gc),
   * and nothing is fetched for this caller. Held complete already, it is refused without a pin or a touch.
   * @default no limit but the format's (FILE_BYTES_MAX per file)
   */
  maxBytes?: number
  /**
   * Accept only a file: a directory is refused with NotAFileError as soon as its manifest is held (a root CID is
   * a manifest's whichever the kind: only the manifest tells), before anything below it is asked for; it is not
   * recorded, pinned or announced, and nothing is fetched for this caller. Held complete already, it is refused
   * without a pin or a touch.
   * @default false (a directory is fetched with everything below it)
   */
  filesOnly?: boolean
  /**
   * Ends this caller's wait (FetchAbortedError). The fetch itself ends too, there, unless another caller still
   * waits for it; what was verified stays, and a later fetch resumes it. @default none
   */
  signal?: AbortSignal
}

/** One running fetch and the callers waiting for it. */
interface RunningFetch {
  fetch: Fetch
  promise: Promise<ObjectRecord>
  /** Invariant: a waiter is in the set from its call until its answer (the record, an error, or its leaving). */
  waiters: Set<{ pin: PinRequest }>
  /** Every caller left, and the fetch was aborted: a new caller waits for it to end, then starts another. */
  abandoned: boolean
}

export interface ProviderView { peer: string, size: number, partial: boolean, expiresInMs: number, score: number }

export class ContentService implements NodeService {
  readonly name = 'content'
  private ctx!: ServiceContext
  private store!: ContentStore
  private readonly table = new ProviderTable()
  private readonly scores = new ProviderScores()
  private announcer!: Announcer
  private server!: ContentServer
  private readonly fetches = new Map<string, RunningFetch>()
  private readonly finished = new Map<string, FetchProgress>()
  private running = 0
  private readonly queue: Array<() => void> = []
  private timers: StopDuty[] = []
  private announceTimer: NodeJS.Timeout | undefined
  /** When the last re-announcement on a subscription went to the pacer (ANNOUNCE_ON_SUBSCRIBE_INTERVAL_MS). */
  private announcedOnSubscribeAtMs: number | undefined
  private unwatchPeers: (() => void) | undefined
  private unwatchAdmission: (() => void) | undefined
  /** Subscribed to the content topic: once admitted (`watchAdmission`), never before. */
  private subscribed = false
  /** Providers forgotten before their entries expired (removed from the configuration, dead, gone). */
  private providersForgotten = 0
  private retentionMs = RETENTION_MS_DEFAULT
  private readonly nowMs: () => number
  private stopped = false

  constructor (private readonly init: ContentServiceInit) {
    this.nowMs = init.nowMs ?? steadyNowMs
  }

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    const settings = ctx.config.content
    this.retentionMs = settings?.retentionMs ?? RETENTION_MS_DEFAULT
    this.store = await ContentStore.open({
      dir: path.join(ctx.config.dataDir, 'content'), quotaBytes: settings?.quotaBytes ?? QUOTA_BYTES_DEFAULT, log: ctx.log, nowMs: this.nowMs
    })
    this.announcer = new Announcer({
      net: ctx.net, clusterId: ctx.cluster.clusterId, nodeId: ctx.nodeId, table: this.table, isMember: this.init.isMember,
      holding: (cid) => this.holding(cid), log: ctx.log, nowMs: this.nowMs,
      onHave: () => { for (const f of this.fetches.values()) f.fetch.poke() },
      onPeerSubscribed: () => { this.scheduleAnnounce() }
    })
    const corrupt = this.init.testOnlyCorruptServedChunks === true || (process.env[TEST_ONLY_CORRUPT_ENV] === '1' && process.env.NODE_ENV === 'test')
    if (corrupt) ctx.log.error(`${TEST_ONLY_CORRUPT_ENV}=1 (test only): this node corrupts every chunk it serves`)
    const serveDelayMs = this.testOnlyServeDelayMs()
    if (serveDelayMs > 0) ctx.log.error(`${TEST_ONLY_SERVE_DELAY_ENV}=${serveDelayMs} (test only): this node waits that long before each chunk it serves`)
    this.server = new ContentServer({ libp2p: ctx.net, store: this.store, isMember: this.init.isMember, log: ctx.log, corruptServedChunks: corrupt, serveDelayMs })
    this.announcer.start({ subscribe: false })
    if (this.init.watchAdmission === undefined) this.subscribeOnce()
    else this.unwatchAdmission = this.init.watchAdmission(() => { this.subscribeOnce() })
    await this.server.start()
    this.unwatchPeers = this.init.watchPeers?.({
      configurationChanged: () => { this.forgetNonMembers() },
      peerGone: (peer, kind) => { this.forgetProvider(peer, kind) }
    })
    const ticker = ctx.ticker ?? intervalTicker
    this.timers = [
      ticker.every(ANNOUNCE_INTERVAL_MS, () => { void this.announceAll() }),
      ticker.every(EXPIRE_INTERVAL_MS, () => { this.table.expire(this.nowMs()) }),
      ticker.every(settings?.gcIntervalMs ?? GC_INTERVAL_MS_DEFAULT, () => { void this.gc().catch((err: unknown) => ctx.log.error({ err: (err as Error).message }, 'content gc failed')) })
    ]
    this.resumeFetches()
    ctx.log.info({ objects: this.store.list().length, usedBytes: this.store.usedBytes, quotaBytes: this.store.quotaBytes, topic: this.announcer.topic }, 'content store open')
  }

  async stop (): Promise<void> {
    this.stopped = true
    for (const stop of this.timers) stop()
    this.unwatchPeers?.()
    this.unwatchAdmission?.()
    clearTimeout(this.announceTimer)
    for (const f of this.fetches.values()) f.fetch.abort(new FetchFailedError('the node is stopping; the fetch resumes at the next start'))
    for (const wake of this.queue.splice(0)) wake()
    if (this.ctx === undefined) return
    this.announcer?.stop()
    await this.server?.stop()
    // Lazy touches are written, and the index journal folded, so index.json alone holds every record: a
    // build before the journal, which reads index.json only, then misses nothing after a clean stop.
    await this.store?.checkpoint().catch((err: unknown) => { this.ctx.log.error({ err: (err as Error).message }, 'content index not folded at stop; the next start replays its journal') })
  }

  /** The TEST ONLY serve delay: from the init, or from the env var under NODE_ENV=test only. */
  private testOnlyServeDelayMs (): number {
    if (this.init.testOnlyServeDelayMs !== undefined) return this.init.testOnlyServeDelayMs
    const fromEnv = Number(process.env[TEST_ONLY_SERVE_DELAY_ENV] ?? 0)
    return process.env.NODE_ENV === 'test' && Number.isSafeInteger(fromEnv) && fromEnv > 0 ? fromEnv : 0
  }

  /**
   * Subscribes to the content topic, once this node's configuration lists it. Peers re-announce what they hold
   * 0.5 s after a subscription, and a joiner refuses every `have` until its configuration lists the author:
   * subscribed at its start, it took that re-announcement before its admission (about 1 s), refused it, and
   * learned what its peers hold only at their next 30 s re-announcement.
   */
  private subscribeOnce (): void {
    if (this.subscribed || this.stopped) return
    this.subscribed = true
    this.announcer.subscribe()
  }

  /**
   * Forgets every provider that is no member any more (removed from the configuration): a fetch no longer
   * asks it, and its announcements are refused until it is a member again.
   */
  private forgetNonMembers (): void {
    const peers = new Set(this.table.peers())
    // A running fetch may still have a worker for a peer whose entries expired meanwhile.
    for (const f of this.fetches.values()) for (const peer of f.fetch.progress.providers) peers.add(peer)
    for (const peer of peers) if (!this.init.isMember(peer)) this.forgetProvider(peer, 'not in the configuration')
  }

  /**
   * Forgets `peer` as a provider of everything, and running fetches drop their worker for it at once (its
   * chunks go to the other providers) rather than when that worker's stream ends, and cancel a manifest
   * request open to it (the next provider is asked, not after the hedge delay). Nothing is held against
   * it: no score change, and a peer judged dead that comes back is recorded again by its next `have` (it
   * announces everything every 30 s, and answers a `want`).
   */
  private forgetProvider (peer: string, why: PeerGoneKind | 'not in the configuration'): void {
    const entries = this.table.forgetPeer(peer)
    // Fetches that had a worker or a manifest request open to it.
    let fetches = 0
    for (const f of this.fetches.values()) if (f.fetch.forgetPeer(peer)) fetches++
    if (entries === 0 && fetches === 0) return
    this.providersForgotten++
    this.ctx.log.info({ peer, why, entries, fetches }, 'forgot a content provider')
  }

  /** Incomplete objects left by a previous run are fetched again; verified chunks on disk are kept. */
  private resumeFetches (): void {
    for (const record of this.store.list()) {
      if (record.complete) continue
      this.ctx.log.info({ cid: record.cid }, 'resuming an interrupted fetch')
      this.fetch(parseRootCid(record.cid)).catch((err: unknown) => {
        // Such a fetch dropped its record, with a warning of its own: it does not resume again.
        if (endsFetchForGood(err) || storeRefused(err)) return
        this.ctx.log.warn({ cid: record.cid, err: (err as Error).message }, 'resumed fetch did not finish; it will resume again on the next fetch or restart')
      })
    }
  }

  private holding (cid: string): HaveItem | undefined {
    const record = this.store.record(cid)
    if (record === undefined) return undefined
    return { cid: parseRootCid(cid), size: record.size, partial: !record.complete }
  }

  /**
   * One announcement of everything held shortly after peers (re)subscribe; coalesces bursts of joins, and
   * comes at most once per ANNOUNCE_ON_SUBSCRIBE_INTERVAL_MS however often they subscribe.
   */
  private scheduleAnnounce (): void {
    if (this.announceTimer !== undefined || this.stopped) return
    const nowMs = this.nowMs()
    const dueAtMs = this.announcedOnSubscribeAtMs === undefined ? nowMs : this.announcedOnSubscribeAtMs + ANNOUNCE_ON_SUBSCRIBE_INTERVAL_MS
    // Bounded above too: a clock that went back holds it no longer than the interval.
    const delayMs = Math.min(ANNOUNCE_ON_SUBSCRIBE_INTERVAL_MS, Math.max(ANNOUNCE_ON_SUBSCRIBE_DELAY_MS, dueAtMs - nowMs))
    this.announceTimer = setTimeout(() => {
      this.announceTimer = undefined
      this.announcedOnSubscribeAtMs = this.nowMs()
      void this.announceAll()
    }, delayMs)
  }

  /**
   * Never rejects: its callers are timers (`void`), where a rejection ends the process — on every holder of a
   * bad record, and again after each restart (a raw block CID recorded as an object did, docs/SECURITY.md). A
   * record that cannot be announced is left out with one warning per round.
   */
  private async announceAll (): Promise<void> {
    const items: HaveItem[] = []
    let skipped: { cid: string, err: string, count: number } | undefined
    for (const r of this.store.list()) {
      try {
        const item = this.holding(r.cid)
        if (item !== undefined) items.push(item)
      } catch (err) {
        skipped = { cid: skipped?.cid ?? r.cid, err: skipped?.err ?? (err as Error).message, count: (skipped?.count ?? 0) + 1 }
      }
    }
    if (skipped !== undefined) this.ctx.log.warn(skipped, 'content records left out of the announcement: they cannot be announced')
    try {
      if (items.length > 0) await this.announcer.have(items)
    } catch (err) {
      this.ctx.log.warn({ err: (err as Error).message }, 'announcement of the content held failed; the next round tries again')
    }
  }

  // ---- programmatic API ----

  /**
   * Adds bytes or a stream of bytes as a file; announces it.
   * @throws QuotaExceededError, DiskFullError, ObjectTooLargeError
   */
  async add (input: Uint8Array | AsyncIterable<Uint8Array>, options: { pin?: PinRequest } = {}): Promise<ObjectRecord & { cidObject: CID }> {
    const source = input instanceof Uint8Array ? (async function * () { yield input })() : input
    const record = await this.store.addFile(source, options)
    void this.announcer.have([{ cid: parseRootCid(record.cid), size: record.size, partial: false }])
    return { ...record, cidObject: parseRootCid(record.cid) }
  }

  /**
   * Adds a directory of objects already held.
   * @throws ContentNotFoundError, MalformedContentError, ObjectTooLargeError (nesting over DIR_DEPTH_MAX)
   */
  async addDir (entries: Array<{ name: string, cid: CID }>, options: { pin?: boolean } = {}): Promise<ObjectRecord> {
    const record = await this.store.addDir(entries, options)
    void this.announcer.have([{ cid: parseRootCid(record.cid), size: record.size, partial: false }])
    return record
  }

  /**
   * Makes `cid` complete in this store, fetching from the swarm if needed (queued; one fetch per CID, whose
   * callers all get their pin). Each caller may bound its wait (`signal`) and the size it accepts (`maxBytes`).
   * @throws NoProvidersError, FetchFailedError, QuotaExceededError, DiskFullError, FetchQueueFullError,
   *   FetchAbortedError (`signal`), ObjectTooLargeError (`maxBytes`), NotAFileError (`filesOnly`)
   */
  async fetch (cid: CID, options: FetchCallOptions = {}): Promise<ObjectRecord> {
    // A root is a manifest CID. NB: a raw block whose bytes decode as a manifest (any member can add a file of
    // such bytes) was taken as one and recorded, and the next announcement of everything held threw on that
    // record: an unhandled rejection, which ended the process (a catalog can name any CID).
    if (!isManifestCid(cid)) throw new InvalidCidError(`${cid.toString()} is not a BLAKE3 dag-cbor CIDv1 (a content root): not fetched`)
    const key = cid.toString()
    if (options.signal?.aborted === true) throw aborted(cid, options.signal)
    const running = this.fetches.get(key)
    if (running?.abandoned === true) {
      // Ending already (its abort wakes it at once): its error was its last caller's, not this one's.
      await running.promise.catch(() => {})
      return await this.fetch(cid, options)
    }
    if (running !== undefined) {
      const record = await this.wait(cid, running, options)
      if (!pinChanges(record, options.pin)) return record
      // That fetch was started without a pin: this caller's pin goes on what it completed (the fetch is gone
      // now, so this takes the path of an object held), not lost (docs/CONTENT.md §6 step 10).
      return await this.fetch(cid, options)
    }
    const record = this.store.record(cid)
    if (record?.complete === true) {
      if (options.filesOnly === true && record.type !== 'file') throw notAFile(cid)
      if (options.maxBytes !== undefined && record.size > options.maxBytes) throw tooLarge(cid, record.size, options.maxBytes)
      if (await this.store.heldInFull(cid)) {
        // As it is now (`heldInFull` awaited): only its pin is this call's to change.
        const current = this.store.record(cid) ?? record
        if (pinChanges(current, options.pin)) return await this.store.setRecord(cid, { type: current.type, size: current.size, ...pinFields(current, options.pin) })
        await this.store.touch(cid)
        return record
      }
      // A file recorded complete whose chunk was lost here (deleted when it failed its check) is fetched again,
      // and a directory not known held in full is walked down to its files' chunks by the fetch, which asks
      // for what is missing only.
      if (record.type === 'file') this.ctx.log.info({ cid: key }, 'a complete object lacks blocks here; fetching them again')
      else this.ctx.log.debug({ cid: key }, 'checking a complete directory down to its chunks')
    }
    // Another caller may have started its fetch while this one read the manifest.
    if (this.fetches.has(key)) return await this.fetch(cid, options)
    if (this.fetches.size >= FETCHES_QUEUED_MAX) throw new FetchQueueFullError(`${FETCHES_QUEUED_MAX} fetches queued already`)
    const waiters: RunningFetch['waiters'] = new Set()
    const fetch = new Fetch(cid, {
      net: this.ctx.net, store: this.store, table: this.table, scores: this.scores, announcer: this.announcer, nodeId: this.ctx.nodeId,
      log: this.ctx.log, nowMs: this.nowMs, startIndex: (n) => Math.floor(Math.random() * n),
      ...(this.init.providerWaitMs !== undefined ? { providerWaitMs: this.init.providerWaitMs } : {})
    }, { pin: () => strongestPin(waiters) })
    const promise = this.runQueued(fetch).finally(() => {
      this.fetches.delete(key)
      if (this.finished.size >= FETCHES_QUEUED_MAX) this.finished.delete(this.finished.keys().next().value as string)
      this.finished.set(key, fetch.progress)
    })
    // Settled here too: a fetch whose callers all left ends with nobody awaiting it.
    promise.catch(() => {})
    const entry = { fetch, promise, waiters, abandoned: false }
    this.fetches.set(key, entry)
    return await this.wait(cid, entry, options)
  }

  /**
   * One caller's wait for a running fetch: its record, its error, or this caller's own end — its signal
   * (FetchAbortedError), a size over its `maxBytes` (ObjectTooLargeError) or a directory when it takes only files
   * (NotAFileError), both told by the fetch before it records or pins that object. The last caller to leave ends
   * the fetch with its reason.
   */
  private async wait (cid: CID, running: RunningFetch, options: FetchCallOptions): Promise<ObjectRecord> {
    const { signal, maxBytes, filesOnly } = options
    const waiter = { pin: options.pin ?? false }
    running.waiters.add(waiter)
    return await new Promise<ObjectRecord>((resolve, reject) => {
      let unwatch = (): void => {}
      const settle = (): boolean => {
        if (!running.waiters.delete(waiter)) return false
        signal?.removeEventListener('abort', onAbort)
        unwatch()
        return true
      }
      const leave = (err: Error): void => {
        if (!settle()) return
        if (running.waiters.size === 0) {
          running.abandoned = true
          running.fetch.abort(err)
        }
        reject(err)
      }
      const onAbort = (): void => { leave(aborted(cid, signal as AbortSignal)) }
      signal?.addEventListener('abort', onAbort, { once: true })
      if (maxBytes !== undefined || filesOnly === true) {
        unwatch = running.fetch.watchSize((bytes, rootType) => {
          if (filesOnly === true && rootType !== 'file') leave(notAFile(cid))
          else if (maxBytes !== undefined && bytes > maxBytes) leave(tooLarge(cid, bytes, maxBytes))
        })
      }
      // Told at once (the size known already): it left before `unwatch` was set.
      if (!running.waiters.has(waiter)) unwatch()
      running.promise.then((record) => { if (settle()) resolve(record) }, (err: unknown) => { if (settle()) reject(err) })
    })
  }

  private async runQueued (fetch: Fetch): Promise<ObjectRecord> {
    if (this.running >= FETCHES_CONCURRENT_MAX) await new Promise<void>((resolve) => this.queue.push(resolve))
    this.running++
    try {
      if (this.stopped) throw new FetchFailedError('the node is stopping; the fetch resumes at the next start')
      return await fetch.run()
    } finally {
      this.running--
      this.queue.shift()?.()
    }
  }

  /**
   * Progress of a running or recently finished fetch. A failed one's is dropped once the object is held complete
   * (added here since): answered first by the routes, it failed `content get` of an object held in full.
   */
  progress (cid: CID): FetchProgress | undefined {
    const key = cid.toString()
    const running = this.fetches.get(key)
    if (running !== undefined) return running.fetch.progress
    const finished = this.finished.get(key)
    if (finished?.state === 'failed' && this.store.record(cid)?.complete === true) return undefined
    return finished
  }

  /**
   * The bytes of a file, fetched first if needed (`options` as for `fetch`). For files up to
   * GET_IN_MEMORY_BYTES_MAX; use `open` beyond: a larger one is refused (ObjectTooLargeError) once its manifest
   * gives its size, as by `maxBytes`. Always `filesOnly`: a directory has no bytes to give, and is refused
   * (NotAFileError) once its manifest is held, before anything below it is fetched or pinned.
   * @throws NotAFileError, ObjectTooLargeError, ContentNotFoundError, and what `fetch` throws
   */
  async get (cid: CID, options: FetchCallOptions = {}): Promise<Uint8Array> {
    // NB: without it, a directory CID (any member can announce one) was fetched whole, and pinned when asked,
    // before the read failed as MalformedContentError.
    // Bounded by what fits in memory too, so that a larger file is refused once its manifest gives its size:
    // it was fetched whole, and pinned when asked, before the check below refused it.
    const maxBytes = Math.min(options.maxBytes ?? GET_IN_MEMORY_BYTES_MAX, GET_IN_MEMORY_BYTES_MAX)
    const record = await this.fetch(cid, { ...options, filesOnly: true, maxBytes })
    if (record.size > GET_IN_MEMORY_BYTES_MAX) throw new ObjectTooLargeError(`${cid.toString()} has ${record.size} bytes; use open() to stream it`)
    const out = new Uint8Array(record.size)
    let offset = 0
    for await (const chunk of this.store.readFile(cid)) {
      out.set(chunk, offset)
      offset += chunk.length
    }
    return out
  }

  /**
   * The bytes of a file as a stream of verified chunks, fetched first if needed; a directory is refused as by
   * `get`. @throws NotAFileError, and what `fetch` throws
   */
  async open (cid: CID): Promise<AsyncGenerator<Uint8Array>> {
    await this.fetch(cid, { filesOnly: true })
    return this.store.readFile(cid)
  }

  /**
   * The verified bytes of a file held completely here (no fetch). A directory is refused at once, before a
   * caller (GET /v1/content/:cid/data) sends the directory's size as a file's length.
   * @throws ContentNotFoundError, NotAFileError
   */
  readLocal (cid: CID): AsyncGenerator<Uint8Array> {
    const record = this.store.record(cid)
    if (record?.complete !== true) throw new ContentNotFoundError(`${cid.toString()} is not held completely here`)
    if (record.type !== 'file') throw new NotAFileError(`${cid.toString()} is a directory, not a file`)
    return this.store.readFile(cid)
  }

  async manifest (cid: CID): ReturnType<ContentStore['manifest']> {
    return await this.store.manifest(cid)
  }

  record (cid: CID): ObjectRecord | undefined {
    return this.store.record(cid)
  }

  list (): ObjectRecord[] {
    return this.store.list()
  }

  /** Pins a held object (fetching it first if needed): gc keeps it and everything below it. */
  async pin (cid: CID): Promise<ObjectRecord> {
    return await this.fetch(cid, { pin: true })
  }

  /**
   * Makes the role catalog's pins those of `named` (the CIDs the applied catalog names, and the templates a
   * catalog proposal is adding): a record held of one is pinned for the catalog unless pinned already, and one
   * pinned for the catalog alone that `named` lacks is released, its retention counted from now, as `unpin`
   * does; a partial one no fetch is completing is dropped too (`forget`), as nothing wants it and every start
   * would resume it. The operator's pins are left as they are. Pins persist in the index, so a node that
   * restarts keeps them until the materializer calls this again (at its start) from the applied catalog.
   * One index write per record changed. @throws DiskFullError, StoreIndexFullError (an index write)
   */
  async pinCatalog (named: ReadonlySet<string>): Promise<{ pinned: number, released: number }> {
    let pinned = 0
    let released = 0
    for (const record of this.store.list()) {
      const cid = parseRootCid(record.cid)
      // Read again: a record may have changed since the list was taken (a fetch completed it, a pin or an unpin
      // came), and only its pin is this call's to change.
      const now = this.store.record(cid)
      if (now === undefined) continue
      if (named.has(now.cid)) {
        if (!pinChanges(now, 'catalog')) continue
        await this.store.setRecord(cid, { type: now.type, size: now.size, ...pinFields(now, 'catalog') })
        pinned++
      } else if (now.catalog === true) {
        if (!now.complete && !this.fetches.has(now.cid)) await this.store.dropRecord(cid)
        else await this.store.setRecord(cid, { type: now.type, size: now.size, pinned: false, lastUsedMs: this.nowMs() })
        released++
      }
    }
    if (pinned + released > 0) this.ctx.log.info({ pinned, released, named: named.size }, 'content pins of the role catalog updated')
    return { pinned, released }
  }

  /** Unpins; gc collects the object once unused for the retention time. @throws ContentNotFoundError */
  async unpin (cid: CID): Promise<ObjectRecord> {
    const record = this.store.record(cid)
    if (record === undefined) throw new ContentNotFoundError(`${cid.toString()} is not in this store`)
    return await this.store.setRecord(cid, { ...record, pinned: false, lastUsedMs: this.nowMs() })
  }

  /**
   * Drops the record of `cid`, partial or complete, pinned or not: it is neither resumed nor kept any more, and
   * its blocks go at the next gc unless another object kept reaches them. The way to abandon a partial fetch
   * (gc keeps everything a partial record reaches, and every start resumes it). A fetch of it running ends
   * first, its callers told FetchAbortedError.
   * @throws ContentNotFoundError when the store holds no record of it, DiskFullError (the index write)
   */
  async forget (cid: CID): Promise<ObjectRecord> {
    const running = this.fetches.get(cid.toString())
    if (running !== undefined) {
      running.abandoned = true
      running.fetch.abort(new FetchAbortedError(`fetch of ${cid.toString()} stopped: the object was forgotten`))
      await running.promise.catch(() => {})
    }
    const record = this.store.record(cid)
    if (record === undefined) throw new ContentNotFoundError(`${cid.toString()} is not in this store`)
    await this.store.dropRecord(cid)
    this.ctx.log.info({ cid: cid.toString(), complete: record.complete, pinned: record.pinned }, 'content record forgotten; gc frees its blocks')
    return record
  }

  async gc (): Promise<GcResult> {
    const result = await this.store.gc(this.retentionMs)
    if (result.removedBlocks > 0) this.ctx.log.info({ ...result }, 'content gc')
    return result
  }

  providers (cid: CID): ProviderView[] {
    const nowMs = this.nowMs()
    return this.table.providers(cid.toString(), nowMs).map((e: ProviderEntry) => ({
      peer: e.peer, size: e.size, partial: e.partial, expiresInMs: e.expiresAtMs - nowMs, score: this.scores.score(e.peer, nowMs)
    }))
  }

  fetchesInProgress (): FetchProgress[] {
    return [...this.fetches.values()].map((f) => f.fetch.progress)
  }

  /** Gauges read on every Prometheus scrape (src/metrics MetricsSource). */
  metricsReading (): { contentBytes: number, contentBlobs: number } {
    // NB: a count, not list().length: the store may hold OBJECTS_MAX records, and copying and sorting them all
    // took 70 to 150 ms of the event loop per scrape.
    return { contentBytes: this.store.usedBytes, contentBlobs: this.store.objectCount }
  }

  status (): Record<string, unknown> {
    return {
      objects: this.store.objectCount,
      usedBytes: this.store.usedBytes,
      quotaBytes: this.store.quotaBytes,
      corruptBlocks: this.store.corruptBlocks,
      fetches: this.fetches.size,
      providerEntries: this.table.size,
      providersForgotten: this.providersForgotten,
      announce: this.announcer.counters(),
      server: this.server.counters(),
      scores: this.scores.snapshot(this.nowMs()).filter((s) => s.badChunks > 0 || s.score < 0)
    }
  }

  routes (app: FastifyInstance): void {
    registerContentRoutes(app, this)
  }
}

/** The pin a fetch gives its object for the callers waiting: the operator's over the catalog's over none. */
function strongestPin (waiters: RunningFetch['waiters']): PinRequest {
  let pin: PinRequest = false
  for (const w of waiters) {
    if (w.pin === true) return true
    if (w.pin === 'catalog') pin = 'catalog'
  }
  return pin
}

/** A caller's signal ended its wait for `cid`. */
function aborted (cid: CID, signal: AbortSignal): FetchAbortedError {
  const reason: unknown = signal.reason
  const why = reason instanceof Error ? reason.message : String(reason)
  return new FetchAbortedError(`fetch of ${cid.toString()} stopped by its caller: ${why}`)
}

/** `cid` names a directory, and the caller takes only files. */
function notAFile (cid: CID): NotAFileError {
  return new NotAFileError(`${cid.toString()} is a directory, not a file; not fetched, recorded or pinned`)
}

/** `cid` delivers more than the caller accepts. */
function tooLarge (cid: CID, bytes: number, maxBytes: number): ObjectTooLargeError {
  return new ObjectTooLargeError(`${cid.toString()} has ${bytes} bytes, over the ${maxBytes} this fetch accepts; not fetched, recorded or pinned`)
}
