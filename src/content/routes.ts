/**
 * @module content/routes
 * The content API under `/v1/content` (behind the node's bearer token; docs/CONTENT.md §8):
 * - `GET  /v1/content`                      objects held, usage, quota, fetches in progress
 * - `POST /v1/content[?pin=true]`           body `application/octet-stream`: add a file (streamed) → its record
 * - `POST /v1/content/dir`                  `{ entries: [{ name, cid }], pin? }`: a directory of held objects
 * - `GET  /v1/content/:cid`                 record and manifest summary (a directory lists its entries)
 * - `POST /v1/content/:cid/fetch[?pin=true&wait=true&files=true]`  fetch from the swarm; 202 + progress, or the
 *   record; `files=true`: a directory is refused (NotAFileError) once its manifest is held, nothing below fetched
 * - `GET  /v1/content/:cid/progress`        progress of a running or recent fetch
 * - `GET  /v1/content/:cid/data`            the bytes of a complete file (verified chunk by chunk)
 * - `POST /v1/content/:cid/pin` · `/unpin`  · `POST /v1/content/gc` · `GET /v1/content/:cid/providers`
 * - `POST /v1/content/:cid/forget`         drop its record (a partial fetch abandoned); gc frees its blocks
 * Typed errors map to HTTP codes; the body is `{ error: <name>, message }`.
 */
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { sendApiError } from '../api/index.js'
import type { ApiErrorCode } from '../api/errors.js'
import { z } from 'zod'
import type { CID } from 'multiformats/cid'
import { parseRootCid } from './store.js'
import type { ContentService } from './content-service.js'

/** The API code of each content error (docs/OPERATIONS.md "Errors"); the message names the error. */
const CODE_OF: Record<string, ApiErrorCode> = {
  InvalidCidError: 'BadRequest',
  MalformedContentError: 'BadRequest',
  ObjectTooLargeError: 'BadRequest',
  NotAFileError: 'BadRequest',
  ContentNotFoundError: 'NotFound',
  NoProvidersError: 'NotFound',
  FetchQueueFullError: 'Unavailable',
  FetchFailedError: 'Unavailable',
  QuotaExceededError: 'Refused',
  DiskFullError: 'Refused',
  StoreIndexFullError: 'Refused'
}

function failure (reply: FastifyReply, err: unknown): FastifyReply {
  const e = err as Error
  return sendApiError(reply, CODE_OF[e.name] ?? 'Internal', `${e.name}: ${e.message}`)
}

const dirBody = z.strictObject({
  entries: z.array(z.strictObject({ name: z.string().min(1).max(255), cid: z.string().min(1).max(200) })).max(4096),
  pin: z.boolean().optional()
})

function cidParam (params: unknown): CID {
  return parseRootCid((params as { cid: string }).cid)
}

export function registerContentRoutes (app: FastifyInstance, service: ContentService): void {
  void app.register(async (scope) => {
    // Only here is the body a raw stream: a file of any size is chunked as it arrives (bounded memory).
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) => { done(null, payload) })
    scope.post('/v1/content', async (request, reply) => {
      try {
        const pin = (request.query as { pin?: string }).pin === 'true'
        const body = request.body as Readable | undefined
        if (body === undefined || typeof (body as Readable).on !== 'function') return sendApiError(reply, 'BadRequest', 'send the file as application/octet-stream')
        return await service.add(body as AsyncIterable<Uint8Array>, { pin }).then(({ cidObject: _c, ...record }) => record)
      } catch (err) {
        return failure(reply, err)
      }
    })
  })

  app.get('/v1/content', async () => ({
    ...service.status(), objects: service.list(), fetches: service.fetchesInProgress()
  }))

  app.post('/v1/content/dir', async (request, reply) => {
    const parsed = dirBody.safeParse(request.body)
    if (!parsed.success) return sendApiError(reply, 'BadRequest', parsed.error.message)
    try {
      const entries = parsed.data.entries.map((e) => ({ name: e.name, cid: parseRootCid(e.cid) }))
      return await service.addDir(entries, { pin: parsed.data.pin === true })
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.post('/v1/content/gc', async (_request, reply) => {
    try {
      return await service.gc()
    } catch (err) {
      // A full disk refused the index write (DiskFullError, Refused): mapped as every other content error.
      return failure(reply, err)
    }
  })

  app.get('/v1/content/:cid', async (request, reply) => {
    try {
      const cid = cidParam(request.params)
      const record = service.record(cid)
      if (record === undefined) return sendApiError(reply, 'NotFound', `ContentNotFoundError: ${cid.toString()} is not in this store`)
      const manifest = await service.manifest(cid)
      const entries = manifest?.type === 'dir' ? manifest.entries.map((e) => ({ name: e.name, cid: e.cid.toString(), size: e.size })) : undefined
      return { ...record, ...(entries !== undefined ? { entries } : {}) }
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.post('/v1/content/:cid/fetch', async (request, reply) => {
    try {
      const cid = cidParam(request.params)
      const query = request.query as { pin?: string, wait?: string, files?: string }
      // `files=true`: `content get` without -o DIR, which can write a file only (it fetched a whole tree, then refused).
      const done = service.fetch(cid, { pin: query.pin === 'true', ...(query.files === 'true' ? { filesOnly: true } : {}) })
      if (query.wait === 'true') return await done
      done.catch(() => {}) // the outcome is read through /progress
      return reply.code(202).send(service.progress(cid) ?? { cid: cid.toString(), state: 'done' })
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.get('/v1/content/:cid/progress', async (request, reply) => {
    try {
      const cid = cidParam(request.params)
      const progress = service.progress(cid)
      if (progress !== undefined) return progress
      const record = service.record(cid)
      if (record?.complete === true) return { cid: cid.toString(), state: 'done', bytesDone: record.size, bytesTotal: record.size }
      return sendApiError(reply, 'NotFound', 'ContentNotFoundError: no fetch of this CID')
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.get('/v1/content/:cid/data', async (request, reply) => {
    try {
      const cid = cidParam(request.params)
      const record = service.record(cid)
      const chunks = service.readLocal(cid)
      // NB: a fastify reply is thenable (it resolves once sent), so it must not be awaited before send().
      void reply.header('content-type', 'application/octet-stream').header('content-length', String(record?.size ?? 0))
      return reply.send(Readable.from(chunks, { objectMode: false }))
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.post('/v1/content/:cid/pin', async (request, reply) => {
    try {
      return await service.pin(cidParam(request.params))
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.post('/v1/content/:cid/unpin', async (request, reply) => {
    try {
      return await service.unpin(cidParam(request.params))
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.post('/v1/content/:cid/forget', async (request, reply) => {
    try {
      return await service.forget(cidParam(request.params))
    } catch (err) {
      return failure(reply, err)
    }
  })

  app.get('/v1/content/:cid/providers', async (request, reply) => {
    try {
      const cid = cidParam(request.params)
      return { cid: cid.toString(), providers: service.providers(cid) }
    } catch (err) {
      return failure(reply, err)
    }
  })
}
