/**
 * Every node decodes every committed proposal, and the canonical check re-encodes it with the direct writer
 * (codec/fast-encode) instead of dag-cbor's encoder (issue 16, per-command cost). A proposal whose bytes
 * decode but are not canonical must still be refused, at either layer (the signed wrapper, the envelope).
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createSigner, decodeCanonical, encodeCanonicalFast } from '../../../src/codec/index.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { decodeProposalOrError } from '../../../src/consensus/shape/core/index.js'

/** A CBOR head (major type, argument) in its shortest form. */
function head (major: number, n: number): number[] {
  if (n < 24) return [(major << 5) | n]
  if (n < 256) return [(major << 5) | 24, n]
  return [(major << 5) | 25, n >> 8, n & 0xff]
}

const text = (s: string): number[] => [...head(3, Buffer.byteLength(s)), ...Buffer.from(s)]
const bytes = (b: Uint8Array): number[] => [...head(2, b.length), ...b]

describe('canonical check of signed proposals', () => {
  it('accepts the proposer\'s bytes and refuses the same proposal with its keys out of order', async () => {
    const key = await generateKeyPair('Ed25519')
    const signer = createSigner(key, peerIdFromPrivateKey(key).toString())
    const built = new ShapeProposer(signer, 'cluster-1', 'session').buildBatch([
      { command: { kind: 'promote', nodeId: signer.nodeId, roles: ['scheduler'] }, reason: 'operator' },
      { command: { kind: 'demote', nodeId: signer.nodeId, roles: ['scheduler'] }, reason: 'operator' }
    ], 1000)
    const good = decodeProposalOrError(built.bytes)
    expect(good).not.toBeInstanceOf(Error)
    if (good instanceof Error) return
    // The signed wrapper {e, s} written with `s` first: the same value, not its canonical bytes.
    const swapped = Uint8Array.from([...head(5, 2), ...text('s'), ...bytes(good.signature), ...text('e'), ...bytes(good.envelopeBytes)])
    expect((decodeProposalOrError(swapped) as Error).name).toBe('MalformedProposalError')
    // The envelope inside, its keys written in reverse order, is refused the same way.
    const envelope = decodeCanonical<Record<string, unknown>>(good.envelopeBytes)
    const reordered = Object.keys(envelope).reverse()
    const inner = [...head(5, reordered.length)]
    for (const k of reordered) inner.push(...text(k), ...encodeCanonicalFast(envelope[k]))
    const innerBytes = Uint8Array.from(inner)
    expect(Buffer.from(innerBytes).equals(Buffer.from(good.envelopeBytes))).toBe(false)
    const wrapped = Uint8Array.from([...head(5, 2), ...text('e'), ...bytes(innerBytes), ...text('s'), ...bytes(good.signature)])
    expect((decodeProposalOrError(wrapped) as Error).name).toBe('MalformedProposalError')
  })
})
