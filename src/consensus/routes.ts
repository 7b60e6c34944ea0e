/**
 * @module consensus/routes
 * Admin API routes of the consensus layer (behind the node's bearer token):
 * - `GET /v1/shape[?stale=true]` — the committed MeshShape (linearizable by default);
 * - `POST /v1/proposals` `{kind, nodeId, roles?, reason?, pin?, force?}` — propose a role change from this
 *   node; answers the typed result `{index, term, cid, outcome}` once the entry is applied here. A
 *   promote/demote the policy would undo is refused first with a 409 `ContradictsTargetError` saying what
 *   would happen, unless `pin` (recorded in the shape; the policy scales around it) or `force`;
 * - `POST /v1/target` `{preset}` or `{target}` — change the target topology (a committed command).
 * Bad input gets a 400 with a message; nothing is proposed.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import { CONTROL_PLANE_ROLES, REASONS, TARGET_PRESETS, parseTarget } from './shape/core/index.js'
import type { Command, Reason, TargetTopology } from './shape/core/index.js'
import type { ConsensusService } from './consensus-service.js'

const proposalBody = z.strictObject({
  kind: z.enum(['promote', 'demote', 'quarantine', 'restore', 'remove-member', 'unpin']),
  nodeId: z.string().min(1).max(128),
  roles: z.array(z.enum(CONTROL_PLANE_ROLES)).min(1).max(4).optional(),
  reason: z.enum(REASONS).optional(),
  pin: z.boolean().optional(),
  force: z.boolean().optional()
})

const targetBody = z.union([
  z.strictObject({ preset: z.enum(['homelab', 'ha-three']) }),
  z.strictObject({ target: z.record(z.string(), z.number()) })
])

/** Most log indexes one `GET /v1/raft/terms` may ask about. */
const TERMS_QUERY_INDEXES_MAX = 1000

function badRequest (reply: FastifyReply, message: string): FastifyReply {
  return reply.code(400).send({ error: 'BadRequest', message })
}

/** Maps operating errors to HTTP answers: 503 while no leader is reachable, 504 on timeout. */
function failure (reply: FastifyReply, err: unknown): FastifyReply {
  const e = err as Error
  const code = e.name === 'ConsensusTimeoutError' ? 504 : e.name === 'ConsensusBusyError' || e.name === 'StorageUnavailableError' ? 503 : 500
  return reply.code(code).send({ error: e.name, message: e.message })
}

export function toCommand (body: z.infer<typeof proposalBody>): Command | string {
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

export function registerConsensusRoutes (app: FastifyInstance, service: ConsensusService): void {
  app.get('/v1/shape', async (request, reply) => {
    const stale = (request.query as { stale?: string }).stale === 'true'
    try {
      const view = await service.readShape({ stale })
      const members = view.shape.memberIds().map((nodeId) => ({ nodeId, roles: view.shape.rolesOf(nodeId) }))
      return { cid: view.cid, appliedIndex: view.appliedIndex, target: view.shape.target, voters: view.shape.voters(), members, pins: view.shape.pins() }
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.post('/v1/proposals', async (request, reply) => {
    const parsed = proposalBody.safeParse(request.body)
    if (!parsed.success) return badRequest(reply, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
    const command = toCommand(parsed.data)
    if (typeof command === 'string') return badRequest(reply, command)
    const refusal = parsed.data.pin === true || parsed.data.force === true ? null : service.operatorGuard?.(command) ?? null
    if (refusal !== null) return reply.code(409).send({ error: refusal.name, message: refusal.message })
    try {
      const result = await service.propose(command, (parsed.data.reason ?? 'operator') as Reason)
      return { ...result.result, duplicate: result.duplicate, index: result.index, term: result.term }
    } catch (err) {
      return failure(reply, err)
    }
  })

  // The term of each given log index on this node (null when compacted or absent), so a checker can
  // verify that an acknowledged entry (index, term) is the one every node committed (Log Matching).
  app.get('/v1/raft/terms', async (request, reply) => {
    const raw = String((request.query as { indexes?: string }).indexes ?? '')
    const indexes = raw === '' ? [] : raw.split(',').map(Number)
    if (indexes.length > TERMS_QUERY_INDEXES_MAX || indexes.some((i) => !Number.isSafeInteger(i) || i < 1)) {
      return badRequest(reply, `indexes must be up to ${TERMS_QUERY_INDEXES_MAX} comma-separated positive integers`)
    }
    const node = service.node
    return { commitIndex: node.status().commit, terms: indexes.map((i) => node.termAt(i) ?? null) }
  })

  app.post('/v1/target', async (request, reply) => {
    const parsed = targetBody.safeParse(request.body)
    if (!parsed.success) return badRequest(reply, 'body must be {"preset": "homelab"|"ha-three"} or {"target": {...}}')
    let target: TargetTopology | null
    if ('preset' in parsed.data) target = TARGET_PRESETS[parsed.data.preset]
    else target = parseTarget(parsed.data.target)
    if (target === null) return badRequest(reply, 'target needs apiServers, etcd (1..7), schedulers, controllerManagers, minWorkers')
    try {
      const result = await service.propose({ kind: 'set-target', target }, 'operator')
      return { ...result.result, duplicate: result.duplicate }
    } catch (err) {
      return failure(reply, err)
    }
  })
}
