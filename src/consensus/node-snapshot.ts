/**
 * @module consensus/node-snapshot
 * What a Raft snapshot's data holds: the state machine's bytes plus the exactly-once session table, so a
 * node restored from a snapshot still refuses to apply a retried proposal twice.
 */
import { encode } from '@ipld/dag-cbor'
import { decodeBounded } from '../codec/index.js'

export interface NodeSnapshot {
  machine: Uint8Array
  sessions: unknown
}

const VERSION = 1

export function encodeNodeSnapshot (snapshot: NodeSnapshot): Uint8Array {
  return encode({ v: VERSION, m: snapshot.machine, s: snapshot.sessions })
}

/**
 * Decodes snapshot data; null when the bytes are not a snapshot of this version. Bounded nesting: a leader's
 * snapshot is decoded twice, by canRestore before it is persisted and by restore after, at different stack
 * depths, and once more at every start; an unbounded decode could pass the first and fail the others.
 */
export function decodeNodeSnapshot (bytes: Uint8Array): NodeSnapshot | null {
  try {
    const value = decodeBounded<{ v?: unknown, m?: unknown, s?: unknown }>(bytes)
    if (value.v !== VERSION || !(value.m instanceof Uint8Array) || typeof value.s !== 'object' || value.s === null) return null
    return { machine: value.m, sessions: value.s }
  } catch {
    return null
  }
}

/** What the session table keeps per applied proposal: where it was applied and the machine's result. */
export interface AppliedRecord<R> {
  index: number
  term: number
  result: R
}

/**
 * Whether a session-table value from a snapshot is an AppliedRecord (the machine's result itself is
 * opaque here, but must be present: a duplicate proposal is answered with it).
 */
export function isAppliedRecord (value: unknown): value is AppliedRecord<unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const { index, term, result } = value as Partial<AppliedRecord<unknown>>
  const isCount = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
  return isCount(index) && isCount(term) && result !== undefined
}
