/**
 * @module consensus/shape/core/protocol
 * The cluster's protocol level (rolling upgrades; docs/OPERATIONS.md "Rolling upgrades"), in the spirit of
 * etcd's cluster version: every node advertises the level it understands in its membership heartbeat; the
 * committed MeshShape holds the level the cluster runs at; the leader raises it (a `set-protocol` command)
 * once every member advertises at least the new level; proposers use a wire feature only when the committed
 * level allows it; a node whose apply meets a level above its own stops instead of diverging.
 *
 * Levels (each includes those below):
 *   1 — v1 envelopes only (every build; a shape or heartbeat without a level is at 1)
 *   2 — v2 batch envelopes (operator batches, admission waves) and `set-protocol` itself
 *   3 — `with` on promote (joined promotions of the policy engine)
 *   4 — v3 envelopes: followers forward operator requests to the leader
 *   5 — the leader answers a forwarded request it refuses (a `prop-resp` Raft message; request-refusal.ts)
 *   6 — `replacing` on promote (a lost voter's replacement in one joint change)
 *   7 — canonical catalog CIDs: apply rejects a `set-catalog` whose template CID is not spelled as a fresh
 *       encoding of its bytes (mixed case, padding), the raise to 7 rewrites those already in the shape to
 *       that form, and a level-7 shape that holds another spelling is invalid (catalog.ts). The first level
 *       that changes what apply does with an entry, not only what proposers send: below it, a set-catalog
 *       applies exactly as every earlier build applies it.
 *   8 — seal handover and marked quorum recovery (docs/CHAIN.md §4): a seal also needs a majority of the voters
 *       in force where the chain was last sealed (or last recovered), so a key that was no such voter cannot
 *       seal a history of its own; the `quorum-recovery` reason, in a v1 envelope only, which below 8 applies
 *       as `malformed`, as every earlier build decodes it.
 */
import type { NodeId } from './types.js'

/** The lowest level: v1 envelopes only. A shape, bootstrap or heartbeat without a level is at it. */
export const PROTOCOL_LEVEL_MIN = 1
/** v2 batch envelopes (and `set-protocol`, which only a level-2 node can know). */
export const PROTOCOL_BATCH_ENVELOPES = 2
/** `with` on promote. */
export const PROTOCOL_JOINED_PROMOTION = 3
/** v3 envelopes: forwarded requests. */
export const PROTOCOL_FORWARDED_REQUESTS = 4
/** The leader answers refused forwarded requests (`prop-resp`: a build before it drops the message as invalid). */
export const PROTOCOL_REFUSALS_ANSWERED = 5
/** `replacing` on promote. */
export const PROTOCOL_REPLACEMENT = 6
/** Catalog template CIDs only in their canonical text (judged at apply and restore; rewritten by the raise). */
export const PROTOCOL_CANONICAL_CATALOG = 7
/** Seals need the last sealed voters too; `quorum-recovery` demotes re-anchor them (docs/CHAIN.md §4). */
export const PROTOCOL_SEAL_HANDOVER = 8
/** The level this build understands (the top one). */
export const PROTOCOL_LEVEL = 8
/**
 * The largest level the wire accepts (a command's, a bootstrap's, a snapshot's): a later build's level
 * decodes, so that this build can halt on it instead of committing it as `malformed`. Above it: malformed.
 */
export const PROTOCOL_LEVEL_WIRE_MAX = 65_535

/** A level as the wire may carry it: an integer in PROTOCOL_LEVEL_MIN..PROTOCOL_LEVEL_WIRE_MAX, else null. */
export function parseProtocolLevel (value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= PROTOCOL_LEVEL_MIN && value <= PROTOCOL_LEVEL_WIRE_MAX ? value : null
}

export interface ProtocolRaiseInput {
  /** The committed shape's level. */
  current: number
  /** The shape's members, voters and learners alike. */
  members: readonly NodeId[]
  /**
   * The level each node advertised in its latest heartbeat since this node started (its own included);
   * undefined for a node not heard from: unknown, so nothing is raised. Untrusted: clamped here.
   */
  advertised: (nodeId: NodeId) => number | undefined
  /** The level this build understands (PROTOCOL_LEVEL): never raised above. */
  own: number
}

/**
 * The level the leader should raise the cluster to, or null: the lowest level any member advertises,
 * capped at this build's, when every member has been heard from and it is above the committed level.
 * Pure; a non-integer or out-of-range advertisement counts as the lowest level.
 */
export function protocolRaise (input: ProtocolRaiseInput): number | null {
  if (input.members.length === 0) return null
  let level = input.own
  for (const id of input.members) {
    const advertised = input.advertised(id)
    if (advertised === undefined) return null
    level = Math.min(level, parseProtocolLevel(advertised) ?? PROTOCOL_LEVEL_MIN)
  }
  return level > input.current ? level : null
}
