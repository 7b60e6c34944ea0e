/**
 * @module content/core/announce-pacer
 * The sender's side of the gossip rate limit (docs/CONTENT.md §4). Every receiver ignores what an author sends
 * beyond its token bucket (`PeerRateLimiter`); this keeps the node's own `have`s and `want`s inside half of it
 * (ANNOUNCE_MESSAGES_PER_S, ANNOUNCE_MESSAGES_BURST), so a burst of adds is delayed and packed, not dropped.
 *
 * - `have` items wait in one queue keyed by CID, up to HAVE_ITEMS_PER_MESSAGE_MAX to a message. An item for
 *   a CID already waiting replaces it in its place in line: the latest wins, as in the receivers' provider
 *   table, so packing changes when they learn, never what they record. A full item replaces a waiting partial
 *   one (a small fetch that completes within the wait). A partial one replaces a waiting full one as well:
 *   the store does go from complete to partial (a record whose manifest is gone is marked partial and fetched
 *   again: garbage-collector.ts `dropUnreadable`, fetch.ts), every caller reads the item from the store when
 *   it announces it, and a stale `p: false` would have fetchers ask for chunks this node lacks.
 * - A message goes as soon as a token is there, except a `have` that is not full: it also waits until
 *   ANNOUNCE_COALESCE_MS after the previous `have`. A lone `have` goes at once; a burst is gathered.
 * - `want`s go first: a fetch here waits on the answer, each names one CID (nothing to gather), and they are
 *   few (one a second per fetch waiting for providers, one per CID in the queue), so `have`s wait, never starve.
 * - Bounded: one entry per CID, so the queue holds at most what the node holds, and hard bounds beyond that
 *   drop the oldest (ANNOUNCE_QUEUED_ITEMS_MAX, ANNOUNCE_QUEUED_WANTS_MAX).
 *
 * Pure: time is an argument. Its own bucket, not a `PeerRateLimiter`, so a test can replay what it sends
 * into the receivers' limiter as an independent check. The driver (announcer.ts) publishes what `take`
 * returns and calls it again at `nextAtMs`.
 */
import type { CID } from 'multiformats/cid'
import {
  ANNOUNCE_COALESCE_MS, ANNOUNCE_MESSAGES_BURST, ANNOUNCE_MESSAGES_PER_S, ANNOUNCE_QUEUED_ITEMS_MAX, ANNOUNCE_QUEUED_WANTS_MAX,
  HAVE_ITEMS_PER_MESSAGE_MAX
} from './constants.js'
import type { Announcement, HaveItem } from './wire.js'

export interface PacerLimits {
  ratePerS: number
  burst: number
  coalesceMs: number
  itemsPerMessage: number
  queuedItemsMax: number
  queuedWantsMax: number
}

export const ANNOUNCE_PACER_LIMITS: PacerLimits = {
  ratePerS: ANNOUNCE_MESSAGES_PER_S,
  burst: ANNOUNCE_MESSAGES_BURST,
  coalesceMs: ANNOUNCE_COALESCE_MS,
  itemsPerMessage: HAVE_ITEMS_PER_MESSAGE_MAX,
  queuedItemsMax: ANNOUNCE_QUEUED_ITEMS_MAX,
  queuedWantsMax: ANNOUNCE_QUEUED_WANTS_MAX
}

export class AnnouncePacer {
  /** CID → the latest item announced for it; Map order is the line. */
  private readonly haves = new Map<string, HaveItem>()
  private readonly wants = new Map<string, CID>()
  private tokens: number
  private refilledAtMs: number | undefined
  private lastHaveAtMs: number | undefined
  private readonly counts = {
    'coalesced.items': 0, 'coalesced.wants': 0, 'overflowed.items': 0, 'overflowed.wants': 0,
    'sent.have': 0, 'sent.want': 0, 'sent.items': 0
  }

  constructor (private readonly limits: PacerLimits = ANNOUNCE_PACER_LIMITS) {
    this.tokens = limits.burst
  }

  have (items: HaveItem[]): void {
    for (const item of items) {
      const key = item.cid.toString()
      if (this.haves.has(key)) this.counts['coalesced.items']++
      else if (this.haves.size >= this.limits.queuedItemsMax) this.dropOldest(this.haves, 'overflowed.items')
      this.haves.set(key, item)
    }
  }

  want (cid: CID): void {
    const key = cid.toString()
    if (this.wants.has(key)) {
      this.counts['coalesced.wants']++
      return
    }
    if (this.wants.size >= this.limits.queuedWantsMax) this.dropOldest(this.wants, 'overflowed.wants')
    this.wants.set(key, cid)
  }

  /** The messages that may go at `nowMs`, each paid with a token; the rest keep waiting. */
  take (nowMs: number): Announcement[] {
    this.refill(nowMs)
    const out: Announcement[] = []
    while (this.tokens >= 1) {
      const message = this.next(nowMs)
      if (message === undefined) break
      this.tokens -= 1
      out.push(message)
    }
    return out
  }

  /** When `take` next has something to send, or undefined with nothing waiting. */
  nextAtMs (nowMs: number): number | undefined {
    if (this.wants.size === 0 && this.haves.size === 0) return undefined
    const tokens = this.tokensAt(nowMs)
    const tokenAtMs = tokens >= 1 ? nowMs : nowMs + (1 - tokens) * 1000 / this.limits.ratePerS
    const gathering = this.wants.size === 0 && this.haves.size < this.limits.itemsPerMessage
    return Math.ceil(gathering ? Math.max(tokenAtMs, this.gatherUntilMs(nowMs)) : tokenAtMs)
  }

  counters (): Record<string, number> {
    return { 'queued.items': this.haves.size, 'queued.wants': this.wants.size, ...this.counts }
  }

  private next (nowMs: number): Announcement | undefined {
    const want = this.wants.entries().next()
    if (want.done !== true) {
      this.wants.delete(want.value[0])
      this.counts['sent.want']++
      return { type: 'want', cid: want.value[1] }
    }
    if (this.haves.size === 0) return undefined
    if (this.haves.size < this.limits.itemsPerMessage && nowMs < this.gatherUntilMs(nowMs)) return undefined
    const items: HaveItem[] = []
    for (const [key, item] of this.haves) {
      if (items.length === this.limits.itemsPerMessage) break
      items.push(item)
      this.haves.delete(key)
    }
    this.lastHaveAtMs = nowMs
    this.counts['sent.have']++
    this.counts['sent.items'] += items.length
    return { type: 'have', items }
  }

  /** Until when a `have` that is not full gathers. A clock gone back waits for nothing (PeerRateLimiter alike). */
  private gatherUntilMs (nowMs: number): number {
    const last = this.lastHaveAtMs
    return last === undefined || nowMs < last ? nowMs : last + this.limits.coalesceMs
  }

  private tokensAt (nowMs: number): number {
    const elapsedMs = this.refilledAtMs === undefined ? 0 : Math.max(0, nowMs - this.refilledAtMs)
    return Math.min(this.limits.burst, this.tokens + elapsedMs * this.limits.ratePerS / 1000)
  }

  private refill (nowMs: number): void {
    this.tokens = this.tokensAt(nowMs)
    this.refilledAtMs = nowMs
  }

  private dropOldest<V>(queue: Map<string, V>, counter: 'overflowed.items' | 'overflowed.wants'): void {
    queue.delete(queue.keys().next().value as string)
    this.counts[counter]++
  }
}
