/**
 * @module consensus/routes
 * Admin API routes of the consensus layer (behind the node's bearer token); docs/OPERATIONS.md documents
 * every body and answer:
 * - `GET /v1/shape[?stale=true]` — the committed MeshShape (linearizable by default);
 * - `POST /v1/proposals` `{kind, nodeId, roles?, reason?, pin?, force?}` — propose a role change from this
 *   node; answers the typed result `{index, term, cid, outcome, duplicate, batch?}` once the entry is applied
 *   here (`batch: {position, commands}` when it was committed in one batch envelope with others). A
 *   promote/demote the policy would undo is refused first with a 409 `ContradictsTargetError` saying what
 *   would happen, unless `pin` (recorded in the shape; the policy scales around it) or `force`;
 * - `GET /v1/target` — the target topology with the voters' fault tolerance;
 * - `POST /v1/target` `{preset | target, force?}` — change the target topology (a committed command);
 * - `POST /v1/remove-member` `{nodeId}` — demote and remove a member; `POST /v1/leave` — this node leaves;
 * - `GET /v1/raft/terms?indexes=…` — the term of each log index here (for history checkers).
 * Bad input gets `{error, message}` (api/errors.ts) and nothing is proposed.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import { sendApiError } from '../api/index.js'
import { TARGET_PRESETS, faultTolerance, mergeTarget, parseTarget, targetConcerns } from './shape/core/index.js'
import type { Command, Reason, TargetTopology } from './shape/core/index.js'
import type { ConsensusService } from './consensus-service.js'
import { UnknownMemberError } from './errors.js'
import { parseProposalBody, zodIssues } from './proposal-body.js'
import type { ProposalBody } from './proposal-body.js'

const count = z.number().int().min(0)

const targetBody = z.union([
  z.strictObject({ preset: z.enum(['homelab', 'ha-three']), force: z.boolean().optional() }),
  z.strictObject({
    target: z.strictObject({
      apiServers: count.optional(), etcd: count.optional(), schedulers: count.optional(), controllerManagers: count.optional(), minWorkers: count.optional()
    }).refine((t) => Object.values(t).some((v) => v !== undefined), 'give at least one count'),
    force: z.boolean().optional()
  })
])

/** Most log indexes one `GET /v1/raft/terms` may ask about. */
const TERMS_QUERY_INDEXES_MAX = 1000

const nodeBody = z.strictObject({ nodeId: z.string().min(1).max(128) })

/** Maps consensus operating errors to the API's error codes (also for other layers' proposals). */
export function consensusFailure (reply: FastifyReply, err: unknown): FastifyReply {
  const e = err as Error
  switch (e.name) {
    case 'ConsensusTimeoutError': return sendApiError(reply, 'Timeout', `${e.message} (the change may still commit; check \`revoada shape\`)`)
    case 'ConsensusBusyError': case 'ConsensusStoppedError': case 'StorageUnavailableError': return sendApiError(reply, 'Unavailable', e.message)
    // Known not applied (the leader that appended it was deposed before it committed): safe to send again.
    case 'ProposalLostError': return sendApiError(reply, 'Unavailable', `${e.message} (not applied; safe to retry)`)
    case 'UnknownMemberError': return sendApiError(reply, 'NotFound', e.message)
    // The API checks membership first; a member held under a legacy id text removed meanwhile is no member now.
    case 'InvalidMemberIdError': return sendApiError(reply, 'NotFound', e.message)
    case 'RequestRefusedError': return sendApiError(reply, 'Refused', e.message)
    case 'ForwardedRequestRefusedError': return sendApiError(reply, 'Refused', e.message)
    default: return sendApiError(reply, 'Internal', `${e.name}: ${e.message}`)
  }
}

export function toCommand (body: ProposalBody): Command | string {
  switch (body.kind) {
    case 'promote':
    case 'demote':
      if (body.roles === undefined) return `${body.kind} needs roles`
      return { kind: body.kind, nodeId: body.nodeId, roles: body.roles, ...(body.pin === true ? { pin: true as const } : {}) }
    case 'unpin':
      if (body.pin !== undefined) return 'unpin takes no pin'
      return { kind: 'unpin', nodeId: body.nodeId, ...(body.roles !== undefined ? { roles: body.roles } : {}) }
    default:
      if (body.pin !== undefined) return `${body.kind} takes no pin`
      if (body.roles !== undefined) return `${body.kind} takes no roles`
      return { kind: body.kind, nodeId: body.nodeId }
  }
}

/** Voters membership sees alive: the fault tolerance a new target must not drop below. */
function liveVoters (service: ConsensusService): number {
  const alive = new Set(service.liveMembers())
  return service.shapeMachine.shape.voters().filter((id) => alive.has(id)).length
}

function targetView (service: ConsensusService): Record<string, unknown> {
  const shape = service.shapeMachine.shape
  const live = liveVoters(service)
  return { target: shape.target, voters: shape.voters().length, liveVoters: live, faultTolerance: faultTolerance(live) }
}

export function registerConsensusRoutes (app: FastifyInstance, service: ConsensusService): void {
  app.get('/v1/shape', async (request, reply) => {
    const stale = (request.query as { stale?: string }).stale === 'true'
    try {
      const view = await service.readShape({ stale })
      const members = view.shape.memberIds().map((nodeId) => ({ nodeId, roles: view.shape.rolesOf(nodeId) }))
      return { cid: view.cid, appliedIndex: view.appliedIndex, target: view.shape.target, voters: view.shape.voters(), members, pins: view.shape.pins(), removed: view.shape.removed() }
    } catch (err) {
      return consensusFailure(reply, err)
    }
  })

  app.post('/v1/proposals', async (request, reply) => {
    const parsed = parseProposalBody(request.body)
    if (!parsed.ok) return sendApiError(reply, 'BadRequest', parsed.message)
    const body = parsed.body
    const command = toCommand(body)
    if (typeof command === 'string') return sendApiError(reply, 'BadRequest', command)
    // A proposal about a stranger would only be committed as a rejection: refuse it before the log.
    if (!service.shapeMachine.shape.has(body.nodeId)) return consensusFailure(reply, new UnknownMemberError(body.nodeId))
    const refusal = body.pin === true || body.force === true ? null : service.operatorGuard?.(command) ?? null
    if (refusal !== null) return sendApiError(reply, 'Refused', `${refusal.message} (pass pin to record it as the operator's, or force)`)
    try {
      const result = await service.proposeOperator(command, (body.reason ?? 'operator') as Reason)
      return {
        ...result.result, duplicate: result.duplicate, index: result.index, term: result.term,
        ...(result.batch !== undefined ? { batch: result.batch } : {})
      }
    } catch (err) {
      return consensusFailure(reply, err)
    }
  })

  // The term of each given log index on this node (null when compacted or absent), so a checker can
  // verify that an acknowledged entry (index, term) is the one every node committed (Log Matching).
  // `firstIndex`: the first index still in the log; those below it are in the snapshot.
  app.get('/v1/raft/terms', async (request, reply) => {
    const raw = String((request.query as { indexes?: string }).indexes ?? '')
    const indexes = raw === '' ? [] : raw.split(',').map(Number)
    if (indexes.length > TERMS_QUERY_INDEXES_MAX || indexes.some((i) => !Number.isSafeInteger(i) || i < 1)) {
      return sendApiError(reply, 'BadRequest', `indexes must be up to ${TERMS_QUERY_INDEXES_MAX} comma-separated positive integers`)
    }
    const node = service.node
    const status = node.status()
    return { commitIndex: status.commit, firstIndex: status.firstIndex, terms: indexes.map((i) => node.termAt(i) ?? null) }
  })

  app.get('/v1/target', async () => targetView(service))

  app.post('/v1/target', async (request, reply) => {
    const parsed = targetBody.safeParse(request.body)
    if (!parsed.success) return sendApiError(reply, 'BadRequest', `${zodIssues(parsed.error)} (body: {"preset": "homelab"|"ha-three"} or {"target": {"etcd": 3, …}}, optional "force": true)`)
    const current = service.shapeMachine.shape.target
    const target: TargetTopology | null = 'preset' in parsed.data
      ? TARGET_PRESETS[parsed.data.preset]
      : parseTarget(mergeTarget(current, parsed.data.target))
    if (target === null || target.etcd < 1) return sendApiError(reply, 'BadRequest', 'counts out of range: etcd 1..7, apiServers/schedulers/controllerManagers 0..16, minWorkers 0..1024')
    // A target equal to the current one is still committed: benches use it as a write probe (bench/failover.ts).
    const concerns = targetConcerns(target, liveVoters(service))
    if (concerns.length > 0 && parsed.data.force !== true) {
      return sendApiError(reply, 'Refused', `${concerns.join('; ')}. Pass force (revoada target set … --yes) if you mean it`)
    }
    try {
      const result = await service.propose({ kind: 'set-target', target }, 'operator')
      return { ...result.result, duplicate: result.duplicate, target }
    } catch (err) {
      return consensusFailure(reply, err)
    }
  })

  app.post('/v1/remove-member', async (request, reply) => {
    const parsed = nodeBody.safeParse(request.body)
    if (!parsed.success) return sendApiError(reply, 'BadRequest', zodIssues(parsed.error))
    if (parsed.data.nodeId === service.nodeId) return sendApiError(reply, 'BadRequest', 'to remove this node itself use `revoada leave` (POST /v1/leave)')
    try {
      const result = await service.removeMember(parsed.data.nodeId)
      return { ...result.result, duplicate: result.duplicate, ...(result.departure !== undefined ? { departure: result.departure } : {}) }
    } catch (err) {
      return consensusFailure(reply, err)
    }
  })

  app.post('/v1/leave', async (_request, reply) => {
    try {
      const result = await service.leave()
      return { ...result.result, duplicate: result.duplicate, ...(result.departure !== undefined ? { departure: result.departure } : {}) }
    } catch (err) {
      return consensusFailure(reply, err)
    }
  })
}
