/**
 * In-process clusters of full revoada nodes (membership + consensus [+ policy]) over real libp2p on
 * 127.0.0.1, with fast timings, for the consensus and self-healing tests.
 */
import { startNode } from '../../../src/node/index.js'
import type { RevoadaNode } from '../../../src/node/index.js'
import { defaultServices } from '../../../src/node/services.js'
import type { ConsensusService } from '../../../src/consensus/consensus-service.js'
import type { MembershipService } from '../../../src/membership/membership-service.js'
import type { PolicyEngine } from '../../../src/policy/engine.js'
import type { ConfigInput } from '../../../src/config/index.js'
import type { NetFaults } from '../../../src/net/index.js'
import type { Logger } from '../../../src/log/index.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { tempDir, testConfig, waitFor } from '../../node/helpers.js'

export interface Member {
  dir: string
  node: RevoadaNode
  consensus: ConsensusService
  membership: MembershipService
  policy?: PolicyEngine
}

/** Fast timings plus a policy engine that acts quickly (0.5 s stabilization, no per-node damper). */
// Operations wait longer than the 10 s default: a proposal is a condition the test waits for, and on the
// shared 2-core test machine five in-process nodes can take longer than that to commit one.
export const FAST_POLICY: ConfigInput = {
  raft: { tickMs: 50, electionTicks: 6, heartbeatTicks: 1, operationTimeoutMs: 30_000 },
  membership: { heartbeatIntervalMs: 200 },
  policy: { stabilizationMs: 500, perNodeIntervalMs: 0, auditIntervalMs: 1000 }
}

export const FAST: ConfigInput = {
  raft: { tickMs: 50, electionTicks: 6, heartbeatTicks: 1, operationTimeoutMs: 30_000 },
  membership: { heartbeatIntervalMs: 200 }
}

export async function startMember (dir: string, options: { join?: string, policy?: boolean, extra?: ConfigInput, faults?: NetFaults, log?: Logger } = {}): Promise<Member> {
  const services = defaultServices({ policy: options.policy === true ? {} : false })
  const config = testConfig(dir, { ...FAST, ...options.extra, ...(options.join !== undefined ? { join: options.join } : {}) })
  const node = await startNode({ config, services, ...(options.faults !== undefined ? { faults: options.faults } : {}), ...(options.log !== undefined ? { log: options.log } : {}) })
  const find = <T>(name: string): T => services.find((s) => s.name === name) as T
  return { dir, node, consensus: find('consensus'), membership: find('membership'), ...(options.policy === true ? { policy: find('policy') } : {}) }
}

/** Starts `n` members: the first creates the cluster, the others join it and are admitted as learners. */
export async function startCluster (n: number, options: { policy?: boolean, extra?: ConfigInput, faults?: (index: number) => NetFaults } = {}): Promise<Member[]> {
  const withFaults = (i: number): { policy?: boolean, extra?: ConfigInput, faults?: NetFaults } => ({
    ...(options.policy !== undefined ? { policy: options.policy } : {}),
    ...(options.extra !== undefined ? { extra: options.extra } : {}),
    ...(options.faults !== undefined ? { faults: options.faults(i) } : {})
  })
  const first = await startMember(await tempDir(), withFaults(0))
  await waitFor(() => first.consensus.node.isLeader(), 10_000, 'the creator leads')
  const join = first.node.joinString()
  const rest: Member[] = []
  for (let i = 1; i < n; i++) rest.push(await startMember(await tempDir(), { ...withFaults(i), join }))
  const all = [first, ...rest]
  await waitFor(() => all.every((m) => {
    const conf = m.consensus.node.configuration()
    return conf.voters.length + conf.learners.length === n
  }), 60_000, `${n} members admitted everywhere`)
  return all
}

/**
 * Waits until every member is connected to every other and holds an address for it, as in a cluster that has
 * run for a while. A member learns another's address only from it or from a peer that holds it (docs/MEMBERSHIP.md,
 * "Where a node learns other members' addresses"): stopped sooner, two survivors that never met can be left with
 * each other's ids only and nobody to ask.
 */
export async function waitForMesh (members: Member[], timeoutMs: number): Promise<void> {
  /** The pairs not linked yet, as `from→to (connections, addresses)` with each id's first characters after its prefix. */
  const missing = async (): Promise<string[]> => {
    const out: string[] = []
    for (const from of members) {
      for (const to of members) {
        if (from === to) continue
        const peer = peerIdFromString(to.node.nodeId)
        const connections = from.node.net.getConnections(peer).length
        const addresses = await from.node.net.peerStore.get(peer).then((p) => p.addresses.length, () => 0)
        if (connections === 0 || addresses === 0) out.push(`${from.node.nodeId.slice(8, 14)}→${to.node.nodeId.slice(8, 14)} (${connections}, ${addresses})`)
      }
    }
    return out
  }
  await waitFor(async () => (await missing()).length === 0, timeoutMs, `${members.length} members connected to each other`)
    .catch(async (err: Error) => { throw new Error(`${err.message}; not linked (connections, addresses): ${(await missing()).join(', ')}`) })
}

export const leaderOf = (members: Member[]): Member | undefined => members.find((m) => m.consensus.node.isLeader())

/** ha-three on `m`: 3 voters in its applied shape and Raft configuration, no joint change, `dead` not among them. */
export function atThreeVoters (m: Member, dead?: string): boolean {
  const conf = m.consensus.node.configuration()
  return m.consensus.shapeMachine.shape.voters().length === 3 && conf.voters.length === 3 && conf.votersOutgoing.length === 0 &&
    (dead === undefined || !conf.voters.includes(dead))
}

/** Promotes `member` to etcd (a voter) through a proposal made on `via`. */
export async function promoteEtcd (via: Member, member: Member): Promise<void> {
  const result = await via.consensus.propose({ kind: 'promote', nodeId: member.node.nodeId, roles: ['etcd'] }, 'operator')
  if (result.result.outcome.kind !== 'applied') throw new Error(`promote failed: ${JSON.stringify(result.result.outcome)}`)
}

/**
 * Promotes `b` and `c` to etcd in one joint change proposed on `via` (`promote b with [c]`), then waits until every
 * one of `all` runs three voters, the joint change left.
 */
export async function promoteTogether (via: Member, b: Member, c: Member, all: Member[]): Promise<void> {
  const result = await via.consensus.propose({ kind: 'promote', nodeId: b.node.nodeId, roles: ['etcd'], with: [c.node.nodeId] }, 'operator')
  if (result.result.outcome.kind !== 'applied') throw new Error(`promote failed: ${JSON.stringify(result.result.outcome)}`)
  await waitFor(() => all.every((m) => {
    const conf = m.consensus.node.configuration()
    return conf.voters.length === 3 && conf.votersOutgoing.length === 0
  }), 60_000, 'three voters everywhere')
}

export async function stopAll (members: Member[]): Promise<void> {
  await Promise.all(members.map(async (m) => { await m.node.stop().catch(() => {}) }))
}

/** An abrupt stop: consensus halts and the network goes away without any goodbye. */
export async function crash (member: Member): Promise<void> {
  member.consensus.node.stop()
  await member.node.net.stop()
}

export { waitFor, tempDir }
