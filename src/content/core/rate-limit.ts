/**
 * @module content/core/rate-limit
 * A token bucket per peer for gossip messages (docs/CONTENT.md §4): `rate` tokens per second up to `burst`.
 * A message without a token is ignored (not forwarded, not recorded). The set of tracked peers is bounded;
 * the least recently seen is forgotten. Pure: time is an argument.
 */
import { GOSSIP_MESSAGES_PER_PEER_BURST, GOSSIP_MESSAGES_PER_PEER_PER_S, RATE_LIMITED_PEERS_MAX } from './constants.js'

interface Bucket { tokens: number, atMs: number }

export class PeerRateLimiter {
  private readonly buckets = new Map<string, Bucket>()

  constructor (private readonly ratePerS = GOSSIP_MESSAGES_PER_PEER_PER_S, private readonly burst = GOSSIP_MESSAGES_PER_PEER_BURST) {}

  /** Takes one token from `peer`'s bucket; false when it is empty. */
  take (peer: string, nowMs: number): boolean {
    let bucket = this.buckets.get(peer)
    if (bucket === undefined) {
      if (this.buckets.size >= RATE_LIMITED_PEERS_MAX) this.buckets.delete(this.buckets.keys().next().value as string)
      bucket = { tokens: this.burst, atMs: nowMs }
    }
    this.buckets.delete(peer)
    this.buckets.set(peer, bucket)
    const elapsedMs = Math.max(0, nowMs - bucket.atMs)
    bucket.tokens = Math.min(this.burst, bucket.tokens + elapsedMs * this.ratePerS / 1000)
    bucket.atMs = nowMs
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }
}
