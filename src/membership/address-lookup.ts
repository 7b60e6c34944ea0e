/**
 * @module membership/address-lookup
 * Closes the address window (docs/MEMBERSHIP.md, "Where a node learns other members' addresses"): when this
 * node's applied Raft configuration names a member it may have to dial (core/address-lookup.ts
 * `membersToReach`) and neither a connection nor its peer store gives an address for it, it asks a connected
 * member — the leader first, which connected to everyone it admitted — over `/revoada/addresses/1.0.0` and
 * puts the answer in its peer store. Raft and content dial by PeerId through the peer store, so that is all
 * a new leader needs to reach a learner admitted just before the old leader died, and two new voters to reach
 * each other.
 *
 * One request frame (canonical CBOR `{ ids }`), one answer frame (`{ peers: [{ id, addresses }] }`), each
 * length-prefixed; then the stream closes. The answer is checked against what was asked (core): nothing a peer
 * sends is trusted beyond being a dial hint, and a dial proves the PeerId (noise). Any connected peer is
 * answered — it holds the cluster key, and every member's heartbeat publishes the same addresses to the whole
 * cluster anyway. A build without the protocol refuses the stream; heartbeats then remain the only source, as
 * before, so mixed versions need no protocol level.
 */
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import { decodeCanonical, encodeCanonical } from '../codec/index.js'
import type { NodeService, ServiceContext } from '../node/service.js'
import { parseAddresses } from './addresses.js'
import { intervalTicker, type StopDuty } from '../util/ticker.js'
import { steadyNowMs } from '../util/clock.js'
import type { RaftMembers } from './core/tier.js'
import { MAX_ADDRESSES } from './core/constants.js'
import { LOOKUP_FRAME_BYTES_MAX, LOOKUP_IDS_MAX, LOOKUP_REQUEST_BYTES_MAX, LOOKUP_STRING_CHARS_MAX, lookupAnswerers, membersToReach, nextLookupRetryMs, parseLookupAnswer, parseLookupRequest } from './core/address-lookup.js'
import type { LookupAnswer, LookupEntry, LookupRequest } from './core/address-lookup.js'

export const ADDRESS_LOOKUP_PROTOCOL = '/revoada/addresses/1.0.0'
/** How often the configuration is compared with the last one looked at (a whole multiple of the node's tick). */
const CHECK_EVERY_MS = 200
/** A lookup that takes longer than this (dial excluded: answerers are connected) is given up. */
const LOOKUP_TIMEOUT_MS = 5000
/** Answerers asked in one pass before the rest waits for the retry. */
const ANSWERERS_PER_PASS = 3

/** A peer's request or answer that breaks the protocol (not canonical CBOR, over the limits, unasked ids). */
export class AddressLookupError extends Error {
  static override readonly name = 'AddressLookupError'
  constructor (message: string) {
    super(message)
    this.name = 'AddressLookupError'
  }
}

export interface AddressLookupInit {
  /** This node's applied Raft configuration (undefined before consensus runs: nothing to look up). */
  raftConfiguration: () => RaftMembers | undefined
  /** The leader this node knows of (asked first). */
  leader: () => string | null | undefined
  /**
   * Calls `listener` whenever the applied configuration may have changed; returns how to stop. A change is then
   * looked at once instead of at the next periodic check (up to CHECK_EVERY_MS later), which a leader that died
   * meanwhile left without an answerer. @default none: the periodic check alone
   */
  watchConfiguration?: (listener: () => void) => () => void
  /** @default steadyNowMs */
  nowMs?: () => number
}

/** Lookups asked and answered, addresses learned, and bad frames seen (status, tests). */
export interface AddressLookupCounters {
  asked: number
  learned: number
  answered: number
  failed: number
  /** Answers that broke the protocol (each made its whole lookup fail). */
  malformedAnswers: number
  /** Requests that broke the protocol (each stream aborted, nothing answered). */
  malformedRequests: number
  /** Answers to a joiner's leader question that named a leader. */
  leadersLearned: number
}

export class AddressLookupService implements NodeService {
  readonly name = 'address-lookup'
  private ctx!: ServiceContext
  private stopCheck: StopDuty | undefined
  private stopped = false
  /** The configuration the last pass looked at (the core replaces it on every change). */
  private lastConf: RaftMembers | undefined
  private passInFlight = false
  private stopWatch: (() => void) | undefined
  /** Set while some member's address is still unknown after a pass: the next pass waits this long. */
  private retryMs: number | undefined
  private retryAtMs = 0
  private readonly counts: AddressLookupCounters = { asked: 0, learned: 0, answered: 0, failed: 0, malformedAnswers: 0, malformedRequests: 0, leadersLearned: 0 }
  private readonly nowMs: () => number

  constructor (private readonly init: AddressLookupInit) {
    this.nowMs = init.nowMs ?? steadyNowMs
  }

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    await ctx.net.handle(ADDRESS_LOOKUP_PROTOCOL, (stream, connection) => { void this.answer(stream, connection.remotePeer.toString()) }, {
      maxInboundStreams: 2, maxOutboundStreams: 2
    })
    this.stopCheck = (ctx.ticker ?? intervalTicker).every(CHECK_EVERY_MS, () => { this.check() })
    // NB: the listener runs inside the consensus driver's batch: check() only starts a pass (async) and never throws.
    this.stopWatch = this.init.watchConfiguration?.(() => { this.check() })
  }

  async stop (): Promise<void> {
    this.stopped = true
    this.stopCheck?.()
    this.stopWatch?.()
    await this.ctx?.net.unhandle(ADDRESS_LOOKUP_PROTOCOL).catch(() => {})
  }

  counters (): AddressLookupCounters {
    return { ...this.counts }
  }

  status (): Record<string, unknown> {
    return { ...this.counts, waiting: this.retryMs !== undefined }
  }

  /** Starts a pass when the configuration changed, or when the retry of an incomplete one is due. */
  private check (): void {
    if (this.stopped || this.passInFlight) return
    const conf = this.init.raftConfiguration()
    if (conf === undefined) return
    const due = conf !== this.lastConf || (this.retryMs !== undefined && this.nowMs() >= this.retryAtMs)
    if (!due) return
    this.lastConf = conf
    this.passInFlight = true
    void this.pass(conf).catch((err: unknown) => {
      this.ctx.log.warn({ err: (err as Error).message }, 'address lookup pass failed')
    }).finally(() => { this.passInFlight = false })
  }

  private async pass (conf: RaftMembers): Promise<void> {
    const self = this.ctx.nodeId
    let missing = await this.withoutAddress(membersToReach(conf, self))
    if (missing.length > 0) {
      const connected = new Set(this.ctx.net.getPeers().map((p) => p.toString()))
      for (const answerer of lookupAnswerers({ self, leader: this.init.leader(), conf, connected }).slice(0, ANSWERERS_PER_PASS)) {
        const learned = new Set<string>()
        for (let i = 0; i < missing.length && !this.stopped; i += LOOKUP_IDS_MAX) {
          const got = await this.ask(answerer, missing.slice(i, i + LOOKUP_IDS_MAX))
          if (got === undefined) break
          for (const id of got) learned.add(id)
        }
        missing = missing.filter((id) => !learned.has(id))
        if (missing.length === 0 || this.stopped) break
      }
    }
    if (missing.length === 0) {
      this.retryMs = undefined
      return
    }
    this.retryMs = nextLookupRetryMs(this.retryMs)
    this.retryAtMs = this.nowMs() + this.retryMs
    this.ctx.log.debug({ missing: missing.length, retryMs: this.retryMs }, 'members without a known address; asking again later')
  }

  /** The ids neither connected nor with an address in the peer store. */
  private async withoutAddress (ids: string[]): Promise<string[]> {
    const missing: string[] = []
    for (const id of ids) {
      let peerId
      try { peerId = peerIdFromString(id) } catch { continue }
      if (this.ctx.net.getConnections(peerId).length > 0) continue
      const known = await this.ctx.net.peerStore.get(peerId).then((peer) => peer.addresses.length > 0, () => false)
      if (!known) missing.push(id)
    }
    return missing
  }

  /** Asks `answerer` for `ids`; resolves with the ids learned, or undefined when the lookup failed. */
  private async ask (answerer: string, ids: string[]): Promise<string[] | undefined> {
    const answer = await this.exchange(answerer, { ids, leader: false })
    if (answer === undefined) return undefined
    const learned: string[] = []
    for (const entry of answer.peers) if (await this.store(entry)) learned.push(entry.id)
    this.counts.learned += learned.length
    this.ctx.log.info({ from: answerer, asked: ids.length, learned: learned.length }, 'learned members\' addresses from a peer')
    return learned
  }

  /**
   * Asks `answerer` which node leads (a joiner that hears no digest: docs/MEMBERSHIP.md, "Quiet joiners") and
   * stores the addresses it gives for it. Resolves with the leader's id — a dial hint, nothing more: the dial
   * proves the PeerId, and admission is still the leader's own decision — or undefined when the answerer knows
   * none, runs a build without the question, or the lookup failed.
   */
  async askLeader (answerer: string): Promise<string | undefined> {
    const answer = await this.exchange(answerer, { ids: [], leader: true })
    const leader = answer?.leader
    if (leader === undefined) return undefined
    try {
      peerIdFromString(leader.id)
    } catch {
      this.counts.malformedAnswers++
      this.ctx.log.warn({ peer: answerer, leader: leader.id }, 'address lookup answer names a leader that is no PeerId; ignored')
      return undefined
    }
    if (leader.id !== this.ctx.nodeId) await this.store(leader)
    this.counts.leadersLearned++
    // Worth an info line when the answerer is not the leader itself (a join through a follower).
    this.ctx.log[leader.id === answerer ? 'debug' : 'info']({ from: answerer, leader: leader.id }, 'learned the leader from a peer')
    return leader.id
  }

  /** One request and its checked answer; undefined (counted, logged) when the lookup failed. */
  private async exchange (answerer: string, request: LookupRequest): Promise<LookupAnswer | undefined> {
    this.counts.asked++
    try {
      const signal = AbortSignal.timeout(LOOKUP_TIMEOUT_MS)
      const stream = await this.ctx.net.dialProtocol(peerIdFromString(answerer), ADDRESS_LOOKUP_PROTOCOL, { signal })
      const lp = lpStream(stream, { maxDataLength: LOOKUP_FRAME_BYTES_MAX })
      // Builds before the leader question read `{ ids }` alone; it is sent only when asked.
      await lp.write(encodeCanonical(request.leader ? { ids: request.ids, leader: true } : { ids: request.ids }), { signal })
      const frame = await lp.read({ signal })
      await stream.close().catch(() => {})
      const answer = parseLookupAnswer(decodeOrNull(frame.subarray()), request.ids, request.leader)
      if (answer === null) {
        this.counts.malformedAnswers++
        throw new AddressLookupError(`malformed address lookup answer from ${answerer}`)
      }
      return answer
    } catch (err) {
      this.counts.failed++
      const level = err instanceof AddressLookupError ? 'warn' : 'debug'
      this.ctx.log[level]({ peer: answerer, err: (err as Error).message }, 'address lookup failed')
      return undefined
    }
  }

  /** Puts an entry's addresses in the peer store; false when none parses or the store refused them. */
  private async store (entry: LookupEntry): Promise<boolean> {
    const multiaddrs = parseAddresses(entry.addresses)
    if (multiaddrs.length === 0) return false
    try {
      await this.ctx.net.peerStore.merge(peerIdFromString(entry.id), { multiaddrs })
      return true
    } catch (err) {
      this.ctx.log.debug({ peer: entry.id, err: (err as Error).message }, 'looked-up addresses not stored')
      return false
    }
  }

  /** Answers one request from `from` with the addresses this node holds for each id asked. */
  private async answer (stream: Stream, from: string): Promise<void> {
    try {
      const lp = lpStream(stream, { maxDataLength: LOOKUP_REQUEST_BYTES_MAX })
      const signal = AbortSignal.timeout(LOOKUP_TIMEOUT_MS)
      const frame = await lp.read({ signal })
      const request = parseLookupRequest(decodeOrNull(frame.subarray()))
      if (request === null) {
        this.counts.malformedRequests++
        throw new AddressLookupError(`malformed address lookup request from ${from}`)
      }
      const peers: LookupEntry[] = []
      for (const id of request.ids) {
        const addresses = bareStrings(await this.addressesOf(id))
        if (addresses.length > 0) peers.push({ id, addresses })
      }
      const leader = request.leader ? this.init.leader() : undefined
      const answer: LookupAnswer = { peers }
      if (leader !== null && leader !== undefined) answer.leader = { id: leader, addresses: bareStrings(await this.addressesOf(leader)) }
      await lp.write(encodeCanonical(answer), { signal })
      await stream.close()
      this.counts.answered++
    } catch (err) {
      const level = err instanceof AddressLookupError ? 'warn' : 'debug'
      this.ctx.log[level]({ from, err: (err as Error).message }, 'address lookup not answered')
      stream.abort(err instanceof Error ? err : new Error('address lookup not answered'))
    }
  }

  private async addressesOf (id: string): Promise<Multiaddr[]> {
    if (id === this.ctx.nodeId) return this.ctx.net.getMultiaddrs()
    try {
      return (await this.ctx.net.peerStore.get(peerIdFromString(id))).addresses.map((a) => a.multiaddr)
    } catch {
      return []
    }
  }
}

function decodeOrNull (bytes: Uint8Array): unknown {
  try {
    return decodeCanonical(bytes)
  } catch {
    return null
  }
}

/** At most MAX_ADDRESSES addresses as strings without `/p2p/`, each within the protocol's length limit. */
function bareStrings (addresses: Multiaddr[]): string[] {
  const out = new Set<string>()
  for (const ma of addresses) {
    const text = ma.toString().replace(/\/p2p\/[^/]+$/, '')
    if (text.length <= LOOKUP_STRING_CHARS_MAX) out.add(text)
    if (out.size >= MAX_ADDRESSES) break
  }
  return [...out]
}
