/**
 * @module membership/core/validate
 * Heartbeat validation, pure: the decoded state must be well formed, for our cluster, sent by the node it
 * describes (gossipsub strict signing proves the sender), and strictly newer than anything seen from that
 * node — a replayed heartbeat or a stale generation is dropped and counted by reason.
 */
import type { Capacity, NodeState } from './types.js'
import {
  MAX_ADDRESS_CHARS, MAX_ADDRESSES, MAX_LABEL_KEY_CHARS, MAX_LABEL_VALUE_CHARS, MAX_LABELS, MAX_MEMBERS, MAX_PROTOCOL_LEVEL, MAX_ROLE_CHARS, MAX_ROLES
} from './constants.js'

export type DropReason = 'malformed' | 'wrong-cluster' | 'sender-mismatch' | 'replay' | 'stale-generation' | 'own' | 'too-large' | 'table-full'

export type Verdict = { ok: true, state: NodeState } | { ok: false, reason: DropReason, reject: boolean }

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isShortString = (v: unknown, max = 256): v is string => typeof v === 'string' && v.length <= max

function parseCapacity (v: unknown): Capacity | null {
  if (!isRecord(v)) return null
  const { cpuMillis, memoryBytes, storageBytes, pods } = v
  return isCount(cpuMillis) && isCount(memoryBytes) && isCount(storageBytes) && isCount(pods) ? { cpuMillis, memoryBytes, storageBytes, pods } : null
}

function parseLabels (v: unknown): Record<string, string> | null {
  if (!isRecord(v)) return null
  const entries = Object.entries(v)
  if (entries.length > MAX_LABELS || !entries.every(([k, value]) => isShortString(k, MAX_LABEL_KEY_CHARS) && isShortString(value, MAX_LABEL_VALUE_CHARS))) return null
  return Object.fromEntries(entries) as Record<string, string>
}

/** Checks the shape of a decoded heartbeat; null when anything is off. */
export function parseNodeState (v: unknown): NodeState | null {
  if (!isRecord(v)) return null
  const capacity = parseCapacity(v.capacity)
  const labels = parseLabels(v.labels)
  const addresses = v.addresses
  const roles = v.roles
  if (capacity === null || labels === null) return null
  if (!Array.isArray(addresses) || addresses.length > MAX_ADDRESSES || !addresses.every((a) => isShortString(a, MAX_ADDRESS_CHARS))) return null
  if (!Array.isArray(roles) || roles.length > MAX_ROLES || !roles.every((r) => isShortString(r, MAX_ROLE_CHARS))) return null
  if (!isShortString(v.nodeId, 128) || v.nodeId === '' || !isShortString(v.clusterId, 128)) return null
  if (!isShortString(v.version, 64) || !isShortString(v.kubernetesVersion, 64)) return null
  if (!isCount(v.uptimeMs) || !isCount(v.generation) || !isCount(v.seq) || typeof v.leaving !== 'boolean') return null
  const reach = v.reach
  if (reach !== undefined && !(isCount(reach) && reach <= MAX_MEMBERS)) return null
  // Absent (a node from before the protocol gate): level 1, the lowest. Present: an integer 1..MAX_PROTOCOL_LEVEL.
  const protocol = v.protocol === undefined ? 1 : v.protocol
  if (!isCount(protocol) || protocol < 1 || protocol > MAX_PROTOCOL_LEVEL) return null
  return {
    nodeId: v.nodeId, clusterId: v.clusterId, addresses: addresses as string[], roles: roles as string[], capacity, labels,
    version: v.version, kubernetesVersion: v.kubernetesVersion, uptimeMs: v.uptimeMs, generation: v.generation, seq: v.seq,
    leaving: v.leaving,
    ...(reach !== undefined ? { reach } : {}),
    protocol
  }
}

/**
 * Judges one heartbeat. `reject: true` marks messages that are invalid (gossipsub penalizes the sender);
 * `false` marks ones that are merely old (ignored without penalty: replays reach us honestly through the mesh).
 */
export function judgeHeartbeat (input: {
  decoded: unknown
  sender: string
  self: string
  clusterId: string
  lastSeen: { generation: number, seq: number } | undefined
}): Verdict {
  const state = parseNodeState(input.decoded)
  if (state === null) return { ok: false, reason: 'malformed', reject: true }
  if (state.clusterId !== input.clusterId) return { ok: false, reason: 'wrong-cluster', reject: true }
  if (state.nodeId !== input.sender) return { ok: false, reason: 'sender-mismatch', reject: true }
  if (state.nodeId === input.self) return { ok: false, reason: 'own', reject: false }
  const last = input.lastSeen
  if (last !== undefined) {
    if (state.generation < last.generation) return { ok: false, reason: 'stale-generation', reject: false }
    if (state.generation === last.generation && state.seq <= last.seq) return { ok: false, reason: 'replay', reject: false }
  }
  return { ok: true, state }
}
