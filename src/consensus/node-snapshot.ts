/**
 * @module consensus/node-snapshot
 * What a Raft snapshot's data holds: the state machine's bytes plus the exactly-once session table, so a
 * node restored from a snapshot still refuses to apply a retried proposal twice.
 */
import { decode, encode } from '@ipld/dag-cbor'

export interface NodeSnapshot {
  machine: Uint8Array
  sessions: unknown
}

const VERSION = 1

export function encodeNodeSnapshot (snapshot: NodeSnapshot): Uint8Array {
  return encode({ v: VERSION, m: snapshot.machine, s: snapshot.sessions })
}

/** Decodes snapshot data; null when the bytes are not a snapshot of this version. */
export function decodeNodeSnapshot (bytes: Uint8Array): NodeSnapshot | null {
  try {
    const value = decode(bytes) as { v?: unknown, m?: unknown, s?: unknown }
    if (value.v !== VERSION || !(value.m instanceof Uint8Array) || typeof value.s !== 'object' || value.s === null) return null
    return { machine: value.m, sessions: value.s }
  } catch {
    return null
  }
}
