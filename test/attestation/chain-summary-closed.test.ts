/**
 * Goal: `GET /v1/chain` on a node whose chain file is closed (the node stopping, or a disk error) answers 503
 * naming the closed file, and the reader's summary throws ChainFileClosedError. Before, every block read gave
 * undefined, the last seal was not found, and `revoada chain` printed "Last seal: none" with exit 0.
 * Method: a standard chain applied to a store in a temp dir, the store closed as AttestationService.stop()
 * closes it, then the summary and the route (Fastify inject).
 */
import { describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import { ChainStore } from '../../src/attestation/store.js'
import { ChainReader } from '../../src/attestation/reader.js'
import { WitnessPool } from '../../src/attestation/witness-pool.js'
import { AttestedMachine } from '../../src/attestation/attested-machine.js'
import { ShapeMachine } from '../../src/consensus/shape/shape-machine.js'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import type { AttestationService } from '../../src/attestation/attestation-service.js'
import { registerChainRoutes } from '../../src/attestation/routes.js'
import { tempDir } from '../node/helpers.js'
import { standardChain } from './helpers.js'
import { promises as fs } from 'node:fs'

describe('the chain summary of a closed chain file', () => {
  it('should answer 503 naming the closed file, not a summary without its last seal', async () => {
    const dir = await tempDir('revoada-chain-closed-')
    try {
      const { builder } = await standardChain('cluster-a')
      const store = new ChainStore(dir)
      const machine = new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store, verify: verifyWithCodec })
      for (const entry of builder.entries) machine.apply(entry.bytes, entry.context)
      const reader = new ChainReader(store, machine, new WitnessPool())
      expect(reader.summary().lastSeal).not.toBeNull()
      store.close()
      expect(() => reader.summary()).toThrow(expect.objectContaining({ name: 'ChainFileClosedError' }))
      const app = Fastify()
      try {
        registerChainRoutes(app, { attached: true, reader: () => reader } as unknown as AttestationService)
        const res = await app.inject({ method: 'GET', url: '/v1/chain' })
        expect(res.statusCode).toBe(503)
        expect(JSON.parse(res.body)).toEqual({ error: 'Unavailable', message: expect.stringMatching(/chain file is closed: the node is stopping/) as string })
      } finally {
        await app.close()
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
