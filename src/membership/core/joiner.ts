/**
 * @module membership/core/joiner
 * A quiet joiner (issue 16), pure. A node that its own applied configuration does not list (tier `joiner`)
 * must reach the leader to be admitted, and nothing more: it does not need every member's heartbeat, nor a
 * connection to every member. In a fleet booting together the seed is the one node connected to everyone, and
 * a joiner in full mode made it relay every heartbeat to every joiner and made every joiner dial every member
 * it heard of (N² handshakes). So a joiner listens to the leader's liveness digest instead of heartbeats (it
 * still publishes its own: the leader reads its protocol level from them) and dials only its join-string seeds,
 * the digest's sender and the members shown holding `etcd`. With no digest within JOINER_DIGEST_STALE_MS of its
 * first connection (a seed that names no leader: an older build, or a leader that never reaches it) it listens to heartbeats again —
 * and still dials only its seeds and the `etcd` holders, now those the heartbeats show: the leader is one of
 * them, and a follower relays its heartbeats. Long before that (JOINER_LEADER_ASK_MS) it asks its connected peers
 * which node leads and dials the one named: a follower seed knows.
 *
 * Trust: a joiner has no configuration to check a digest's sender against, so it takes a digest from any
 * signed sender of its cluster (the cluster key admits only insiders). What it takes is its own view and whom
 * it dials; no role, vote or admission decision reads either (docs/SECURITY.md, "Gossip"). It stays unchecked word
 * (MemberTable.adopt with `checked: false`): a generation such a digest gives a member outranks neither that member's
 * own heartbeats nor, once admitted, its voters' digests.
 */
import type { NodeState } from './types.js'

/**
 * Whether a quiet joiner must listen to heartbeats (and dial everyone it hears of) after all: it has been
 * connected to some peer since `connectedSinceMs` and no digest has come for `staleMs`, counted from the later
 * of that and the last digest. A joiner connected to nobody hears nothing either way: it stays quiet.
 */
export function joinerMustListen (input: { connectedSinceMs: number | undefined, lastDigestMs: number | undefined, nowMs: number, staleMs: number }): boolean {
  const since = quietSinceMs(input.connectedSinceMs, input.lastDigestMs)
  return since !== undefined && input.nowMs - since > input.staleMs
}

/** Since when a joiner has heard no digest while connected: the later of its first connection and the last digest. */
function quietSinceMs (connectedSinceMs: number | undefined, lastDigestMs: number | undefined): number | undefined {
  return connectedSinceMs === undefined ? undefined : Math.max(connectedSinceMs, lastDigestMs ?? -Infinity)
}

/**
 * Whether a quiet joiner asks its connected peers which node leads (JOINER_LEADER_ASK_MS): it has been connected
 * since `connectedSinceMs`, no digest came for `afterMs` counted from the later of that and the last digest, and
 * its backoff (`nextAskAtMs`) has passed. A joiner connected to nobody has nobody to ask.
 */
export function joinerAsksLeader (input: { connectedSinceMs: number | undefined, lastDigestMs: number | undefined, nowMs: number, afterMs: number, nextAskAtMs: number }): boolean {
  const since = quietSinceMs(input.connectedSinceMs, input.lastDigestMs)
  return since !== undefined && input.nowMs >= input.nextAskAtMs && input.nowMs - since >= input.afterMs
}

/**
 * The peers a joiner dials: its seeds (join string), the last digest's sender (the leader: admission needs the
 * joiner connected to it), the leader a connected peer named when asked (joinerAsksLeader: the seed may be a
 * follower) and the members its view shows holding `etcd` (the voters, one of which leads after a failover; the
 * view comes from digests, or from heartbeats when it listens). Never itself.
 */
export function joinerDialTargets (input: {
  self: string
  seeds: readonly string[]
  digestFrom: string | undefined
  leaderHint?: string | undefined
  members: ReadonlyArray<Pick<NodeState, 'nodeId' | 'roles'>>
}): Set<string> {
  const targets = new Set(input.seeds)
  if (input.digestFrom !== undefined) targets.add(input.digestFrom)
  if (input.leaderHint !== undefined) targets.add(input.leaderHint)
  for (const member of input.members) if (member.roles.includes('etcd')) targets.add(member.nodeId)
  targets.delete(input.self)
  return targets
}

/**
 * Whether a member first heard of through a heartbeat goes into the redial loop. A node whose configuration
 * lists it dials only members of that configuration and `etcd` holders (a member whose configuration lags, back
 * from a restart, still reaches voters it does not know yet): a joiner is not worth a connection from everyone (it
 * dials the leader itself, and its heartbeats reach the others through relays), and it dials the members once
 * admitted. A joiner (a configuration that does not list it) dials none this way: joinerDialTargets decides.
 * Before consensus runs (no configuration) a node dials everyone it hears of, as before.
 */
export function dialsHeardMember (input: { hasConfiguration: boolean, selfListed: boolean, memberListed: boolean, memberHoldsEtcd: boolean }): boolean {
  if (!input.hasConfiguration) return true
  return input.selfListed && (input.memberListed || input.memberHoldsEtcd)
}
