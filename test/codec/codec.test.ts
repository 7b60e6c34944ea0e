import { describe, expect, it } from 'vitest'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import {
  blake3, blake3DeriveKey, createBlake3, cidOfBytes, cidOfValue, createSigner, decodeCanonical, encodeCanonical, encodeWithCid,
  verifyCid, verifySignature, parseCid, canonicalCidText, BLAKE3_MULTIHASH_CODE
} from '../../src/codec/index.js'
import type { CID } from '../../src/codec/index.js'

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const officialInput = (length: number): Uint8Array => Uint8Array.from({ length }, (_, i) => i % 251)

describe('blake3', () => {
  it('should match the official BLAKE3 test vectors', () => {
    // From BLAKE3's test_vectors.json (first 32 bytes of the extended output).
    expect(hex(blake3(new Uint8Array(0)))).toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
    expect(hex(blake3(new TextEncoder().encode('abc')))).toBe('6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85')
    expect(hex(blake3(officialInput(1024)))).toBe('42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7')
    const longVectors: Array<[number, string]> = [
      [1, '2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213'],
      [1023, '10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11'],
      [1025, 'd00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444'],
      [102400, 'bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085']
    ]
    for (const [length, expected] of longVectors) {
      expect(hex(blake3(officialInput(length))), `length ${length}`).toBe(expected)
      expect(hex(createBlake3().update(officialInput(length)).digest()), `streamed ${length}`).toBe(expected)
    }
  })

  it('should derive keys like @noble/hashes when in derive_key mode', () => {
    const context = 'revoada 2026-11-26 codec test context'
    const material = officialInput(2049)
    expect(hex(blake3DeriveKey(context, material))).toBe(hex(nobleBlake3(material, { context: new TextEncoder().encode(context) })))
  })

  it('should agree with @noble/hashes around chunk and tree boundaries', () => {
    for (const length of [1, 63, 64, 65, 1023, 1025, 2048, 2049, 4097, 65_537, 1_048_583]) {
      const input = officialInput(length)
      expect(hex(blake3(input)), `length ${length}`).toBe(hex(nobleBlake3(input)))
    }
  })

  it('should give the one-shot digest when streamed in uneven chunks', () => {
    const input = officialInput(300_001)
    const hasher = createBlake3()
    for (let offset = 0; offset < input.length; offset += 7_777) hasher.update(input.subarray(offset, offset + 7_777))
    expect(hex(hasher.digest())).toBe(hex(blake3(input)))
  })
})

describe('canonical CBOR and CIDs', () => {
  it('should encode equal values to equal bytes and CIDs whatever the key order', () => {
    const a = { zeta: 1, alpha: [1, 2, { y: 'x', b: new Uint8Array([1]) }], mid: null }
    const b = { mid: null, alpha: [1, 2, { b: new Uint8Array([1]), y: 'x' }], zeta: 1 }
    expect(hex(encodeCanonical(a))).toBe(hex(encodeCanonical(b)))
    expect(cidOfValue(a).toString()).toBe(cidOfValue(b).toString())
  })

  it('should reject bytes that are valid CBOR but not canonical', () => {
    // {"b": 1, "a": 2} written with keys in the wrong order.
    const unsorted = new Uint8Array([0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02])
    expect(() => decodeCanonical(unsorted)).toThrow(expect.objectContaining({ name: 'NonCanonicalEncodingError' }))
    expect(() => decodeCanonical(new Uint8Array([0xff, 0x00]))).toThrow(expect.objectContaining({ name: 'MalformedEncodingError' }))
    expect(() => encodeCanonical({ a: undefined })).toThrow(expect.objectContaining({ name: 'MalformedEncodingError' }))
  })

  it('should address values with CIDv1 BLAKE3 and verify the bytes behind a CID', () => {
    const { bytes, cid } = encodeWithCid({ hello: 'world' })
    expect(cid.version).toBe(1)
    expect(cid.code).toBe(0x71)
    expect(cid.multihash.code).toBe(BLAKE3_MULTIHASH_CODE)
    expect(verifyCid(cid, bytes)).toBe(true)
    expect(verifyCid(cid, encodeCanonical({ hello: 'world!' }))).toBe(false)
    expect(cidOfBytes(bytes).code).toBe(0x55)
    expect(parseCid(cid.toString())?.equals(cid)).toBe(true)
    expect(parseCid('not a cid')).toBeNull()
  })

  // multiformats' toString() returns the text a CID was parsed from, and its base32 decoder takes either case and
  // trailing `=`: a check against toString() compares a text with itself (content/object-record.ts and the role
  // catalog, protocol level 7, both compare with canonicalCidText instead).
  it('should spell a CID as a fresh encoding of its bytes, whatever text it was parsed from', () => {
    const parsed = (spelling: string): CID => {
      const cid = parseCid(spelling)
      if (cid === null) throw new Error(`${spelling} does not parse`)
      return cid
    }
    const text = cidOfBytes(new TextEncoder().encode('template')).toString()
    expect(canonicalCidText(parsed(text))).toBe(text)
    const mixed = text.slice(0, -1) + text.slice(-1).toUpperCase()
    for (const spelling of [mixed, `${text}=`, `${text}====`]) {
      expect(parsed(spelling).equals(parsed(text)), spelling).toBe(true)
      // The trap: the parsed text comes back, so a check against toString() passes it.
      expect(parsed(spelling).toString()).toBe(spelling)
      expect(canonicalCidText(parsed(spelling))).toBe(text)
    }
    const value = cidOfValue({ hello: 'world' })
    expect(canonicalCidText(value)).toBe(value.toString())
  })
})

describe('domain-separated signatures', () => {
  it('should verify only for the same purpose, cluster, CID and key', async () => {
    const key = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const nodeId = peerIdFromPrivateKey(key).toString()
    const otherId = peerIdFromPrivateKey(other).toString()
    const cid = cidOfValue({ command: 'promote' })
    const signature = createSigner(key, nodeId).sign('proposal', 'cluster-a', cid)
    const base = { nodeId, purpose: 'proposal' as const, clusterId: 'cluster-a', cid, signature }
    expect(verifySignature(base)).toBe(true)
    expect(verifySignature({ ...base, purpose: 'witness' })).toBe(false)
    expect(verifySignature({ ...base, clusterId: 'cluster-b' })).toBe(false)
    expect(verifySignature({ ...base, cid: cidOfValue({ command: 'demote' }) })).toBe(false)
    expect(verifySignature({ ...base, nodeId: otherId })).toBe(false)
    expect(verifySignature({ ...base, signature: createSigner(other, otherId).sign('proposal', 'cluster-a', cid) })).toBe(false)
    const tampered = new Uint8Array(signature); tampered[0] = (tampered[0] ?? 0) ^ 1
    expect(verifySignature({ ...base, signature: tampered })).toBe(false)
  })

  it('should return false, not throw, for a malformed node id or signature', () => {
    const cid = cidOfValue({})
    expect(verifySignature({ nodeId: 'garbage', purpose: 'proposal', clusterId: 'c', cid, signature: new Uint8Array(64) })).toBe(false)
    expect(verifySignature({ nodeId: 'garbage', purpose: 'proposal', clusterId: 'c', cid, signature: new Uint8Array(3) })).toBe(false)
  })
})
