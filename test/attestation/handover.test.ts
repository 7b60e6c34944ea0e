/**
 * The seal hand-over (protocol level 8, docs/CHAIN.md §4 and §9): a seal, and an export's checkpoint, must also
 * carry a majority of the voters in force where the chain was last sealed (or last recovered). Before it, one
 * member's key — a learner's is enough, any member may propose its own promotion — could fork a real export,
 * promote itself, demote the voters and seal alone, and the fork verified against the pinned genesis. A quorum
 * recovery's demotes (reason `quorum-recovery`, by a voter, of another voter) re-anchor the hand-over, and an
 * export names each one. Below level 8 a chain is judged as every earlier build judges it.
 */
import { describe, expect, it } from 'vitest'
import { ChainVerifyError } from '../../src/attestation/errors.js'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import {
  chainStateFromData, chainStateProblem, chainStateToData, decodeBlock, handoverVoters, verifyChain, SEAL_WINDOW_HEIGHTS
} from '../../src/attestation/core/index.js'
import type { ChainExport } from '../../src/attestation/core/index.js'
import { PROTOCOL_SEAL_HANDOVER } from '../../src/consensus/shape/core/index.js'
import type { Command } from '../../src/consensus/shape/core/index.js'
import { shapeCommandRules } from '../../src/consensus/shape-command-rules.js'
import { chooseSeal, judgeWitness } from '../../src/attestation/witness-pool.js'
import { ChainBuilder, editAndRelink, sealedThreeVoters } from './helpers.js'
import type { TestNode } from './helpers.js'

const CLUSTER = 'cluster-h'
/** A seal entry's apply result when the chain refuses it for the hand-over (attested-machine.ts names the code). */
const HANDOVER_REFUSED = { kind: 'rejected', message: expect.stringMatching(/^seal seal-handover: /) as unknown }

/** The error verification throws, as `{name, height}`; null when the export verifies. */
function failure (exp: ChainExport): { name: string, height: number } | null {
  try {
    verifyChain(exp, { verify: verifyWithCodec })
    return null
  } catch (err) {
    expect(err).toBeInstanceOf(ChainVerifyError)
    return { name: (err as Error).name, height: (err as ChainVerifyError).height }
  }
}

/**
 * A learner's fork of the real chain: n3's replica of every real entry, then its own signed promotion, the
 * three voters demoted by it, and a seal it signs alone — each applied by the shape as the nodes apply it.
 */
function learnersFork (real: ChainBuilder, n3: TestNode, voters: TestNode[]): { fork: ChainBuilder, sealOutcome: unknown } {
  const fork = new ChainBuilder(CLUSTER)
  for (const entry of real.entries) fork.replay(entry)
  expect(fork.propose(n3, { kind: 'promote', nodeId: n3.id, roles: ['etcd'] }).outcome).toEqual({ kind: 'applied' })
  for (const v of voters) expect(fork.propose(n3, { kind: 'demote', nodeId: v.id, roles: ['etcd'] }).outcome).toEqual({ kind: 'applied' })
  expect(fork.machine.view().voters).toEqual([n3.id])
  return { fork, sealOutcome: fork.commitSeal(fork.sealOf([n3])).outcome }
}

/** Block `height` recorded as applied (what a forger writes), every later block relinked. */
function recordedApplied (exp: ChainExport, height: number): ChainExport {
  return { ...exp, blocks: editAndRelink(exp.blocks, height - 1, (b) => ({ ...b, outcome: { kind: 'applied' } })) }
}

describe('seal hand-over (protocol level 8)', () => {
  it('should refuse a learner\'s fork that promotes itself, demotes the voters and seals alone', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2, n3] = nodes as [TestNode, TestNode, TestNode, TestNode]
    const { fork, sealOutcome } = learnersFork(b, n3, [n0, n1, n2])
    // The nodes' own judgement: none of the voters that last sealed signed.
    expect(sealOutcome).toMatchObject(HANDOVER_REFUSED)
    // The export as the forger would write it: its seal recorded as applied, or a checkpoint of its own.
    const exp = fork.export()
    const sealHeight = exp.blocks.length
    expect(failure(recordedApplied(exp, sealHeight))).toEqual({ name: 'SealHandoverError', height: sealHeight })
    expect(failure({ ...exp, checkpoint: fork.sealOf([n3]) })).toMatchObject({ name: 'CheckpointError' })
    // Unsealed, the fork verifies — as every unwitnessed tail does, and the report says how far the seals reach.
    const report = verifyChain(exp, { verify: verifyWithCodec })
    expect(report.sealedHeight).toBeLessThan(report.height - 4)
  })

  it('should verify the same fork below level 8, as every earlier build judges it', async () => {
    // What the rule closes, shown: at level 1 the learner's lone seal applies and its export verifies.
    const { b, nodes } = await sealedThreeVoters(CLUSTER, 1)
    const [n0, n1, n2, n3] = nodes as [TestNode, TestNode, TestNode, TestNode]
    const { fork, sealOutcome } = learnersFork(b, n3, [n0, n1, n2])
    expect(sealOutcome).toEqual({ kind: 'applied' })
    expect(verifyChain(fork.export([n3]), { verify: verifyWithCodec })).toMatchObject({ protocol: 1, voters: [n3.id] })
  })

  it('should seal an honest voter change once the voters that last sealed sign it too', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2, n3] = nodes as [TestNode, TestNode, TestNode, TestNode]
    b.propose(n0, { kind: 'promote', nodeId: n3.id, roles: ['etcd'] })
    b.propose(n0, { kind: 'demote', nodeId: n0.id, roles: ['etcd'] })
    expect(b.machine.view().voters).toEqual([n1.id, n2.id, n3.id].sort())
    // A majority of the voters now (n2, n3) but one of the three that last sealed: not yet.
    expect(b.commitSeal(b.sealOf([n2, n3])).outcome).toMatchObject(HANDOVER_REFUSED)
    expect(b.commitSeal(b.sealOf([n1, n2, n3])).outcome).toEqual({ kind: 'applied' })
    // The hand-over moved to that seal: now the new voters alone suffice.
    expect(handoverVoters(b.machine.view())).toEqual([n1.id, n2.id, n3.id].sort())
    b.propose(n1, { kind: 'set-target', target: { apiServers: 1, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 1 } })
    expect(b.commitSeal(b.sealOf([n2, n3])).outcome).toEqual({ kind: 'applied' })
    const report = verifyChain(b.export([n2, n3]), { verify: verifyWithCodec })
    expect(report).toMatchObject({ protocol: PROTOCOL_SEAL_HANDOVER, checkpointHeight: report.height, recoveries: [] })
  })

  it('should have the leader choose the highest height whose witnesses carry the hand-over voters too', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2, n3] = nodes as [TestNode, TestNode, TestNode, TestNode]
    b.propose(n0, { kind: 'promote', nodeId: n3.id, roles: ['etcd'] })
    const promoted = b.machine.height
    b.propose(n1, { kind: 'demote', nodeId: n0.id, roles: ['etcd'] })
    const head = b.machine.height
    // At the head, a majority of its voters (n1, n2, n3) but one of the three that last sealed; a height lower,
    // a majority of the four voters there, two of them among the three.
    const groups = new Map([[head, b.sealOf([n2, n3], head)], [promoted, b.sealOf([n0, n1, n3], promoted)]])
    const pool = {
      groupsByHeight: () => [...groups.values()].map((g) => ({ height: g.height, head: g.head, signers: g.witnesses.map((w) => w.nodeId) })),
      witnesses: (height: number) => groups.get(height)?.witnesses ?? []
    }
    const seal = chooseSeal(b.machine.view(), pool)
    expect(seal?.height).toBe(promoted)
    expect(b.commitSeal(seal!).outcome).toEqual({ kind: 'applied' })
  })

  it('should let a voter demoted from two to one witness until a seal covers its departure', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2, n3] = nodes as [TestNode, TestNode, TestNode, TestNode]
    b.propose(n0, { kind: 'demote', nodeId: n2.id, roles: ['etcd'] })
    expect(b.commitSeal(b.sealOf([n0, n1])).outcome).toEqual({ kind: 'applied' })
    b.propose(n0, { kind: 'demote', nodeId: n1.id, roles: ['etcd'] })
    const chain = b.machine.view()
    expect(chain.voters).toEqual([n0.id])
    // n1 is no voter at the head, but the seal needs two of the two that last sealed: its witness is kept.
    expect(judgeWitness({ height: chain.height, nodeId: n1.id, chain })).toEqual({ ok: true })
    expect(judgeWitness({ height: chain.height, nodeId: n3.id, chain })).toMatchObject({ ok: false, reason: 'not-voter', reject: true })
    expect(b.commitSeal(b.sealOf([n0]))).toMatchObject({ outcome: HANDOVER_REFUSED })
    expect(b.commitSeal(b.sealOf([n0, n1], chain.height)).outcome).toEqual({ kind: 'applied' })
    // Its departure covered, it is a former voter: ignored, not rejected (a node behind may still count it).
    const after = b.machine.view()
    expect(judgeWitness({ height: after.height, nodeId: n1.id, chain: after })).toMatchObject({ ok: false, reason: 'not-voter', reject: false })
  })

  it('should keep the hand-over voters however many unsealed blocks bury the change', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2, n3] = nodes as [TestNode, TestNode, TestNode, TestNode]
    b.propose(n2, { kind: 'promote', nodeId: n3.id, roles: ['etcd'] })
    b.propose(n2, { kind: 'demote', nodeId: n0.id, roles: ['etcd'] })
    b.propose(n2, { kind: 'demote', nodeId: n1.id, roles: ['etcd'] })
    // More than a seal window of blocks (rejected commands are blocks too), none sealed.
    for (let i = 0; i <= SEAL_WINDOW_HEIGHTS; i++) b.propose(n2, { kind: 'promote', nodeId: 'nobody', roles: ['scheduler'] })
    expect(chainStateProblem(b.machine.view())).toBeNull()
    expect(b.commitSeal(b.sealOf([n2, n3])).outcome).toMatchObject(HANDOVER_REFUSED)
    expect(b.commitSeal(b.sealOf([n0, n2, n3])).outcome).toEqual({ kind: 'applied' })
  })

  it('should start the hand-over at the raise to level 8, not at voters from before the rule', async () => {
    // A node restored from an older build's snapshot holds voter sets of the seal window only: a seal judged
    // against voters from before the raise could differ between replicas. The raise is the floor.
    const { b, nodes } = await sealedThreeVoters(CLUSTER, 7)
    const [n0, n1, n2, n3] = nodes as [TestNode, TestNode, TestNode, TestNode]
    b.propose(n1, { kind: 'promote', nodeId: n3.id, roles: ['etcd'] })
    b.propose(n1, { kind: 'demote', nodeId: n0.id, roles: ['etcd'] })
    expect(b.propose(n1, { kind: 'set-protocol', level: PROTOCOL_SEAL_HANDOVER }).outcome).toEqual({ kind: 'applied' })
    const raised = b.machine.height
    expect(b.machine.view()).toMatchObject({ protocol: PROTOCOL_SEAL_HANDOVER, handoverFloor: raised })
    expect(handoverVoters(b.machine.view())).toEqual([n1.id, n2.id, n3.id].sort())
    // Two of the three voters at the raise: sealed, though only one of the three that sealed before it signed.
    expect(b.commitSeal(b.sealOf([n2, n3])).outcome).toEqual({ kind: 'applied' })
    expect(verifyChain(b.export(), { verify: verifyWithCodec })).toMatchObject({ protocol: PROTOCOL_SEAL_HANDOVER, recoveries: [] })
  })

  it('should let a quorum recovery\'s demotes re-anchor the hand-over, and name each one in the report', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2] = nodes as [TestNode, TestNode, TestNode]
    const plain = new ChainBuilder(CLUSTER)
    for (const entry of b.entries) plain.replay(entry)
    const demotes = (on: ChainBuilder, reason: 'quorum-recovery' | 'operator'): void => {
      for (const lost of [n1, n2]) expect(on.propose(n0, { kind: 'demote', nodeId: lost.id, roles: ['etcd'] }, { reason }).outcome).toEqual({ kind: 'applied' })
    }
    demotes(b, 'quorum-recovery')
    expect(b.commitSeal(b.sealOf([n0])).outcome).toEqual({ kind: 'applied' })
    const report = verifyChain(b.export([n0]), { verify: verifyWithCodec })
    const height = b.blocks.length
    expect(report.recoveries).toEqual([
      { height: height - 2, proposer: n0.id, demoted: n1.id },
      { height: height - 1, proposer: n0.id, demoted: n2.id }
    ])
    // The same demotes as an operator's: the lost voters can sign nothing, and nothing seals.
    demotes(plain, 'operator')
    expect(plain.commitSeal(plain.sealOf([n0])).outcome).toMatchObject(HANDOVER_REFUSED)
  })

  it('should not count a recovery demote by a learner, or of the proposer itself', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2, n3] = nodes as [TestNode, TestNode, TestNode, TestNode]
    const { sealedHeight: sealed, handoverFloor: floor } = b.machine.view()
    expect(floor).toBe(1) // the bootstrap at level 8
    const reason = { reason: 'quorum-recovery' as const }
    // n3 is no voter: whatever the shape makes of its demote, the hand-over stays where the chain was sealed.
    b.propose(n3, { kind: 'demote', nodeId: n1.id, roles: ['etcd'] }, reason)
    b.propose(n2, { kind: 'demote', nodeId: n2.id, roles: ['etcd'] }, reason)
    expect(b.machine.view().handoverFloor).toBe(floor)
    expect(handoverVoters(b.machine.view())).toEqual([n0.id, n1.id, n2.id].sort())
    expect(b.machine.view().sealedHeight).toBe(sealed)
  })

  it('should apply a quorum-recovery reason below level 8 as malformed, and refuse it in a batch at any level', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, 7)
    const [n0, n1] = nodes as [TestNode, TestNode]
    const before = b.shape.shapeCid()
    const command: Command = { kind: 'demote', nodeId: n1.id, roles: ['etcd'] }
    expect(b.propose(n0, command, { reason: 'quorum-recovery', withoutConfChange: true }).outcome).toMatchObject({ kind: 'rejected', code: 'malformed' })
    expect(b.shape.shapeCid()).toBe(before)
    // Its block is what a build that cannot decode the reason derives: no proposer, the raw bytes.
    const block = decodeBlock(b.blocks[b.blocks.length - 1]!)!
    expect(block).toMatchObject({ kind: 'proposal', proposer: '', outcome: { code: 'malformed' } })
    // Raft gives it no proposal id and no configuration change either, as such a build does.
    const bytes = b.entries[b.entries.length - 1]!.bytes
    const rules = shapeCommandRules(() => b.shape.shape)
    expect(rules.identify(bytes)).toBeNull()
    expect(rules.confChangeFor(bytes, { voters: [n0.id], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false })).toBeNull()
    expect(verifyChain(b.export(), { verify: verifyWithCodec }).protocol).toBe(7)

    const { b: b8, nodes: nodes8 } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const batch = b8.proposeBatch(nodes8[0]!, [{ command: { kind: 'quarantine', nodeId: nodes8[4]!.id }, reason: 'quorum-recovery' }])
    expect(batch.outcome).toMatchObject({ kind: 'rejected', code: 'malformed' })
  })

  it('should carry the level and the recovery height through the chain state\'s bytes, absent when unset', async () => {
    const { b } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const state = { ...b.machine.view(), handoverFloor: 3 }
    expect(chainStateFromData(chainStateToData(state))).toMatchObject({ protocol: PROTOCOL_SEAL_HANDOVER, handoverFloor: 3 })
    const old = await sealedThreeVoters(CLUSTER, 1)
    const data = chainStateToData(old.b.machine.view())
    expect(Object.keys(data)).not.toContain('protocol')
    expect(Object.keys(data)).not.toContain('handoverFloor')
    expect(chainStateFromData(data)).toMatchObject({ protocol: 1, handoverFloor: 0 })
    expect(chainStateFromData({ ...data, protocol: 0 })).toBeNull()
    expect(chainStateFromData({ ...data, handoverFloor: data.height as number + 1 })).toBeNull()
  })
})
