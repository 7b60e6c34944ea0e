/**
 * Pins in the MeshShape (issue 12 item 2): a pinned promote/demote records the operator's assignment in the
 * committed shape; a later plain change of the same role supersedes it; quarantine drops it; `unpin` drops
 * it and is rejected when there is nothing to drop; the envelope codec carries `pin` and `unpin` strictly;
 * a shape without pins encodes exactly as before (same CID), one with pins survives a snapshot round trip.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createSigner, encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { MeshShape, TARGET_PRESETS, decodeSignedProposal, encodeSignedProposal, envelopeBytesAndCid, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command, Envelope } from '../../../src/consensus/shape/core/index.js'
import { buildShape } from './helpers.js'

const base = (): MeshShape => buildShape([
  { kind: 'bootstrap', nodeId: 'a' }, { kind: 'add-member', nodeId: 'b' }, { kind: 'add-member', nodeId: 'c' },
  { kind: 'set-target', target: TARGET_PRESETS['ha-three'] }
])

describe('MeshShape pins', () => {
  it('should record a pinned promote and demote, and keep the invariant that a pin agrees with the assignment', () => {
    const shape = buildShape([{ kind: 'bootstrap', nodeId: 'a' }, { kind: 'add-member', nodeId: 'b' }])
    const promoted = transition(shape, { kind: 'promote', nodeId: 'b', roles: ['etcd'], pin: true })
    expect(promoted.kind).toBe('applied')
    if (promoted.kind !== 'applied') return
    expect(promoted.shape.pinOf('b', 'etcd')).toBe(true)
    expect(promoted.shape.pins()).toEqual([{ nodeId: 'b', role: 'etcd', holds: true }])
    const demoted = transition(promoted.shape, { kind: 'demote', nodeId: 'a', roles: ['scheduler'], pin: true })
    if (demoted.kind !== 'applied') throw new Error(demoted.message)
    expect(demoted.shape.pinOf('a', 'scheduler')).toBe(false)
    expect(demoted.shape.invariantProblem()).toBeNull()
  })

  it('should pin an already-held role with a pinned promote, and still reject a plain promote of it', () => {
    const shape = base()
    const pinned = transition(shape, { kind: 'promote', nodeId: 'a', roles: ['etcd'], pin: true })
    expect(pinned.kind === 'applied' && pinned.shape.pinOf('a', 'etcd')).toBe(true)
    expect(transition(shape, { kind: 'promote', nodeId: 'a', roles: ['etcd'] })).toMatchObject({ kind: 'rejected', code: 'role-already-held' })
  })

  it('should let a later plain change supersede a pin, quarantine drop it, and unpin drop it once', () => {
    const pinned = buildShape([{ kind: 'bootstrap', nodeId: 'a' }, { kind: 'add-member', nodeId: 'b' }, { kind: 'promote', nodeId: 'b', roles: ['api-server', 'etcd'], pin: true }])
    const plain = transition(pinned, { kind: 'demote', nodeId: 'b', roles: ['etcd'] })
    if (plain.kind !== 'applied') throw new Error(plain.message)
    expect(plain.shape.pins()).toEqual([{ nodeId: 'b', role: 'api-server', holds: true }])
    const quarantined = transition(pinned, { kind: 'quarantine', nodeId: 'b' })
    expect(quarantined.kind === 'applied' && quarantined.shape.pins()).toEqual([])
    const unpinned = transition(pinned, { kind: 'unpin', nodeId: 'b', roles: ['etcd'] })
    if (unpinned.kind !== 'applied') throw new Error(unpinned.message)
    expect(unpinned.shape.pins().map((p) => p.role)).toEqual(['api-server'])
    expect(unpinned.shape.holds('b', 'etcd')).toBe(true)
    const all = transition(unpinned.shape, { kind: 'unpin', nodeId: 'b' })
    if (all.kind !== 'applied') throw new Error(all.message)
    expect(all.shape.pins()).toEqual([])
    expect(transition(all.shape, { kind: 'unpin', nodeId: 'b' })).toMatchObject({ kind: 'rejected', code: 'not-pinned' })
    expect(transition(all.shape, { kind: 'unpin', nodeId: 'zz' })).toMatchObject({ kind: 'rejected', code: 'unknown-node' })
  })

  it('should encode a shape without pins exactly as before and round-trip one with pins through a snapshot', () => {
    const plain = base()
    expect(Object.keys(plain.toData()).sort()).toEqual(['members', 'target'])
    const pinned = buildShape([{ kind: 'bootstrap', nodeId: 'a' }, { kind: 'add-member', nodeId: 'b' }, { kind: 'demote', nodeId: 'b', roles: ['etcd'], pin: true }])
    const machine = new ShapeMachine('c1')
    machine.restore(encodeCanonical(pinned.toData()))
    expect(machine.shape.pins()).toEqual([{ nodeId: 'b', role: 'etcd', holds: false }])
    // A snapshot whose pin disagrees with the assignment is refused, never installed.
    const bad = { ...pinned.toData(), pins: [['b', 'etcd', true]] }
    expect(() => { machine.restore(encodeCanonical(bad)) }).toThrow(/pinned/)
  })

  describe('envelope', () => {
    let signer: Signer
    beforeAll(async () => {
      const key = await generateKeyPair('Ed25519')
      signer = createSigner(key, peerIdFromPrivateKey(key).toString())
    })

    it('should carry pin and unpin, and reject pin: false or stray keys', () => {
      const proposer = new ShapeProposer(signer, 'c1', 'client')
      for (const command of [
        { kind: 'promote', nodeId: 'b', roles: ['etcd'], pin: true },
        { kind: 'unpin', nodeId: 'b' },
        { kind: 'unpin', nodeId: 'b', roles: ['scheduler'] }
      ] as Command[]) {
        const built = proposer.build(base(), command, 'operator', 1)
        expect((decodeSignedProposal(built.bytes)?.envelope as { command?: unknown } | undefined)?.command).toEqual(command)
      }
      const envelope = (command: unknown): Envelope => ({ v: 1, clusterId: 'c1', command: command as Command, reason: 'operator', proposer: signer.nodeId, proposalId: { clientId: 'x', seq: 1 }, proposedAtMs: 1 })
      for (const command of [
        { kind: 'promote', nodeId: 'b', roles: ['etcd'], pin: false },
        { kind: 'promote', nodeId: 'b', roles: ['etcd'], extra: true },
        { kind: 'unpin', nodeId: 'b', roles: [] },
        { kind: 'unpin', nodeId: 'b', pin: true }
      ]) {
        const { bytes, cid } = envelopeBytesAndCid(envelope(command))
        expect(decodeSignedProposal(encodeSignedProposal(bytes, signer.sign('proposal', 'c1', cid)))).toBeNull()
      }
    })
  })
})
