/**
 * @module content/core
 * The pure part of layer C: manifest format, wire messages, provider table, rate limits, the announcement
 * pacer, scores and the swarm scheduler. No IO, no clocks (time is an argument), no randomness (the start
 * index is an input).
 */
export * from './constants.js'
export * from './errors.js'
export * from './manifest.js'
export * from './wire.js'
export { encodeBlockFrame } from './block-frame.js'
export { ProviderTable } from './provider-table.js'
export type { ProviderEntry } from './provider-table.js'
export { PeerRateLimiter } from './rate-limit.js'
export { AnnouncePacer, ANNOUNCE_PACER_LIMITS } from './announce-pacer.js'
export type { PacerLimits } from './announce-pacer.js'
export { ProviderScores } from './scores.js'
export type { ProviderOutcome } from './scores.js'
export { ChunkScheduler } from './scheduler.js'
export type { SchedulerInit } from './scheduler.js'
