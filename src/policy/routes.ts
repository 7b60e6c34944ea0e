/**
 * @module policy/routes
 * Admin API routes of the policy layer (behind the node's bearer token), answered by ANY node from its
 * own decision log (issue 12 item 4):
 * - `GET /v1/decisions` — the last decisions (`?limit=`, default 50);
 * - `GET /v1/decisions?after=<n>&waitMs=<ms>` — records numbered above `n`; with `waitMs` the request is
 *   held until one arrives or the time is up (long-poll; `revoada decisions --follow` loops on it).
 * Every answer carries `node`, `leader` (whether this node leads now) and `lastN` (the cursor to pass next).
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import { sendApiError } from '../api/index.js'
import type { PolicyEngine } from './engine.js'
import { DECISION_PAGE_MAX, DECISION_WAIT_MS_MAX } from './constants.js'

const decisionsQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  waitMs: z.coerce.number().int().min(0).max(DECISION_WAIT_MS_MAX).optional(),
  limit: z.coerce.number().int().min(1).max(DECISION_PAGE_MAX).optional()
})

function badRequest (reply: FastifyReply, message: string): FastifyReply {
  return sendApiError(reply, 'BadRequest', message)
}

export function registerPolicyRoutes (app: FastifyInstance, engine: PolicyEngine): void {
  app.get('/v1/decisions', async (request, reply) => {
    const parsed = decisionsQuery.safeParse(request.query)
    if (!parsed.success) return badRequest(reply, parsed.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; '))
    const { after, waitMs, limit } = parsed.data
    const log = engine.log
    if (after !== undefined && waitMs !== undefined && waitMs > 0) await log.waitFor(after, waitMs)
    const decisions = after !== undefined ? log.since(after, limit ?? DECISION_PAGE_MAX) : log.last(limit ?? 50)
    return { node: engine.nodeId, leader: engine.isLeader, lastN: log.lastN, decisions }
  })
}
