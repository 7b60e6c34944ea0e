/**
 * @module consensus/core
 * The pure Raft core's public door (STYLE §2): RawNode, its config, the value types, errors, the seeded
 * PRNG, exactly-once proposal sessions and the conf-change codec.
 *
 * @example
 * const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) },
 *   storage.load(), { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false })
 * node.tick()
 * if (node.hasReady()) { const rd = node.ready(); ... ; node.advance() }
 */
export * from './types.js'
export { RawNode } from './raw-node.js'
export type { RaftConfig, RaftTestingBugs } from './config.js'
export { createPrng } from './prng.js'
export type { Prng } from './prng.js'
export { ProposalDroppedError, ConfChangeRejectedError, InvalidRaftConfigError, TransferRejectedError } from './errors.js'
export { ProposalSessions, applyOnce } from './sessions.js'
export type { ApplyOnceOutcome, ProposalSessionsData, ClientSessionData, SessionLookup } from './sessions.js'
export { encodeConfChange, decodeConfChange, changeConf, confStateProblem, isJoint } from './confchange.js'
