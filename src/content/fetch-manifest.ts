/**
 * @module content/fetch-manifest
 * The first step of a fetch (docs/CONTENT.md §6 step 2): the root's manifest from the swarm, its bytes checked
 * against the root CID before they are stored. Hedged, so that a slow provider cannot hold up the start of a
 * fetch for its whole request timeout; a provider forgotten meanwhile (`Fetch.forgetPeer`) has its request
 * cancelled at once.
 */
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { CID } from 'multiformats/cid'
import {
  CONTENT_PROTOCOL, DIAL_TIMEOUT_MS, FRAME_BYTES_MAX, MANIFEST_HEDGE_MS, MANIFEST_REQUESTS_IN_FLIGHT_MAX, PROVIDER_WAIT_MS, REQUEST_TIMEOUT_MS,
  WANT_REPEAT_MS, ChunkVerificationError, FetchFailedError, NoProvidersError, ProviderBusyError, decodeManifest, decodeResponse, encodeRequest
} from './core/index.js'
import type { Manifest } from './core/index.js'
import type { FetchDeps, FetchProgress } from './fetch.js'
import type { Wakeup } from './wakeup.js'
import { errorMessage } from './errors-io.js'
import { deadline } from '../util/deadline.js'

/** What the manifest step uses of its Fetch. */
export interface ManifestFetchContext {
  deps: FetchDeps
  progress: FetchProgress
  wake: Wakeup
  /** The error that ends the whole fetch (the node is stopping), if any. */
  fatal: () => Error | undefined
  /** The stop of each open request, by peer: `Fetch.forgetPeer` aborts a forgotten provider's. */
  stops: Map<string, AbortController>
  providersOf: (root: CID) => Array<{ peer: string }>
  providerLied: (peer: string, what: string) => void
}

/** The manifest requests of one fetch: who is being asked, who answered, and the first outcome. */
interface ManifestAsk {
  root: CID
  open: Map<string, Promise<void>>
  /** Providers that answered (or failed): not asked again in this fetch. */
  answered: Set<string>
  /** Providers that answered `busy`, and when to ask them again. */
  busyUntilMs: Map<string, number>
  outcome?: { manifest: Manifest } | { error: Error }
}

/**
 * The root's manifest from the first provider whose bytes hash to the CID. One provider is asked at a time,
 * but one that has not answered within MANIFEST_HEDGE_MS gets company: the next is asked too (at most
 * MANIFEST_REQUESTS_IN_FLIGHT_MAX at once), so a slow or stuck provider delays the manifest by the hedge
 * delay, not by its 30 s request timeout. Requests still open when one succeeds are cancelled, at no cost
 * to their providers.
 */
export async function fetchManifest (ctx: ManifestFetchContext, root: CID): Promise<Manifest> {
  ctx.progress.state = 'waiting-for-providers'
  const waitMs = ctx.deps.providerWaitMs ?? PROVIDER_WAIT_MS
  const deadline = ctx.deps.nowMs() + waitMs
  const ask: ManifestAsk = { root, open: new Map(), answered: new Set(), busyUntilMs: new Map() }
  let askedAtMs = Number.NEGATIVE_INFINITY
  try {
    while (ctx.fatal() === undefined && ask.outcome === undefined) {
      const nowMs = ctx.deps.nowMs()
      const fresh = ctx.providersOf(root).find(({ peer }) => !ask.open.has(peer) && !ask.answered.has(peer) && (ask.busyUntilMs.get(peer) ?? 0) <= nowMs)
      const hedgeAtMs = askedAtMs + MANIFEST_HEDGE_MS
      if (fresh !== undefined && (ask.open.size === 0 || (nowMs >= hedgeAtMs && ask.open.size < MANIFEST_REQUESTS_IN_FLIGHT_MAX))) {
        askedAtMs = nowMs
        ctx.progress.state = 'manifest'
        askManifest(ctx, fresh.peer, ask)
        continue
      }
      if (ask.open.size > 0) {
        await ctx.wake.wait(fresh !== undefined ? Math.max(1, hedgeAtMs - nowMs) : WANT_REPEAT_MS)
        continue
      }
      if (nowMs > deadline) {
        const busy = ask.busyUntilMs.size
        if (busy > 0) throw new FetchFailedError(`${busy} providers of ${root.toString()} stayed busy (at their upload limits) for ${waitMs} ms; fetch again later`)
        throw ask.answered.size === 0
          ? new NoProvidersError(`no member announced ${root.toString()} within ${waitMs} ms`)
          : new FetchFailedError(`none of ${ask.answered.size} providers of ${root.toString()} served its manifest`)
      }
      ctx.progress.state = 'waiting-for-providers'
      await ctx.deps.announcer.want(root)
      await ctx.wake.wait(WANT_REPEAT_MS)
    }
  } finally {
    for (const peer of ask.open.keys()) ctx.stops.get(peer)?.abort(new Error('manifest request no longer needed'))
    await Promise.allSettled([...ask.open.values()])
  }
  if (ask.outcome === undefined) throw ctx.fatal() as Error
  if ('error' in ask.outcome) throw ask.outcome.error
  return ask.outcome.manifest
}

/** Asks `peer` for the manifest in the background; the outcome lands in `ask`, and wakes fetchManifest. */
function askManifest (ctx: ManifestFetchContext, peer: string, ask: ManifestAsk): void {
  // Aborted when the manifest phase ends, or when the peer is forgotten: its request ends at once, at no cost
  // to it, and (forgotten) it is not asked again until the table lists it again.
  const stop = new AbortController()
  ctx.stops.set(peer, stop)
  const attempt = (async () => {
    let bytes: Uint8Array | null
    try {
      bytes = await requestOnce(ctx, peer, ask.root, stop.signal)
    } catch (err) {
      if (stop.signal.aborted) return
      ctx.deps.log.debug({ peer, err: errorMessage(err) }, 'manifest request failed')
      // A busy provider is asked again a little later, and not scored down.
      if (err instanceof ProviderBusyError) {
        ask.busyUntilMs.set(peer, ctx.deps.nowMs() + WANT_REPEAT_MS)
        ctx.progress.busyAnswers++
        return
      }
      ask.answered.add(peer)
      ctx.deps.scores.record(peer, 'failure', ctx.deps.nowMs())
      return
    }
    ask.answered.add(peer)
    ask.busyUntilMs.delete(peer)
    if (bytes === null || ask.outcome !== undefined) return
    try {
      await ctx.deps.store.putBlock(ask.root, bytes)
      // The bytes are the ones the CID names: a manifest that does not decode is the content's fault.
      ask.outcome ??= { manifest: decodeManifest(bytes) }
    } catch (err) {
      if (err instanceof ChunkVerificationError) ctx.providerLied(peer, 'manifest')
      else ask.outcome ??= { error: err as Error } // quota, full disk, malformed content: ends the fetch
    }
  })().finally(() => {
    ctx.stops.delete(peer)
    ask.open.delete(peer)
    ctx.wake.notify()
  })
  ask.open.set(peer, attempt)
}

/** One request on a fresh stream: the block `cid`'s bytes, or null if the provider lacks it. */
async function requestOnce (ctx: ManifestFetchContext, peer: string, cid: CID, cancel: AbortSignal): Promise<Uint8Array | null> {
  // `deadline`, not `AbortSignal.any`: Node 20 may collect that composite, which then never times out (util/deadline.ts).
  const dial = deadline(DIAL_TIMEOUT_MS, cancel)
  const stream = await ctx.deps.net.dialProtocol(peerIdFromString(peer), CONTENT_PROTOCOL, { signal: dial.signal }).finally(dial.clear)
  const answer = deadline(REQUEST_TIMEOUT_MS, cancel)
  try {
    const lp = lpStream(stream, { maxDataLength: FRAME_BYTES_MAX, maxBufferSize: 2 * FRAME_BYTES_MAX })
    await lp.write(encodeRequest({ type: 'get', cid }))
    const response = decodeResponse((await lp.read({ signal: answer.signal })).subarray())
    if (response.type === 'busy') throw new ProviderBusyError(response.retryAfterMs)
    if (!response.cid.equals(cid)) throw new FetchFailedError('answer names another CID')
    return response.type === 'block' ? response.data : null
  } finally {
    answer.clear()
    if (cancel.aborted) stream.abort(new Error('request cancelled'))
    else await stream.close().catch(() => { stream.abort(new Error('close failed')) })
  }
}
