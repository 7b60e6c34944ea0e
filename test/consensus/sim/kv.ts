/**
 * @module test/consensus/sim/kv
 * The simulated nodes' state machine: a string key-value map whose puts go through the exactly-once
 * session table, so a retried proposal (same proposal id) takes effect once. Snapshots carry the map and
 * the session table. Commands are JSON (the simulator is not about encoding).
 */
import type { Entry, ProposalId } from '../../../src/consensus/core/types.js'
import { assert } from '../../../src/util/assert.js'
import { SessionTable } from './sessions-adapter.js'

export interface PutCommand {
  op: 'put'
  key: string
  value: string
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function encodePut (command: PutCommand): Uint8Array {
  return encoder.encode(JSON.stringify(command))
}

export function proposalKey (id: ProposalId): string {
  return `${id.clientId}#${id.seq}`
}

/** What applying one Normal entry did: `fresh` is false when the session table returned an earlier result. */
export interface ApplyOutcome {
  proposalId?: ProposalId
  fresh: boolean
}

export class KvMachine {
  private readonly values = new Map<string, string>()
  private sessions = new SessionTable()

  get (key: string): string | null {
    return this.values.get(key) ?? null
  }

  /** Applies a committed Normal entry (Empty and ConfChange entries never reach here). */
  apply (entry: Entry, skipSessions = false): ApplyOutcome {
    const command = JSON.parse(decoder.decode(entry.data)) as PutCommand
    assert(command.op === 'put', () => `unknown command ${String(command.op)}`)
    if (entry.proposalId === undefined || skipSessions) {
      this.values.set(command.key, command.value)
      return { ...(entry.proposalId === undefined ? {} : { proposalId: entry.proposalId }), fresh: true }
    }
    const fresh = this.sessions.applyOnce(entry, () => { this.values.set(command.key, command.value) })
    return { proposalId: entry.proposalId, fresh }
  }

  encode (): Uint8Array {
    const plain = { values: [...this.values.entries()], sessions: this.sessions.encode() }
    return encoder.encode(JSON.stringify(plain))
  }

  static decode (data: Uint8Array): KvMachine {
    const plain = JSON.parse(decoder.decode(data)) as { values: Array<[string, string]>, sessions: unknown }
    const machine = new KvMachine()
    for (const [key, value] of plain.values) machine.values.set(key, value)
    machine.sessions = SessionTable.decode(plain.sessions)
    return machine
  }
}
