/**
 * Goal: the driver's side of forwarded requests (issue 16). A request that reaches the leader is never
 * appended: it goes to the leader's intake (`takeRequest`), with the authenticated sender, and a refusal is
 * counted. A merged envelope's forwarded groups are recorded in the replicated session table under their
 * request ids, so the same group committed again (a retry through a second leader, or queued twice) is
 * skipped as `duplicate-request`, and the proposal waiting for a request id resolves with its group's
 * result. Method: a single-voter leader with the real MeshShape machine and rules; the test injects Prop
 * messages as member b would forward them and proposes the leader's envelopes itself.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { MessageTransport } from '../../../src/consensus/raft-node.js'
import { encodeEntryPayload } from '../../../src/consensus/entry-payload.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { Message, ProposalId } from '../../../src/consensus/core/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { shapeCommandRules } from '../../../src/consensus/shape-command-rules.js'
import { MeshShape, encodeRequest } from '../../../src/consensus/shape/core/index.js'
import type { ApplyResult, BatchedCommand, CommandGroup, Outcome } from '../../../src/consensus/shape/core/index.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { silentLogger, waitUntil } from './harness.js'
import { newSigner } from '../shape/helpers.js'

const CLUSTER = 'cluster-1'
const codes = (outcomes: Outcome[] | undefined): string[] => (outcomes ?? []).map((o) => o.kind === 'applied' ? 'applied' : o.code)

describe('forwarded requests in the driver', () => {
  let a: Signer, b: Signer, c: Signer, d: Signer
  beforeAll(async () => { [a, b, c, d] = await Promise.all([newSigner(), newSigner(), newSigner(), newSigner()]) })
  const nodes: RaftNode<ApplyResult>[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  const promote = (id: string): BatchedCommand => ({ command: { kind: 'promote', nodeId: id, roles: ['scheduler'] }, reason: 'operator' })

  async function leader (take: (command: Uint8Array, id: ProposalId | undefined, from: string) => Error | null) {
    let handler: (m: Message) => void = () => {}
    const transport: MessageTransport = { send: () => {}, setHandler: (h) => { handler = h } }
    const machine = new ShapeMachine(CLUSTER)
    const members = [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b.nodeId, []], [c.nodeId, []]]
      .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
    machine.restore(encodeCanonical(MeshShape.fromData({ members, target: { apiServers: 1, etcd: 1, schedulers: 3, controllerManagers: 1, minWorkers: 0 } }).toData()))
    const node = new RaftNode<ApplyResult>({ id: a.nodeId, clientId: `${a.nodeId}/driver`, tickMs: 10, electionTicks: 10, heartbeatTicks: 1, bootstrap: true, retryIntervalMs: 60_000 }, {
      storage: new MemoryStorage(), transport, stateMachine: machine, logger: silentLogger, commandRules: shapeCommandRules(() => machine.shape), takeRequest: take
    })
    node.start()
    nodes.push(node)
    await waitUntil(() => node.isLeader(), 5000, 'a leads')
    const inject = (from: string, bytes: Uint8Array, id: ProposalId): void => handler({
      type: MessageType.Prop, from, to: a.nodeId, term: 0, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0,
      entries: [{ index: 0, term: 0, type: EntryType.Normal, data: encodeEntryPayload({ command: bytes, timeMs: 0 }), proposalId: id }]
    })
    return { node, machine, inject, proposer: new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`) }
  }

  it('should hand a forwarded request to the intake with its sender instead of appending it, and count a refused one', async () => {
    const taken: Array<[ProposalId | undefined, string]> = []
    const { node, inject, proposer, machine } = await leader((_command, id, from) => {
      taken.push([id, from])
      return id?.seq === 2 ? new Error('refused for the test') : null
    })
    const id = { clientId: `${b.nodeId}/s.r`, seq: 1 }
    const restoreC = { kind: 'restore' as const, nodeId: c.nodeId }
    const before = (await node.propose(proposer.build(machine.shape, restoreC, 'operator', 1).bytes)).index
    inject(b.nodeId, encodeRequest({ id, commands: [promote(c.nodeId)] }), id)
    inject(b.nodeId, encodeRequest({ id: { ...id, seq: 2 }, commands: [promote(c.nodeId)] }), { ...id, seq: 2 })
    // An entry proposed after the injections applies after anything they could have appended: next.
    const sync = await node.propose(proposer.build(machine.shape, restoreC, 'operator', 1).bytes)
    expect(sync.index).toBe(before + 1)
    expect(taken).toEqual([[id, b.nodeId], [{ ...id, seq: 2 }, b.nodeId]])
    expect(node.counters().refusedRequests).toBe(1)
  })

  it('should apply a forwarded group once when two envelopes carry it, and answer the request waiting for it', async () => {
    const taken: string[] = []
    const { node, machine, proposer } = await leader((_command, _id, from) => { taken.push(from); return null })
    // This node's own request (forwarded while it followed, say): at the leader it goes to the intake too.
    const own = { clientId: `${a.nodeId}/s.r`, seq: 1 }
    const waiting = node.propose(encodeRequest({ id: own, commands: [promote(c.nodeId)] }))
    await waitUntil(() => taken.length === 1, 5000, 'the intake took the own request')
    expect(taken).toEqual([a.nodeId])

    const fromB: CommandGroup = { commands: [promote(b.nodeId)], via: { clientId: `${b.nodeId}/s.r`, seq: 7 } }
    const first = await node.propose(proposer.buildMerged([], [fromB, { commands: [promote(c.nodeId)], via: own }], 1).bytes)
    expect(codes(first.result.outcomes)).toEqual(['applied', 'applied'])
    const answer = await waiting
    expect(answer).toMatchObject({ index: first.index, duplicate: false })
    expect(codes(answer.result.outcomes)).toEqual(['applied'])

    // b's group again (a retry that reached a second leader): skipped, the shape unchanged.
    const shapeCid = machine.shapeCid()
    const again = await node.propose(proposer.buildMerged([], [fromB], 2).bytes)
    expect(codes(again.result.outcomes)).toEqual(['duplicate-request'])
    expect(machine.shapeCid()).toBe(shapeCid)
    expect(machine.shape.rolesOf(b.nodeId)).toEqual(['scheduler'])
  })

  it('should answer a request whose group was applied before it was asked for again with the first result, marked duplicate', async () => {
    const { node, proposer } = await leader(() => null)
    const via = { clientId: `${a.nodeId}/s.r`, seq: 3 }
    const first = await node.propose(proposer.buildMerged([], [{ commands: [promote(b.nodeId)], via }], 1).bytes)
    // The same request proposed now (its earlier copy was applied meanwhile): the next entry that carries
    // it answers with the group's recorded result.
    const late = node.propose(encodeRequest({ id: via, commands: [promote(b.nodeId)] }))
    await node.propose(proposer.buildMerged([], [{ commands: [promote(b.nodeId)], via }], 2).bytes)
    const answer = await late
    expect(answer).toMatchObject({ index: first.index, duplicate: true })
    expect(codes(answer.result.outcomes)).toEqual(['applied'])
  })

  it('should refuse a merged envelope forwarded by a member that names another node\'s request, and take one naming its own', async () => {
    const { node, machine, inject, proposer } = await leader(() => null)
    const byB = new ShapeProposer(b, CLUSTER, `${b.nodeId}/s`)
    // b pre-empts c's next request id with commands of its choosing: refused, else c's real request would be skipped.
    const shadow = byB.buildMerged([], [{ commands: [promote(b.nodeId)], via: { clientId: `${c.nodeId}/s.r`, seq: 1 } }], 1)
    inject(b.nodeId, shadow.bytes, { clientId: `${b.nodeId}/s`, seq: 1 })
    const own = byB.buildMerged([], [{ commands: [promote(c.nodeId)], via: { clientId: `${b.nodeId}/s.r`, seq: 1 } }], 1)
    inject(b.nodeId, own.bytes, { clientId: `${b.nodeId}/s`, seq: 2 })
    await node.propose(proposer.build(machine.shape, { kind: 'restore', nodeId: c.nodeId }, 'operator', 1).bytes)
    expect(node.counters().refusedForwarded).toBe(1)
    expect(machine.shape.rolesOf(b.nodeId)).toEqual(['worker'])
    expect(machine.shape.rolesOf(c.nodeId)).toEqual(['scheduler'])
  })

  it('should refuse a set-protocol or bootstrap forwarded by a member, and take its role shift', async () => {
    const { node, machine, inject, proposer } = await leader(() => null)
    const byB = new ShapeProposer(b, CLUSTER, `${b.nodeId}/s`)
    // A level above this build's, committed, would halt every node of this build at apply: one frame stops them all.
    inject(b.nodeId, byB.build(machine.shape, { kind: 'set-protocol', level: machine.shape.protocol + 50 }, 'operator', 1).bytes, { clientId: `${b.nodeId}/s`, seq: 1 })
    inject(b.nodeId, byB.build(machine.shape, { kind: 'bootstrap', nodeId: b.nodeId }, 'bootstrap', 2).bytes, { clientId: `${b.nodeId}/s`, seq: 2 })
    inject(b.nodeId, byB.build(machine.shape, { kind: 'promote', nodeId: c.nodeId, roles: ['scheduler'] }, 'operator', 3).bytes, { clientId: `${b.nodeId}/s`, seq: 3 })
    await waitUntil(() => machine.shape.rolesOf(c.nodeId).includes('scheduler'), 5000, 'b\'s promote applied')
    await node.propose(proposer.build(machine.shape, { kind: 'restore', nodeId: b.nodeId }, 'operator', 1).bytes)
    expect(node.counters().refusedForwarded).toBe(2)
    expect(node.halted).toBeUndefined()
  })

  it('should refuse proposals and requests forwarded by a key holder that is not a member, and take a member\'s', async () => {
    const taken: string[] = []
    const { node, machine, inject } = await leader((_command, _id, from) => { taken.push(from); return null })
    const byD = new ShapeProposer(d, CLUSTER, `${d.nodeId}/s`)
    // d holds the key (it could open the stream) but is in neither the shape nor the configuration.
    inject(d.nodeId, byD.build(machine.shape, { kind: 'promote', nodeId: c.nodeId, roles: ['scheduler'] }, 'operator', 1).bytes, { clientId: `${d.nodeId}/s`, seq: 1 })
    inject(d.nodeId, encodeRequest({ id: { clientId: `${d.nodeId}/s.r`, seq: 1 }, commands: [promote(c.nodeId)] }), { clientId: `${d.nodeId}/s.r`, seq: 1 })
    const byB = new ShapeProposer(b, CLUSTER, `${b.nodeId}/s`)
    inject(b.nodeId, byB.build(machine.shape, { kind: 'promote', nodeId: b.nodeId, roles: ['scheduler'] }, 'operator', 1).bytes, { clientId: `${b.nodeId}/s`, seq: 1 })
    await waitUntil(() => machine.shape.rolesOf(b.nodeId).includes('scheduler'), 5000, 'b\'s promote applied')
    expect(node.counters().refusedForwarded).toBe(2)
    expect(taken).toEqual([])
    expect(machine.shape.rolesOf(c.nodeId)).toEqual(['worker'])
  })
})
