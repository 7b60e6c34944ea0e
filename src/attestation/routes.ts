/**
 * @module attestation/routes
 * Admin API routes of the attestation layer (behind the node's bearer token):
 * - `GET /v1/chain` — height, head, first stored height, sealed height, voters, the last seal and its
 *   witnesses, and the witnesses this node holds over its head; 503 (Unavailable) while the chain file is
 *   closed (the node stopping, or a disk error), when no seal can be read;
 * - `GET /v1/chain/export[?from=H]` — an export file (application/cbor) from height H (default: the first
 *   stored block) to the head, with a checkpoint when a voter majority witnessed the head; H above head + 1
 *   answers 400 (BadRequest), so does an export larger than a verifier reads (1 GiB, naming the height to
 *   export from), and a chain file a disk error closed 503 (Unavailable) until the next start.
 */
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { sendApiError } from '../api/index.js'
import type { AttestationService } from './attestation-service.js'
import { ChainFileClosedError, ExportFromBeyondHeadError, ExportTooLargeError } from './errors.js'

const exportQuery = z.strictObject({ from: z.coerce.number().int().min(1).optional() })

export function registerChainRoutes (app: FastifyInstance, service: AttestationService): void {
  app.get('/v1/chain', async (_req, reply) => {
    if (!service.attached) return await sendApiError(reply, 'Unavailable', 'attestation is not attached')
    try {
      return service.reader().summary()
    } catch (err) {
      if ((err as Error).name === ChainFileClosedError.name) return await sendApiError(reply, 'Unavailable', (err as Error).message)
      throw err
    }
  })
  app.get('/v1/chain/export', async (req, reply) => {
    if (!service.attached) return await sendApiError(reply, 'Unavailable', 'attestation is not attached')
    const query = exportQuery.safeParse(req.query)
    if (!query.success) return await sendApiError(reply, 'BadRequest', query.error.message)
    let bytes: Uint8Array
    try {
      bytes = service.reader().exportBytes(query.data.from)
    } catch (err) {
      if ((err as Error).name === ExportFromBeyondHeadError.name || (err as Error).name === ExportTooLargeError.name) {
        return await sendApiError(reply, 'BadRequest', (err as Error).message)
      }
      if ((err as Error).name === ChainFileClosedError.name) return await sendApiError(reply, 'Unavailable', (err as Error).message)
      throw err
    }
    return await reply.header('content-type', 'application/cbor').send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  })
}
