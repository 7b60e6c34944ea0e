/**
 * @module content/fetch
 * Fetching one object from the swarm (docs/CONTENT.md §6): wait for providers (publishing `want`), get the
 * manifest from any of them and check it against the root CID (fetch-manifest.ts), then run one worker per
 * provider — up to PROVIDERS_PER_FETCH_MAX, best scored first, joining as they announce and leaving at once
 * when the service forgets them (`forgetPeer`) — that pipelines chunk requests the pure ChunkScheduler hands
 * out. Every chunk is verified before it is written (ContentStore.putBlock); a provider whose chunk does not
 * match is dropped from the fetch, scored down, and its chunks go to the others. When the last chunk is in, requests still outstanding (a slow provider's) are
 * cancelled: a slow provider carries fewer chunks, but holds up neither the end of the fetch nor its own
 * score. Quota, object-limit and disk-full errors end the fetch with that typed error; everything verified so
 * far stays, and a later fetch of the same CID (after a restart too) skips it. A fetch the store refused
 * (quota, object limit) drops its partial records, so that gc frees those blocks unless a fetch comes first. A manifest that contradicts itself
 * (MalformedContentError), or directories nested too deep (ObjectTooLargeError), ends the fetch and drops its
 * partial records: no bytes can complete it, so it is not resumed. The object is announced as a partial
 * provider as soon as its manifest is held, and as complete at the end.
 */
import { lpStream } from '@libp2p/utils'
import type { Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import type { NetNode } from '../net/index.js'
import type { Logger } from '../log/index.js'
import {
  BITMAP_REFRESH_MS, CHUNKS_IN_FLIGHT_PER_FETCH_MAX, FETCH_STALL_MS, CONTENT_PROTOCOL, DIAL_TIMEOUT_MS, DIR_DEPTH_MAX, ENDGAME_DUPLICATES_MAX,
  FRAME_BYTES_MAX, PROVIDERS_PER_FETCH_MAX, REQUESTS_IN_FLIGHT_PER_PROVIDER, REQUEST_TIMEOUT_MS, WANT_REPEAT_MS,
  ChunkScheduler, ChunkVerificationError, FetchFailedError, dirSize, ObjectTooLargeError, ProviderBusyError, bitmapHas, chunkCid, chunkLength,
  decodeResponse, encodeRequest
} from './core/index.js'
import type { FileManifest, Manifest, ProviderScores, ProviderTable } from './core/index.js'
import { inconsistentChunk } from './store.js'
import type { ContentStore, ObjectRecord } from './store.js'
import { pinChanges, pinFields } from './object-record.js'
import type { PinRequest } from './object-record.js'
import { blake3, equalBytes } from '../codec/index.js'
import type { Announcer } from './announcer.js'
import { errorMessage, errorName } from './errors-io.js'
import { Wakeup } from './wakeup.js'
import { fetchManifest } from './fetch-manifest.js'
import { treeHeight } from './tree-height.js'
import { deadline } from '../util/deadline.js'
import { assert } from '../util/assert.js'
import type { ManifestFetchContext } from './fetch-manifest.js'

export interface FetchDeps {
  net: NetNode
  store: ContentStore
  table: ProviderTable
  scores: ProviderScores
  announcer: Announcer
  nodeId: string
  log: Logger
  nowMs: () => number
  /** Where a file's chunk hand-out starts (random in production, so fetchers spread out). */
  startIndex: (chunkCount: number) => number
  /** How long to wait for a first provider. @default PROVIDER_WAIT_MS */
  providerWaitMs?: number
  /** How long a fetch may go without a new chunk. @default FETCH_STALL_MS */
  stallMs?: number
}

export interface FetchOptions {
  /**
   * Whether the object is pinned, asked when its record is made (once its manifest is held): the service
   * answers for the callers waiting then, so a caller that left (its limit, its signal) pins nothing.
   * The operator's pin (`true`) or the role catalog's (`'catalog'`, object-record.ts `pinFields`).
   * @default not pinned
   */
  pin?: PinRequest | (() => PinRequest)
}

export interface FetchProgress {
  cid: string
  state: 'queued' | 'waiting-for-providers' | 'manifest' | 'chunks' | 'done' | 'failed'
  bytesDone: number
  bytesTotal: number
  chunksDone: number
  chunksTotal: number
  providers: string[]
  droppedProviders: string[]
  /** Verified chunks taken from each provider (peer id → count) in this fetch: who carried it. */
  chunksByProvider: Record<string, number>
  /** Times a provider answered `busy` (at its upload limit) during this fetch. */
  busyAnswers: number
  error?: { name: string, message: string }
}

/** Told the bytes a fetch is known to deliver and its root's kind (`Fetch.watchSize`). */
export type SizeWatcher = (bytes: number, rootType: 'file' | 'dir') => void

/** Backoff before a failed provider (reset, timeout, dial error) is tried again within a fetch. */
const RETRY_BACKOFF_MIN_MS = 500
const RETRY_BACKOFF_MAX_MS = 10_000

/** One provider's worker within a file fetch. */
interface WorkerJob {
  peer: string
  partial: boolean
  root: CID
  manifest: FileManifest
  scheduler: ChunkScheduler
  backoff: Map<string, { failures: number, retryAtMs: number }>
  /** The chunks whose digest the manifest names more than once, each with all the chunks of that digest. */
  repeats: ReadonlyMap<number, readonly number[]>
  /**
   * Aborted when the fetch's chunk loop ends (done, or a fatal error), or when the peer is forgotten
   * (`Fetch.forgetPeer`): the worker stops at once, at no cost to the provider.
   */
  stopped: AbortSignal
}

/** An error that ends the whole fetch (quota, full disk), as opposed to a provider's fault. */
const FATAL_ERRORS = new Set(['QuotaExceededError', 'DiskFullError', 'StoreIndexFullError'])

/**
 * Nesting over DIR_DEPTH_MAX below a fetch's root: an ObjectTooLargeError to every caller (same name, same API
 * answer), a class of its own so that it alone of the ObjectTooLargeErrors ends a fetch for good.
 */
class NestingTooDeepError extends ObjectTooLargeError {}

/**
 * Whether an error that ended a fetch belongs to the content, which no bytes can mend, so that the partial
 * records it leaves are dropped, not resumed (docs/CONTENT.md §6 step 4): a manifest that contradicts itself,
 * or directories nested over DIR_DEPTH_MAX (the CIDs fix the nesting). NB: the other ObjectTooLargeErrors are
 * limits of a local call, not properties of the content: `get` of more than 64 MiB into memory (`open`
 * streams the same object), and adding a file over FILE_CHUNKS_MAX or a manifest over MANIFEST_BYTES_MAX.
 * Were one ever to end a fetch, its records would stay, as for the transient ends (no providers, stall,
 * quota, full disk, the node stopping).
 */
export function endsFetchForGood (err: unknown): boolean {
  return errorName(err) === 'MalformedContentError' || err instanceof NestingTooDeepError
}

/**
 * Whether the store refused the object: its quota (QuotaExceededError) or its index's object limit
 * (StoreIndexFullError). The partial records such a fetch leaves are dropped too (docs/CONTENT.md §6 step 9):
 * gc keeps everything a partial record reaches and every start resumes it, so an object the store cannot take
 * held it full for good, with no way to abandon it. What was verified stays on disk until the next gc, so a
 * retry before it (with room made) skips those chunks.
 */
export function storeRefused (err: unknown): boolean {
  const name = errorName(err)
  return name === 'QuotaExceededError' || name === 'StoreIndexFullError'
}

export class Fetch {
  readonly progress: FetchProgress
  private readonly wake = new Wakeup()
  private fatal: Error | undefined
  /**
   * The stop of each running worker (its `stopped`) or open manifest request, by peer. A fetch asks for one
   * manifest, or fetches one file, at a time (and waits for the requests of one to end before the next), so
   * this holds the stops of one step at a time, at most one per peer.
   */
  private readonly peerStops = new Map<string, AbortController>()
  /** Heights of the trees found complete already below the root (`treeHeight`): one entry per directory. */
  private readonly heights = new Map<string, number>()
  /** The root's size as its manifest declares it (a directory's is its entries' claims), once known. */
  private declaredBytes = 0
  /** The sizes of the files below the root met so far (a file's manifest binds its size: the chunks follow it). */
  private filesBytes = 0
  /** The root's kind, once its manifest (or its record, held complete) is known. */
  private rootType: 'file' | 'dir' | undefined
  /** Told each time the bytes the fetch is known to deliver grow (`watchSize`). */
  private readonly sizeWatchers = new Set<SizeWatcher>()

  constructor (readonly root: CID, private readonly deps: FetchDeps, private readonly options: FetchOptions = {}) {
    this.progress = { cid: root.toString(), state: 'queued', bytesDone: 0, bytesTotal: 0, chunksDone: 0, chunksTotal: 0, providers: [], droppedProviders: [], chunksByProvider: {}, busyAnswers: 0 }
  }

  /** Ends the fetch (the node is stopping); what was verified stays on disk for the resume. */
  abort (reason: Error): void {
    this.fatal ??= reason
    this.wake.notify()
  }

  /**
   * `peer` is no provider any more (judged dead, gone, or out of the configuration; the provider table has
   * forgotten it): its worker ends at once, its outstanding requests cancelled (stream reset) and its chunks
   * given back to the other providers; a manifest request open to it ends at once too, so the next provider
   * is asked without waiting for the hedge delay. Being forgotten is no fault: its score is untouched. It is
   * asked again only once the table lists it again (its next `have`). Returns whether a worker or manifest
   * request of it was running.
   */
  forgetPeer (peer: string): boolean {
    const stop = this.peerStops.get(peer)
    if (stop === undefined || stop.signal.aborted) return false
    stop.abort(new Error(`provider ${peer} forgotten`))
    this.wake.notify()
    return true
  }

  /**
   * The bytes the fetch is known to deliver: the root's declared size, or the files met below it if more.
   * Known from the first manifest on, before any chunk is asked for.
   */
  get bytesKnown (): number {
    return Math.max(this.declaredBytes, this.filesBytes)
  }

  /**
   * Calls `listener` with `bytesKnown` and the root's kind whenever the size grows (at once if the root is known
   * already), synchronously, before the fetch records or pins the object it learnt the size of, or asks for
   * anything below a directory root: a listener that `abort`s ends the fetch there. Returns the function that
   * stops the calls.
   */
  watchSize (listener: SizeWatcher): () => void {
    this.sizeWatchers.add(listener)
    if (this.rootType !== undefined) listener(this.bytesKnown, this.rootType)
    return () => { this.sizeWatchers.delete(listener) }
  }

  /**
   * Counts an object's size in `bytesKnown` (the root's kind with the root's: `rootType`), tells the watchers,
   * and ends the fetch if one aborted it.
   */
  private learnSize (declared: number, files: number, rootType?: 'file' | 'dir'): void {
    this.rootType ??= rootType
    assert(this.rootType !== undefined, 'the root is learnt first')
    this.declaredBytes = Math.max(this.declaredBytes, declared)
    this.filesBytes = Math.min(Number.MAX_SAFE_INTEGER, this.filesBytes + files)
    for (const listener of [...this.sizeWatchers]) listener(this.bytesKnown, this.rootType)
    if (this.fatal !== undefined) throw this.fatal
  }

  private pinned (): PinRequest {
    const pin = this.options.pin
    return typeof pin === 'function' ? pin() : pin ?? false
  }

  /** A provider announced something: re-check providers now instead of at the next poll. */
  poke (): void {
    this.wake.notify()
  }

  /** Fetches the object (and, for a directory, everything below it). @throws NoProvidersError, FetchFailedError, … */
  async run (): Promise<ObjectRecord> {
    const end = this.deps.store.beginWrite()
    try {
      // Aborted while queued (every caller left): nothing is asked of anyone.
      if (this.fatal !== undefined) throw this.fatal
      const record = await this.fetchObject(this.root, 0)
      this.progress.state = 'done'
      return record
    } catch (err) {
      this.progress.state = 'failed'
      this.progress.error = { name: errorName(err), message: (err as Error).message }
      throw err
    } finally {
      end()
    }
  }

  private async fetchObject (root: CID, depth: number): Promise<ObjectRecord> {
    const { store } = this.deps
    const existing = store.record(root)
    try {
      // The manifest a check of a complete record read (null: gone), for the fetch to carry on from.
      let read: Manifest | null | undefined
      if (existing?.complete === true) {
        const checked = store.heldTrees.has(root) || existing.type === 'file'
          ? await this.checkHeld(root, existing, depth)
          : await this.walkHeldDir(root, existing, depth)
        if ('record' in checked) return checked.record
        read = checked.manifest
      }
      if (depth > DIR_DEPTH_MAX) throw new NestingTooDeepError(`directory nesting over ${DIR_DEPTH_MAX}`)
      return await this.fetchMissing(root, depth, read)
    } catch (err) {
      // Each enclosing directory's level drops its own record too, as the error passes up: a directory that
      // links to an object no bytes can complete cannot be completed either.
      if (this.dropsRecord(err, depth, existing !== undefined)) await this.dropUnfetchable(root, err as Error)
      throw err
    }
  }

  /**
   * A complete file, or a tree known held in full (`ContentStore.heldTrees`): its record when every block is
   * held, else the manifest read on the way, and it is fetched again like a partial object, those blocks only.
   */
  private async checkHeld (root: CID, existing: ObjectRecord, depth: number): Promise<{ record: ObjectRecord } | { manifest: Manifest | null | undefined }> {
    const { store } = this.deps
    // NB: an object complete already is not fetched level by level, yet its tree nests below this root too.
    // Unchecked, a tree too deep completed once its subdirectories had been completed on their own.
    const height = await treeHeight(store, root, DIR_DEPTH_MAX - depth, this.heights)
    if (height === 'over') throw new NestingTooDeepError(`directory nesting over ${DIR_DEPTH_MAX} (${root.toString()}, held already, at level ${depth})`)
    // 'missing': a manifest below was deleted (it failed its check on read), so the record is wrong: fetched
    // again like a partial object. So is a file one of whose chunks was (`heldInFull`).
    if (height === 'missing') return { manifest: undefined }
    // A file's manifest is read once here, and handed on if a chunk is missing.
    const manifest = existing.type === 'file' && !store.heldTrees.has(root) ? await store.manifest(root) : undefined
    if (!await store.heldInFull(root, manifest)) return { manifest }
    this.learnSize(depth === 0 ? existing.size : 0, existing.size, depth === 0 ? existing.type : undefined)
    return { record: await this.tookHeld(root, existing) }
  }

  /**
   * A directory recorded complete but not known held in full (the store forgot a block since, or restarted):
   * walked down to its files' chunks, each manifest read once, and what is missing below it fetched (a chunk
   * lost inside one of its files was never fetched again: the directory's manifest was taken as enough). Its
   * record when all is held; the manifest read otherwise (not a directory's, or gone).
   */
  private async walkHeldDir (root: CID, existing: ObjectRecord, depth: number): Promise<{ record: ObjectRecord } | { manifest: Manifest | null }> {
    const { store } = this.deps
    const epoch = store.heldTrees.epoch
    const manifest = await store.manifest(root)
    if (manifest?.type !== 'dir') return { manifest }
    if (depth > DIR_DEPTH_MAX) throw new NestingTooDeepError(`directory nesting over ${DIR_DEPTH_MAX} (${root.toString()}, held already, at level ${depth})`)
    // Its size before anything below it: a caller's limit ends the fetch here.
    if (depth === 0) this.learnSize(existing.size, 0, 'dir')
    try {
      for (const entry of manifest.entries) await this.fetchObject(entry.cid, depth + 1)
    } catch (err) {
      // Not held in full after all: partial, so that it is not announced complete and a start resumes it (as a
      // manifest found gone below it always did), unless no bytes can mend what is below (`endsFetchForGood`).
      const now = store.record(root)
      if (now?.complete === true && !endsFetchForGood(err)) await store.setRecord(root, { ...now, complete: false }).catch(() => {})
      throw err
    }
    store.heldTrees.add(root, epoch)
    return { record: await this.tookHeld(root, existing) }
  }

  /** An object found held in full: pinned as the callers ask, else its use recorded. */
  private async tookHeld (root: CID, existing: ObjectRecord): Promise<ObjectRecord> {
    const { store } = this.deps
    const pin = this.pinned()
    // As it is now (the checks awaited): only its pin is this fetch's to change.
    const current = store.record(root) ?? existing
    if (pinChanges(current, pin)) return await store.setRecord(root, { type: current.type, size: current.size, ...pinFields(current, pin) })
    await store.touch(root)
    return current
  }

  /** Whether the level at `depth` drops its object's partial record as `err` passes up (`endsFetchForGood`). */
  private dropsRecord (err: unknown, depth: number, existed: boolean): boolean {
    // NB: like nesting, a refusal is this fetch's: a record another fetch made below its root ends with that
    // fetch's own error.
    if (storeRefused(err)) return depth === 0 || !existed
    if (!endsFetchForGood(err)) return false
    // NB: nesting is too deep only below this fetch's root. A directory further down whose record was there
    // before this fetch reached it (another fetch's) is within the limit on its own, and keeps its record.
    if (err instanceof NestingTooDeepError) return depth === 0 || !existed
    return true
  }

  /** The part of `fetchObject` for an object not held completely: manifest, partial record, chunks or entries. */
  private async fetchMissing (root: CID, depth: number, read?: Manifest | null): Promise<ObjectRecord> {
    const { store } = this.deps
    const epoch = store.heldTrees.epoch
    const manifest = (read === undefined ? await store.manifest(root) : read) ?? await fetchManifest(this.manifestContext(), root)
    const size = manifest.type === 'file' ? manifest.size : dirSize(manifest.entries)
    // The size is known now, before any record, pin or chunk request: a caller whose limit it passes leaves,
    // and a fetch no caller waits for any more ends here (ContentService.fetch, `maxBytes`).
    this.learnSize(depth === 0 ? size : 0, manifest.type === 'file' ? size : 0, depth === 0 ? manifest.type : undefined)
    const pin = this.pinned()
    await store.setRecord(root, { type: manifest.type, size, complete: false, ...(pin !== false ? pinFields(store.record(root), pin) : {}) })
    if (manifest.type === 'file') {
      await this.deps.announcer.have([{ cid: root, size, partial: true }])
      await this.fetchChunks(root, manifest)
    } else {
      for (const entry of manifest.entries) await this.fetchObject(entry.cid, depth + 1)
    }
    const record = await store.setRecord(root, { type: manifest.type, size, complete: true, lastUsedMs: this.deps.nowMs() })
    // Every block below it is held now, unless the store forgot one meanwhile (then the epoch moved).
    store.heldTrees.add(root, epoch)
    await this.deps.announcer.have([{ cid: root, size, partial: false }])
    this.deps.log.info({ cid: root.toString(), size, type: manifest.type }, 'content fetched and verified')
    return record
  }

  /**
   * Drops the partial record of an object whose fetch ended for good (`endsFetchForGood`): its manifest
   * contradicts itself, or its directories nest too deep, so no bytes can complete it, and a record kept would
   * be fetched again, and fail again, at every start until gc. A pinned record is dropped too: a pin keeps an
   * object, and this one cannot exist; kept, it would hold the blocks of a manifest that can never complete
   * and be retried at every start. Whoever fetched or pinned it gets the error and the warning, and a later
   * fetch of the CID starts from scratch (and fails the same way). Its blocks go at the next gc unless
   * another object reaches them. So is one the store refused (`storeRefused`), for another reason: it could
   * wedge the store, and the next fetch reuses what is on disk until gc.
   */
  private async dropUnfetchable (root: CID, err: Error): Promise<void> {
    const record = this.deps.store.record(root)
    if (record === undefined || record.complete) return
    // The record is gone from memory even if the index write fails; the next write of the index persists it.
    const indexError = await this.deps.store.dropRecord(root).then(() => undefined, (writeErr: unknown) => errorMessage(writeErr))
    const fields = { cid: root.toString(), pinned: record.pinned, error: err.name, reason: err.message, ...(indexError !== undefined ? { indexError } : {}) }
    if (storeRefused(err)) {
      this.deps.log.warn(fields, 'fetch ended as the store refused the object (its quota or object limit); its partial record is dropped, not resumed, and gc frees what it stored: make room, then fetch it again')
      return
    }
    this.deps.log.warn(fields,
      'fetch ended as an error no bytes can mend (a manifest that contradicts itself, or directories nested too deep); its partial record is dropped, not resumed')
  }

  private manifestContext (): ManifestFetchContext {
    return {
      deps: this.deps, progress: this.progress, wake: this.wake, fatal: () => this.fatal, stops: this.peerStops,
      providersOf: (root) => this.providersOf(root), providerLied: (peer, what) => { this.providerLied(peer, what) }
    }
  }

  /** Live providers of `root` worth asking, best first. */
  private providersOf (root: CID): Array<{ peer: string, partial: boolean }> {
    const nowMs = this.deps.nowMs()
    const entries = this.deps.table.providers(root.toString(), nowMs).filter((e) => e.peer !== this.deps.nodeId)
    const ranked = this.deps.scores.rank(entries.map((e) => e.peer), nowMs)
    return ranked.map((peer) => ({ peer, partial: entries.find((e) => e.peer === peer)?.partial === true }))
  }

  private providerLied (peer: string, what: string): void {
    const score = this.deps.scores.record(peer, 'bad-chunk', this.deps.nowMs())
    if (!this.progress.droppedProviders.includes(peer)) this.progress.droppedProviders.push(peer)
    this.deps.log.warn({ peer, cid: this.root.toString(), what, score }, 'provider sent bytes that do not match their digest; dropped and scored down')
  }

  private async fetchChunks (root: CID, manifest: FileManifest): Promise<void> {
    const { store } = this.deps
    // A block held already (for another file) counts as present only at the manifest's length: else its
    // digest and the manifest disagree, and no provider can give bytes that satisfy both.
    const byDigest = new Map<string, number[]>()
    for (const [index, digest] of manifest.chunks.entries()) {
      const bytes = store.blockBytes(digest)
      if (bytes !== undefined && bytes !== chunkLength(manifest, index)) throw inconsistentChunk(root, manifest, index, bytes)
      const key = store.blockKey(digest)
      const same = byDigest.get(key)
      if (same === undefined) byDigest.set(key, [index])
      else same.push(index)
    }
    const repeats = new Map<number, number[]>()
    for (const same of byDigest.values()) if (same.length > 1) for (const index of same) repeats.set(index, same)
    const scheduler = new ChunkScheduler({
      chunkCount: manifest.chunks.length,
      present: (i) => store.hasDigest(manifest.chunks[i] as Uint8Array),
      // One more than the requests outstanding: the chunk being written (see `pump`).
      windowPerProvider: REQUESTS_IN_FLIGHT_PER_PROVIDER + 1,
      inFlightMax: CHUNKS_IN_FLIGHT_PER_FETCH_MAX,
      endgameDuplicates: ENDGAME_DUPLICATES_MAX,
      startIndex: this.deps.startIndex(manifest.chunks.length)
    })
    this.progress.state = 'chunks'
    this.progress.chunksTotal = manifest.chunks.length
    this.progress.bytesTotal = manifest.size
    this.progress.chunksDone = scheduler.chunksDone
    this.progress.bytesDone = Math.min(manifest.size, scheduler.chunksDone * manifest.chunkBytes)
    const workers = new Map<string, Promise<void>>()
    const backoff = new Map<string, { failures: number, retryAtMs: number }>()
    const waitMs = this.deps.stallMs ?? FETCH_STALL_MS
    let progressAtMs = this.deps.nowMs()
    let chunksSeen = scheduler.chunksDone
    try {
      while (!scheduler.done) {
        if (this.fatal !== undefined) break
        const nowMs = this.deps.nowMs()
        for (const { peer, partial } of this.providersOf(root)) {
          if (workers.size >= PROVIDERS_PER_FETCH_MAX) break
          if (workers.has(peer) || (backoff.get(peer)?.retryAtMs ?? 0) > nowMs) continue
          scheduler.readmit(peer)
          scheduler.setProvider(peer, partial ? () => false : null)
          const stop = new AbortController()
          this.peerStops.set(peer, stop)
          workers.set(peer, this.worker({ peer, partial, root, manifest, scheduler, backoff, repeats, stopped: stop.signal }).finally(() => {
            workers.delete(peer)
            this.peerStops.delete(peer)
            this.wake.notify()
          }))
        }
        this.progress.providers = [...workers.keys()]
        if (scheduler.chunksDone > chunksSeen) {
          chunksSeen = scheduler.chunksDone
          progressAtMs = nowMs
        }
        // Failing providers are retried with backoff; the fetch gives up only when nothing arrives for the
        // whole wait (verified chunks stay on disk, so fetching again resumes).
        if (nowMs - progressAtMs > waitMs) {
          throw new FetchFailedError(`no chunk of ${root.toString()} arrived for ${waitMs} ms (${scheduler.chunksDone}/${manifest.chunks.length} chunks held; providers ${workers.size} active, ${this.progress.busyAnswers} busy answers, dropped for lying: ${this.progress.droppedProviders.join(', ') || 'none'}); fetch again to resume`)
        }
        if (workers.size === 0) await this.deps.announcer.want(root)
        await this.wake.wait(WANT_REPEAT_MS)
      }
    } finally {
      // A worker still waiting for answers nobody needs any more (a slow provider whose chunks the endgame
      // took elsewhere) stops at once instead of holding the fetch until it answers or its request times out.
      this.wake.notify()
      for (const stop of this.peerStops.values()) stop.abort(new Error('fetch ended'))
      await Promise.allSettled([...workers.values()])
    }
    if (this.fatal !== undefined) throw this.fatal
  }

  private async worker (job: WorkerJob): Promise<void> {
    const { peer, scheduler, backoff, stopped } = job
    let stream: Stream | undefined
    // When the fetch ends, or the peer is forgotten, the stream is reset: a read waiting for answers nobody
    // needs any more fails at once.
    const cancel = (): void => { stream?.abort(new Error('answers still outstanding are not needed (fetch ended, or provider forgotten)')) }
    stopped.addEventListener('abort', cancel, { once: true })
    try {
      // `deadline`, not `AbortSignal.any`: Node 20 may collect that composite, which then never times out (util/deadline.ts).
      const dial = deadline(DIAL_TIMEOUT_MS, stopped)
      stream = await this.deps.net.dialProtocol(peerIdFromString(peer), CONTENT_PROTOCOL, { signal: dial.signal }).finally(dial.clear)
      const outcome = await this.pump(stream, job)
      if (outcome === 'lied') {
        // A liar stays out of this fetch for good (and out of later ones while its score is below the ban).
        scheduler.dropProvider(peer)
        backoff.set(peer, { failures: Number.MAX_SAFE_INTEGER, retryAtMs: Number.POSITIVE_INFINITY })
        stream.abort(new Error('provider sent a bad chunk'))
        return
      }
      backoff.delete(peer)
      if (outcome === 'abandoned') cancel()
      else await stream.close().catch(() => {})
    } catch (err) {
      stream?.abort(err instanceof Error ? err : new Error('content stream failed'))
      scheduler.dropProvider(peer)
      if (err instanceof Error && FATAL_ERRORS.has(err.name)) {
        this.fatal = err
        return
      }
      // The fetch ended, or the provider was forgotten, while it still owed answers (or a dial): not its fault.
      if (stopped.aborted) return
      if (err instanceof ProviderBusyError) {
        // At its upload limit: not the provider's fault. The others carry on; this one is asked again later.
        backoff.set(peer, { failures: backoff.get(peer)?.failures ?? 0, retryAtMs: this.deps.nowMs() + Math.max(RETRY_BACKOFF_MIN_MS, err.retryAfterMs) })
        this.progress.busyAnswers++
        this.deps.log.debug({ peer, retryInMs: err.retryAfterMs }, 'content provider busy; asking it again later')
        return
      }
      const failures = (backoff.get(peer)?.failures ?? 0) + 1
      const delayMs = Math.min(RETRY_BACKOFF_MAX_MS, RETRY_BACKOFF_MIN_MS * 2 ** (failures - 1))
      backoff.set(peer, { failures, retryAtMs: this.deps.nowMs() + delayMs })
      this.deps.scores.record(peer, 'failure', this.deps.nowMs())
      this.deps.log.debug({ peer, err: errorMessage(err), failures, retryInMs: delayMs }, 'content provider failed; retrying later')
    } finally {
      stopped.removeEventListener('abort', cancel)
    }
  }

  /**
   * Pipelines requests on one stream until the file is done: 'done', or 'abandoned' when answers were still
   * outstanding (their chunks came from elsewhere); 'lied' when the provider sent a bad chunk.
   *
   * The chunk just received is verified and written while the next answers arrive: the scheduler's window
   * per provider is one more than the requests kept outstanding (REQUESTS_IN_FLIGHT_PER_PROVIDER), the extra
   * slot being the chunk on its way to disk, so a provider always has that many requests to answer instead of
   * idling during every write. A chunk counts as done only once it is on disk (`storeChunk`).
   */
  private async pump (stream: Stream, job: WorkerJob): Promise<'done' | 'abandoned' | 'lied'> {
    const { peer, partial, root, manifest, scheduler } = job
    const lp = lpStream(stream, { maxDataLength: FRAME_BYTES_MAX, maxBufferSize: (REQUESTS_IN_FLIGHT_PER_PROVIDER + 2) * FRAME_BYTES_MAX })
    const pending: Array<number | 'map'> = []
    let writing: Promise<'stored' | 'lied'> | undefined
    let mapAtMs = Number.NEGATIVE_INFINITY
    try {
      while (!scheduler.done && this.fatal === undefined) {
        // Stopped (forgotten, or a dial that won the race with the fetch's end): the worker's catch gives its
        // chunks back. Checked here too, as a worker with nothing to ask would otherwise wait until the end.
        job.stopped.throwIfAborted()
        const frames: Uint8Array[] = []
        const nowMs = this.deps.nowMs()
        if (partial && !pending.includes('map') && scheduler.inFlightOf(peer) === 0 && nowMs - mapAtMs >= BITMAP_REFRESH_MS) {
          frames.push(encodeRequest({ type: 'map', cid: root }))
          pending.push('map')
          mapAtMs = nowMs
        }
        let index: number | undefined
        while (pending.length < REQUESTS_IN_FLIGHT_PER_PROVIDER && (index = scheduler.next(peer)) !== undefined) {
          frames.push(encodeRequest({ type: 'get', cid: chunkCid(manifest.chunks[index] as Uint8Array) }))
          pending.push(index)
        }
        if (frames.length > 0) await lp.writeV(frames)
        if (pending.length === 0) {
          if (writing !== undefined) {
            if (await writing === 'lied') return 'lied'
            writing = undefined
          } else await this.wake.wait(BITMAP_REFRESH_MS)
          continue
        }
        const response = decodeResponse((await lp.read({ signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) })).subarray())
        if (response.type === 'busy') throw new ProviderBusyError(response.retryAfterMs)
        const request = pending.shift() as number | 'map'
        if (request === 'map') {
          if (!response.cid.equals(root) || response.type === 'block') throw new FetchFailedError('answer to a map request names another CID')
          const bitmap = response.type === 'map' ? response.bitmap : new Uint8Array(0)
          scheduler.setProvider(peer, (i) => bitmapHas(bitmap, i))
          continue
        }
        const cid = chunkCid(manifest.chunks[request] as Uint8Array)
        if (!response.cid.equals(cid) || response.type === 'map') throw new FetchFailedError('answer names another CID than the request')
        if (response.type === 'none') {
          scheduler.onMissing(peer, request)
          // It announced the whole object (`p: false`): a 'none' breaks that claim. Scored as a failure, which
          // lowers its rank but never bans (§6 step 6); only bad bytes are a lie. A partial provider's 'none'
          // is no fault: its bitmap may simply be older than the answer.
          if (!partial) this.deps.scores.record(peer, 'failure', this.deps.nowMs())
          continue
        }
        if (response.data.length !== chunkLength(manifest, request)) {
          // The digest first: bytes that match it are what the digest names, and it is the manifest that
          // disagrees, which no provider can mend. That ends the fetch, with no fault of the provider's.
          if (equalBytes(blake3(response.data), manifest.chunks[request] as Uint8Array)) {
            this.fatal ??= inconsistentChunk(root, manifest, request, response.data.length)
            this.wake.notify()
            return 'abandoned'
          }
          this.providerLied(peer, `chunk ${request} of ${response.data.length} bytes, expected ${chunkLength(manifest, request)}`)
          return 'lied'
        }
        // One write at a time per provider: the previous chunk's must be done (and honest) first.
        if (writing !== undefined && await writing === 'lied') return 'lied'
        writing = this.storeChunk(job, request, cid, response.data)
        // Its failure surfaces at the next await of it; until then it must not count as unhandled.
        writing.catch(() => {})
      }
      if (writing !== undefined && await writing === 'lied') return 'lied'
      writing = undefined
      return pending.length > 0 ? 'abandoned' : 'done'
    } finally {
      // A read or write that failed leaves the last write running: it must settle before the worker ends.
      await writing?.catch(() => {})
    }
  }

  /** Verifies and writes one chunk, then counts it done: 'lied' when its bytes do not match its digest. */
  private async storeChunk (job: WorkerJob, request: number, cid: CID, data: Uint8Array): Promise<'stored' | 'lied'> {
    const { peer, root, manifest, scheduler } = job
    try {
      await this.deps.store.putBlock(cid, data)
    } catch (err) {
      if (err instanceof ChunkVerificationError) {
        this.providerLied(peer, `chunk ${request}`)
        return 'lied'
      }
      if (err instanceof Error && FATAL_ERRORS.has(err.name)) {
        // A full store ends the fetch now: the chunk loop wakes and stops every worker. Left to this worker's
        // next await of the write, it waited for its provider's next answer, which one that froze never sends.
        this.fatal ??= err
        this.wake.notify()
      }
      throw err
    }
    if (scheduler.onChunk(peer, request)) {
      this.deps.scores.record(peer, 'good-chunk', this.deps.nowMs())
      this.progress.chunksDone = scheduler.chunksDone
      this.progress.chunksByProvider[peer] = (this.progress.chunksByProvider[peer] ?? 0) + 1
      this.progress.bytesDone = Math.min(manifest.size, this.progress.bytesDone + data.length)
    }
    // The block stands for every chunk the manifest names by its digest (a file of zeros names one block for
    // all of them): those are held now too, and asked of nobody. Not counted for the provider, which sent one.
    for (const twin of job.repeats.get(request) ?? []) {
      if (chunkLength(manifest, twin) !== data.length) {
        // No bytes are both: the manifest contradicts itself, as for a held block of another length.
        this.fatal ??= inconsistentChunk(root, manifest, twin, data.length)
        break
      }
      if (!scheduler.onChunk(peer, twin)) continue
      this.progress.chunksDone = scheduler.chunksDone
      this.progress.bytesDone = Math.min(manifest.size, this.progress.bytesDone + data.length)
    }
    this.wake.notify()
    return 'stored'
  }
}
