/**
 * @module materializer/routes
 * Admin API of the materializer (behind the node's bearer token):
 * - `GET /v1/manifests` — what this node materialized: files with template and manifest CIDs, events, hooks;
 * - `GET /v1/catalog` — the effective role catalog (committed templates, or the build's defaults);
 * - `POST /v1/catalog` `{role, templates: [{name, text}]}` — checks that every template renders on this node,
 *   stores each in the content layer, then commits `set-catalog` with their CIDs; `{role, templates: []}`
 *   restores the default. Answers the typed result `{index, term, cid, outcome}`.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { z } from 'zod'
import { sendApiError } from '../api/index.js'
import { consensusFailure } from '../consensus/routes.js'
import { CONTROL_PLANE_ROLES, MAX_TEMPLATES_PER_ROLE, templateNameProblem } from '../consensus/shape/core/index.js'
import { buildView, renderTemplate, TEMPLATE_BYTES_MAX } from './core/index.js'
import type { MaterializerService } from './materializer-service.js'
import { ContentUnavailableError } from './errors.js'

const catalogBody = z.strictObject({
  role: z.enum(CONTROL_PLANE_ROLES),
  templates: z.array(z.strictObject({ name: z.string().min(1).max(64), text: z.string().max(TEMPLATE_BYTES_MAX) })).max(MAX_TEMPLATES_PER_ROLE)
})

function badRequest (reply: FastifyReply, message: string): FastifyReply {
  return sendApiError(reply, 'BadRequest', message)
}

export function registerMaterializerRoutes (app: FastifyInstance, service: MaterializerService): void {
  app.get('/v1/manifests', async () => service.manifests())
  app.get('/v1/catalog', async () => ({ catalog: service.catalog() }))

  app.post('/v1/catalog', async (request, reply) => {
    const parsed = catalogBody.safeParse(request.body)
    if (!parsed.success) return badRequest(reply, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '))
    const { role, templates } = parsed.data
    const consensus = service.consensusService
    // A template that cannot render is refused here, before anything is committed.
    const { view } = buildView({
      nodeId: consensus.nodeId, shape: consensus.shapeMachine.shape, shapeCid: consensus.shapeMachine.shapeCid(),
      appliedIndex: consensus.node.appliedIndex(), addressOf: () => '192.0.2.1', kubernetesVersion: 'v0.0.0', etcdVersion: '0.0.0'
    })
    for (const template of templates) {
      const problem = templateNameProblem(template.name)
      if (problem !== null) return badRequest(reply, problem)
      try {
        renderTemplate(template.text, view, template.name)
      } catch (err) {
        return badRequest(reply, `${(err as Error).name}: ${(err as Error).message}`)
      }
    }
    const content = service.content()
    if (content === undefined && templates.length > 0) {
      const err = new ContentUnavailableError()
      return sendApiError(reply, 'Unavailable', `${err.name}: ${err.message}`)
    }
    try {
      // Pinned for the catalog as they are added, and kept so until the proposal ends (not named before).
      return await service.whileProposing(async (hold) => {
        const entries = []
        for (const template of templates) {
          const cid = await content!.add(new TextEncoder().encode(template.text))
          hold(cid)
          entries.push({ name: template.name, cid })
        }
        const result = await consensus.propose({ kind: 'set-catalog', role, templates: entries }, 'operator')
        return { ...result.result, duplicate: result.duplicate, templates: entries }
      })
    } catch (err) {
      return consensusFailure(reply, err)
    }
  })
}
