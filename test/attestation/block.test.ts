/**
 * The direct block writer must produce exactly the general encoder's bytes (the format of docs/CHAIN.md
 * §2), and cidBytesOf the codec's CID bytes, on every block of a real chain and on random blocks.
 * Seeded; fast-check prints the seed and counterexample on failure.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { cidOfBytesWithCodec, DAG_CBOR_CODE } from '../../src/codec/index.js'
import { cidBytesOf, decodeBlock, encodeBlock, encodeBlockReference } from '../../src/attestation/core/index.js'
import type { Block } from '../../src/attestation/core/index.js'
import { standardChain } from './helpers.js'

const SEED = Number(process.env.BLOCK_SEED ?? 77)
const bytes = fc.uint8Array({ maxLength: 80 })
const count = fc.oneof(fc.nat({ max: 30 }), fc.maxSafeNat())
const outcome = fc.oneof(fc.constant({ kind: 'applied' as const }), fc.record({ kind: fc.constant('rejected' as const), code: fc.string({ maxLength: 20 }), message: fc.string({ maxLength: 60 }) }))
const common = { clusterId: fc.string({ maxLength: 40 }), height: count, prev: bytes, index: count, term: count, timeMs: count, outcome }
const block: fc.Arbitrary<Block> = fc.oneof(
  fc.record({ kind: fc.constant('proposal' as const), ...common, proposal: bytes, proposer: fc.string({ maxLength: 60 }), signature: bytes, envelope: fc.uint8Array({ maxLength: 400 }), shape: bytes, voters: fc.option(fc.array(fc.string({ maxLength: 60 }), { maxLength: 7 }), { nil: undefined }) }, { requiredKeys: ['kind', 'clusterId', 'height', 'prev', 'index', 'term', 'timeMs', 'outcome', 'proposal', 'proposer', 'signature', 'envelope', 'shape'] }),
  fc.record({ kind: fc.constant('seal' as const), ...common, seal: fc.record({ height: count, head: bytes, witnesses: fc.array(fc.record({ nodeId: fc.string({ maxLength: 60 }), signature: bytes }), { maxLength: 5 }) }) })
)

describe('block encoding', () => {
  it('should write every block of a real chain exactly as the general encoder does', async () => {
    const { exp } = await standardChain('cluster-enc')
    for (const b of exp.blocks) {
      const decoded = decodeBlock(b)!
      expect(encodeBlockReference(decoded)).toEqual(b)
      expect(encodeBlock(decoded)).toEqual(b)
      expect(cidBytesOf(b)).toEqual(cidOfBytesWithCodec(b, DAG_CBOR_CODE).bytes)
    }
  })

  it('should write random blocks exactly as the general encoder does', () => {
    fc.assert(fc.property(block, (b) => {
      expect(Buffer.from(encodeBlock(b)).toString('hex')).toBe(Buffer.from(encodeBlockReference(b)).toString('hex'))
    }), { seed: SEED, numRuns: 500 })
  })
})
