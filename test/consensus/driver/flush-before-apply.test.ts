/**
 * Goal: when one Ready holds both new entries and the commit of earlier ones (a follower that learns the
 * commit index from the next append: src/consensus/commit-notices.ts), the driver starts the WAL flush
 * before it applies, so the disk works while the state machine does and the acknowledgement waits for the
 * longer of the two, not their sum (issue 16). Method: a follower driven by hand-made appends from a
 * leader `a`; its storage records how many commands the machine had applied when each flush started.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { MessageTransport } from '../../../src/consensus/raft-node.js'
import { encodeEntryPayload } from '../../../src/consensus/entry-payload.js'
import { MemoryStorage } from '../../../src/consensus/storage/memory-storage.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { Entry, Message } from '../../../src/consensus/core/index.js'
import { KvMachine, put, silentLogger, waitUntil } from './harness.js'

class RecordingStorage extends MemoryStorage {
  readonly appliedAtFlushStart: number[] = []
  constructor (private readonly machine: KvMachine) { super() }

  override async syncAsync (): Promise<void> {
    this.appliedAtFlushStart.push(this.machine.map.size)
    await super.syncAsync()
  }
}

const entry = (index: number): Entry =>
  ({ index, term: 1, type: EntryType.Normal, data: encodeEntryPayload({ command: put(`k${index}`, 'v'), timeMs: 0 }) })

const append = (index: number, commit: number): Message => ({
  type: MessageType.App, from: 'a', to: 'b', term: 1, index: index - 1, logTerm: index === 1 ? 0 : 1,
  entries: [entry(index)], commit, reject: false, rejectHint: 0
})

describe('RaftNode flushes before it applies', () => {
  let node: RaftNode<{ previous: string | null }> | undefined
  afterEach(() => { node?.stop() })

  it('should start the flush of new entries before applying the entries the same Ready commits', async () => {
    const machine = new KvMachine()
    const storage = new RecordingStorage(machine)
    const sent: Message[] = []
    let deliver: (message: Message) => void = () => {}
    const transport: MessageTransport = { send: (m) => { sent.push(m) }, setHandler: (h) => { deliver = h } }
    // Ticks far apart: no election and no heartbeat timing in this test.
    node = new RaftNode({ id: 'b', tickMs: 60_000, electionTicks: 10 }, { storage, transport, stateMachine: machine, logger: silentLogger })
    node.start()
    const acked = (index: number): boolean => sent.some((m) => m.type === MessageType.AppResp && !m.reject && m.index === index)

    deliver(append(1, 0))
    await waitUntil(() => acked(1), 10_000, 'entry 1 acknowledged')
    expect(machine.map.size).toBe(0)
    // Entry 2 with the commit of entry 1: one Ready writes 2 and applies 1.
    deliver(append(2, 1))
    await waitUntil(() => acked(2), 10_000, 'entry 2 acknowledged')
    expect(machine.map.get('k1')).toBe('v')
    expect(storage.appliedAtFlushStart).toEqual([0, 0])
  })
})
