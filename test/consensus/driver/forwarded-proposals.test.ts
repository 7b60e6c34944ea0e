/**
 * Goal: configuration changes happen only through commands, and a member cannot shadow or replay
 * another's proposals (issue 9 item 4). Method: a single-voter leader whose transport lets the test
 * inject Prop messages as a member `b` would forward them; a later local proposal, applied in log
 * order, tells the test that everything forwarded before it was either applied or refused.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { decode, encode } from '@ipld/dag-cbor'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { CommandRules, MessageTransport } from '../../../src/consensus/raft-node.js'
import { encodeEntryPayload } from '../../../src/consensus/entry-payload.js'
import { MAX_COMMAND_BYTES } from '../../../src/consensus/constants.js'
import { AssertionError } from '../../../src/util/assert.js'
import { EntryType, MessageType, encodeConfChange } from '../../../src/consensus/core/index.js'
import type { Entry, Message, ProposalId } from '../../../src/consensus/core/index.js'
import type { ApplyOutcome, ReplicatedStateMachine } from '../../../src/consensus/state-machine.js'
import { MemoryStorage } from '../sim/memory-storage-shim.js'
import { silentLogger, waitUntil } from './harness.js'

/** Commands carry their own (signed, in MeshShape) id and proposer: `{k, v, c, s, p}`. */
interface Cmd { k: string, v: string, c: string, s: number, p: string }
const cmd = (c: Cmd): Uint8Array => encode(c)

class CountingKv implements ReplicatedStateMachine<number> {
  applied: string[] = []
  apply (command: Uint8Array): ApplyOutcome<number> {
    const { k, v } = decode(command) as Cmd
    this.applied.push(`${k}=${v}`)
    return { result: this.applied.length, accepted: true }
  }

  snapshot (): Uint8Array { return encode(this.applied) }
  restore (data: Uint8Array): void { this.applied = decode(data) as string[] }
}

const rules: CommandRules = {
  identify (command) {
    const c = decode(command) as Partial<Cmd>
    if (typeof c.c !== 'string' || typeof c.s !== 'number' || typeof c.p !== 'string') return null
    return { id: { clientId: c.c, seq: c.s }, proposer: c.p }
  },
  confChangeFor () { return null }
}

function prop (from: string, entries: Entry[]): Message {
  return { type: MessageType.Prop, from, to: 'a', term: 0, index: 0, logTerm: 0, entries, commit: 0, reject: false, rejectHint: 0 }
}

function normal (command: Uint8Array, proposalId: ProposalId): Entry {
  return { index: 0, term: 0, type: EntryType.Normal, data: encodeEntryPayload({ command, timeMs: 0 }), proposalId }
}

describe('forwarded proposals at the leader', () => {
  const nodes: RaftNode<number>[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.stop() })

  async function leader (withRules: boolean): Promise<{ node: RaftNode<number>, machine: CountingKv, inject: (m: Message) => void }> {
    let handler: (m: Message) => void = () => {}
    const transport: MessageTransport = { send: () => {}, setHandler: (h) => { handler = h } }
    const machine = new CountingKv()
    const node = new RaftNode<number>({ id: 'a', clientId: 'a/1', tickMs: 10, electionTicks: 10, heartbeatTicks: 1, bootstrap: true }, {
      storage: new MemoryStorage(), transport, stateMachine: machine, logger: silentLogger, ...(withRules ? { commandRules: rules } : {})
    })
    node.start()
    nodes.push(node)
    await waitUntil(() => node.isLeader(), 5000, 'a leads')
    return { node, machine, inject: (m) => handler(m) }
  }

  it('should refuse a command too big for one Raft frame with a typed error', async () => {
    const { node } = await leader(false)
    await expect(node.propose(new Uint8Array(MAX_COMMAND_BYTES + 1))).rejects.toMatchObject({ name: 'ProposalTooLargeError' })
  })

  it('should let a failed core assertion escape instead of retrying it as a refused proposal', async () => {
    const { node } = await leader(false)
    // White-box: make the core fail an assertion, as a bug would.
    const raw = (node as unknown as { raw: { proposeMany: () => void } }).raw
    raw.proposeMany = () => { throw new AssertionError('core invariant broken') }
    node.propose(cmd({ k: 'x', v: '1', c: 'a/1', s: 1, p: 'a' })).catch(() => {})
    // Proposals are submitted at the start of the next batch (group commit): run it now, before its turn.
    expect(() => (node as unknown as { runBatch: () => void }).runBatch()).toThrow(AssertionError)
  })

  it('should refuse a configuration change forwarded by a peer', async () => {
    const { node, inject } = await leader(false)
    const cc = encodeConfChange({ steps: [{ type: 'add-voter', nodeId: 'b' }], transition: 'auto' })
    inject(prop('b', [{ index: 0, term: 0, type: EntryType.ConfChange, data: cc }]))
    await node.propose(cmd({ k: 'sync', v: '1', c: 'a/1', s: 99, p: 'a' }))
    expect(node.configuration().voters).toEqual(['a'])
    expect(node.counters().refusedForwarded).toBe(1)
  })

  it('should refuse a forwarded proposal whose id belongs to another node', async () => {
    const { node, machine, inject } = await leader(false)
    inject(prop('b', [normal(cmd({ k: 'shadow', v: 'x', c: 'c/1', s: 1, p: 'c' }), { clientId: 'c/1', seq: 1 })]))
    inject(prop('b', [normal(cmd({ k: 'own', v: 'y', c: 'b/1', s: 1, p: 'b' }), { clientId: 'b/1', seq: 1 })]))
    await node.propose(cmd({ k: 'sync', v: '1', c: 'a/1', s: 99, p: 'a' }))
    expect(machine.applied).toEqual(['own=y', 'sync=1'])
    expect(node.counters().refusedForwarded).toBe(1)
  })

  it('should refuse a forwarded entry whose payload holds more items than {c, t} before decoding it', async () => {
    const { node, machine, inject } = await leader(false)
    // Lenient {c, t} plus an extra key of one-byte maps: apply would take it, the leader's intake does not.
    const flood = encode({ c: cmd({ k: 'flood', v: 'x', c: 'b/1', s: 1, p: 'b' }), t: 0, x: new Array(100_000).fill({}) })
    inject(prop('b', [{ index: 0, term: 0, type: EntryType.Normal, data: flood, proposalId: { clientId: 'b/1', seq: 1 } }]))
    inject(prop('b', [normal(cmd({ k: 'own', v: 'y', c: 'b/1', s: 2, p: 'b' }), { clientId: 'b/1', seq: 2 })]))
    await node.propose(cmd({ k: 'sync', v: '1', c: 'a/1', s: 99, p: 'a' }))
    expect(machine.applied).toEqual(['own=y', 'sync=1'])
    expect(node.counters().refusedForwarded).toBe(1)
  })

  it('should apply a signed command once when it is replayed under another id or proposed again', async () => {
    const { node, machine, inject } = await leader(true)
    const original = cmd({ k: 'promote', v: 'c', c: 'a/1', s: 7, p: 'a' })
    const first = await node.propose(original)
    expect(first.duplicate).toBe(false)
    // b replays a's command as its own proposal, then with a's id: both refused at the leader.
    inject(prop('b', [normal(original, { clientId: 'b/1', seq: 1 })]))
    inject(prop('b', [normal(original, { clientId: 'a/1', seq: 7 })]))
    // The same signed command proposed again is the same proposal: never applied twice.
    const again = await node.propose(original)
    expect(again.duplicate).toBe(true)
    expect(again.result).toBe(first.result)
    expect(machine.applied).toEqual(['promote=c'])
    expect(node.counters()).toMatchObject({ refusedForwarded: 2, duplicateCommands: 1 })
  })
})
