/**
 * Goal: `POST /v1/content/gc` answers a gc that failed as every content route answers its errors: a full disk
 * (the index write after the blocks were freed) is `Refused` 409 naming DiskFullError, so `revoada content gc`
 * exits 2 with the message. Before (2026-12-08), the route let the error through: 500 `Internal`, without the
 * error's name, and an "API request failed" error line.
 * Method: the content routes on a bare fastify app over a stand-in service whose gc throws.
 */
import Fastify from 'fastify'
import { afterEach, describe, expect, it } from 'vitest'
import { registerContentRoutes } from '../../src/content/routes.js'
import type { ContentService } from '../../src/content/content-service.js'
import { DiskFullError } from '../../src/content/core/errors.js'

const apps: Array<ReturnType<typeof Fastify>> = []
afterEach(async () => { for (const app of apps.splice(0)) await app.close() })

describe('POST /v1/content/gc', () => {
  it('should answer a gc the disk refused with Refused (409) naming DiskFullError', async () => {
    const app = Fastify()
    apps.push(app)
    const service = { gc: async () => { throw new DiskFullError('freed 3 blocks; the index write failed: ENOSPC') } }
    registerContentRoutes(app, service as unknown as ContentService)
    const res = await app.inject({ method: 'POST', url: '/v1/content/gc' })
    expect({ status: res.statusCode, body: res.json() as unknown }).toEqual({
      status: 409, body: { error: 'Refused', message: 'DiskFullError: freed 3 blocks; the index write failed: ENOSPC' }
    })
  })
})
