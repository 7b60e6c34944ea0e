/**
 * Goal: `revoada chain verify FILE` names each quorum recovery an export holds (protocol level 8, docs/CHAIN.md
 * §6): the operator sees that history after it rests on the voters the recovery left. A chain raised above the
 * level this build verifies is refused (exit 1, `ChainLevelUnsupportedError`), not vouched for under older rules.
 * Method: chains built with the nodes' own derivation (test/attestation/helpers.ts), written as export files, and
 * the built CLI run on them.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cidBytesOf, decodeBlock, encodeBlock, encodeChainExport } from '../../src/attestation/core/index.js'
import type { ProposalBlock } from '../../src/attestation/core/index.js'
import { ShapeProposer } from '../../src/consensus/shape/proposer.js'
import { decodeSignedProposal, PROTOCOL_LEVEL, PROTOCOL_SEAL_HANDOVER } from '../../src/consensus/shape/core/index.js'
import { sealedThreeVoters } from '../attestation/helpers.js'
import type { TestNode } from '../attestation/helpers.js'
import { cliRun } from './helpers.js'
import { tempDir } from '../node/helpers.js'

const CLUSTER = 'cluster-v'
const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) })) })

async function exportFile (bytes: Uint8Array): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir)
  const file = path.join(dir, 'chain.cbor')
  await fs.writeFile(file, bytes)
  return file
}

describe('chain verify and quorum recoveries', () => {
  it('should print a line per quorum-recovery demote, and carry them in --json', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2] = nodes as [TestNode, TestNode, TestNode]
    for (const lost of [n1, n2]) b.propose(n0, { kind: 'demote', nodeId: lost.id, roles: ['etcd'] }, { reason: 'quorum-recovery' })
    b.commitSeal(b.sealOf([n0]))
    const file = await exportFile(encodeChainExport(b.export([n0])))
    const at = b.blocks.length - 1 // the seal is the last block; the demotes the two before it
    const text = await cliRun(['chain', 'verify', file], 60_000)
    expect(text.code).toBe(0)
    const lines = text.stdout.trim().split('\n')
    expect(lines[0]).toMatch(/: OK — cluster cluster-v/)
    expect(lines.slice(1)).toEqual([
      `${file}: quorum recovery at height ${at - 1}: ${n0.id} demoted ${n1.id} as lost; seals after it rest on the voters it left: check --against an export from a node you trust`,
      `${file}: quorum recovery at height ${at}: ${n0.id} demoted ${n2.id} as lost; seals after it rest on the voters it left: check --against an export from a node you trust`
    ])
    const json = await cliRun(['chain', 'verify', file, '--json'], 60_000)
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      protocol: PROTOCOL_SEAL_HANDOVER,
      recoveries: [{ height: at - 1, proposer: n0.id, demoted: n1.id }, { height: at, proposer: n0.id, demoted: n2.id }]
    })
  }, 120_000)

  it('should refuse a chain raised above the level this build verifies', async () => {
    const { b, nodes } = await sealedThreeVoters(CLUSTER, PROTOCOL_SEAL_HANDOVER)
    const n0 = nodes[0]!
    // A newer build's `set-protocol`, signed by the first voter and recorded as applied (the nodes of this
    // build halt before applying it, so it is built by hand here, as that newer build would derive it).
    const built = new ShapeProposer(n0.signer, CLUSTER, `${n0.id}/newer`).build(b.shape.shape, { kind: 'set-protocol', level: PROTOCOL_LEVEL + 1 }, 'operator', 1_700_000_100_000)
    const last = decodeBlock(b.blocks[b.blocks.length - 1]!)!
    const prevProposal = decodeBlock(b.blocks.findLast((x) => decodeBlock(x)!.kind === 'proposal')!)! as ProposalBlock
    const signed = decodeSignedProposal(built.bytes)!
    const block: ProposalBlock = {
      ...prevProposal,
      height: last.height + 1,
      prev: cidBytesOf(b.blocks[b.blocks.length - 1]!),
      index: last.index + 1,
      term: last.term,
      outcome: { kind: 'applied' },
      proposal: signed.cid.bytes,
      proposer: n0.id,
      signature: signed.signature,
      envelope: signed.envelopeBytes
    }
    delete (block as { voters?: string[] }).voters
    const file = await exportFile(encodeChainExport({ ...b.export(), blocks: [...b.blocks, encodeBlock(block)] }))
    const { code, stderr } = await cliRun(['chain', 'verify', file], 60_000)
    expect(code).toBe(1)
    expect(stderr).toContain(`FAILED at height ${block.height}: ChainLevelUnsupportedError`)
  }, 120_000)
})
