/**
 * Goal: a command naming a member id that is not the canonical text of an ed25519 PeerId never enters the
 * log (docs/SECURITY.md, "One key, two members"). The shape takes any 1–128 character id, and changing that
 * apply rule would change what old logs replay to, so the leader refuses such an id where commands come in:
 * its own proposals (RaftNode.propose: a typed InvalidMemberIdError and a log line) and proposals followers
 * forward (counted in refusedForwarded, logged). Shown on `add-member` of a member's CID text (`bafz…`,
 * `k51…`, the same key as its `12D3Koo…` id), which the shape applied as a second member, and of `peer-x`.
 * An id that already names a member passes, so a member committed before the check can still be removed.
 * Method: a single-voter leader with the real MeshShape machine and rules, Prop messages injected as member b
 * would forward them (as test/consensus/driver/forwarded-requests.test.ts).
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { peerIdFromString } from '@libp2p/peer-id'
import { base36 } from 'multiformats/bases/base36'
import { encodeCanonical } from '../../../src/codec/index.js'
import type { Signer } from '../../../src/codec/index.js'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { Logger, MessageTransport } from '../../../src/consensus/raft-node.js'
import { encodeEntryPayload } from '../../../src/consensus/entry-payload.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { Message, ProposalId } from '../../../src/consensus/core/index.js'
import { ShapeMachine } from '../../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../../src/consensus/shape/proposer.js'
import { shapeCommandRules } from '../../../src/consensus/shape-command-rules.js'
import { MeshShape } from '../../../src/consensus/shape/core/index.js'
import type { ApplyResult } from '../../../src/consensus/shape/core/index.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { waitUntil } from './harness.js'
import { newSigner } from '../shape/helpers.js'

const CLUSTER = 'cluster-1'

describe('member ids at the leader\'s intake', () => {
  let a: Signer, b: Signer, c: Signer, d: Signer
  beforeAll(async () => { [a, b, c, d] = await Promise.all([newSigner(), newSigner(), newSigner(), newSigner()]) })
  const nodes: RaftNode<ApplyResult>[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  async function leader (extra: Array<[string, string[]]> = []) {
    let handler: (m: Message) => void = () => {}
    const transport: MessageTransport = { send: () => {}, setHandler: (h) => { handler = h } }
    const warnings: string[] = []
    const logger: Logger = { info: () => {}, debug: () => {}, warn: (_o: unknown, msg?: string) => { warnings.push(msg ?? '') } }
    const machine = new ShapeMachine(CLUSTER)
    const members = [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b.nodeId, []], [c.nodeId, []], ...extra]
      .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
    machine.restore(encodeCanonical(MeshShape.fromData({ members, target: { apiServers: 1, etcd: 1, schedulers: 3, controllerManagers: 1, minWorkers: 0 } }).toData()))
    const node = new RaftNode<ApplyResult>({ id: a.nodeId, clientId: `${a.nodeId}/driver`, tickMs: 10, electionTicks: 10, heartbeatTicks: 1, bootstrap: true, retryIntervalMs: 60_000 }, {
      storage: new MemoryStorage(), transport, stateMachine: machine, logger, commandRules: shapeCommandRules(() => machine.shape)
    })
    node.start()
    nodes.push(node)
    await waitUntil(() => node.isLeader(), 5000, 'a leads')
    const inject = (from: string, bytes: Uint8Array, id: ProposalId): void => handler({
      type: MessageType.Prop, from, to: a.nodeId, term: 0, index: 0, logTerm: 0, commit: 0, reject: false, rejectHint: 0,
      entries: [{ index: 0, term: 0, type: EntryType.Normal, data: encodeEntryPayload({ command: bytes, timeMs: 0 }), proposalId: id }]
    })
    return { node, machine, inject, warnings, proposer: new ShapeProposer(a, CLUSTER, `${a.nodeId}/s`) }
  }

  const cidText = (id: string): string => peerIdFromString(id).toCID().toString()
  const base36Text = (id: string): string => peerIdFromString(id).toCID().toString(base36)

  it('should refuse forwarded add-member commands of a member\'s CID text or of no peer id, and take a canonical one', async () => {
    const { node, machine, inject, warnings, proposer } = await leader()
    const byB = new ShapeProposer(b, CLUSTER, `${b.nodeId}/s`)
    const bad = [cidText(c.nodeId), base36Text(c.nodeId), 'peer-x']
    // The CID texts name c's very key: peerIdFromString reads them as c.
    expect(peerIdFromString(bad[0]!).toString()).toBe(c.nodeId)
    // One at a time: each needs a learner step, and the leader takes one configuration change at a time.
    for (const [k, nodeId] of bad.entries()) {
      inject(b.nodeId, byB.build(machine.shape, { kind: 'add-member', nodeId }, 'admission', k).bytes, { clientId: `${b.nodeId}/s`, seq: k + 1 })
      await waitUntil(() => node.counters().refusedForwarded === k + 1 || machine.shape.has(nodeId), 5000, `${nodeId} refused or added`)
      expect(machine.shape.has(nodeId)).toBe(false)
    }
    inject(b.nodeId, byB.build(machine.shape, { kind: 'add-member', nodeId: d.nodeId }, 'admission', 9).bytes, { clientId: `${b.nodeId}/s`, seq: 4 })
    await waitUntil(() => machine.shape.has(d.nodeId), 5000, 'd added')
    await node.propose(proposer.build(machine.shape, { kind: 'restore', nodeId: b.nodeId }, 'operator', 1).bytes)
    for (const nodeId of bad) expect(machine.shape.has(nodeId)).toBe(false)
    expect(machine.shape.memberIds().length).toBe(4)
    expect(node.counters().refusedForwarded).toBe(3)
    expect(warnings).toContain('refused a forwarded proposal (counted; logged once per interval)')
  })

  it('should refuse its own proposal naming a member\'s CID text with InvalidMemberIdError and a log line, appending nothing', async () => {
    const { node, machine, warnings, proposer } = await leader()
    const last = node.status().lastIndex
    for (const nodeId of [cidText(c.nodeId), 'peer-x']) {
      await expect(node.propose(proposer.build(machine.shape, { kind: 'add-member', nodeId }, 'admission', 1).bytes)).rejects.toHaveProperty('name', 'InvalidMemberIdError')
    }
    // A promote naming the CID text alongside a member (`with`), signed in a batch: refused the same way.
    await expect(node.propose(proposer.buildBatch([{ command: { kind: 'add-member', nodeId: base36Text(b.nodeId) }, reason: 'admission' }], 1).bytes))
      .rejects.toHaveProperty('name', 'InvalidMemberIdError')
    expect(node.status().lastIndex).toBe(last)
    expect(warnings.filter((w) => w.startsWith('refused a proposal naming a member id'))).toHaveLength(3)
    expect(machine.shape.memberIds().length).toBe(3)
    // A canonical id goes in; so does a command naming a member by its id as it is held.
    const added = await node.propose(proposer.build(machine.shape, { kind: 'add-member', nodeId: d.nodeId }, 'admission', 2).bytes)
    expect(added.result.outcome.kind).toBe('applied')
  })

  it('should take commands naming a member held under another text, so one committed before the check can be removed', async () => {
    const legacy = cidText(c.nodeId)
    const { node, machine, proposer } = await leader([[legacy, []]])
    const quarantined = await node.propose(proposer.build(machine.shape, { kind: 'quarantine', nodeId: legacy }, 'operator', 1).bytes)
    expect(quarantined.result.outcome.kind).toBe('applied')
    const removed = await node.propose(proposer.build(machine.shape, { kind: 'remove-member', nodeId: legacy }, 'operator', 2).bytes)
    expect(removed.result.outcome.kind).toBe('applied')
    expect(machine.shape.has(legacy)).toBe(false)
  })
})
