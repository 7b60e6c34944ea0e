/**
 * @module test/fuzz/targets/gossip-heartbeat
 * The membership heartbeat path exactly as MembershipService.validate runs it on a gossip message: size
 * limit → decodeCanonical → judgeHeartbeat → MemberTable.heartbeat/tick/view → parseAdvertisedAddresses
 * (only the sender's own addresses, as sent). One input is up to 8 heartbeats from two senders into one
 * fresh table, one second apart, so replay and generation checks run too. Nothing may throw (the validator drops and counts); the table must stay
 * within its limits and keep every member's (generation, seq) monotonic.
 */
import { decodeCanonical, encodeCanonical } from '../../../src/codec/index.js'
import { judgeHeartbeat, MemberTable, MembershipConstants as C } from '../../../src/membership/core/index.js'
import type { NodeState } from '../../../src/membership/core/index.js'
import { parseAdvertisedAddresses } from '../../../src/membership/addresses.js'
import { joinFrames, splitFrames } from '../frames.js'
import { damageValue, encodeValue } from '../values.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'

const CLUSTER = 'cluster-1'
const SELF = 'node-self'
const SENDERS = ['node-b', 'node-c']

function state (nodeId: string, generation: number, seq: number): NodeState {
  return {
    nodeId, clusterId: CLUSTER, addresses: ['/ip4/127.0.0.1/tcp/4101', `/ip4/127.0.0.1/tcp/4102/p2p/${nodeId}`, '/ip4/127.0.0.1/tcp/4103/p2p/12D3KooWxyz'],
    roles: ['etcd', 'worker'], capacity: { cpuMillis: 4000, memoryBytes: 8 * 2 ** 30, storageBytes: 2 ** 40, pods: 110 },
    labels: { zone: 'a', rack: 'r1' }, version: '0.1.0', kubernetesVersion: '1.31.0', uptimeMs: 1000 * seq, generation, seq, leaving: false
  }
}

function heartbeat (rng: FuzzRng, i: number): Uint8Array {
  const sender = SENDERS[i % 2] as string
  // Half of them advertise a protocol level (absent: a node from before the gate), now and then out of range.
  const base = { ...state(sender, rng.int(3), rng.int(2 ** 32)), ...(rng.chance(0.5) ? { protocol: rng.chance(0.9) ? 1 + rng.int(8) : rng.pick([0, -1, 2.5, C.MAX_PROTOCOL_LEVEL + 1]) } : {}) }
  if (rng.chance(0.5)) return encodeCanonical(base)
  return encodeValue(rng, damageValue(rng, base))
}

/** One gossip message through the validator's steps; returns whether it was accepted. */
function deliver (table: MemberTable, data: Uint8Array, sender: string, nowMs: number): boolean {
  if (data.length > C.MAX_HEARTBEAT_BYTES) return false
  let decoded: unknown
  try {
    decoded = decodeCanonical(data)
  } catch (err) {
    invariant(['MalformedEncodingError', 'NonCanonicalEncodingError'].includes((err as Error).name), () => `decodeCanonical threw ${(err as Error).name}`)
    return false
  }
  const before = table.lastSeen(sender)
  const verdict = judgeHeartbeat({ decoded, sender, self: SELF, clusterId: CLUSTER, lastSeen: before })
  if (!verdict.ok) return false
  if (before === undefined && table.size >= C.MAX_MEMBERS) return false
  table.heartbeat(verdict.state, nowMs)
  const after = table.lastSeen(sender)
  invariant(after !== undefined, 'accepted heartbeat left no entry')
  if (before !== undefined) {
    invariant(after.generation > before.generation || (after.generation === before.generation && after.seq > before.seq),
      () => `accepted a heartbeat that is not newer: ${JSON.stringify(before)} -> ${JSON.stringify(after)}`)
  }
  const sent = verdict.state.addresses.map((a) => a.endsWith(`/p2p/${sender}`) ? a.slice(0, -`/p2p/${sender}`.length) : a)
  for (const ma of parseAdvertisedAddresses(verdict.state.addresses, sender)) {
    invariant(sent.includes(ma.toString()), () => `would store ${ma.toString()}, not one of the sender's addresses as sent`)
  }
  return true
}

export const gossipHeartbeatTarget: FuzzTarget = {
  name: 'gossip-heartbeat',
  description: 'gossip message bytes → decodeCanonical → judgeHeartbeat → MemberTable (never throws; table bounded, monotonic)',
  typedErrors: [],
  corpus: (rng) => [joinFrames([heartbeat(rng, 0), heartbeat(rng, 1)]), joinFrames([encodeCanonical(state('node-b', 1, 5))])],
  generate: (rng) => joinFrames(Array.from({ length: 1 + rng.int(8) }, (_, i) => heartbeat(rng, i))),
  run (input) {
    const table = new MemberTable({ self: state(SELF, 0, 0) })
    let nowMs = 1_000_000
    for (const [i, data] of splitFrames(input, 0, 8).entries()) {
      nowMs += 1000
      deliver(table, data, SENDERS[i % 2] as string, nowMs)
      table.tick(nowMs)
      const view = table.view(nowMs)
      invariant(view.members.length <= C.MAX_MEMBERS + 1, 'member table over its bound')
      for (const member of view.members) {
        invariant(!Number.isNaN(member.phi), () => `phi is NaN for ${member.nodeId}`)
        invariant(member.state.addresses.length <= C.MAX_ADDRESSES, 'a member holds too many addresses')
      }
    }
  }
}
