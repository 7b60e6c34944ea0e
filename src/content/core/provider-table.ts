/**
 * @module content/core/provider-table
 * Who announced which content (docs/CONTENT.md §4). Entries expire PROVIDER_TTL_MS after the announcement
 * that made them; every dimension is bounded (per CID, per peer, in total), dropping the oldest entry, so a
 * member announcing millions of CIDs costs at most CIDS_PER_PEER_MAX entries. Pure: time is an argument.
 */
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
  /** peer → cids in announcement order (oldest first). */
  private readonly byPeer = new Map<string, Set<string>>()
  private entries = 0

  constructor (private readonly ttlMs = PROVIDER_TTL_MS) {}

  /** Records that `peer` holds `cid` (fully or partially) as of `nowMs`. */
  have (peer: string, cid: string, size: number, partial: boolean, nowMs: number): void {
    let holders = this.byCid.get(cid)
    const existing = holders?.get(peer)
    if (existing !== undefined) {
      existing.size = size
      existing.partial = partial
      existing.expiresAtMs = nowMs + this.ttlMs
      const cids = this.byPeer.get(peer) as Set<string>
      cids.delete(cid)
      cids.add(cid)
      return
    }
    const cids = this.byPeer.get(peer) ?? new Set<string>()
    if (cids.size >= CIDS_PER_PEER_MAX) this.remove(peer, cids.values().next().value as string)
    if (holders !== undefined && holders.size >= PROVIDERS_PER_CID_MAX) this.remove(oldestHolder(holders), cid)
    if (this.entries >= PROVIDER_ENTRIES_MAX) this.expire(nowMs)
    if (this.entries >= PROVIDER_ENTRIES_MAX) return
    holders = this.byCid.get(cid) ?? new Map<string, ProviderEntry>()
    this.byCid.set(cid, holders)
    holders.set(peer, { peer, size, partial, expiresAtMs: nowMs + this.ttlMs })
    cids.add(cid)
    this.byPeer.set(peer, cids)
    this.entries++
  }

  /** Live providers of `cid`, complete ones first. */
  providers (cid: string, nowMs: number): ProviderEntry[] {
    const holders = this.byCid.get(cid)
    if (holders === undefined) return []
    return [...holders.values()].filter((e) => e.expiresAtMs > nowMs).sort((a, b) => Number(a.partial) - Number(b.partial))
  }

  /** Drops every expired entry. */
  expire (nowMs: number): void {
    for (const [cid, holders] of this.byCid) {
      for (const entry of holders.values()) if (entry.expiresAtMs <= nowMs) this.remove(entry.peer, cid)
    }
  }

  /** Forgets a peer entirely (it left the cluster). */
  forgetPeer (peer: string): void {
    for (const cid of [...(this.byPeer.get(peer) ?? [])]) this.remove(peer, cid)
  }

  remove (peer: string, cid: string): void {
    const holders = this.byCid.get(cid)
    if (holders?.delete(peer) !== true) return
    if (holders.size === 0) this.byCid.delete(cid)
    const cids = this.byPeer.get(peer)
    cids?.delete(cid)
    if (cids?.size === 0) this.byPeer.delete(peer)
    this.entries--
  }

  get size (): number {
    return this.entries
  }

  /** Test hook (STYLE §12). */
  checkInvariants (): void {
    let a = 0
    let b = 0
    for (const h of this.byCid.values()) a += h.size
    for (const c of this.byPeer.values()) b += c.size
    if (a !== this.entries || b !== this.entries) throw new Error(`provider table counts ${a}/${b}/${this.entries}`)
  }
}

function oldestHolder (holders: Map<string, ProviderEntry>): string {
  let oldest: ProviderEntry | undefined
  for (const e of holders.values()) if (oldest === undefined || e.expiresAtMs < oldest.expiresAtMs) oldest = e
  return (oldest as ProviderEntry).peer
}
