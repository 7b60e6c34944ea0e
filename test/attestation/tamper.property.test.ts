/**
 * Property (issue 14): any random tampering of an export — one to three operations among byte flips in
 * blocks or the checkpoint, removed/reordered/duplicated/foreign blocks, removed or duplicated witness
 * signatures, edited block fields and a swapped genesis, optionally with every later `prev` rewritten —
 * is detected: verification throws a named ChainVerifyError. Seeded; fast-check prints the seed and the
 * shrunk counterexample on failure (re-run with CHAIN_TAMPER_SEED=<seed>).
 */
import { beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import { ChainVerifyError } from '../../src/attestation/errors.js'
import { decodeBlock, encodeBlock, encodeChainExport, verifyChain } from '../../src/attestation/core/index.js'
import type { Block, ChainExport, Seal } from '../../src/attestation/core/index.js'
import { relinkFrom, standardChain } from './helpers.js'

const SEED = Number(process.env.CHAIN_TAMPER_SEED ?? 20261201)
let exp: ChainExport
let other: ChainExport

beforeAll(async () => {
  exp = (await standardChain('cluster-a')).exp
  other = (await standardChain('cluster-z')).exp
})

type Op =
  | { kind: 'flip-block', i: number, pos: number, mask: number }
  | { kind: 'flip-checkpoint', w: number, field: 'head' | 'signature' | 'nodeId', pos: number, mask: number }
  | { kind: 'checkpoint-height', delta: number }
  | { kind: 'remove-block', i: number }
  | { kind: 'swap-blocks', i: number, j: number }
  | { kind: 'duplicate-block', i: number }
  | { kind: 'foreign-block', i: number, j: number }
  | { kind: 'remove-witness', i: number, w: number }
  | { kind: 'duplicate-witness', i: number, w: number }
  | { kind: 'edit-field', i: number, field: 'time' | 'index' | 'term' | 'outcome' }
  | { kind: 'genesis' }

const nat = fc.nat({ max: 10_000 })
const mask = fc.integer({ min: 1, max: 255 })
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('flip-block' as const), i: nat, pos: nat, mask }),
  fc.record({ kind: fc.constant('flip-checkpoint' as const), w: nat, field: fc.constantFrom('head' as const, 'signature' as const, 'nodeId' as const), pos: nat, mask }),
  fc.record({ kind: fc.constant('checkpoint-height' as const), delta: fc.integer({ min: -3, max: 3 }).filter((d) => d !== 0) }),
  fc.record({ kind: fc.constant('remove-block' as const), i: nat }),
  fc.record({ kind: fc.constant('swap-blocks' as const), i: nat, j: nat }),
  fc.record({ kind: fc.constant('duplicate-block' as const), i: nat }),
  fc.record({ kind: fc.constant('foreign-block' as const), i: nat, j: nat }),
  fc.record({ kind: fc.constant('remove-witness' as const), i: nat, w: nat }),
  fc.record({ kind: fc.constant('duplicate-witness' as const), i: nat, w: nat }),
  fc.record({ kind: fc.constant('edit-field' as const), i: nat, field: fc.constantFrom('time' as const, 'index' as const, 'term' as const, 'outcome' as const) }),
  fc.constant({ kind: 'genesis' as const })
)

const flip = (bytes: Uint8Array, pos: number, m: number): Uint8Array => {
  const out = Uint8Array.from(bytes)
  if (out.length > 0) out[pos % out.length]! ^= m
  return out
}

function editSeal (block: Block, f: (s: Seal) => Seal): Block {
  return block.kind === 'seal' ? { ...block, seal: f(block.seal) } : block
}

function apply (e: ChainExport, o: Op): ChainExport {
  const blocks = [...e.blocks]
  const at = (i: number): number => i % blocks.length
  const cp = e.checkpoint!
  switch (o.kind) {
    case 'flip-block': blocks[at(o.i)] = flip(blocks[at(o.i)]!, o.pos, o.mask); return { ...e, blocks }
    case 'flip-checkpoint': {
      const witnesses = cp.witnesses.map((w, k) => k !== o.w % cp.witnesses.length
        ? w
        : o.field === 'signature' ? { ...w, signature: flip(w.signature, o.pos, o.mask) } : o.field === 'nodeId' ? { ...w, nodeId: w.nodeId.slice(0, -1) + String.fromCharCode((w.nodeId.charCodeAt(w.nodeId.length - 1) ^ (o.mask & 0x1f)) || 65) } : w)
      return { ...e, checkpoint: { ...cp, witnesses, head: o.field === 'head' ? flip(cp.head, o.pos, o.mask) : cp.head } }
    }
    case 'checkpoint-height': return { ...e, checkpoint: { ...cp, height: Math.max(0, cp.height + o.delta) } }
    case 'remove-block': blocks.splice(at(o.i), 1); return { ...e, blocks }
    case 'swap-blocks': {
      const i = at(o.i)
      const j = at(o.j) === i ? at(i + 1) : at(o.j)
      ;[blocks[i], blocks[j]] = [blocks[j]!, blocks[i]!]
      return { ...e, blocks }
    }
    case 'duplicate-block': blocks.splice(at(o.i), 0, blocks[at(o.i)]!); return { ...e, blocks }
    case 'foreign-block': blocks[at(o.i)] = other.blocks[o.j % other.blocks.length]!; return { ...e, blocks }
    case 'remove-witness':
    case 'duplicate-witness': {
      const seals = blocks.map((b, k) => [b, k] as const).filter(([b]) => decodeBlock(b)?.kind === 'seal')
      const target = seals[o.i % Math.max(1, seals.length)]
      if (target === undefined) return e
      const edited = editSeal(decodeBlock(target[0])!, (s) => {
        const w = o.w % Math.max(1, s.witnesses.length)
        const witnesses = o.kind === 'remove-witness' ? s.witnesses.filter((_x, k) => k !== w) : [...s.witnesses.slice(0, w + 1), ...s.witnesses.slice(w)]
        return { ...s, witnesses }
      })
      blocks[target[1]] = encodeBlock(edited)
      return { ...e, blocks }
    }
    case 'edit-field': {
      const block = decodeBlock(blocks[at(o.i)]!)
      if (block === null) return e
      const edited: Block = o.field === 'time'
        ? { ...block, timeMs: block.timeMs + 1 }
        : o.field === 'index' ? { ...block, index: block.index + 1 }
          : o.field === 'term' ? { ...block, term: block.term + 1 }
            : { ...block, outcome: block.outcome.kind === 'applied' ? { kind: 'rejected', code: 'operator', message: 'x' } : { kind: 'applied' } }
      blocks[at(o.i)] = encodeBlock(edited)
      return { ...e, blocks }
    }
    case 'genesis': return { ...e, genesis: other.genesis }
  }
}

describe('chain tamper property', () => {
  it('should detect every random tampering (100%)', () => {
    const original = encodeChainExport(exp)
    let detected = 0
    fc.assert(fc.property(fc.array(op, { minLength: 1, maxLength: 3 }), fc.boolean(), fc.nat(), (ops, relink, from) => {
      let tampered = ops.reduce(apply, exp)
      if (relink && tampered.blocks.length > 1) tampered = { ...tampered, blocks: relinkFrom(tampered.blocks, 1 + (from % (tampered.blocks.length - 1))) }
      fc.pre(Buffer.compare(encodeChainExport(tampered), original) !== 0)
      let error: unknown = null
      try {
        verifyChain(tampered, { verify: verifyWithCodec })
      } catch (err) {
        error = err
      }
      expect(error).toBeInstanceOf(ChainVerifyError)
      detected++
    }), { seed: SEED, numRuns: 400 })
    expect(detected).toBeGreaterThan(300)
  })
})
