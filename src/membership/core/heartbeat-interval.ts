/**
 * @module membership/core/heartbeat-interval
 * The heartbeat period as the cluster grows (issue 16). In full mode every heartbeat reaches every member (flood
 * publishing plus mesh forwarding: about D + 1 copies per member), so at a fixed period each node's share
 * grows with N and the cluster's total with N². Beyond `HEARTBEAT_FULL_RATE_MEMBERS` live members the period
 * grows in proportion to the member count, which holds the cluster-wide heartbeat rate at
 * FULL_RATE_MEMBERS / base (32 per second at the defaults), up to a ceiling of base + acceptable pause.
 *
 * Why that ceiling: receivers judge a sender by the intervals they observed (the phi detector's window) plus
 * the acceptable pause. A sender that jumped from the base straight to the ceiling would still be heard
 * within the pause its receivers allow (phi < 1), so nobody suspects it while their windows adapt; a longer
 * period would need the new interval announced in the heartbeat. The cost is detection time: a member
 * heartbeating at the ceiling is declared dead after ≈ ceiling + pause + 5.3 σ + DEAD_AFTER_SUSPECT_MS
 * (docs/MEMBERSHIP.md, "Large clusters"). In tiered mode (tier.ts) only voters receive heartbeats; a voter
 * then heartbeats at the base period, the others at this one.
 */
import { HEARTBEAT_FULL_RATE_MEMBERS } from './constants.js'

/**
 * The period at which a node with `liveMembers` live members (itself included) sends its heartbeat: `baseMs`
 * up to HEARTBEAT_FULL_RATE_MEMBERS members, then `baseMs × liveMembers / HEARTBEAT_FULL_RATE_MEMBERS`,
 * never above `baseMs + acceptablePauseMs`. Whole milliseconds.
 */
export function heartbeatIntervalMs (baseMs: number, liveMembers: number, acceptablePauseMs: number): number {
  const scaled = baseMs * Math.max(1, liveMembers / HEARTBEAT_FULL_RATE_MEMBERS)
  return Math.round(Math.min(scaled, baseMs + acceptablePauseMs))
}
