/**
 * @module test/fuzz/targets/liveness-digest
 * A tiered non-voter's digest path exactly as MembershipService.validateDigest runs it on a gossip message:
 * size limit → decodeCanonical → judgeDigest (against this node's own configuration) → MemberTable.adopt →
 * tick with detection off → view. One input is up to 6 digests from a voter and from a learner (whose digests
 * must never count), one second apart, with compact entries (no state) and full ones mixed, so the replay
 * check, the table's transitions and the compact path run too. Nothing may throw (the validator drops and
 * counts); only a voter's digest is ever accepted; a compact entry never adds a member nor moves a member to
 * a generation whose state it did not get in full; no member's (generation, seq) goes back; the table stays
 * bounded.
 */
import { decodeCanonical, encodeCanonical } from '../../../src/codec/index.js'
import { judgeDigest, digestRecord, fullEntry, MemberTable, MembershipConstants as C } from '../../../src/membership/core/index.js'
import type { DigestMember, Health, LivenessDigest, NodeState, RaftMembers } from '../../../src/membership/core/index.js'
import { joinFrames, splitFrames } from '../frames.js'
import { damageValue, encodeValue } from '../values.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'

const CLUSTER = 'cluster-1'
const SELF = 'node-self'
const VOTER = 'node-voter'
const LEARNER = 'node-learner'
const CONF: RaftMembers = { voters: [VOTER, 'node-v2', 'node-v3'], votersOutgoing: [], learners: [SELF, LEARNER], learnersNext: [] }
const SENDERS = [VOTER, LEARNER]
const HEALTHS: Health[] = ['alive', 'suspect', 'dead', 'left']

function state (nodeId: string, generation: number, seq: number): NodeState {
  return {
    nodeId, clusterId: CLUSTER, addresses: ['/ip4/127.0.0.1/tcp/4101'], roles: ['worker'],
    capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, storageBytes: 2 ** 40, pods: 110 },
    labels: { zone: 'a' }, version: '0.1.0', kubernetesVersion: '1.31.0', uptimeMs: 1000, generation, seq, leaving: false, protocol: 1
  }
}

function digest (rng: FuzzRng, i: number): Uint8Array {
  const from = SENDERS[i % 2] as string
  // Small seq values so compact entries often meet the (generation, seq) a full entry put in the table.
  const members = Array.from({ length: rng.int(6) }, (): DigestMember => {
    const entry = fullEntry(rng.pick(HEALTHS), state(`node-${rng.int(8)}`, rng.int(3), rng.chance(0.5) ? rng.int(8) : rng.int(2 ** 32)))
    if (rng.chance(0.5)) return entry
    return { nodeId: entry.nodeId, health: entry.health, generation: entry.generation, seq: entry.seq }
  })
  // Distinct members (a duplicate makes the digest malformed: that path is the damaged inputs' job).
  const unique = [...new Map(members.map((m) => [m.nodeId, m])).values()]
  const value: LivenessDigest = { clusterId: CLUSTER, from, generation: rng.int(3), seq: rng.int(2 ** 32), members: unique }
  const record = digestRecord(value)
  if (rng.chance(0.5)) return encodeCanonical(record)
  return encodeValue(rng, damageValue(rng, record))
}

export const livenessDigestTarget: FuzzTarget = {
  name: 'liveness-digest',
  description: 'gossip message bytes → decodeCanonical → judgeDigest → MemberTable.adopt (never throws; only voters count; table bounded)',
  typedErrors: [],
  corpus: (rng) => [joinFrames([digest(rng, 0), digest(rng, 1)])],
  generate: (rng) => joinFrames(Array.from({ length: 1 + rng.int(6) }, (_, i) => digest(rng, i))),
  run (input) {
    const table = new MemberTable({ self: state(SELF, 0, 0) })
    const lastFrom = new Map<string, { generation: number, seq: number }>()
    let nowMs = 1_000_000
    for (const [i, data] of splitFrames(input, 0, 6).entries()) {
      nowMs += 1000
      const sender = SENDERS[i % 2] as string
      if (data.length > C.MAX_DIGEST_BYTES) continue
      let decoded: unknown
      try {
        decoded = decodeCanonical(data)
      } catch (err) {
        invariant(['MalformedEncodingError', 'NonCanonicalEncodingError'].includes((err as Error).name), () => `decodeCanonical threw ${(err as Error).name}`)
        continue
      }
      const verdict = judgeDigest({ decoded, sender, clusterId: CLUSTER, conf: CONF, lastFrom: lastFrom.get(sender) })
      table.tick(nowMs, false)
      if (!verdict.ok) continue
      invariant(sender === VOTER, () => `a digest from ${sender}, not a voter, was accepted`)
      const last = lastFrom.get(sender)
      invariant(last === undefined || verdict.digest.generation > last.generation || (verdict.digest.generation === last.generation && verdict.digest.seq > last.seq),
        'accepted a digest that is not newer than the last from its sender')
      lastFrom.set(sender, { generation: verdict.digest.generation, seq: verdict.digest.seq })
      const before = new Map(table.view(nowMs).members.map((m) => [m.nodeId, m.state]))
      table.adopt(verdict.digest.members, nowMs)
      const view = table.view(nowMs)
      const full = new Map(verdict.digest.members.flatMap((m) => m.state !== undefined ? [[m.nodeId, m.state] as const] : []))
      for (const m of view.members) {
        const held = before.get(m.nodeId)
        invariant(held !== undefined || full.has(m.nodeId), () => `${m.nodeId} added from a compact entry`)
        invariant(held === undefined || m.state.generation > held.generation || (m.state.generation === held.generation && m.state.seq >= held.seq), () => `${m.nodeId} went back in (generation, seq)`)
        invariant(m.state.generation === held?.generation || full.get(m.nodeId)?.generation === m.state.generation, () => `${m.nodeId} moved to a generation not sent in full`)
      }
      invariant(view.members.length <= C.MAX_MEMBERS + 1, 'member table over its bound')
      invariant(view.members.some((m) => m.nodeId === SELF && m.health === 'alive'), 'a digest changed this node\'s own entry')
    }
  }
}
