/**
 * Goal: a follower or learner whose leader sends a snapshot of a shape at a protocol level above this
 * build's (the cluster was raised by a later build; rolling upgrades, docs/OPERATIONS.md) halts before it
 * persists or applies anything: the driver's halt listeners get ProtocolLevelUnsupportedError (the consensus
 * service turns it into exit code 7, EXIT_CODE_PROTOCOL), an error line tells the operator to upgrade, the
 * node stops, and its storage and machine stay as they were. Refusing the snapshot instead would leave the
 * node behind for ever without saying why. Method: a RaftNode driving the real ShapeMachine, alone and
 * inside the AttestedMachine as a node runs it (the snapshot then also carries the chain state), fed the
 * leader's Snap message by hand.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { MessageTransport } from '../../../src/consensus/raft-node.js'
import { encodeNodeSnapshot } from '../../../src/consensus/node-snapshot.js'
import { MessageType, ProposalSessions } from '../../../src/consensus/core/index.js'
import type { Message } from '../../../src/consensus/core/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { MeshShape, PROTOCOL_LEVEL } from '../../../src/consensus/shape/core/index.js'
import { encodeCanonical } from '../../../src/codec/index.js'
import { AttestedMachine } from '../../../src/attestation/attested-machine.js'
import { verifyWithCodec } from '../../../src/attestation/signatures.js'
import { emptyChainState } from '../../../src/attestation/core/chain.js'
import { chainStateToData } from '../../../src/attestation/core/export.js'
import type { ReplicatedStateMachine } from '../../../src/consensus/state-machine.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { waitUntil } from './harness.js'

/** The leader's shape: `a` holds etcd, at protocol level `level`. */
const withA = (level: number): MeshShape => new MeshShape(new Map([['a', new Set(['etcd', 'api-server'] as const)]])).withProtocol(level)

type Kind = 'shape' | 'attested'

/** A snapshot of `shape` as a leader of `kind` sends it at `index` (one chunk). */
function snapOf (kind: Kind, shape: MeshShape, index: number): Message {
  const shapeBytes = encodeCanonical(shape.toData())
  const machine = kind === 'shape' ? shapeBytes : encodeCanonical({ m: shapeBytes, c: chainStateToData(emptyChainState('c1')) })
  const data = encodeNodeSnapshot({ machine, sessions: new ProposalSessions().encode() })
  return {
    type: MessageType.Snap, from: 'a', to: 'b', term: 1, index, logTerm: 1, entries: [], commit: 0, reject: false, rejectHint: 0,
    snapshotMeta: { index, term: 1, confState: { voters: ['a'], votersOutgoing: [], learners: ['b'], learnersNext: [], autoLeave: false } },
    snapshotChunk: data, snapshotOffset: 0, snapshotDone: true
  }
}

describe.each(['shape', 'attested'] as const)('a snapshot at a protocol level above this build\'s (%s machine)', (kind) => {
  const nodes: Array<RaftNode<unknown>> = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  function learner (): { node: RaftNode<unknown>, storage: MemoryStorage, machine: ShapeMachine, deliver: (m: Message) => void, errors: Array<{ fields: unknown, msg: string }> } {
    let handler: (m: Message) => void = () => {}
    const transport: MessageTransport = { send: () => {}, setHandler: (h) => { handler = h } }
    const errors: Array<{ fields: unknown, msg: string }> = []
    const logger = { info: () => {}, warn: () => {}, debug: () => {}, error: (fields: unknown, msg: string) => { errors.push({ fields, msg }) } }
    const storage = new MemoryStorage()
    const machine = new ShapeMachine('c1')
    const stateMachine: ReplicatedStateMachine<unknown> = kind === 'shape' ? machine : new AttestedMachine({ shape: machine, clusterId: 'c1', store: null, verify: verifyWithCodec })
    const node = new RaftNode<unknown>({ id: 'b', tickMs: 10, electionTicks: 10, heartbeatTicks: 1 }, { storage, transport, stateMachine, logger })
    node.start()
    nodes.push(node)
    return { node, storage, machine, deliver: (m) => { handler(m) }, errors }
  }

  it('should halt with ProtocolLevelUnsupportedError and an upgrade message before persisting or applying it', async () => {
    const { node, storage, machine, deliver, errors } = learner()
    const halts: Error[] = []
    node.onHalt((err) => { halts.push(err) })
    const later = withA(PROTOCOL_LEVEL + 1)
    deliver(snapOf(kind, later, 7))
    await waitUntil(() => halts.length > 0, 5_000, 'the node to halt')
    expect(halts.map((e) => e.name)).toEqual(['ProtocolLevelUnsupportedError'])
    expect(node.halted?.message).toMatch(new RegExp(`protocol level ${PROTOCOL_LEVEL + 1}; this build knows levels up to ${PROTOCOL_LEVEL}: upgrade revoada on this node`))
    expect(node.isRunning).toBe(false)
    expect(errors).toHaveLength(1)
    expect(errors[0]?.msg).toMatch(/^cannot apply the committed log with this build, stopping: .*upgrade revoada/)
    // Nothing of it persisted or applied.
    expect(storage.load().snapshot).toBeUndefined()
    expect(node.appliedIndex()).toBe(0)
    expect(machine.shape.size).toBe(0)
    expect(machine.shape.protocol).toBe(1)
    // A second copy (the leader retries) changes nothing and halts nobody twice.
    deliver(snapOf(kind, later, 8))
    expect(halts).toHaveLength(1)
    expect(storage.load().snapshot).toBeUndefined()
  })

  it('should install a snapshot at this build\'s own level (the control)', async () => {
    const { node, machine, deliver } = learner()
    deliver(snapOf(kind, withA(PROTOCOL_LEVEL), 7))
    await waitUntil(() => node.appliedIndex() === 7, 5_000, 'the snapshot installed')
    expect(machine.shape.protocol).toBe(PROTOCOL_LEVEL)
    expect(node.halted).toBeUndefined()
  })
})
