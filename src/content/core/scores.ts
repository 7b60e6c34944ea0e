/**
 * @module content/core/scores
 * How much this node trusts each provider, across fetches. A verified chunk adds a little, a failure

 * (timeout, reset) takes some but never below SCORE_FAILURE_FLOOR, a chunk that does not match its digest takes a lot: one lie bans the peer
 * (score ≤ SCORE_BAN_AT_OR_BELOW) for about an hour of recovery. Fetches pick providers by score. Pure.
 */
import {
  SCORE_BAD_CHUNK, SCORE_BAN_AT_OR_BELOW, SCORE_FAILURE, SCORE_GOOD_CHUNK, SCORE_INITIAL, SCORE_MAX, SCORE_MIN,
  SCORE_RECOVERY_PER_MINUTE, SCORED_PEERS_MAX, SCORE_FAILURE_FLOOR
} from './constants.js'

export type ProviderOutcome = 'good-chunk' | 'failure' | 'bad-chunk'

const DELTA: Record<ProviderOutcome, number> = { 'good-chunk': SCORE_GOOD_CHUNK, failure: SCORE_FAILURE, 'bad-chunk': SCORE_BAD_CHUNK }

interface Score { value: number, atMs: number, badChunks: number }

export class ProviderScores {
  private readonly scores = new Map<string, Score>()

  /** Records an outcome; returns the new score. */
  record (peer: string, outcome: ProviderOutcome, nowMs: number): number {
    const score = this.current(peer, nowMs)
    // Failures (timeouts, resets) only lower a provider's rank: a slow link or a loaded machine must not
    // get an honest provider banned. Only a bad chunk can push a score to the ban line.
    const floor = outcome === 'failure' ? Math.min(score.value, SCORE_FAILURE_FLOOR) : SCORE_MIN
    score.value = Math.max(floor, Math.min(SCORE_MAX, score.value + DELTA[outcome]))
    if (outcome === 'bad-chunk') score.badChunks++
    this.scores.delete(peer)
    if (this.scores.size >= SCORED_PEERS_MAX) this.scores.delete(this.scores.keys().next().value as string)
    this.scores.set(peer, score)
    return score.value
  }

  score (peer: string, nowMs: number): number {
    return this.current(peer, nowMs).value
  }

  banned (peer: string, nowMs: number): boolean {
    return this.score(peer, nowMs) <= SCORE_BAN_AT_OR_BELOW
  }

  /** `peers` without banned ones, best score first (ties by id, so the order is deterministic). */
  rank (peers: readonly string[], nowMs: number): string[] {
    return peers.filter((p) => !this.banned(p, nowMs))
      .sort((a, b) => this.score(b, nowMs) - this.score(a, nowMs) || (a < b ? -1 : a > b ? 1 : 0))
  }

  snapshot (nowMs: number): Array<{ peer: string, score: number, badChunks: number }> {
    return [...this.scores.keys()].map((peer) => ({ peer, score: this.score(peer, nowMs), badChunks: this.scores.get(peer)?.badChunks ?? 0 }))
  }

  /** The stored score with recovery toward SCORE_INITIAL applied up to `nowMs`. */
  private current (peer: string, nowMs: number): Score {
    const score = this.scores.get(peer) ?? { value: SCORE_INITIAL, atMs: nowMs, badChunks: 0 }
    if (score.value < SCORE_INITIAL) {
      const recovered = Math.floor(Math.max(0, nowMs - score.atMs) / 60_000) * SCORE_RECOVERY_PER_MINUTE
      if (recovered > 0) {
        score.value = Math.min(SCORE_INITIAL, score.value + recovered)
        score.atMs = nowMs
      }
    } else {
      score.atMs = nowMs
    }
    return score
  }
}
