/**
 * @module membership/core/tier
 * Tiered failure detection for large clusters (issue 16), pure. Above TIERED_ABOVE_MEMBERS members in this
 * node's own applied Raft configuration, only the voters receive heartbeats and run the phi detector on
 * everyone (the policy engine runs on the leader, always a voter); the other members stop receiving
 * heartbeats (they still publish theirs) and take their view from a liveness digest that the leader
 * publishes. The role comes from this node's own configuration, never from gossip: a digest from a peer the
 * configuration does not list as a voter is dropped. A non-voter that hears no digest for DIGEST_STALE_MS
 * listens to heartbeats again (full mode) until digests return, so the cluster never goes blind.
 */
import type { Health, NodeState } from './types.js'
import { parseNodeState } from './validate.js'
import { MAX_MEMBERS, DIGEST_FULL_EVERY, DIGEST_STORAGE_DRIFT } from './constants.js'

/** The part of a Raft configuration (consensus/core ConfState) the tier decision reads. */
export interface RaftMembers {
  voters: readonly string[]
  votersOutgoing: readonly string[]
  learners: readonly string[]
  learnersNext: readonly string[]
}

/**
 * `full`: every member hears every heartbeat (small clusters, a node before consensus runs).
 * `voter`: tiered, this node detects for everyone. `observer`: tiered, this node takes the voters' digest.
 * `joiner`: the configuration does not list this node; it takes the leader's digest and dials few peers
 * (core/joiner.ts), whatever the cluster's size.
 */
export type Tier = 'full' | 'voter' | 'observer' | 'joiner'

/** True when `id` votes in `conf` (incoming or outgoing half of a joint configuration). */
export function isVoterIn (conf: RaftMembers, id: string): boolean {
  return conf.voters.includes(id) || conf.votersOutgoing.includes(id)
}

/** The ids `conf` lists (admitted members): voters and learners, both halves of a joint configuration. */
export function membersOf (conf: RaftMembers): Set<string> {
  return new Set([...conf.voters, ...conf.votersOutgoing, ...conf.learners, ...conf.learnersNext])
}

/** Distinct members of `conf`: voters and learners, both halves of a joint configuration. */
export function confMemberCount (conf: RaftMembers): number {
  return membersOf(conf).size
}

/**
 * This node's tier from its own applied configuration (undefined before consensus runs). A node the
 * configuration does not list is a `joiner` at any size (core/joiner.ts): it needs the leader, not everyone.
 */
export function tierOf (conf: RaftMembers | undefined, self: string, tieredAboveMembers: number): Tier {
  if (conf === undefined) return 'full'
  const voter = isVoterIn(conf, self)
  if (!voter && !conf.learners.includes(self) && !conf.learnersNext.includes(self)) return 'joiner'
  if (confMemberCount(conf) <= tieredAboveMembers) return 'full'
  return voter ? 'voter' : 'observer'
}

/**
 * Whether the leader publishes its digest now: a period after the last one, or at once when its table
 * reached a verdict (a member turned `dead` or `left`) since then — the observers hold no detector of their
 * own, and a dead voter's replacement is judged on the leader's view while theirs waits up to a period.
 */
export function digestDue (input: { nowMs: number, lastPublishedMs: number, intervalMs: number, verdictSince: boolean }): boolean {
  return input.verdictSince || input.nowMs - input.lastPublishedMs >= input.intervalMs
}

/**
 * Whether an observer must listen to heartbeats itself: when no digest has come for `staleMs`, counted from
 * the later of the last digest and the moment it became an observer (a new observer waits that long for its
 * first digest while its table stays as full mode left it).
 */
export function observerMustListen (input: { observerSinceMs: number, lastDigestMs: number | undefined, nowMs: number, staleMs: number }): boolean {
  const fresh = Math.max(input.observerSinceMs, input.lastDigestMs ?? -Infinity)
  return input.nowMs - fresh > input.staleMs
}

/**
 * One member as a voter sees it. `state` is present in a full entry and absent from a compact one: the leader
 * sends a member's full NodeState only when an observer may not have it (compactDigest); a compact entry
 * carries what moves every heartbeat (health, generation, seq) and means "the rest is as last sent".
 */
export interface DigestMember {
  nodeId: string
  health: Health
  generation: number
  seq: number
  state?: NodeState
}

/** What the leader of a tiered cluster publishes: every member it tracks, itself included. */
export interface LivenessDigest {
  clusterId: string
  /** The publishing voter (gossipsub strict signing proves the sender; it must match). */
  from: string
  /** The publisher's generation and a counter within it: a replayed or older digest is dropped. */
  generation: number
  seq: number
  members: DigestMember[]
}

export type DigestDropReason = 'digest-malformed' | 'digest-wrong-cluster' | 'digest-sender-mismatch' | 'digest-not-voter' | 'digest-replay' | 'digest-too-large'

export type DigestVerdict = { ok: true, digest: LivenessDigest } | { ok: false, reason: DigestDropReason, reject: boolean }

const HEALTHS: ReadonlySet<string> = new Set<Health>(['alive', 'suspect', 'dead', 'left'])
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0

/** The wire form of a digest (canonical CBOR of this record); a compact entry has no `state` key. */
export function digestRecord (digest: LivenessDigest): Record<string, unknown> {
  return {
    clusterId: digest.clusterId,
    from: digest.from,
    generation: digest.generation,
    seq: digest.seq,
    members: digest.members.map((m) => m.state === undefined
      ? { nodeId: m.nodeId, health: m.health, generation: m.generation, seq: m.seq }
      : { nodeId: m.nodeId, health: m.health, generation: m.generation, seq: m.seq, state: m.state })
  }
}

/** A full entry for `state`. */
export function fullEntry (health: Health, state: NodeState): DigestMember {
  return { nodeId: state.nodeId, health, generation: state.generation, seq: state.seq, state }
}

/**
 * Checks the shape of a decoded digest; null when anything is off (a member's state, a duplicate, a bound, a
 * full entry whose state names another member, generation or seq than the entry).
 */
export function parseDigest (v: unknown): LivenessDigest | null {
  if (!isRecord(v)) return null
  const { clusterId, from, generation, seq, members } = v
  if (typeof clusterId !== 'string' || clusterId.length > 128 || typeof from !== 'string' || from === '' || from.length > 128) return null
  if (!isCount(generation) || !isCount(seq) || !Array.isArray(members) || members.length > MAX_MEMBERS) return null
  const parsed: DigestMember[] = []
  const seen = new Set<string>()
  for (const m of members) {
    if (!isRecord(m) || typeof m.health !== 'string' || !HEALTHS.has(m.health)) return null
    const { nodeId, generation: g, seq: s } = m
    if (typeof nodeId !== 'string' || nodeId === '' || nodeId.length > 128 || !isCount(g) || !isCount(s) || seen.has(nodeId)) return null
    const keys = Object.keys(m).length
    if (m.state === undefined) {
      if (keys !== 4) return null
      seen.add(nodeId)
      parsed.push({ nodeId, health: m.health as Health, generation: g, seq: s })
      continue
    }
    if (keys !== 5) return null
    const state = parseNodeState(m.state)
    if (state === null || state.clusterId !== clusterId || state.nodeId !== nodeId || state.generation !== g || state.seq !== s) return null
    seen.add(nodeId)
    parsed.push({ nodeId, health: m.health as Health, generation: g, seq: s, state })
  }
  return { clusterId, from, generation, seq, members: parsed }
}

/** Compared apart in sameViewState: what moves with every heartbeat, and capacity (free storage drifts). */
const VOLATILE: ReadonlySet<string> = new Set(['seq', 'uptimeMs', 'capacity'])

function sameValue (a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]))
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined)
    return ka.length === Object.keys(b).filter((k) => b[k] !== undefined).length && ka.every((k) => sameValue(a[k], b[k]))
  }
  return false
}

/**
 * True when two states of one member show the same in a view: equal in every field but seq and uptimeMs,
 * with free storage within DIGEST_STORAGE_DRIFT (generation included, so a restart always sends the full state).
 */
export function sameViewState (a: NodeState, b: NodeState): boolean {
  const strip = (s: NodeState): Record<string, unknown> => Object.fromEntries(Object.entries(s).filter(([k]) => !VOLATILE.has(k)))
  const { storageBytes: sa, ...ca } = a.capacity
  const { storageBytes: sb, ...cb } = b.capacity
  return Math.abs(sa - sb) <= Math.max(sa, sb) * DIGEST_STORAGE_DRIFT && sameValue(ca, cb) && sameValue(strip(a), strip(b))
}

/**
 * Whether digest number `seq` (from 1) sends every state in full: the first and every DIGEST_FULL_EVERY-th
 * after it, or when a subscriber appeared that the previous digest did not go to (a new observer, or one
 * back after a reconnect, gets every state at once instead of waiting for the periodic one).
 */
export function fullDigestDue (input: { seq: number, subscribers: readonly string[], previous: ReadonlySet<string> }): boolean {
  return input.seq % DIGEST_FULL_EVERY === 1 || input.subscribers.some((p) => !input.previous.has(p))
}

/**
 * The leader's digest entries: a member gets its full state when `full` is set (fullDigestDue), when the leader never sent it, or when it shows differently than the state
 * last sent (sameViewState); a compact entry otherwise. Returns the entries and the states last sent in full
 * (for the next call; members no longer tracked are forgotten).
 */
export function compactDigest (input: {
  members: ReadonlyArray<{ health: Health, state: NodeState }>
  lastSent: ReadonlyMap<string, NodeState>
  full: boolean
}): { members: DigestMember[], lastSent: Map<string, NodeState> } {
  const lastSent = new Map<string, NodeState>()
  const members = input.members.map(({ health, state }): DigestMember => {
    const prev = input.lastSent.get(state.nodeId)
    if (input.full || prev === undefined || !sameViewState(prev, state)) {
      lastSent.set(state.nodeId, state)
      return fullEntry(health, state)
    }
    lastSent.set(state.nodeId, prev)
    return { nodeId: state.nodeId, health, generation: state.generation, seq: state.seq }
  })
  return { members, lastSent }
}

/**
 * Judges one digest for this node. Only a voter of this node's own applied configuration is trusted; a
 * digest from anyone else is dropped (not penalized: during a configuration change two members can
 * disagree for a moment on who votes). Malformed, foreign or misattributed digests are rejected. A joiner
 * (`joining`) has no configuration to check the sender against: it takes a well-formed digest of its cluster
 * from any signer (core/joiner.ts says what for, and what a lying insider could do with it).
 */
export function judgeDigest (input: {
  decoded: unknown
  sender: string
  clusterId: string
  conf: RaftMembers | undefined
  /** This node is a joiner (tierOf): no configuration to judge the sender by. @default false */
  joining?: boolean
  /** The newest (generation, seq) taken from this sender. */
  lastFrom: { generation: number, seq: number } | undefined
}): DigestVerdict {
  const digest = parseDigest(input.decoded)
  if (digest === null) return { ok: false, reason: 'digest-malformed', reject: true }
  if (digest.clusterId !== input.clusterId) return { ok: false, reason: 'digest-wrong-cluster', reject: true }
  if (digest.from !== input.sender) return { ok: false, reason: 'digest-sender-mismatch', reject: true }
  const trusted = input.joining === true || (input.conf !== undefined && isVoterIn(input.conf, input.sender))
  if (!trusted) return { ok: false, reason: 'digest-not-voter', reject: false }
  const last = input.lastFrom
  if (last !== undefined && (digest.generation < last.generation || (digest.generation === last.generation && digest.seq <= last.seq))) {
    return { ok: false, reason: 'digest-replay', reject: false }
  }
  return { ok: true, digest }
}
