/**
 * The tamper suite (issue 14): every way of altering an export — a flipped byte anywhere, removed,
 * reordered or duplicated blocks or witness signatures, another cluster's genesis spliced in, seals from
 * non-voters or a minority, an old seal replayed, a forged proposer signature — is refused with a named
 * error at the first failing height. "Relinked" tamperings also rewrite every later `prev` (a careful
 * forger), so that the check that fires is the one about the tampered content itself.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { createSigner } from '../../src/codec/index.js'
import { signWitness, verifyWithCodec } from '../../src/attestation/signatures.js'
import { ChainVerifyError } from '../../src/attestation/errors.js'
import { cidBytesOf, checkConsistency, decodeBlock, emptyChainState, encodeBlock, genesisCid, verifyChain } from '../../src/attestation/core/index.js'
import type { Block, ChainExport, SealBlock } from '../../src/attestation/core/index.js'
import { ChainBuilder, editAndRelink, forgeSignature, makeNodes, relinkFrom, standardChain } from './helpers.js'
import type { TestNode } from './helpers.js'

let exp: ChainExport
let nodes: TestNode[]
let builder: ChainBuilder
let other: ChainExport

beforeAll(async () => {
  ({ exp, nodes, builder } = await standardChain('cluster-a'))
  other = (await standardChain('cluster-z')).exp
})

/** The error verification throws, as `{name, height}`. */
function failure (tampered: ChainExport, pinned?: { clusterId?: string, firstVoter?: string }): { name: string, height: number } {
  try {
    verifyChain(tampered, { verify: verifyWithCodec, ...(pinned !== undefined ? { pinned } : {}) })
  } catch (err) {
    expect(err).toBeInstanceOf(ChainVerifyError)
    return { name: (err as Error).name, height: (err as ChainVerifyError).height }
  }
  throw new Error('tampered export verified')
}

const blocksOf = (e: ChainExport): Block[] => e.blocks.map((b) => decodeBlock(b)!)
const heightOf = (predicate: (b: Block) => boolean): number => blocksOf(exp).findIndex(predicate) + 1
const appliedSealHeight = (nth: number): number => blocksOf(exp).filter((b) => b.kind === 'seal' && b.outcome.kind === 'applied')[nth]!.height

/**
 * Any ed25519 key, no member: the real block 1, then its own signed `promote <itself> etcd` and `demote <first
 * voter> etcd` recorded as applied, and a seal it signs alone. Each signature verifies and each voter change is
 * the command's; only the members, followed from block 1, tell that it never was one.
 */
async function strangersExtension (): Promise<Uint8Array[]> {
  const [stranger] = await makeNodes(1) as [TestNode]
  const n0 = nodes[0]!
  const own = new ChainBuilder('cluster-a')
  own.propose(stranger, { kind: 'bootstrap', nodeId: stranger.id })
  own.propose(stranger, { kind: 'promote', nodeId: stranger.id, roles: ['etcd'] })
  own.propose(stranger, { kind: 'demote', nodeId: n0.id, roles: ['etcd'] })
  const real1 = decodeBlock(exp.blocks[0]!)!
  const blocks = [exp.blocks[0]!]
  const votersAfter = [[n0.id, stranger.id].sort(), [stranger.id]]
  for (const k of [1, 2]) {
    const block = decodeBlock(own.blocks[k]!)! as Block & { kind: 'proposal' }
    blocks.push(encodeBlock({ ...block, height: k + 1, index: real1.index + k, term: real1.term, prev: cidBytesOf(blocks[k - 1]!), outcome: { kind: 'applied' }, voters: votersAfter[k - 1]! }))
  }
  const head = cidBytesOf(blocks[2]!)
  const seal = { height: 3, head, witnesses: [signWitness(stranger.signer, 'cluster-a', 3, head)] }
  blocks.push(encodeBlock({ kind: 'seal', clusterId: 'cluster-a', height: 4, prev: head, index: real1.index + 3, term: real1.term, timeMs: real1.timeMs, outcome: { kind: 'applied' }, seal }))
  return blocks
}

describe('chain tamper suite', () => {
  it('should verify the untampered export', () => {
    expect(verifyChain(exp, { verify: verifyWithCodec }).height).toBe(exp.blocks.length)
  })

  it('should name the first failing height when a byte of a block flips', () => {
    for (let i = 0; i < exp.blocks.length; i++) {
      const blocks = [...exp.blocks]
      const bytes = Uint8Array.from(blocks[i]!)
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01
      blocks[i] = bytes
      const { name, height } = failure({ ...exp, blocks })
      expect(['MalformedBlockError', 'BrokenLinkError', 'CheckpointError', 'ProposalMismatchError', 'ProposerSignatureError', 'WitnessSignatureError', 'OutcomeMismatchError', 'SealQuorumError', 'SealHeadMismatchError', 'VoterChangeError', 'WrongClusterError', 'HeightGapError', 'RaftOrderError', 'StaleSealError']).toContain(name)
      expect([i + 1, i + 2]).toContain(height)
    }
  })

  it('should refuse removed, reordered and duplicated blocks', () => {
    const removed = exp.blocks.filter((_b, i) => i !== 5)
    expect(failure({ ...exp, blocks: removed })).toEqual({ name: 'HeightGapError', height: 6 })
    const swapped = [...exp.blocks]
    ;[swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!]
    expect(failure({ ...exp, blocks: swapped })).toEqual({ name: 'HeightGapError', height: 4 })
    const duplicated = [...exp.blocks.slice(0, 7), exp.blocks[6]!, ...exp.blocks.slice(7)]
    expect(failure({ ...exp, blocks: duplicated })).toEqual({ name: 'HeightGapError', height: 8 })
    expect(failure({ ...exp, blocks: exp.blocks.slice(0, -1) })).toMatchObject({ name: 'CheckpointError' })
    // A careful forger renumbers and relinks: the checkpoint (or a later seal) still refuses it.
    expect(failure({ ...exp, blocks: relinkFrom(removed, 5) })).toMatchObject({ name: expect.stringMatching(/SealHeadMismatchError|SealRangeError|CheckpointError/) })
  })

  it('should refuse a seal with a witness signature removed, duplicated or reordered', () => {
    const i = appliedSealHeight(1) - 1
    const edit = (f: (s: SealBlock['seal']) => SealBlock['seal']) => editAndRelink(exp.blocks, i, (b) => ({ ...(b as SealBlock), seal: f((b as SealBlock).seal) }))
    const voterWitnesses = (s: SealBlock['seal']) => s.witnesses.filter((w) => w.nodeId !== nodes[3]!.id)
    expect(failure({ ...exp, blocks: edit((s) => ({ ...s, witnesses: voterWitnesses(s).slice(1) })) })).toEqual({ name: 'SealQuorumError', height: i + 1 })
    expect(failure({ ...exp, blocks: edit((s) => ({ ...s, witnesses: [s.witnesses[0]!, ...s.witnesses] })) })).toEqual({ name: 'DuplicateWitnessError', height: i + 1 })
    expect(failure({ ...exp, blocks: edit((s) => ({ ...s, witnesses: [...s.witnesses].reverse() })) })).toEqual({ name: 'WitnessOrderError', height: i + 1 })
    const flipped = edit((s) => ({ ...s, witnesses: s.witnesses.map((w, k) => k === 0 ? { ...w, signature: w.signature.map((x, j) => j === 0 ? x ^ 1 : x) } : w) }))
    expect(failure({ ...exp, blocks: flipped })).toEqual({ name: 'WitnessSignatureError', height: i + 1 })
  })

  it('should refuse seals from non-voters or a minority recorded as applied', () => {
    const learnersOnly = heightOf((b) => b.kind === 'seal' && b.outcome.kind === 'rejected' && b.outcome.code === 'seal-quorum')
    const blocks = editAndRelink(exp.blocks, learnersOnly - 1, (b) => ({ ...b, outcome: { kind: 'applied' } }))
    expect(failure({ ...exp, blocks })).toEqual({ name: 'SealQuorumError', height: learnersOnly })
    const minority = builder.sealOf([nodes[1]!])
    const first = appliedSealHeight(2) - 1
    const withMinority = editAndRelink(exp.blocks, first, (b) => ({ ...(b as SealBlock), seal: { ...minority, height: (b as SealBlock).seal.height, head: (b as SealBlock).seal.head } }))
    expect(failure({ ...exp, blocks: withMinority })).toMatchObject({ name: expect.stringMatching(/WitnessSignatureError|SealQuorumError/), height: first + 1 })
  })

  it('should refuse an old seal replayed later, and a stale seal recorded as applied', () => {
    const oldSeal = blocksOf(exp)[appliedSealHeight(0) - 1] as SealBlock
    const target = appliedSealHeight(2) - 1
    const blocks = editAndRelink(exp.blocks, target, (b) => ({ ...(b as SealBlock), seal: oldSeal.seal }))
    expect(failure({ ...exp, blocks })).toEqual({ name: 'StaleSealError', height: target + 1 })
    const stale = heightOf((b) => b.kind === 'seal' && b.outcome.kind === 'rejected' && b.outcome.code === 'stale-seal')
    const accepted = editAndRelink(exp.blocks, stale - 1, (b) => ({ ...b, outcome: { kind: 'applied' } }))
    expect(failure({ ...exp, blocks: accepted })).toEqual({ name: 'StaleSealError', height: stale })
  })

  it('should refuse a forged proposer signature, and a bad signature recorded as good', () => {
    const target = heightOf((b) => b.kind === 'proposal' && b.outcome.kind === 'applied' && b.height > 3)
    const forged = editAndRelink(exp.blocks, target - 1, (b) => {
      const block = b as Block & { kind: 'proposal' }
      const resigned = forgeSignature(new Uint8Array([0xa2, 0x61, 0x65, ...cborBytes(block.envelope), 0x61, 0x73, ...cborBytes(block.signature)]), nodes[4]!)
      return { ...block, signature: resigned.subarray(resigned.length - 64) }
    })
    expect(failure({ ...exp, blocks: forged })).toEqual({ name: 'ProposerSignatureError', height: target })
    const bad = heightOf((b) => b.outcome.kind === 'rejected' && b.outcome.code === 'bad-signature')
    const accepted = editAndRelink(exp.blocks, bad - 1, (b) => ({ ...b, outcome: { kind: 'applied' } }))
    expect(failure({ ...exp, blocks: accepted })).toEqual({ name: 'ProposerSignatureError', height: bad })
  })

  it('should refuse a voter set that changes other than by the command', () => {
    const target = heightOf((b) => b.kind === 'proposal' && b.voters !== undefined && b.height > 1)
    const blocks = editAndRelink(exp.blocks, target - 1, (b) => ({ ...b, voters: [...((b as Block & { kind: 'proposal' }).voters ?? []), nodes[4]!.id].sort() }))
    expect(failure({ ...exp, blocks })).toEqual({ name: 'VoterChangeError', height: target })
  })

  it('should refuse another cluster\'s genesis spliced in', () => {
    expect(failure({ ...exp, genesis: other.genesis })).toEqual({ name: 'WrongClusterError', height: 1 })
    expect(failure({ ...exp, genesis: { ...exp.genesis, firstVoter: nodes[1]!.id } })).toEqual({ name: 'BrokenLinkError', height: 1 })
    expect(failure(other, { clusterId: 'cluster-a' })).toEqual({ name: 'GenesisMismatchError', height: 0 })
    expect(failure({ ...exp, blocks: [other.blocks[0]!, ...exp.blocks.slice(1)] })).toEqual({ name: 'WrongClusterError', height: 1 })
    // A forger who also rewrites the cluster id and links still cannot produce block 1's bootstrap signature.
    const spliced = editAndRelink(exp.blocks, 0, (b) => ({ ...b, prev: genesisCid(other.genesis), clusterId: other.genesis.clusterId }))
    expect(failure({ ...exp, genesis: other.genesis, blocks: spliced })).toMatchObject({ name: expect.stringMatching(/ProposerSignatureError|GenesisMismatchError/), height: 1 })
  })

  it('should refuse a malformed block 1 ahead of a stranger\'s bootstrap and seal under the pinned genesis', async () => {
    // A forger without the first voter's key: block 1 a "malformed" rejection (no signature to check),
    // then its own bootstrap (voters [itself]) and a seal it signs alone. Block 1 must be the pinned
    // first voter's applied bootstrap, whatever outcome it records.
    const [stranger] = await makeNodes(1) as [TestNode]
    const own = new ChainBuilder('cluster-a')
    own.propose(stranger, { kind: 'bootstrap', nodeId: stranger.id })
    const bootstrap = decodeBlock(own.blocks[0]!)! as Block & { kind: 'proposal' }
    const junk = new Uint8Array([0xff, 0x00])
    const first: Block = {
      ...bootstrap, height: 1, prev: genesisCid(exp.genesis), outcome: { kind: 'rejected', code: 'malformed', message: 'x' },
      proposal: cidBytesOf(junk), proposer: '', signature: new Uint8Array(), envelope: junk
    }
    delete (first as { voters?: string[] }).voters
    const blocks = [encodeBlock(first)]
    blocks.push(encodeBlock({ ...bootstrap, height: 2, index: 3, prev: cidBytesOf(blocks[0]!) }))
    const head = cidBytesOf(blocks[1]!)
    const seal = { height: 2, head, witnesses: [signWitness(stranger.signer, 'cluster-a', 2, head)] }
    blocks.push(encodeBlock({ kind: 'seal', clusterId: 'cluster-a', height: 3, prev: head, index: 4, term: 1, timeMs: bootstrap.timeMs, outcome: { kind: 'applied' }, seal }))
    expect(failure({ genesis: exp.genesis, blocks }, exp.genesis)).toEqual({ name: 'GenesisMismatchError', height: 1 })
  })

  it('should refuse a stranger\'s own voter changes after the real block 1, sealed by itself alone', async () => {
    const blocks = await strangersExtension()
    expect(failure({ genesis: exp.genesis, blocks }, exp.genesis)).toEqual({ name: 'UnknownProposerError', height: 2 })
  })

  it('should refuse a base state at height 0, which would verify a full export without following its members', async () => {
    // A base skips the member checks (it carries no members); at height 0 it is the genesis itself, so the
    // report read as a full export's (heights 1..N) and the stranger's extension above verified with it.
    const base = emptyChainState('cluster-a')
    base.firstVoter = exp.genesis.firstVoter
    base.head = genesisCid(exp.genesis)
    expect(failure({ ...exp, base })).toEqual({ name: 'MalformedBlockError', height: 0 })
    const blocks = await strangersExtension()
    expect(failure({ genesis: exp.genesis, base, blocks }, exp.genesis)).toEqual({ name: 'MalformedBlockError', height: 0 })
  })

  it('should follow members by their exact id text, as the shape does: a member\'s key under its CID form is another node', async () => {
    // The shape keys members by the id's text (envelope.ts isId, MeshShape's member map), and a signature
    // verifies under either text form of a PeerId (base58 or CID), so the same key under its CID form is no
    // member until that text is added. A verifier that normalised ids would refuse this genuine chain.
    const [n0, n1] = nodes as [TestNode, TestNode]
    const cidForm = peerIdFromString(n1.id).toCID().toString()
    const n1AsCid: TestNode = { id: cidForm, signer: createSigner(n1.key, cidForm), key: n1.key }
    const own = new ChainBuilder('cluster-a')
    own.propose(n0, { kind: 'bootstrap', nodeId: n0.id })
    own.propose(n0, { kind: 'add-member', nodeId: n1.id })
    expect(own.propose(n1AsCid, { kind: 'add-member', nodeId: 'a' }).outcome).toMatchObject({ code: 'unknown-proposer' })
    expect(own.propose(n0, { kind: 'add-member', nodeId: cidForm }).outcome).toEqual({ kind: 'applied' })
    expect(own.propose(n1AsCid, { kind: 'add-member', nodeId: 'b' }).outcome).toEqual({ kind: 'applied' })
    expect(verifyChain(own.export(), { verify: verifyWithCodec })).toMatchObject({ membersChecked: true, height: 5 })
    // The CID form's first proposal recorded as applied, as if it were the member n1: refused.
    const relabelled = editAndRelink(own.blocks, 2, (b) => ({ ...b, outcome: { kind: 'applied' } }))
    expect(failure({ ...own.export(), blocks: relabelled })).toEqual({ name: 'UnknownProposerError', height: 3 })
  })

  it('should refuse a member\'s proposal recorded as an unknown proposer\'s, and a member promoting a stranger', async () => {
    const target = heightOf((b) => b.kind === 'proposal' && b.outcome.kind === 'rejected' && b.outcome.code === 'unknown-node')
    const relabelled = editAndRelink(exp.blocks, target - 1, (b) => ({ ...b, outcome: { kind: 'rejected', code: 'unknown-proposer', message: 'x' } }))
    expect(failure({ ...exp, blocks: relabelled })).toEqual({ name: 'UnknownProposerError', height: target })
    // The first voter's own signed promotion of a node that never joined, recorded as applied with it a voter.
    const n0 = nodes[0]!
    const own = new ChainBuilder('cluster-a')
    own.propose(n0, { kind: 'bootstrap', nodeId: n0.id })
    expect(own.propose(n0, { kind: 'promote', nodeId: 'stranger', roles: ['etcd'] }).outcome).toMatchObject({ code: 'unknown-node' })
    expect(verifyChain(own.export(), { verify: verifyWithCodec }).membersChecked).toBe(true)
    const promoted = editAndRelink(own.blocks, 1, (b) => ({ ...b, outcome: { kind: 'applied' }, voters: [n0.id, 'stranger'].sort() }))
    expect(failure({ ...own.export(), blocks: promoted })).toEqual({ name: 'VoterChangeError', height: 2 })
  })

  it('should refuse a checkpoint by a minority or over another head', () => {
    expect(failure({ ...exp, checkpoint: builder.sealOf([nodes[1]!]) })).toMatchObject({ name: 'CheckpointError' })
    expect(failure({ ...exp, checkpoint: builder.sealOf([nodes[1]!, nodes[2]!], exp.blocks.length - 1) })).toMatchObject({ name: 'CheckpointError' })
  })

  it('should tell whether one export extends another', () => {
    const full = verifyChain(exp, { verify: verifyWithCodec })
    const prefix = verifyChain({ genesis: exp.genesis, blocks: exp.blocks.slice(0, 10) }, { verify: verifyWithCodec })
    expect(checkConsistency(full, prefix)).toBe('first-extends')
    expect(checkConsistency(prefix, full)).toBe('second-extends')
    // A valid fork: the same first 9 entries, then another command.
    const forked = new ChainBuilder('cluster-a')
    for (const entry of builder.entries.slice(0, 9)) forked.replay(entry)
    forked.propose(nodes[1]!, { kind: 'promote', nodeId: 'somebody-else', roles: ['scheduler'] })
    const fork = verifyChain(forked.export(), { verify: verifyWithCodec })
    expect(() => checkConsistency(full, fork)).toThrow(expect.objectContaining({ name: 'ExportsDivergeError', height: 10 }))
  })
})

/** CBOR byte-string encoding (major type 2) of `bytes`, for rebuilding a signed proposal by hand. */
function cborBytes (bytes: Uint8Array): number[] {
  const n = bytes.length
  const head = n < 24 ? [0x40 + n] : n < 256 ? [0x58, n] : [0x59, n >> 8, n & 0xff]
  return [...head, ...bytes]
}
