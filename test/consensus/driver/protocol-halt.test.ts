/**
 * Goal: a follower or learner whose leader sends a snapshot of a shape at a protocol level above this
 * build's refuses it and keeps running (rolling upgrades, docs/OPERATIONS.md). Until 2026-12 it halted
 * (exit code 7); but the snapshot is only its sender's word, and any key holder can be the leader of a
 * higher term for one frame, so one Snap per node stopped the cluster (audit `snaphalt.mjs`). Refusing
 * persists and applies nothing, so the node cannot diverge by it: it stays behind, rejects the snapshot to
 * the leader, counts it (`refusedSnapshotsAboveLevel`) and warns once per interval naming the level and the
 * fix. An entry at such a level in its own log still halts it (protocol-gate.test.ts). Method: a RaftNode
 * driving the real ShapeMachine, alone and inside the AttestedMachine as a node runs it (the snapshot then
 * also carries the chain state), fed Snap messages by hand: from the leader of its term, and from a key
 * holder that is in no configuration of this node and claims a higher term.
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

/** A snapshot of `shape` as a leader (`a` at term 1 unless told) of `kind` sends it at `index` (one chunk). */
function snapOf (kind: Kind, shape: MeshShape, index: number, sender = { from: 'a', term: 1 }): Message {
  const { from, term } = sender
  const shapeBytes = encodeCanonical(shape.toData())
  const machine = kind === 'shape' ? shapeBytes : encodeCanonical({ m: shapeBytes, c: chainStateToData(emptyChainState('c1')) })
  const data = encodeNodeSnapshot({ machine, sessions: new ProposalSessions().encode() })
  return {
    type: MessageType.Snap, from, to: 'b', term, index, logTerm: term, entries: [], commit: 0, reject: false, rejectHint: 0,
    snapshotMeta: { index, term, confState: { voters: [from], votersOutgoing: [], learners: ['b'], learnersNext: [], autoLeave: false } },
    snapshotChunk: data, snapshotOffset: 0, snapshotDone: true
  }
}

describe.each(['shape', 'attested'] as const)('a snapshot at a protocol level above this build\'s (%s machine)', (kind) => {
  const nodes: Array<RaftNode<unknown>> = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  function learner (): { node: RaftNode<unknown>, storage: MemoryStorage, machine: ShapeMachine, deliver: (m: Message) => void, errors: string[], warnings: string[], sent: Message[] } {
    let handler: (m: Message) => void = () => {}
    const sent: Message[] = []
    const transport: MessageTransport = { send: (m) => { sent.push(m) }, setHandler: (h) => { handler = h } }
    const errors: string[] = []
    const warnings: string[] = []
    const logger = { info: () => {}, warn: (_: unknown, msg: string) => { warnings.push(msg) }, debug: () => {}, error: (_: unknown, msg: string) => { errors.push(msg) } }
    const storage = new MemoryStorage()
    const machine = new ShapeMachine('c1')
    const stateMachine: ReplicatedStateMachine<unknown> = kind === 'shape' ? machine : new AttestedMachine({ shape: machine, clusterId: 'c1', store: null, verify: verifyWithCodec })
    const node = new RaftNode<unknown>({ id: 'b', tickMs: 10, electionTicks: 10, heartbeatTicks: 1 }, { storage, transport, stateMachine, logger })
    node.start()
    nodes.push(node)
    return { node, storage, machine, deliver: (m) => { handler(m) }, errors, warnings, sent }
  }

  it('should refuse it, count it and warn naming the level, keep running, and persist or apply nothing', async () => {
    const { node, storage, machine, deliver, errors, warnings, sent } = learner()
    const halts: Error[] = []
    node.onHalt((err) => { halts.push(err) })
    const later = withA(PROTOCOL_LEVEL + 1)
    deliver(snapOf(kind, later, 7))
    expect(node.refusedSnapshotsAboveLevel).toBe(1)
    expect(node.status().rejectedSnapshots).toBe(1)
    await waitUntil(() => sent.some((m) => m.type === MessageType.SnapResp && m.to === 'a' && m.reject), 5_000, 'the rejection sent')
    expect(halts).toEqual([])
    expect(node.halted).toBeUndefined()
    expect(node.isRunning).toBe(true)
    expect(errors).toEqual([])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(new RegExp(`^refused a snapshot from a that this build cannot apply, staying behind .*protocol level ${PROTOCOL_LEVEL + 1}; this build knows levels up to ${PROTOCOL_LEVEL}: upgrade revoada on this node`))
    // Nothing of it persisted or applied.
    expect(storage.load().snapshot).toBeUndefined()
    expect(node.appliedIndex()).toBe(0)
    expect(machine.shape.size).toBe(0)
    expect(machine.shape.protocol).toBe(1)
    // A second copy (the leader retries) is refused again: counted, not logged again within the interval.
    deliver(snapOf(kind, later, 8))
    expect(node.refusedSnapshotsAboveLevel).toBe(2)
    expect(warnings).toHaveLength(1)
    expect(storage.load().snapshot).toBeUndefined()
    expect(node.isRunning).toBe(true)
  })

  it('should keep running when a key holder in no configuration sends one at a higher term', async () => {
    const { node, machine, deliver } = learner()
    const halts: Error[] = []
    node.onHalt((err) => { halts.push(err) })
    const term = node.status().term
    deliver(snapOf(kind, withA(PROTOCOL_LEVEL + 1), 100, { from: 'evil', term: term + 1 }))
    expect(node.refusedSnapshotsAboveLevel).toBe(1)
    expect(halts).toEqual([])
    expect(node.isRunning).toBe(true)
    // The honest leader's snapshot at this build's level still installs afterwards.
    deliver(snapOf(kind, withA(PROTOCOL_LEVEL), 101, { from: 'a', term: term + 2 }))
    await waitUntil(() => node.appliedIndex() === 101, 5_000, 'the snapshot installed')
    expect(machine.shape.protocol).toBe(PROTOCOL_LEVEL)
  })

  it('should install a snapshot at this build\'s own level (the control)', async () => {
    const { node, machine, deliver } = learner()
    deliver(snapOf(kind, withA(PROTOCOL_LEVEL), 7))
    await waitUntil(() => node.appliedIndex() === 7, 5_000, 'the snapshot installed')
    expect(machine.shape.protocol).toBe(PROTOCOL_LEVEL)
    expect(node.halted).toBeUndefined()
  })
})
