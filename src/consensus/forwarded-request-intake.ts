/**
 * @module consensus/forwarded-request-intake
 * The leader's intake of a request a follower forwarded unsigned (issue 16; docs/CONSENSUS.md, "Followers
 * forward requests, the leader signs"): checked here, then queued as a group in the leader's batcher, which
 * signs it into its next envelope. Also which operator commands may travel in a batch at all (`batchableAgainst`):
 * the same rule decides what this node batches of its own.
 */
import type { ProposalId } from './core/index.js'
import { encodeCanonicalFast } from '../codec/index.js'
import type { BatchableCommand, Command, MeshShape } from './shape/core/index.js'
import { OPERATOR_BATCHABLE_KINDS, decodeRequest, requestOwner, requiredConfChange, ForwardedRequestInvalidError } from './shape/core/index.js'
import { ForwardedRequestDeferredError, PROTOCOL_FORWARDED_REQUESTS } from './shape/core/index.js'
import { SHAPE_BATCH_BYTES_MAX, SHAPE_BATCH_COMMANDS_MAX } from './constants.js'
import type { ProposalBatcher } from './proposal-batcher.js'
import { commandsMemberIdProblem } from './shape-command-rules.js'

type OperatorBatchable = Extract<BatchableCommand, { kind: typeof OPERATOR_BATCHABLE_KINDS[number] }>

const isBatchable = (command: Command): command is OperatorBatchable => (OPERATOR_BATCHABLE_KINDS as readonly string[]).includes(command.kind)

/**
 * Whether `command` may travel in a batch against `shape`: an operator role shift that cannot move the
 * voters (apply judges it against the committed shape anyway, and refuses a voter move in a batch).
 */
export function batchableAgainst (shape: MeshShape, command: Command): command is OperatorBatchable {
  return isBatchable(command) && (neverMovesVoters(command) || requiredConfChange(shape, command) === null)
}

/**
 * Whether `command` can never change the etcd holders, whatever the shape: it may then be batched even
 * when this node's shape would reject it (apply judges it against the committed shape anyway).
 */
function neverMovesVoters (command: OperatorBatchable): boolean {
  switch (command.kind) {
    case 'promote': case 'demote': return !command.roles.includes('etcd')
    case 'unpin': case 'restore': return true
    case 'quarantine': return false
  }
}

/** What the intake needs of the consensus service. */
export interface ForwardedRequestIntakeDeps {
  isLeader: () => boolean
  /** The committed shape's protocol level. */
  level: () => number
  /** The applied shape. */
  shape: () => MeshShape
  /** The leader's batcher, which queues the group for its next envelope. */
  batcher: Pick<ProposalBatcher, 'submitGroup'>
}

export class ForwardedRequestIntake {
  constructor (private readonly deps: ForwardedRequestIntakeDeps) {}

  /**
   * Leader: a forwarded request from member `from` (the driver authenticated it; this node itself for a
   * request it sent before it led). Trusts nothing the follower says: the request decodes strictly, its id
   * is the entry's and names `from`, its commands are at most SHAPE_BATCH_COMMANDS_MAX and, measured here,
   * SHAPE_BATCH_BYTES_MAX, each an operator role shift that cannot move the voters against this leader's
   * shape, naming members by canonical ed25519 peer ids or as the shape holds them (shape-command-rules.ts).
   * Returns the typed error it is refused with, or null when queued for the next envelope.
   */
  take (command: Uint8Array, id: ProposalId | undefined, from: string): Error | null {
    const refuse = (what: string): Error => new ForwardedRequestInvalidError(`forwarded request from ${from}: ${what}`)
    // Refusals a retry may overcome are not answered (the follower retries every second); the others are.
    const defer = (what: string): Error => new ForwardedRequestDeferredError(`forwarded request from ${from}: ${what}`)
    if (!this.deps.isLeader()) return defer('this node does not lead')
    if (this.deps.level() < PROTOCOL_FORWARDED_REQUESTS) return defer(`this leader has applied protocol level ${this.deps.level()}, below ${PROTOCOL_FORWARDED_REQUESTS} (forwarded requests)`)
    const request = decodeRequest(command)
    if (request instanceof Error) return request
    if (id === undefined || id.clientId !== request.id.clientId || id.seq !== request.id.seq) return refuse('its id is not the entry\'s')
    if (requestOwner(request.id) !== from) return refuse(`its id ${request.id.clientId} does not belong to the sender`)
    if (request.commands.length > SHAPE_BATCH_COMMANDS_MAX) return refuse(`${request.commands.length} commands, at most ${SHAPE_BATCH_COMMANDS_MAX}`)
    const position = request.commands.findIndex(({ command: c }) => !batchableAgainst(this.deps.shape(), c))
    if (position >= 0) return refuse(`command ${position} (${request.commands[position]?.command.kind}) may move the voters: it is proposed signed, alone`)
    // NB: queued even when the session table already holds it (a retry): the follower may never apply the
    // entry that carried it (a snapshot covered it), and only an entry carrying its id answers it; apply
    // skips the copy as `duplicate-request`.
    const group = { commands: request.commands, via: request.id }
    const bytes = encodeCanonicalFast(group).length
    if (bytes > SHAPE_BATCH_BYTES_MAX) return refuse(`${bytes} bytes of commands, at most ${SHAPE_BATCH_BYTES_MAX}`)
    const idProblem = commandsMemberIdProblem(this.deps.shape(), request.commands.map((c) => c.command))
    if (idProblem !== null) return refuse(idProblem)
    try {
      this.deps.batcher.submitGroup(group, bytes)
    } catch (err) {
      if ((err as Error).name !== 'ConsensusBusyError') throw err
      return err as Error
    }
    return null
  }
}
