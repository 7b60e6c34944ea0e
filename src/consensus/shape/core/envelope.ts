/**
 * @module consensus/shape/core/envelope
 * The signed proposal on the wire: `{e: canonical envelope bytes, s: ed25519 signature}`. The envelope's
 * CID (dag-cbor, BLAKE3) is what the proposer signs, domain-separated (`revoada/v1/proposal`, cluster id).
 * Three envelope versions (docs/ENCODING.md): `v: 1` carries one command, `v: 2` a batch of 1 to
 * MAX_BATCH_COMMANDS operator commands under one signature, `v: 3` a leader's batch that merges the
 * requests followers forwarded to it, each group under its `via` (issue 16).
 * Decoding is strict: anything that is not exactly a well-formed envelope is `malformed`.
 */
import { decodeCanonical, encodeCanonical, cidOfBytesWithCodec, DAG_CBOR_CODE } from '../../../codec/index.js'
import type { CID } from '../../../codec/index.js'
import { BATCHABLE_KINDS, CONTROL_PLANE_ROLES, OPERATOR_BATCHABLE_KINDS, REASONS } from './types.js'
import type {
  BatchableCommand, BatchedCommand, BatchEnvelope, Command, CommandGroup, ControlPlaneRole, Envelope, MergedEnvelope, Reason, RequestId,
  SingleEnvelope, TargetTopology
} from './types.js'
import { MAX_BATCH_COMMANDS, MAX_ETCD_HOLDERS, MAX_PROPOSAL_BYTES } from './constants.js'
import { MalformedProposalError, ProposalBatchEmptyError, ProposalBatchTooLargeError } from './errors.js'
import { parseCatalogTemplates } from './catalog.js'
import { parseProtocolLevel, PROTOCOL_LEVEL_MIN } from './protocol.js'

export interface SignedProposal {
  envelope: Envelope
  envelopeBytes: Uint8Array
  cid: CID
  signature: Uint8Array
}

export function encodeSignedProposal (envelopeBytes: Uint8Array, signature: Uint8Array): Uint8Array {
  return encodeCanonical({ e: envelopeBytes, s: signature })
}

/** The canonical bytes and CID of an envelope (what gets signed). */
export function envelopeBytesAndCid (envelope: Envelope): { bytes: Uint8Array, cid: CID } {
  const bytes = encodeCanonical(envelope)
  return { bytes, cid: cidOfBytesWithCodec(bytes, DAG_CBOR_CODE) }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 128
const isCount = (v: unknown, max: number): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max

/** Distinct control-plane roles (a copy of the list), or null. Loops, no filter or Set: every command of every entry comes through here (issue 16). */
function parseRoles (value: unknown): ControlPlaneRole[] | null {
  if (!Array.isArray(value) || value.length === 0 || value.length > CONTROL_PLANE_ROLES.length) return null
  const items = value as unknown[]
  for (let i = 0; i < items.length; i++) {
    if (!(CONTROL_PLANE_ROLES as readonly unknown[]).includes(items[i]) || items.indexOf(items[i]) !== i) return null
  }
  return items.slice() as ControlPlaneRole[]
}

/** How many own keys `value` has: Object.keys(value).length without the array. */
function keyCount (value: Record<string, unknown>): number {
  let count = 0
  for (const key in value) if (Object.hasOwn(value, key)) count++
  return count
}

export function parseTarget (value: unknown): TargetTopology | null {
  if (!isRecord(value)) return null
  const { apiServers, etcd, schedulers, controllerManagers, minWorkers } = value
  if (!isCount(apiServers, 16) || !isCount(etcd, 7) || !isCount(schedulers, 16) || !isCount(controllerManagers, 16) || !isCount(minWorkers, 1024)) return null
  return { apiServers, etcd, schedulers, controllerManagers, minWorkers }
}

/**
 * A promote's `with` list: 1 to MAX_ETCD_HOLDERS - 1 ids, strictly ascending (so distinct, and one list
 * has one encoding), none of them the command's own `nodeId`; null when it is anything else.
 */
function parseWith (value: unknown, nodeId: unknown): string[] | null {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_ETCD_HOLDERS - 1) return null
  const items = value as unknown[]
  if (!items.every(isId)) return null
  const ids = items as string[]
  if (ids.some((id) => id === nodeId)) return null
  return ids.every((id, i) => i === 0 || (ids[i - 1] as string) < id) ? ids : null
}

function parseCommand (value: unknown): Command | null {
  if (!isRecord(value)) return null
  switch (value.kind) {
    case 'bootstrap': {
      // `protocol` is encoded only when present (2 or more): a bootstrap without it has the bytes it always had.
      const protocol = value.protocol === undefined ? undefined : parseProtocolLevel(value.protocol)
      if (!isId(value.nodeId) || protocol === null || protocol === PROTOCOL_LEVEL_MIN || keyCount(value) !== (protocol === undefined ? 2 : 3)) return null
      return { kind: 'bootstrap', nodeId: value.nodeId, ...(protocol !== undefined ? { protocol } : {}) }
    }
    case 'set-protocol': {
      const level = parseProtocolLevel(value.level)
      return level !== null && level > PROTOCOL_LEVEL_MIN && keyCount(value) === 2 ? { kind: 'set-protocol', level } : null
    }
    case 'add-member': case 'remove-member': case 'quarantine': case 'restore': case 'rejoin':
      return isId(value.nodeId) && keyCount(value) === 2 ? { kind: value.kind, nodeId: value.nodeId } : null
    case 'promote': case 'demote': {
      const roles = parseRoles(value.roles)
      // `pin` and `with` are encoded only when present, so a command without them has the bytes it always had.
      const pinned = value.pin === true
      const others = value.kind === 'promote' && value.with !== undefined ? parseWith(value.with, value.nodeId) : undefined
      // `replacing` (a promote's): alone with the roles, never the promoted node itself.
      const replaced = value.kind === 'promote' && value.replacing !== undefined
        ? (isId(value.replacing) && value.replacing !== value.nodeId && !pinned && value.with === undefined ? value.replacing : null)
        : undefined
      const keys = 3 + (pinned ? 1 : 0) + (others !== undefined ? 1 : 0) + (replaced !== undefined ? 1 : 0)
      if (!isId(value.nodeId) || roles === null || others === null || replaced === null || keyCount(value) !== keys) return null
      // Optional keys set one by one rather than spread in: one object instead of three per command.
      const command: { kind: 'promote' | 'demote', nodeId: string, roles: ControlPlaneRole[], pin?: true, with?: string[], replacing?: string } = { kind: value.kind, nodeId: value.nodeId, roles }
      if (pinned) command.pin = true
      if (others !== undefined) command.with = others
      if (replaced !== undefined) command.replacing = replaced
      return command as Command
    }
    case 'unpin': {
      const roles = value.roles === undefined ? undefined : parseRoles(value.roles)
      if (!isId(value.nodeId) || roles === null || keyCount(value) !== (roles === undefined ? 2 : 3)) return null
      return roles === undefined ? { kind: 'unpin', nodeId: value.nodeId } : { kind: 'unpin', nodeId: value.nodeId, roles }
    }
    case 'set-target': {
      const target = parseTarget(value.target)
      return target !== null && keyCount(value) === 2 ? { kind: 'set-target', target } : null
    }
    case 'set-catalog': {
      const templates = parseCatalogTemplates(value.templates)
      const role = value.role
      if (!(CONTROL_PLANE_ROLES as readonly unknown[]).includes(role) || templates === null || keyCount(value) !== 3) return null
      return { kind: 'set-catalog', role: role as ControlPlaneRole, templates }
    }
    default:
      return null
  }
}

const isReason = (v: unknown): v is Reason => typeof v === 'string' && (REASONS as readonly string[]).includes(v)
/** A batched command's reason: never `quorum-recovery` (v1 only), so a batch decodes as the builds before it decode it. */
const isBatchedReason = (v: unknown): v is Reason => isReason(v) && v !== 'quorum-recovery'

/** NB: v1 never checked the id's key count, and must go on accepting what it accepted (WALs replay). */
function parseProposalId (id: unknown, strict: boolean): { clientId: string, seq: number } | null {
  return isRecord(id) && typeof id.clientId === 'string' && isCount(id.seq, Number.MAX_SAFE_INTEGER) && (!strict || keyCount(id) === 2)
    ? { clientId: id.clientId, seq: id.seq }
    : null
}

function parseSingle (value: Record<string, unknown>): SingleEnvelope | null {
  if (keyCount(value) !== 7) return null
  const command = parseCommand(value.command)
  const id = parseProposalId(value.proposalId, false)
  if (command === null || typeof value.clusterId !== 'string' || !isId(value.proposer)) return null
  if (!isReason(value.reason) || id === null || !isCount(value.proposedAtMs, Number.MAX_SAFE_INTEGER)) return null
  return { v: 1, clusterId: value.clusterId, command, reason: value.reason, proposer: value.proposer, proposalId: id, proposedAtMs: value.proposedAtMs }
}

export function parseBatchedCommand (value: unknown, kinds: readonly string[] = BATCHABLE_KINDS): BatchedCommand | null {
  if (!isRecord(value) || keyCount(value) !== 2 || !isBatchedReason(value.reason)) return null
  const command = parseCommand(value.command)
  if (command === null || !kinds.includes(command.kind)) return null
  return { command: command as BatchableCommand, reason: value.reason }
}

/** @throws ProposalBatchEmptyError, ProposalBatchTooLargeError, MalformedProposalError */
function parseBatch (value: Record<string, unknown>): BatchEnvelope {
  const malformed = (what: string): MalformedProposalError => new MalformedProposalError(`batch envelope: ${what}`)
  if (keyCount(value) !== 6) throw malformed('unexpected keys')
  const id = parseProposalId(value.proposalId, true)
  if (typeof value.clusterId !== 'string' || !isId(value.proposer) || id === null) throw malformed('bad cluster, proposer or proposal id')
  if (!isCount(value.proposedAtMs, Number.MAX_SAFE_INTEGER)) throw malformed('bad proposal time')
  const list = value.commands
  if (!Array.isArray(list)) throw malformed('commands is not a list')
  // The count is checked before any command is looked at: a peer's length is never trusted.
  if (list.length === 0) throw new ProposalBatchEmptyError()
  if (list.length > MAX_BATCH_COMMANDS) throw new ProposalBatchTooLargeError(`batch envelope carries ${list.length} commands, at most ${MAX_BATCH_COMMANDS}`)
  const commands: BatchedCommand[] = []
  for (const item of list as unknown[]) {
    const parsed = parseBatchedCommand(item)
    if (parsed === null) throw malformed(`command ${commands.length} is not a batchable command with a reason`)
    commands.push(parsed)
  }
  return { v: 2, clusterId: value.clusterId, commands, proposer: value.proposer, proposalId: id, proposedAtMs: value.proposedAtMs }
}

/**
 * A forwarded request id: `<NodeId>/<session>` (a non-empty owner before the first slash, at most 128
 * characters) and a sequence; null when it is anything else.
 */
export function parseRequestId (value: unknown): RequestId | null {
  const id = parseProposalId(value, true)
  return id !== null && isId(id.clientId) && id.clientId.indexOf('/') > 0 ? id : null
}

/** The node a request id names (what precedes the first slash of its client id). */
export function requestOwner (id: RequestId): string {
  return id.clientId.slice(0, id.clientId.indexOf('/'))
}

/**
 * A v3 envelope: 1 to MAX_BATCH_COMMANDS commands in all, in groups of at least one; every group but the
 * first carries `via`, and at least one does (without forwarded groups a batch is v2: one meaning, one
 * encoding); the `via` client ids are distinct and none is the envelope's own (exactly-once records one
 * id per client per entry).
 * @throws ProposalBatchEmptyError, ProposalBatchTooLargeError, MalformedProposalError
 */
function parseMerged (value: Record<string, unknown>): MergedEnvelope {
  const malformed = (what: string): MalformedProposalError => new MalformedProposalError(`merged envelope: ${what}`)
  if (keyCount(value) !== 6) throw malformed('unexpected keys')
  const id = parseProposalId(value.proposalId, true)
  if (typeof value.clusterId !== 'string' || !isId(value.proposer) || id === null) throw malformed('bad cluster, proposer or proposal id')
  if (!isCount(value.proposedAtMs, Number.MAX_SAFE_INTEGER)) throw malformed('bad proposal time')
  const list = value.groups
  if (!Array.isArray(list) || list.length === 0) throw malformed('groups is not a non-empty list')
  // Counts first, before any command is parsed: a peer's lengths are never trusted.
  if (list.length > MAX_BATCH_COMMANDS) throw new ProposalBatchTooLargeError(`merged envelope carries ${list.length} groups, at most ${MAX_BATCH_COMMANDS}`)
  let total = 0
  for (const group of list as unknown[]) {
    if (!isRecord(group) || !Array.isArray(group.commands)) throw malformed('a group is not {commands, via?}')
    total += group.commands.length
  }
  if (total === 0) throw new ProposalBatchEmptyError()
  if (total > MAX_BATCH_COMMANDS) throw new ProposalBatchTooLargeError(`merged envelope carries ${total} commands, at most ${MAX_BATCH_COMMANDS}`)
  const groups: CommandGroup[] = []
  const clients = new Set<string>([id.clientId])
  for (const raw of list as Array<Record<string, unknown>>) {
    const position = groups.length
    const hasVia = raw.via !== undefined
    if (keyCount(raw) !== (hasVia ? 2 : 1)) throw malformed(`group ${position} has unexpected keys`)
    if (!hasVia && position > 0) throw malformed(`group ${position} has no via (only the first group is the proposer's own)`)
    const via = hasVia ? parseRequestId(raw.via) : undefined
    if (via === null) throw malformed(`group ${position}: via is not a request id <NodeId>/<session>`)
    if (via !== undefined) {
      if (clients.has(via.clientId)) throw malformed(`group ${position}: via client ${via.clientId} repeats in the envelope`)
      clients.add(via.clientId)
    }
    const commands = raw.commands as unknown[]
    if (commands.length === 0) throw malformed(`group ${position} is empty`)
    const parsed: BatchedCommand[] = []
    for (const item of commands) {
      // Only the operator's role shifts: admission waves are the leader's own v2 batches.
      const command = parseBatchedCommand(item, OPERATOR_BATCHABLE_KINDS)
      if (command === null) throw malformed(`group ${position} command ${parsed.length} is not a batchable command with a reason`)
      parsed.push(command)
    }
    groups.push(via !== undefined ? { commands: parsed, via } : { commands: parsed })
  }
  if (groups.every((g) => g.via === undefined)) throw malformed('no forwarded group (a batch without one is v2)')
  return { v: 3, clusterId: value.clusterId, groups, proposer: value.proposer, proposalId: id, proposedAtMs: value.proposedAtMs }
}

/** @throws MalformedProposalError, ProposalBatchEmptyError, ProposalBatchTooLargeError */
function parseEnvelope (value: unknown): Envelope {
  if (isRecord(value) && value.v === 1) {
    const single = parseSingle(value)
    if (single !== null) return single
  } else if (isRecord(value) && value.v === 2) {
    return parseBatch(value)
  } else if (isRecord(value) && value.v === 3) {
    return parseMerged(value)
  }
  throw new MalformedProposalError()
}

/**
 * Decoded proposals by the identity of their byte array: one entry's command is looked at several times on
 * its way (its signed id, the configuration change it needs, apply), each a canonical decode plus a BLAKE3
 * CID. Weak, so it holds nothing the caller dropped; callers never mutate the bytes or the result.
 */
const decodedByBytes = new WeakMap<Uint8Array, SignedProposal | Error>()

/** Decodes a signed proposal; null when the bytes are not exactly one. Never throws. */
export function decodeSignedProposal (bytes: Uint8Array): SignedProposal | null {
  const decoded = decodeProposalOrError(bytes)
  return decoded instanceof Error ? null : decoded
}

/**
 * Decodes a signed proposal, or returns why not: a MalformedProposalError, ProposalBatchEmptyError or
 * ProposalBatchTooLargeError (matched by `name`). Never throws.
 */
export function decodeProposalOrError (bytes: Uint8Array): SignedProposal | Error {
  const cached = decodedByBytes.get(bytes)
  if (cached !== undefined) return cached
  const decoded = decodeSignedProposalUncached(bytes)
  decodedByBytes.set(bytes, decoded)
  return decoded
}

function decodeSignedProposalUncached (bytes: Uint8Array): SignedProposal | Error {
  // NB: every failure outside a batch envelope keeps the one message v1 always recorded: a committed
  // rejection's message is part of its chain block, which a replay must derive byte for byte again.
  if (bytes.length > MAX_PROPOSAL_BYTES) return new MalformedProposalError()
  try {
    // Every node decodes every entry: the canonical check re-encodes with the direct writer (same bytes).
    const outer = decodeCanonical<unknown>(bytes)
    if (!isRecord(outer) || !(outer.e instanceof Uint8Array) || !(outer.s instanceof Uint8Array) || keyCount(outer) !== 2) {
      return new MalformedProposalError()
    }
    const envelope = parseEnvelope(decodeCanonical<unknown>(outer.e))
    return { envelope, envelopeBytes: outer.e, cid: cidOfBytesWithCodec(outer.e, DAG_CBOR_CODE), signature: outer.s }
  } catch (err) {
    const name = (err as Error).name
    if (name === 'ProposalBatchEmptyError' || name === 'ProposalBatchTooLargeError' || name === 'MalformedProposalError') return err as Error
    return new MalformedProposalError()
  }
}

/** The commands an envelope carries, in apply order (one for a v1 envelope; every group's for a v3). */
export function envelopeCommands (envelope: Envelope): Array<{ command: Command, reason: Reason }> {
  if (envelope.v === 1) return [{ command: envelope.command, reason: envelope.reason }]
  if (envelope.v === 2) return envelope.commands
  return envelope.groups.flatMap((g) => g.commands)
}

/** The forwarded request ids a v3 envelope carries, in order (none for v1 and v2). */
export function envelopeRequestIds (envelope: Envelope): RequestId[] {
  if (envelope.v !== 3) return []
  const ids: RequestId[] = []
  for (const group of envelope.groups) if (group.via !== undefined) ids.push(group.via)
  return ids
}
