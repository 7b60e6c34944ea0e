/**
 * @module consensus/shape/core/request
 * A follower's forwarded request (issue 16): the operator commands its API queued, unsigned, under a
 * request id of its own (`<NodeId>/<session>`, seq), sent to the leader as a forwarded proposal. The
 * leader never commits these bytes: it checks them (bounded, every command an operator role shift) and
 * puts the commands, with `via` = the id, into its own next signed envelope (v3). Canonical CBOR
 * `{request: {id: {clientId, seq}, commands: [{command, reason}, …]}}`: its first bytes (`a1 67
 * "request"`) tell it from a signed proposal (`{e, s}`) and a seal entry (`{seal}`).
 */
import { decodeCanonical, encodeCanonical } from '../../../codec/index.js'
import { parseBatchedCommand, parseRequestId } from './envelope.js'
import { OPERATOR_BATCHABLE_KINDS } from './types.js'
import type { BatchedCommand, RequestId } from './types.js'
import { MAX_BATCH_COMMANDS, MAX_PROPOSAL_BYTES } from './constants.js'
import { ForwardedRequestInvalidError } from './errors.js'

export interface ShapeRequest {
  id: RequestId
  commands: BatchedCommand[]
}

/** `a1` map(1), `67` text(7), "request". */
const REQUEST_PREFIX = Uint8Array.from([0xa1, 0x67, 0x72, 0x65, 0x71, 0x75, 0x65, 0x73, 0x74])

export function encodeRequest (request: ShapeRequest): Uint8Array {
  return encodeCanonical({ request: { id: { clientId: request.id.clientId, seq: request.id.seq }, commands: request.commands } })
}

/** Whether `bytes` claim to be a request (its first bytes); decodeRequest judges the rest. */
export function isRequestBytes (bytes: Uint8Array): boolean {
  if (bytes.length < REQUEST_PREFIX.length) return false
  for (let i = 0; i < REQUEST_PREFIX.length; i++) if (bytes[i] !== REQUEST_PREFIX[i]) return false
  return true
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)

/**
 * Decodes a request strictly: at most MAX_PROPOSAL_BYTES, canonical, exact keys, a request id, 1 to
 * MAX_BATCH_COMMANDS commands (counted before any is read), each an operator role shift with a reason.
 * Returns a ForwardedRequestInvalidError naming the flaw instead of throwing.
 */
export function decodeRequest (bytes: Uint8Array): ShapeRequest | ForwardedRequestInvalidError {
  const invalid = (what: string): ForwardedRequestInvalidError => new ForwardedRequestInvalidError(`forwarded request: ${what}`)
  if (bytes.length > MAX_PROPOSAL_BYTES) return invalid(`${bytes.length} bytes, at most ${MAX_PROPOSAL_BYTES}`)
  let value: unknown
  try {
    value = decodeCanonical<unknown>(bytes)
  } catch {
    return invalid('not canonical CBOR')
  }
  if (!isRecord(value) || Object.keys(value).length !== 1 || !isRecord(value.request)) return invalid('not {request: …}')
  const body = value.request
  if (Object.keys(body).length !== 2) return invalid('unexpected keys')
  const id = parseRequestId(body.id)
  if (id === null) return invalid('id is not a request id <NodeId>/<session>')
  const list = body.commands
  if (!Array.isArray(list) || list.length === 0) return invalid('commands is not a non-empty list')
  if (list.length > MAX_BATCH_COMMANDS) return invalid(`${list.length} commands, at most ${MAX_BATCH_COMMANDS}`)
  const commands: BatchedCommand[] = []
  for (const item of list as unknown[]) {
    const command = parseBatchedCommand(item, OPERATOR_BATCHABLE_KINDS)
    if (command === null) return invalid(`command ${commands.length} is not an operator role shift with a reason`)
    commands.push(command)
  }
  return { id, commands }
}
