/**
 * The proposing node skips its own signature check (ShapeMachine.signedHere, issue 16 lever 3), and one
 * command's bytes are decoded once however often they are looked at. Neither may weaken what apply
 * checks: the record covers exactly the bytes signed here, so a forged signature over the same envelope
 * is still committed as a `bad-signature` rejection.
 */
import { describe, expect, it } from 'vitest'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { decodeSignedProposal, encodeSignedProposal } from '../../../src/consensus/shape/core/index.js'
import { newSigner } from './helpers.js'

const CLUSTER = 'cluster-1'

describe('a proposal signed on this node', () => {
  it('should apply what was signed here and still reject a forged signature over the same envelope', async () => {
    const a = await newSigner()
    const machine = new ShapeMachine(CLUSTER)
    const proposer = new ShapeProposer(a, CLUSTER, `${a.nodeId}/1`)
    const boot = proposer.build(machine.shape, { kind: 'bootstrap', nodeId: a.nodeId }, 'bootstrap', 1000)
    machine.signedHere(boot.cid, boot.signature)
    expect(machine.apply(boot.bytes, { index: 1, term: 1, timeMs: 1 }).result.outcome.kind).toBe('applied')

    const built = proposer.build(machine.shape, { kind: 'demote', nodeId: a.nodeId, roles: ['scheduler'] }, 'operator', 1000)
    machine.signedHere(built.cid, built.signature)
    const decoded = decodeSignedProposal(built.bytes)
    expect(decoded).not.toBeNull()
    const forged = new Uint8Array(built.signature)
    forged[0] = (forged[0] ?? 0) ^ 0xff
    const forgedBytes = encodeSignedProposal(decoded!.envelopeBytes, forged)
    expect(machine.apply(forgedBytes, { index: 2, term: 1, timeMs: 1 }).result.outcome)
      .toMatchObject({ kind: 'rejected', code: 'bad-signature' })
  })

  it('should decode one byte array once and an equal copy of it on its own', async () => {
    const a = await newSigner()
    const built = new ShapeProposer(a, CLUSTER, `${a.nodeId}/1`).build(new ShapeMachine(CLUSTER).shape, { kind: 'bootstrap', nodeId: a.nodeId }, 'bootstrap', 1000)
    const first = decodeSignedProposal(built.bytes)
    expect(first).not.toBeNull()
    expect(decodeSignedProposal(built.bytes)).toBe(first)
    const copy = decodeSignedProposal(new Uint8Array(built.bytes))
    expect(copy).not.toBe(first)
    expect(copy?.cid.toString()).toBe(first?.cid.toString())
  })
})
