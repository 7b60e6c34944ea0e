/**
 * @module policy/core
 * The pure policy layer: policies, ranking and safety gates. The leader's engine (../engine.ts) feeds them
 * one snapshot per tick and commits what passes through Raft.
 */
export * from './types.js'
export { autoReplacement } from './auto-replacement.js'
export type { AutoReplacementOptions } from './auto-replacement.js'
export { rankCandidates, rankForDemotion } from './ranking.js'
export * from './constants.js'
export { applyGates, prunedLastChange, votersReachable, movesVoters, describe, DAMPER_DEFAULTS, EMPTY_GATE_STATE } from './gates.js'
export type { DamperOptions, GateState, GatesInput } from './gates.js'
export { formation, strategy, phalanxMasters, chooseMasters, STRATEGIES } from './formation.js'
export type { StrategyName, Strategy, FormationOptions } from './formation.js'
export { intentConflict } from './intent.js'
export type { IntentConflict } from './intent.js'
export { parseDecisionRecord, toDecisionRecord, decisionContent, recordId, DECISION_ITEMS_MAX, DECISION_STRING_CHARS_MAX, DECISION_TIME_MS_MAX } from './decision-record.js'
export type { DecisionRecord } from './decision-record.js'
export { SenderBudget } from './sender-budget.js'
export { unlistedMembers } from './unlisted.js'
export { prunedRejections, rejectionDelayMs, rejectionInputs, rejectionKeys, withRejection, withoutRejection } from './rejections.js'
export type { Rejection, Rejections } from './rejections.js'
export type { Unlisted, UnlistedInput } from './unlisted.js'
export type { SenderBudgetLimits } from './sender-budget.js'
