/**
 * @module consensus/state-machine
 * The contract between the Raft driver and the replicated application (MeshShape, or the simulator's KV
 * map). The driver owns ordering, exactly-once and snapshots; the machine owns meaning.
 */
import type { ConfChange, ProposalId } from './core/types.js'

/** What the driver knows about the entry being applied; identical on every replica. */
export interface ApplyContext {
  index: number
  term: number
  /** Wall-clock ms stamped by the leader when it appended the entry (0 for entries without a stamp). */
  timeMs: number
  /** Present when the command travels inside a configuration-change entry (voters move with it). */
  confChange?: ConfChange
  /**
   * What the replicated session table knows of a request id that the command carries for another node
   * (a leader's envelope merging followers' forwarded requests, issue 16): only a `new` one may apply.
   * The driver records the ids of the groups the machine reports applied (ApplyOutcome.groups).
   */
  requestLookup?: (id: ProposalId) => 'new' | 'duplicate' | 'stale'
}

/** A command's result plus whether it took effect (a rejected command also vetoes its conf change). */
export interface ApplyOutcome<R> {
  result: R
  accepted: boolean
  /**
   * Request ids carried inside the command that applied now (each was `new` to requestLookup), with each
   * one's own result: the driver records them in the session table (exactly-once per request) and
   * answers whoever waits for them.
   */
  groups?: Array<{ id: ProposalId, result: R }>
}

/**
 * A deterministic replicated state machine. `apply` must be a total, deterministic function of the
 * state and the bytes: every replica applies the same entries and must end in the same state. Results
 * must be plain CBOR-encodable data: the exactly-once table keeps them inside snapshots.
 */
export interface ReplicatedStateMachine<R> {
  apply(command: Uint8Array, context: ApplyContext): ApplyOutcome<R>
  /** Deterministic bytes of the whole state. */
  snapshot(): Uint8Array
  /**
   * Replaces the state with a snapshot's bytes. When it throws, the state must be unchanged.
   * @throws on bytes it cannot decode
   */
  restore(data: Uint8Array): void
  /**
   * Whether restore(data) would succeed, without changing anything: a snapshot from the leader is
   * checked before it is persisted. @default restore is attempted only after persisting
   */
  canRestore?(data: Uint8Array): boolean
}
