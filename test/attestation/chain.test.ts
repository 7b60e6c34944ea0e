/**
 * The chain's derivation and verification on real signed proposals (DESIGN.md §8): a derived chain
 * verifies offline from the genesis alone, seals are judged identically by the node and the verifier,
 * and every block records what the issue lists.
 */
import { describe, expect, it } from 'vitest'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import { chainStateProblem, decodeBlock, decodeChainExport, encodeChainExport, encodeSealCommand, verifyChain } from '../../src/attestation/core/index.js'
import { ChainBuilder, editAndRelink, makeNodes, standardChain } from './helpers.js'
import type { ProposalBlock } from '../../src/attestation/core/index.js'
import { CID } from '../../src/codec/index.js'

type TestNode = Awaited<ReturnType<typeof makeNodes>>[number]

/** Four members; the first bootstraps, admits the others and promotes two of them (x < y) to etcd with one `promote … with`. */
async function joinedPromotionChain (clusterId: string): Promise<{ nodes: TestNode[], b: ChainBuilder, n0: TestNode, n3: TestNode, x: string, y: string }> {
  const nodes = await makeNodes(4)
  const [n0, n1, n2, n3] = nodes as [typeof nodes[0], typeof nodes[0], typeof nodes[0], typeof nodes[0]]
  const b = new ChainBuilder(clusterId)
  b.propose(n0, { kind: 'bootstrap', nodeId: n0.id })
  for (const n of [n1, n2, n3]) b.propose(n0, { kind: 'add-member', nodeId: n.id })
  const [x, y] = [n1.id, n2.id].sort() as [string, string]
  expect(b.propose(n0, { kind: 'promote', nodeId: x, roles: ['etcd'], with: [y] }).outcome).toEqual({ kind: 'applied' })
  return { nodes, b, n0, n3, x, y }
}

/** The error name verifying `exp` gives once its last block claims `voters` (relinked), or null when it verifies. */
function lastBlockMovedTo (exp: ReturnType<ChainBuilder['export']>, voters: string[]): unknown {
  try {
    verifyChain({ ...exp, blocks: editAndRelink(exp.blocks, exp.blocks.length - 1, (block) => ({ ...(block as ProposalBlock), voters })) }, { verify: verifyWithCodec })
    return null
  } catch (err) { return (err as Error).name }
}

describe('attestation chain', () => {
  it('should derive one block per applied entry and verify from the genesis alone', async () => {
    const { builder, exp, nodes } = await standardChain()
    expect(chainStateProblem(builder.machine.view())).toBeNull()
    // The last block records the shape CID the shape machine itself reports.
    const last = decodeBlock(exp.blocks[exp.blocks.length - 1]!)!
    expect(last.kind === 'proposal' && CID.decode(last.shape).toString()).toBe(builder.shape.shapeCid())
    const report = verifyChain(decodeChainExport(encodeChainExport(exp))!, { verify: verifyWithCodec, pinned: { clusterId: 'cluster-a', firstVoter: nodes[0]!.id } })
    expect(report.height).toBe(exp.blocks.length)
    expect(report.checkpointHeight).toBe(report.height)
    expect(report.seals).toBe(3)
    expect(report.voters).toEqual([nodes[1]!.id, nodes[2]!.id].sort())
    const outcomes = exp.blocks.map((b) => decodeBlock(b)!).map((b) => `${b.kind}:${b.outcome.kind === 'applied' ? 'applied' : b.outcome.code}`)
    expect(outcomes).toEqual([
      'proposal:applied', 'proposal:applied', 'proposal:applied', 'proposal:applied', 'proposal:applied', 'proposal:applied',
      'seal:applied', 'proposal:applied', 'proposal:unknown-node', 'proposal:bad-signature', 'seal:seal-quorum',
      'seal:applied', 'seal:stale-seal', 'proposal:applied', 'proposal:applied', 'seal:applied', 'proposal:applied'
    ])
  })

  it('should verify a joined etcd promotion that moves two voters in one block, and refuse a block that moves another set', async () => {
    // Issue 16: `promote … with` takes 1 voter to 3 in one joint configuration change.
    const { b, n0, n3, x, y } = await joinedPromotionChain('cluster-j')
    const exp = b.export()
    const report = verifyChain(exp, { verify: verifyWithCodec })
    expect(report.voters).toEqual([n0.id, x, y].sort())
    const moved = (voters: string[]): unknown => lastBlockMovedTo(exp, voters)
    expect(moved([n0.id, x].sort())).toBe('VoterChangeError')
    expect(moved([n0.id, x, y, n3.id].sort())).toBe('VoterChangeError')
  })

  it('should verify a replacement that moves one voter out and one in with one block, and refuse a block that moves another set', async () => {
    // Issue 16: `promote <new> replacing <old>` replaces a lost voter in one joint configuration change.
    const { nodes, b, n0, n3, x, y } = await joinedPromotionChain('cluster-r')
    expect(b.propose(nodes.find((n) => n.id === x)!, { kind: 'promote', nodeId: n3.id, roles: ['etcd'], replacing: n0.id }).outcome).toEqual({ kind: 'applied' })
    const exp = b.export()
    const report = verifyChain(exp, { verify: verifyWithCodec })
    expect(report.voters).toEqual([x, y, n3.id].sort())
    const moved = (voters: string[]): unknown => lastBlockMovedTo(exp, voters)
    expect(moved([x, y].sort())).toBe('VoterChangeError')
    expect(moved([n0.id, x, y, n3.id].sort())).toBe('VoterChangeError')
  })

  it('should verify a chain whose log holds a seal entry for another cluster, which every node records as rejected', async () => {
    // Only a leader proposes seal entries; a buggy or hostile one can commit one naming another cluster.
    // Every replica derives a `wrong-cluster` rejection, and the export of that chain must still verify.
    const { builder, nodes } = await standardChain('cluster-w')
    const seal = builder.sealOf([nodes[1]!, nodes[2]!])
    expect(builder.applyRaw(encodeSealCommand('cluster-other', seal)).outcome).toMatchObject({ kind: 'rejected' })
    expect(decodeBlock(builder.blocks[builder.blocks.length - 1]!)!.outcome).toMatchObject({ kind: 'rejected', code: 'wrong-cluster' })
    const exp = builder.export([nodes[1]!, nodes[2]!])
    expect(verifyChain(exp, { verify: verifyWithCodec })).toMatchObject({ height: exp.blocks.length, checkpointHeight: exp.blocks.length })
  })

  it('should derive byte-identical chains on two replicas applying the same entries', async () => {
    const { builder } = await standardChain('cluster-b')
    const replica = new ChainBuilder('cluster-b')
    for (const entry of builder.entries) replica.machine.apply(entry.bytes, entry.context)
    expect(replica.blocks).toEqual(builder.blocks)
    expect(replica.machine.head).toEqual(builder.machine.head)
    // Snapshot and restore mid-way: the restored replica continues the very same chain.
    const half = new ChainBuilder('cluster-b')
    for (const entry of builder.entries.slice(0, 8)) half.machine.apply(entry.bytes, entry.context)
    const restored = new ChainBuilder('cluster-b')
    restored.machine.restore(half.machine.snapshot())
    for (const entry of builder.entries.slice(8)) restored.machine.apply(entry.bytes, entry.context)
    expect(restored.machine.head).toEqual(builder.machine.head)
    expect(restored.blocks).toEqual(builder.blocks.slice(half.blocks.length))
  })
})
