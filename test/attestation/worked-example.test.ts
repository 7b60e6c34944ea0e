/**
 * The worked example of docs/CHAIN.md §7, recomputed: a fixed key (seed 32 × 0x01), a fixed cluster id
 * and fixed times give the same bytes, CIDs and signatures on every run (ed25519 signatures are
 * deterministic). If this test fails, the format changed: update the document with it.
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createSigner, signingMessage, CID } from '../../src/codec/index.js'
import { encodeGenesis, genesisCid, encodeChainExport, verifyChain, witnessSubject, cidBytesOf } from '../../src/attestation/core/index.js'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import { ChainBuilder } from './helpers.js'

const DOC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../docs/CHAIN.md')
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

async function workedExample (): Promise<Record<string, string>> {
  const key = await generateKeyPairFromSeed('Ed25519', new Uint8Array(32).fill(1))
  const id = peerIdFromPrivateKey(key).toString()
  const node = { id, signer: createSigner(key, id), key }
  const b = new ChainBuilder('example-cluster')
  b.propose(node, { kind: 'bootstrap', nodeId: id })
  const seal = b.sealOf([node], 1)
  b.commitSeal(seal)
  const exp = b.export([node])
  const report = verifyChain(exp, { verify: verifyWithCodec })
  return {
    nodeId: id,
    genesisBytes: hex(encodeGenesis(exp.genesis)),
    genesisCid: CID.decode(genesisCid(exp.genesis)).toString(),
    block1: hex(exp.blocks[0]!),
    block1Cid: CID.decode(cidBytesOf(exp.blocks[0]!)).toString(),
    witnessMessage: hex(signingMessage('witness', 'example-cluster', witnessSubject(1, cidBytesOf(exp.blocks[0]!)))),
    witnessSignature: hex(seal.witnesses[0]!.signature),
    block2: hex(exp.blocks[1]!),
    head: report.head,
    exportBytes: String(encodeChainExport(exp).length)
  }
}

describe('docs/CHAIN.md worked example', () => {
  it('should reproduce the bytes the document shows', async () => {
    const example = await workedExample()
    if (process.env.PRINT_CHAIN_EXAMPLE !== undefined) console.log(JSON.stringify(example, null, 2))
    const doc = (await readFile(DOC, 'utf8')).replace(/\s+/g, '')
    for (const [name, value] of Object.entries(example)) {
      if (name === 'exportBytes') continue
      expect(doc, `docs/CHAIN.md shows ${name}`).toContain(value)
    }
  })
})
