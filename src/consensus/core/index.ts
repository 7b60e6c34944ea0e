/**
 * @module consensus/core
 * The pure Raft core's public door (STYLE §2): RawNode, its config, the value types, errors, the seeded
 * PRNG, exactly-once proposal sessions and the conf-change codec.
 *
 * Driver contract (what every caller — node driver, simulator, bench — must do):
 * - Construct with `Storage.load()` and the cluster's genesis ConfState as `bootstrap`. Every node passes
 *   the same genesis, also one that joins later: conf changes are log entries replayed on top of it
 *   (or of the snapshot's confState when storage holds a snapshot).
 * - Loop: `if (hasReady()) { rd = ready(); send rd.messages; persist rd.snapshot / rd.hardState /
 *   rd.entries (entries may overwrite a stored suffix; fsync when rd.mustSync); send
 *   rd.messagesAfterPersist; apply rd.committedEntries (call applyConfChange for each ConfChange entry,
 *   use applyOnce for exactly-once); serve rd.readStates once applied >= index; advance() }`.
 * - Between ready() and advance() call nothing but applyConfChange/status/checkInvariants (asserted).
 *   Self-addressed messages (own vote, own append ack) never appear in a Ready: advance() steps them.
 * - Or, with `asyncStorageWrites`: issue the writes without waiting for the fsync, apply, call
 *   advanceIssued(), keep stepping input, and once the writes are durable call persisted(ticket) (in
 *   ticket order) and only then send that Ready's messagesAfterPersist.
 * - After a restart the state machine starts from the stored snapshot and re-applies committed entries.
 * - readIndex contexts must be non-empty and unique among outstanding reads.
 * - Take snapshots of applied state and hand them to compact(); the core sends them (chunked) to
 *   followers that are behind its compacted log.
 *
 * @example
 * const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(1) },
 *   storage.load(), { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false })
 * node.tick()
 * if (node.hasReady()) { const rd = node.ready(); ... ; node.advance() }
 */
export * from './types.js'
export { RawNode } from './raw-node.js'
export type { PersistTicket } from './raw-node.js'
export type { RaftConfig, RaftTestingBugs } from './config.js'
export { createPrng } from './prng.js'
export type { Prng } from './prng.js'
export { ProposalDroppedError, ConfChangeRejectedError, InvalidRaftConfigError, SessionsDataInvalidError, TransferRejectedError } from './errors.js'
export { ProposalSessions, applyOnce } from './sessions.js'
export { isMemberOf, isVoterOf } from './quorum.js'
export type { ApplyOnceOutcome, ProposalSessionsData, ClientSessionData, SessionLookup } from './sessions.js'
export { encodeConfChange, decodeConfChange, changeConf, confStateProblem, isJoint } from './confchange.js'
