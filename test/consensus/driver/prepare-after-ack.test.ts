/**
 * Goal: a follower does its machine's state-free work for an entry (`prepare`: the shape machine's signature
 * check) once it has acknowledged the entry, before the append that commits it arrives, so that work is not
 * done inside the next entry's flush, where the acknowledgement would wait for it (issue 16). An entry
 * applied before its turn comes needs none. Method: a follower driven by hand-made appends from a leader `a`;
 * its machine and transport record the order of acknowledgements, prepares and applies.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { decode } from '@ipld/dag-cbor'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { MessageTransport } from '../../../src/consensus/raft-node.js'
import type { ApplyOutcome } from '../../../src/consensus/state-machine.js'
import { encodeEntryPayload } from '../../../src/consensus/entry-payload.js'
import { MemoryStorage } from '../../../src/consensus/storage/memory-storage.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { Entry, Message } from '../../../src/consensus/core/index.js'
import { KvMachine, put, silentLogger, waitUntil } from './harness.js'

class RecordingMachine extends KvMachine {
  constructor (private readonly events: string[]) { super() }

  prepare (command: Uint8Array): void {
    this.events.push(`prepare ${(decode(command) as { k: string }).k}`)
  }

  override apply (command: Uint8Array): ApplyOutcome<{ previous: string | null }> {
    this.events.push(`apply ${(decode(command) as { k: string }).k}`)
    return super.apply(command)
  }
}

const entry = (index: number): Entry =>
  ({ index, term: 1, type: EntryType.Normal, data: encodeEntryPayload({ command: put(`k${index}`, 'v'), timeMs: 0 }) })

const append = (index: number, commit: number): Message => ({
  type: MessageType.App, from: 'a', to: 'b', term: 1, index: index - 1, logTerm: index === 1 ? 0 : 1,
  entries: [entry(index)], commit, reject: false, rejectHint: 0
})

describe('RaftNode prepares acknowledged entries', () => {
  let node: RaftNode<{ previous: string | null }> | undefined
  afterEach(() => { node?.stop() })

  it('should prepare an entry after acknowledging it and before applying it, and skip one already applied', async () => {
    const events: string[] = []
    const machine = new RecordingMachine(events)
    let deliver: (message: Message) => void = () => {}
    const transport: MessageTransport = {
      send: (m) => { if (m.type === MessageType.AppResp && !m.reject) events.push(`ack ${m.index}`) },
      setHandler: (h) => { deliver = h }
    }
    // Ticks far apart: no election and no heartbeat timing in this test.
    node = new RaftNode({ id: 'b', tickMs: 60_000, electionTicks: 10 }, { storage: new MemoryStorage(), transport, stateMachine: machine, logger: silentLogger })
    node.start()

    deliver(append(1, 0))
    await waitUntil(() => events.includes('prepare k1'), 10_000, 'entry 1 prepared')
    // Entry 2 with the commit of entry 1: entry 1 applies in the Ready that writes entry 2.
    deliver(append(2, 1))
    await waitUntil(() => events.includes('prepare k2'), 10_000, 'entry 2 prepared')
    // Entry 3 committed by the append that carries it: applied before its prepare's turn, so not prepared.
    deliver(append(3, 3))
    await waitUntil(() => events.includes('apply k3'), 10_000, 'entry 3 applied')
    deliver(append(4, 3))
    await waitUntil(() => events.includes('prepare k4'), 10_000, 'entry 4 prepared')

    expect(events.filter((e) => !e.startsWith('ack') || ['ack 1', 'ack 2', 'ack 4'].includes(e))).toEqual([
      'ack 1', 'prepare k1', 'apply k1', 'ack 2', 'prepare k2', 'apply k2', 'apply k3', 'ack 4', 'prepare k4'
    ])
  })
})
