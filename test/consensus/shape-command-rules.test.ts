/**
 * Goal: the leader derives the configuration change a MeshShape command needs from its own applied shape
 * and configuration (issue 9 item 4), and identifies a command by its signed proposal id and signer.
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { createSigner } from '../../src/codec/index.js'
import { ShapeMachine } from '../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../src/consensus/shape/proposer.js'
import { deriveConfChange, shapeCommandRules } from '../../src/consensus/shape-command-rules.js'
import type { ConfState } from '../../src/consensus/core/types.js'

const CLUSTER = 'cluster-1'

describe('shape command rules', () => {
  it('should derive learner admission and joint voter moves from the command, and identify its signer', async () => {
    const key = await generateKeyPair('Ed25519')
    const signer = createSigner(key, peerIdFromPrivateKey(key).toString())
    const a = signer.nodeId
    const proposer = new ShapeProposer(signer, CLUSTER, `${a}/s`)
    const machine = new ShapeMachine(CLUSTER)
    machine.apply(proposer.build(machine.shape, { kind: 'bootstrap', nodeId: a }, 'bootstrap', 1).bytes, { index: 2, term: 1, timeMs: 1 })
    const conf: ConfState = { voters: [a], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
    const add = proposer.build(machine.shape, { kind: 'add-member', nodeId: 'b' }, 'admission', 2).bytes
    expect(deriveConfChange(machine.shape, add, conf)).toEqual({ steps: [{ type: 'add-learner', nodeId: 'b' }], transition: 'auto' })
    expect(deriveConfChange(machine.shape, add, { ...conf, learners: ['b'] })).toBeNull()
    machine.apply(add, { index: 3, term: 1, timeMs: 2, confChange: { steps: [{ type: 'add-learner', nodeId: 'b' }], transition: 'auto' } })
    const promote = proposer.build(machine.shape, { kind: 'promote', nodeId: 'b', roles: ['etcd'] }, 'operator', 3).bytes
    expect(deriveConfChange(machine.shape, promote, { ...conf, learners: ['b'] })).toEqual({ steps: [{ type: 'add-voter', nodeId: 'b' }], transition: 'auto', enterJoint: true })
    const scheduler = proposer.build(machine.shape, { kind: 'promote', nodeId: 'b', roles: ['scheduler'] }, 'operator', 4).bytes
    expect(deriveConfChange(machine.shape, scheduler, conf)).toBeNull()
    expect(deriveConfChange(machine.shape, new Uint8Array([1, 2, 3]), conf)).toBeNull()
    expect(shapeCommandRules(() => machine.shape).identify(promote)).toEqual({ id: { clientId: `${a}/s`, seq: 3 }, proposer: a })
    expect(shapeCommandRules(() => machine.shape).identify(new Uint8Array([1]))).toBeNull()
  })

  it('should revoke etcd on a self-signed rejoin, refuse one signed for another node, and derive the removal', async () => {
    const [keyA, keyB] = await Promise.all([generateKeyPair('Ed25519'), generateKeyPair('Ed25519')])
    const signerA = createSigner(keyA, peerIdFromPrivateKey(keyA).toString())
    const signerB = createSigner(keyB, peerIdFromPrivateKey(keyB).toString())
    const a = signerA.nodeId
    const b = signerB.nodeId
    const proposerA = new ShapeProposer(signerA, CLUSTER, `${a}/s`)
    const proposerB = new ShapeProposer(signerB, CLUSTER, `${b}/s`)
    const machine = new ShapeMachine(CLUSTER)
    machine.apply(proposerA.build(machine.shape, { kind: 'bootstrap', nodeId: a }, 'bootstrap', 1).bytes, { index: 2, term: 1, timeMs: 1 })
    machine.apply(proposerA.build(machine.shape, { kind: 'add-member', nodeId: b }, 'admission', 2).bytes,
      { index: 3, term: 1, timeMs: 2, confChange: { steps: [{ type: 'add-learner', nodeId: b }], transition: 'auto' } })
    const promoted = machine.apply(proposerA.build(machine.shape, { kind: 'promote', nodeId: b, roles: ['etcd'] }, 'operator', 3).bytes,
      { index: 4, term: 1, timeMs: 3, confChange: { steps: [{ type: 'add-voter', nodeId: b }], transition: 'auto', enterJoint: true } })
    expect(promoted.accepted).toBe(true)
    expect(machine.shape.holds(b, 'etcd')).toBe(true)
    const conf: ConfState = { voters: [a, b], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }

    // Signed by a for b: a member may not have another node's state thrown away.
    const forged = proposerA.build(machine.shape, { kind: 'rejoin', nodeId: b }, 'health-degraded', 4).bytes
    const refused = machine.apply(forged, { index: 5, term: 1, timeMs: 4, confChange: { steps: [{ type: 'remove', nodeId: b }], transition: 'auto' } })
    expect(refused.accepted).toBe(false)
    expect(refused.result.outcome).toMatchObject({ kind: 'rejected', code: 'not-self' })
    expect(machine.shape.holds(b, 'etcd')).toBe(true)
    // Nor does the leader derive a removal for it: one naming the leader would have it refuse every proposal.
    expect(deriveConfChange(machine.shape, forged, conf)).toBeNull()

    const rejoin = proposerB.build(machine.shape, { kind: 'rejoin', nodeId: b }, 'health-degraded', 1).bytes
    const removal = deriveConfChange(machine.shape, rejoin, conf)
    expect(removal).toEqual({ steps: [{ type: 'remove', nodeId: b }], transition: 'auto' })
    // Once b is out of the configuration there is nothing left to derive.
    expect(deriveConfChange(machine.shape, rejoin, { ...conf, voters: [a] })).toBeNull()
    expect(shapeCommandRules(() => machine.shape).identify(rejoin)).toEqual({ id: { clientId: `${b}/s`, seq: 1 }, proposer: b })
    // Without the derived removal the voter would stay while the shape drops its etcd role.
    const unmoved = machine.apply(rejoin, { index: 6, term: 1, timeMs: 5 })
    expect(unmoved.result.outcome).toMatchObject({ kind: 'rejected', code: 'voters-not-moved' })
    const applied = machine.apply(rejoin, { index: 7, term: 1, timeMs: 6, ...(removal !== null ? { confChange: removal } : {}) })
    expect(applied.result.outcome).toEqual({ kind: 'applied' })
    expect(machine.shape.holds(b, 'etcd')).toBe(false)
    expect(machine.shape.has(b)).toBe(true)
    expect(machine.shape.voters()).toEqual([a])
  })
})
