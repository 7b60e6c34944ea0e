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
})
