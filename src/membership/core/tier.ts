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
import { MAX_MEMBERS } from './constants.js'

/** The part of a Raft configuration (consensus/core ConfState) the tier decision reads. */
export interface RaftMembers {
  voters: readonly string[]
  votersOutgoing: readonly string[]
  learners: readonly string[]
  learnersNext: readonly string[]
}

/**
 * `full`: every member hears every heartbeat (small clusters, joiners, a node outside any configuration).
 * `voter`: tiered, this node detects for everyone. `observer`: tiered, this node takes the voters' digest.
 */
export type Tier = 'full' | 'voter' | 'observer'

/** True when `id` votes in `conf` (incoming or outgoing half of a joint configuration). */
export function isVoterIn (conf: RaftMembers, id: string): boolean {
  return conf.voters.includes(id) || conf.votersOutgoing.includes(id)
}

/** Distinct members of `conf`: voters and learners, both halves of a joint configuration. */
export function confMemberCount (conf: RaftMembers): number {
  return new Set([...conf.voters, ...conf.votersOutgoing, ...conf.learners, ...conf.learnersNext]).size
}

/**
 * This node's tier from its own applied configuration (undefined before consensus runs). A node the
 * configuration does not list (a joiner) stays `full`: it must hear the cluster to be admitted.
 */
export function tierOf (conf: RaftMembers | undefined, self: string, tieredAboveMembers: number): Tier {
  if (conf === undefined) return 'full'
  const voter = isVoterIn(conf, self)
  if (!voter && !conf.learners.includes(self) && !conf.learnersNext.includes(self)) return 'full'
  if (confMemberCount(conf) <= tieredAboveMembers) return 'full'
  return voter ? 'voter' : 'observer'
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

/** One member as a voter sees it. */
export interface DigestMember {
  health: Health
  state: NodeState
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

/** The wire form of a digest (canonical CBOR of this record). */
export function digestRecord (digest: LivenessDigest): Record<string, unknown> {
  return {
    clusterId: digest.clusterId,
    from: digest.from,
    generation: digest.generation,
    seq: digest.seq,
    members: digest.members.map((m) => ({ health: m.health, state: m.state }))
  }
}

/** Checks the shape of a decoded digest; null when anything is off (a member's state, a duplicate, a bound). */
export function parseDigest (v: unknown): LivenessDigest | null {
  if (!isRecord(v)) return null
  const { clusterId, from, generation, seq, members } = v
  if (typeof clusterId !== 'string' || clusterId.length > 128 || typeof from !== 'string' || from === '' || from.length > 128) return null
  if (!isCount(generation) || !isCount(seq) || !Array.isArray(members) || members.length > MAX_MEMBERS) return null
  const parsed: DigestMember[] = []
  const seen = new Set<string>()
  for (const m of members) {
    if (!isRecord(m) || typeof m.health !== 'string' || !HEALTHS.has(m.health)) return null
    const state = parseNodeState(m.state)
    if (state === null || state.clusterId !== clusterId || seen.has(state.nodeId)) return null
    seen.add(state.nodeId)
    parsed.push({ health: m.health as Health, state })
  }
  return { clusterId, from, generation, seq, members: parsed }
}

/**
 * Judges one digest for this node. Only a voter of this node's own applied configuration is trusted; a
 * digest from anyone else is dropped (not penalized: during a configuration change two members can
 * disagree for a moment on who votes). Malformed, foreign or misattributed digests are rejected.
 */
export function judgeDigest (input: {
  decoded: unknown
  sender: string
  clusterId: string
  conf: RaftMembers | undefined
  /** The newest (generation, seq) taken from this sender. */
  lastFrom: { generation: number, seq: number } | undefined
}): DigestVerdict {
  const digest = parseDigest(input.decoded)
  if (digest === null) return { ok: false, reason: 'digest-malformed', reject: true }
  if (digest.clusterId !== input.clusterId) return { ok: false, reason: 'digest-wrong-cluster', reject: true }
  if (digest.from !== input.sender) return { ok: false, reason: 'digest-sender-mismatch', reject: true }
  if (input.conf === undefined || !isVoterIn(input.conf, input.sender)) return { ok: false, reason: 'digest-not-voter', reject: false }
  const last = input.lastFrom
  if (last !== undefined && (digest.generation < last.generation || (digest.generation === last.generation && digest.seq <= last.seq))) {
    return { ok: false, reason: 'digest-replay', reject: false }
  }
  return { ok: true, digest }
}
