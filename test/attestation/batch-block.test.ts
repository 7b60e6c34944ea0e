/**
 * Chain blocks of batch envelopes (issue 16): one block per batch entry, format v2 (a v1 proposal block
 * plus `outcomes`, one per command), derived identically on every replica and verified offline; a
 * tampered outcome, a missing or extra outcome, or a batch that claims to move the voters is refused.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import { ChainVerifyError } from '../../src/attestation/errors.js'
import { decodeBlock, encodeBlock, encodeBlockReference, verifyChain } from '../../src/attestation/core/index.js'
import type { ChainExport, ProposalBlock } from '../../src/attestation/core/index.js'
import { decodeCanonical } from '../../src/codec/index.js'
import { ShapeProposer } from '../../src/consensus/shape/proposer.js'
import { ChainBuilder, editAndRelink, makeNodes } from './helpers.js'
import type { TestNode } from './helpers.js'

let nodes: TestNode[]
let builder: ChainBuilder
let exp: ChainExport
let batchHeight: number

beforeAll(async () => {
  nodes = await makeNodes(3)
  const [n0, n1, n2] = nodes as [TestNode, TestNode, TestNode]
  builder = new ChainBuilder('cluster-b')
  builder.propose(n0, { kind: 'bootstrap', nodeId: n0.id })
  builder.propose(n0, { kind: 'add-member', nodeId: n1.id })
  builder.propose(n0, { kind: 'add-member', nodeId: n2.id })
  builder.proposeBatch(n1, [
    { command: { kind: 'promote', nodeId: n1.id, roles: ['scheduler'] }, reason: 'operator' },
    { command: { kind: 'promote', nodeId: n1.id, roles: ['scheduler'] }, reason: 'operator' },
    { command: { kind: 'quarantine', nodeId: n2.id }, reason: 'health-degraded' }
  ])
  batchHeight = builder.blocks.length
  builder.propose(n0, { kind: 'restore', nodeId: n2.id })
  exp = builder.export([n0])
})

function failure (tampered: ChainExport): { name: string, height: number } {
  try {
    verifyChain(tampered, { verify: verifyWithCodec })
  } catch (err) {
    expect(err).toBeInstanceOf(ChainVerifyError)
    return { name: (err as Error).name, height: (err as ChainVerifyError).height }
  }
  throw new Error('tampered export verified')
}

const batchBlock = (): ProposalBlock => decodeBlock(exp.blocks[batchHeight - 1]!) as ProposalBlock

describe('batch blocks (chain format v2)', () => {
  it('should record one block for the batch with each command\'s outcome, and verify offline', () => {
    const block = batchBlock()
    expect(exp.blocks).toHaveLength(5)
    expect((decodeCanonical(exp.blocks[batchHeight - 1]!) as { v: number }).v).toBe(2)
    expect((decodeCanonical(exp.blocks[0]!) as { v: number }).v).toBe(1)
    expect(block.outcome).toEqual({ kind: 'applied' })
    expect(block.outcomes?.map((o) => o.kind === 'applied' ? 'applied' : o.code)).toEqual(['applied', 'role-already-held', 'applied'])
    expect(encodeBlock(block)).toEqual(exp.blocks[batchHeight - 1])
    expect(encodeBlockReference(block)).toEqual(exp.blocks[batchHeight - 1])
    const report = verifyChain(exp, { verify: verifyWithCodec })
    expect(report.height).toBe(5)
    expect(report.checkpointHeight).toBe(5)
  })

  it('should derive the same batch block on another replica', () => {
    const replica = new ChainBuilder('cluster-b')
    for (const entry of builder.entries) replica.replay(entry)
    expect(replica.blocks).toEqual(builder.blocks)
  })

  it('should refuse a tampered outcome, whether or not the later blocks are relinked', () => {
    const flipped = (block: ProposalBlock): ProposalBlock => ({ ...block, outcomes: [block.outcomes![0]!, { kind: 'applied' }, block.outcomes![2]!] })
    const blocks = [...exp.blocks]
    blocks[batchHeight - 1] = encodeBlock(flipped(batchBlock()))
    expect(failure({ ...exp, blocks })).toEqual({ name: 'BrokenLinkError', height: batchHeight + 1 })
    // A careful forger relinks the rest: the checkpoint's witnesses signed the real head.
    expect(failure({ ...exp, blocks: editAndRelink(exp.blocks, batchHeight - 1, (b) => flipped(b as ProposalBlock)) })).toEqual({ name: 'CheckpointError', height: 5 })
  })

  it('should refuse a batch block whose outcomes do not match its commands', () => {
    const edit = (change: (b: ProposalBlock) => ProposalBlock): { name: string, height: number } =>
      failure({ ...exp, blocks: editAndRelink(exp.blocks, batchHeight - 1, (b) => change(b as ProposalBlock)) })
    expect(edit((b) => ({ ...b, outcomes: b.outcomes!.slice(0, 2) }))).toEqual({ name: 'OutcomeMismatchError', height: batchHeight })
    expect(edit((b) => { const { outcomes: _dropped, ...v1 } = b; return v1 })).toEqual({ name: 'OutcomeMismatchError', height: batchHeight })
    // A member's batch relabelled as an unknown proposer's: the members followed from block 1 say otherwise.
    expect(edit((b) => ({ ...b, outcome: { kind: 'rejected', code: 'unknown-proposer', message: 'x' } }))).toEqual({ name: 'UnknownProposerError', height: batchHeight })
    expect(edit((b) => ({ ...b, outcome: { kind: 'rejected', code: 'voter-mismatch', message: 'x' } }))).toEqual({ name: 'OutcomeMismatchError', height: batchHeight })
    expect(edit((b) => ({ ...b, voters: [nodes[0]!.id, nodes[1]!.id].sort() }))).toEqual({ name: 'VoterChangeError', height: batchHeight })
    // A single-command block may not list outcomes.
    const single = failure({ ...exp, blocks: editAndRelink(exp.blocks, 1, (b) => ({ ...(b as ProposalBlock), outcomes: [{ kind: 'applied' }] })) })
    expect(single).toEqual({ name: 'OutcomeMismatchError', height: 2 })
  })
})

describe('blocks of merged envelopes (v3: a leader\'s batch with forwarded requests, issue 16)', () => {
  it('should record one v2 block that names each forwarded group\'s node in its envelope, and verify offline', async () => {
    const [n0, n1, n2] = await makeNodes(3) as [TestNode, TestNode, TestNode]
    const chain = new ChainBuilder('cluster-m')
    chain.propose(n0, { kind: 'bootstrap', nodeId: n0.id })
    chain.propose(n0, { kind: 'add-member', nodeId: n1.id })
    chain.propose(n0, { kind: 'add-member', nodeId: n2.id })
    const via1 = { clientId: `${n1.id}/s.r`, seq: 1 }
    const via2 = { clientId: `${n2.id}/s.r`, seq: 4 }
    const merged = new ShapeProposer(n0.signer, 'cluster-m', `${n0.id}/s`).buildMerged(
      [{ command: { kind: 'promote', nodeId: n0.id, roles: ['scheduler'] }, reason: 'operator' }],
      [{ commands: [{ command: { kind: 'promote', nodeId: n1.id, roles: ['scheduler'] }, reason: 'operator' }], via: via1 },
        { commands: [{ command: { kind: 'quarantine', nodeId: n2.id }, reason: 'health-degraded' }], via: via2 }], 1)
    const result = chain.applyRaw(merged.bytes)
    expect(result.outcomes?.map((o) => o.kind === 'applied' ? 'applied' : o.code)).toEqual(['role-already-held', 'applied', 'applied'])
    const mergedExport = chain.export([n0])
    const block = decodeBlock(mergedExport.blocks[3]!) as ProposalBlock
    expect((decodeCanonical(mergedExport.blocks[3]!) as { v: number }).v).toBe(2)
    expect(block.proposer).toBe(n0.id)
    // Attribution: the block is signed by the leader; its envelope names the node each group came through.
    const envelope = decodeCanonical(block.envelope) as { v: number, groups: Array<{ via?: { clientId: string } }> }
    expect(envelope.v).toBe(3)
    expect(envelope.groups.map((g) => g.via?.clientId.split('/')[0])).toEqual([undefined, n1.id, n2.id])
    expect(verifyChain(mergedExport, { verify: verifyWithCodec }).height).toBe(4)
    // One outcome per command over all groups: one missing is refused.
    const blocks = editAndRelink(mergedExport.blocks, 3, (b) => ({ ...(b as ProposalBlock), outcomes: (b as ProposalBlock).outcomes!.slice(1) }))
    expect(() => verifyChain({ ...mergedExport, blocks }, { verify: verifyWithCodec })).toThrow(/OutcomeMismatch|3 commands lists 2/)
  })
})
