/**
 * Goals: a node whose chain file has grown past 2 GiB (Node's readFile limit, one buffer) still starts: the
 * store indexes the file a window at a time. Before, its start read the file whole and threw readFile's bare
 * RangeError (ERR_FS_FILE_TOO_LARGE) out of the attestation layer's attach, so the node could not start again.
 * Method: a file of 32,768 records of 64 KiB (their checksums right; the start checks those and the last
 * block's height) ending in a real block at the next height, written in a temp dir on tmpfs where there is one (2 GiB of memory for the
 * test's duration). And an export of more blocks than a verifier reads (1 GiB, MAX_EXPORT_BYTES) is refused
 * before it is built, naming the lowest height an export can start from; before, the node built it in memory
 * (twice its size at the peak) and answered bytes that every `chain verify` refused as no export.
 */
import { closeSync, existsSync, openSync, promises as fs, writeSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { afterEach, describe, expect, it } from 'vitest'
import { ChainStore } from '../../src/attestation/store.js'
import { ChainReader } from '../../src/attestation/reader.js'
import { WitnessPool } from '../../src/attestation/witness-pool.js'
import type { AttestedMachine } from '../../src/attestation/attested-machine.js'
import type { AttestationService } from '../../src/attestation/attestation-service.js'
import { registerChainRoutes } from '../../src/attestation/routes.js'
import Fastify from 'fastify'
import { MAX_EXPORT_BYTES } from '../../src/attestation/core/index.js'
import { decodeBlock, emptyChainState, encodeBlock } from '../../src/attestation/core/index.js'
import type { ChainState } from '../../src/attestation/core/index.js'
import { standardChain } from './helpers.js'

function record (body: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + body.length)
  out.writeUInt32BE(body.length, 0)
  out.writeUInt32BE(crc32(body), 4)
  out.set(body, 8)
  return out
}

const filler = record(Buffer.alloc(64 * 1024, 0xa5))

const made: string[] = []
/**
 * On tmpfs where the machine has one: gigabytes written to a disk become writeback that slows every other test's
 * fsync while the suite runs in parallel. Removed after each test, not after the file: two tests hold 3 GiB.
 */
async function bigTempDir (): Promise<string> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir()
  const dir = await fs.mkdtemp(path.join(base, 'revoada-chain-large-store-'))
  made.push(dir)
  return dir
}

/** A temp dir whose chain file holds `fillers` 64 KiB records, then a real block at the next height. */
async function largeChain (fillers: number): Promise<{ dir: string, last: Uint8Array, firstVoter: string }> {
  const dir = await bigTempDir()
  const { builder } = await standardChain('cluster-a')
  const block = decodeBlock(builder.blocks[0]!)!
  const last = encodeBlock({ ...block, height: fillers + 1 })
  const batch = Buffer.concat(Array.from({ length: 1024 }, () => filler))
  const fd = openSync(path.join(dir, 'blocks'), 'w')
  try {
    for (let i = 0; i < fillers / 1024; i++) for (let at = 0; at < batch.length;) at += writeSync(fd, batch, at)
    writeSync(fd, record(last))
  } finally {
    closeSync(fd)
  }
  return { dir, last, firstVoter: builder.machine.view().firstVoter }
}

describe('chain store of a large file', () => {
  afterEach(async () => { await Promise.all(made.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) })) })

  it('should open a chain file larger than 2 GiB, with every record where the file has it', async () => {
    const fillers = 32 * 1024
    const { dir, last } = await largeChain(fillers)
    expect(fillers * filler.length).toBeGreaterThan(2 ** 31)
    const store = new ChainStore(dir)
    try {
      expect(store.height).toBe(fillers + 1)
      expect(store.read(fillers + 1)).toEqual(last)
      expect(Buffer.from(store.read(fillers)!)).toEqual(filler.subarray(8))
    } finally {
      store.close()
    }
  }, 120_000)

  it('should refuse an export larger than a verifier reads before building it, naming the height to start from', async () => {
    const fillers = 16 * 1024
    const { dir, firstVoter } = await largeChain(fillers)
    const store = new ChainStore(dir)
    try {
      const height = fillers + 1
      const view: ChainState = { ...emptyChainState('cluster-a'), firstVoter, height }
      const machine = { view: () => view } as unknown as AttestedMachine
      const reader = new ChainReader(store, machine, new WitnessPool())
      let refused: (Error & { lowestFrom?: number }) | undefined
      try {
        reader.exportBytes()
      } catch (err) {
        refused = err as Error
      }
      expect(refused?.name).toBe('ExportTooLargeError')
      const lowest = refused!.lowestFrom!
      expect((height - lowest + 1) * filler.length).toBeLessThan(MAX_EXPORT_BYTES)
      expect((height - lowest + 2) * filler.length).toBeGreaterThan(MAX_EXPORT_BYTES - 2 * 1024 * 1024)
      expect(() => reader.exportBytes(lowest - 1)).toThrow(expect.objectContaining({ name: 'ExportTooLargeError' }))
      // The API answers 400 naming the height (the CLI exits 3), not 500.
      const app = Fastify()
      try {
        registerChainRoutes(app, { attached: true, reader: () => reader } as unknown as AttestationService)
        const res = await app.inject({ method: 'GET', url: '/v1/chain/export' })
        expect(res.statusCode).toBe(400)
        expect(res.body).toContain(`--from ${lowest}`)
      } finally {
        await app.close()
      }
    } finally {
      store.close()
    }
  }, 120_000)
})
