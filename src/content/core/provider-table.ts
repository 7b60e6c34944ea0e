/**
 * @module content/core/provider-table
 * Who announced which content (docs/CONTENT.md §4). Entries expire PROVIDER_TTL_MS after the announcement
 * that made them; every dimension is bounded (per CID, per peer, in total), so a member announcing millions
 * of CIDs costs at most CIDS_PER_PEER_MAX entries. When the table is full, the oldest entry of the peer that
 * holds the most is dropped: a new announcement is always recorded, and a few members flooding it (16 × 4,096
 * fill it) cannot push out a peer that holds fewer entries than they do. Every operation but `expire`,
 * `forgetPeer` and `peers` is O(1) (`oldestHolder` scans at most PROVIDERS_PER_CID_MAX): `have` runs inside
 * the synchronous gossip validator. A peer that leaves the configuration, or that membership judges dead or
 * gone, is forgotten at once (`forgetPeer`, from the content service); its next `have` records it again.
 * Pure: time is an argument.
 */
import { assert } from '../../util/assert.js'
import { CIDS_PER_PEER_MAX, PROVIDER_ENTRIES_MAX, PROVIDERS_PER_CID_MAX, PROVIDER_TTL_MS } from './constants.js'

export interface ProviderEntry {
  peer: string
  size: number
  /** True while the provider is still fetching: it may lack some chunks. */
  partial: boolean
  expiresAtMs: number
}

export class ProviderTable {
  /** cid → peer → entry. Invariant: entries === Σ byCid sizes === Σ byPeer sizes. */
  private readonly byCid = new Map<string, Map<string, ProviderEntry>>()
  /**
   * peer → cids in announcement order (oldest first). The TTL is one constant, so this is also expiry order
   * as long as time does not go backwards (NB: if it does, `expire` may leave an entry until it is refreshed,
   * dropped or forgotten; `providers` never lists it).
   */
  private readonly byPeer = new Map<string, Set<string>>()
  /** n → the peers holding exactly n entries. Invariant: peer ∈ peersByCount[byPeer[peer].size]. */
  private readonly peersByCount = new Map<number, Set<string>>()
  /** The most entries one peer holds. Invariant: 0 when empty, else peersByCount[countMax] is not empty. */
  private countMax = 0
  private entries = 0

  constructor (private readonly ttlMs = PROVIDER_TTL_MS) {}

  /** Records that `peer` holds `cid` (fully or partially) as of `nowMs`. */
  have (peer: string, cid: string, size: number, partial: boolean, nowMs: number): void {
    const existing = this.byCid.get(cid)?.get(peer)
    if (existing !== undefined) {
      existing.size = size
      existing.partial = partial
      existing.expiresAtMs = nowMs + this.ttlMs
      const cids = this.byPeer.get(peer) as Set<string>
      cids.delete(cid)
      cids.add(cid)
      return
    }
    const own = this.byPeer.get(peer)
    if (own !== undefined && own.size >= CIDS_PER_PEER_MAX) this.remove(peer, oldestCid(own))
    const others = this.byCid.get(cid)
    if (others !== undefined && others.size >= PROVIDERS_PER_CID_MAX) this.remove(oldestHolder(others), cid)
    if (this.entries >= PROVIDER_ENTRIES_MAX) this.dropFromLargest(peer)
    assert(this.entries < PROVIDER_ENTRIES_MAX, 'provider table has room')
    const holders = this.byCid.get(cid) ?? new Map<string, ProviderEntry>()
    this.byCid.set(cid, holders)
    holders.set(peer, { peer, size, partial, expiresAtMs: nowMs + this.ttlMs })
    const cids = this.byPeer.get(peer) ?? new Set<string>()
    this.byPeer.set(peer, cids)
    cids.add(cid)
    this.recount(peer, cids.size - 1, cids.size)
    this.entries++
  }

  /** Live providers of `cid`, complete ones first. */
  providers (cid: string, nowMs: number): ProviderEntry[] {
    const holders = this.byCid.get(cid)
    if (holders === undefined) return []
    return [...holders.values()].filter((e) => e.expiresAtMs > nowMs).sort((a, b) => Number(a.partial) - Number(b.partial))
  }

  /** Drops every expired entry: each peer's entries are in expiry order, so this visits peers + expired ones. */
  expire (nowMs: number): void {
    for (const [peer, cids] of this.byPeer) {
      for (const cid of cids) {
        const entry = this.byCid.get(cid)?.get(peer) as ProviderEntry
        if (entry.expiresAtMs > nowMs) break
        this.remove(peer, cid)
      }
    }
  }

  /**
   * Forgets a peer entirely (it was removed from the configuration, or judged dead or gone); returns how many
   * entries it held. Nothing else remembers it: its next `have` is recorded as from a new peer.
   */
  forgetPeer (peer: string): number {
    const cids = [...(this.byPeer.get(peer) ?? [])]
    for (const cid of cids) this.remove(peer, cid)
    assert(!this.byPeer.has(peer), () => `${peer} forgotten`)
    return cids.length
  }

  /** The peers holding at least one entry (a copy: the caller may forget them while iterating). */
  peers (): string[] {
    return [...this.byPeer.keys()]
  }

  remove (peer: string, cid: string): void {
    const holders = this.byCid.get(cid)
    if (holders?.delete(peer) !== true) return
    if (holders.size === 0) this.byCid.delete(cid)
    const cids = this.byPeer.get(peer) as Set<string>
    cids.delete(cid)
    if (cids.size === 0) this.byPeer.delete(peer)
    this.recount(peer, cids.size + 1, cids.size)
    this.entries--
  }

  get size (): number {
    return this.entries
  }

  /** Test hook (STYLE §12). */
  checkInvariants (): void {
    let a = 0
    let b = 0
    let max = 0
    for (const h of this.byCid.values()) a += h.size
    for (const [peer, c] of this.byPeer) {
      b += c.size
      max = Math.max(max, c.size)
      assert(this.peersByCount.get(c.size)?.has(peer) === true, () => `${peer} not counted at ${c.size}`)
    }
    let counted = 0
    for (const peers of this.peersByCount.values()) counted += peers.size
    if (a !== this.entries || b !== this.entries) throw new Error(`provider table counts ${a}/${b}/${this.entries}`)
    assert(counted === this.byPeer.size, 'every peer counted once')
    assert(this.countMax === max, () => `countMax ${this.countMax}, largest peer ${max}`)
  }

  /**
   * Makes room for one entry of `peer` in a full table: drops the oldest entry of the peer holding the most,
   * `peer` itself if it is one of them. O(1): the largest holders are kept in `peersByCount`.
   */
  private dropFromLargest (peer: string): void {
    assert(this.countMax > 0, 'a full table has a largest peer')
    const own = this.byPeer.get(peer)
    const largest = this.peersByCount.get(this.countMax) as Set<string>
    const victim = own?.size === this.countMax ? peer : largest.values().next().value as string
    this.remove(victim, oldestCid(this.byPeer.get(victim) as Set<string>))
  }

  /** Moves `peer` from the peers holding `before` entries to those holding `after` (one more or one less). */
  private recount (peer: string, before: number, after: number): void {
    assert(Math.abs(after - before) === 1, 'entries change one at a time')
    const from = this.peersByCount.get(before)
    from?.delete(peer)
    if (from?.size === 0) this.peersByCount.delete(before)
    if (after > 0) {
      const to = this.peersByCount.get(after) ?? new Set<string>()
      this.peersByCount.set(after, to)
      to.add(peer)
    }
    if (after > this.countMax) this.countMax = after
    if (before === this.countMax && !this.peersByCount.has(before)) this.countMax = after
  }
}

function oldestCid (cids: Set<string>): string {
  return cids.values().next().value as string
}

function oldestHolder (holders: Map<string, ProviderEntry>): string {
  let oldest: ProviderEntry | undefined
  for (const e of holders.values()) if (oldest === undefined || e.expiresAtMs < oldest.expiresAtMs) oldest = e
  return (oldest as ProviderEntry).peer
}
