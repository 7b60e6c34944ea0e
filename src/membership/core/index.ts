/**
 * @module membership/core
 * The pure membership core: phi-accrual detection, the member table (health state machine and view) and
 * heartbeat validation. Time is always an input.
 */
export * from './types.js'
export { phi, PhiAccrualDetector } from './phi-accrual.js'
export type { PhiAccrualOptions } from './phi-accrual.js'
export { MemberTable } from './member-table.js'
export { heartbeatIntervalMs } from './heartbeat-interval.js'
export { needsRelay, reachOf } from './relay.js'
export type { MemberTableOptions } from './member-table.js'
export { judgeHeartbeat, parseNodeState } from './validate.js'
export type { DropReason, Verdict } from './validate.js'
export * as MembershipConstants from './constants.js'
export { tierOf, isVoterIn, membersOf, confMemberCount, observerMustListen, digestDue, judgeDigest, parseDigest, digestRecord, fullEntry, compactDigest, sameViewState, fullDigestDue } from './tier.js'
export type { Tier, RaftMembers, LivenessDigest, DigestMember, DigestDropReason, DigestVerdict } from './tier.js'
export { keptPeers, observerRing, voterMustRelay } from './links.js'
export { joinerMustListen, joinerDialTargets, joinerAsksLeader, dialsHeardMember } from './joiner.js'
export { votersToReconnect, newVoterWatch } from './voter-subscriptions.js'
export type { VoterSubscriptionInput, VoterWatch } from './voter-subscriptions.js'
