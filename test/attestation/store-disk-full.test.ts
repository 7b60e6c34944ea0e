/**
 * The chain store while the disk refuses writes (full, EIO): blocks stay pending and are retried, the node
 * keeps running, and what reads the chain meanwhile — `GET /v1/chain` and the export — still answers from
 * the blocks applied, pending ones included. Writes fail through a mocked `writeSync` (ENOSPC) so that no
 * tmpfs or root is needed; reads go to the real file.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { ChainStore } from '../../src/attestation/store.js'
import { ChainReader } from '../../src/attestation/reader.js'
import { WitnessPool } from '../../src/attestation/witness-pool.js'
import { AttestedMachine } from '../../src/attestation/attested-machine.js'
import { ShapeMachine } from '../../src/consensus/shape/shape-machine.js'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import { decodeBlock, decodeChainExport, verifyChain } from '../../src/attestation/core/index.js'
import { AttestationService } from '../../src/attestation/attestation-service.js'
import { registerChainRoutes } from '../../src/attestation/routes.js'
import Fastify from 'fastify'
import type { ServiceContext } from '../../src/node/service.js'
import { capturingLogger, tempDir, waitFor } from '../node/helpers.js'
import { crc32 } from 'node:zlib'
import { standardChain } from './helpers.js'

/** `bytesLeft`: the disk takes this many more bytes (a write takes what fits), then refuses. */
const disk = vi.hoisted(() => ({ full: false, truncateFails: false, bytesLeft: undefined as number | undefined }))

vi.mock('node:fs', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs')>()
  const writeSync = ((...args: Parameters<typeof actual.writeSync>) => {
    if (disk.full || disk.bytesLeft === 0) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
    if (disk.bytesLeft !== undefined && ArrayBuffer.isView(args[1]) && typeof args[2] === 'number') {
      const [fd, buffer, offset] = args as unknown as [number, Buffer, number]
      const length = Math.min(disk.bytesLeft, buffer.length - offset)
      disk.bytesLeft -= length
      return actual.writeSync(fd, buffer, offset, length)
    }
    return (actual.writeSync as (...a: unknown[]) => number)(...args)
  }) as typeof actual.writeSync
  const ftruncateSync = ((...args: Parameters<typeof actual.ftruncateSync>) => {
    if (disk.truncateFails) throw Object.assign(new Error('EIO: i/o error, ftruncate'), { code: 'EIO' })
    actual.ftruncateSync(...args)
  }) as typeof actual.ftruncateSync
  return { ...actual, writeSync, ftruncateSync }
})

afterEach(() => {
  disk.full = false
  disk.truncateFails = false
  disk.bytesLeft = undefined
})

describe('chain store on a full disk', () => {
  it('should answer the chain summary and export from pending blocks while writes fail, and write them once the disk takes them', async () => {
    const dir = await tempDir('revoada-chain-full-')
    const { builder } = await standardChain('cluster-a')
    const store = new ChainStore(dir)
    const machine = new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store, verify: verifyWithCodec })
    const split = 9
    for (const entry of builder.entries.slice(0, split)) machine.apply(entry.bytes, entry.context)
    store.sync()
    disk.full = true
    for (const entry of builder.entries.slice(split)) machine.apply(entry.bytes, entry.context)
    await waitFor(() => store.writeError !== undefined, 5_000, 'a failed flush')
    const reader = new ChainReader(store, machine, new WitnessPool())
    const lastSeal = builder.blocks.map((b) => decodeBlock(b)!).filter((b) => b.kind === 'seal' && b.outcome.kind === 'applied').pop()!
    expect(reader.summary()).toMatchObject({ height: builder.blocks.length, lastSeal: { blockHeight: lastSeal.height } })
    const exp = decodeChainExport(reader.exportBytes())!
    expect(exp.blocks).toEqual(builder.blocks)
    expect(verifyChain(exp, { verify: verifyWithCodec }).height).toBe(builder.blocks.length)
    for (let h = 1; h <= builder.blocks.length; h++) expect(store.read(h)).toEqual(builder.blocks[h - 1])
    disk.full = false
    store.close()
    const reopened = new ChainStore(dir)
    expect(reopened.height).toBe(builder.blocks.length)
    for (let h = 1; h <= builder.blocks.length; h++) expect(reopened.read(h)).toEqual(builder.blocks[h - 1])
    reopened.close()
  })

  it('should log a failed chain write once and show it in status until the disk takes writes again', async () => {
    const dataDir = await tempDir('revoada-chain-full-status-')
    const { builder } = await standardChain('cluster-a')
    const { log, lines } = capturingLogger('warn')
    const service = new AttestationService()
    const ctx = { config: { dataDir, attestation: {} }, cluster: { clusterId: 'cluster-a' }, log } as unknown as ServiceContext
    const shape = new ShapeMachine('cluster-a')
    const machine = service.attach(shape, ctx)
    for (const entry of builder.entries.slice(0, 9)) machine.apply(entry.bytes, entry.context)
    disk.full = true
    for (const entry of builder.entries.slice(9)) machine.apply(entry.bytes, entry.context)
    await waitFor(() => service.status()['writeError'] !== undefined, 5_000, 'the write error in status')
    expect(service.status()['writeError']).toMatch(/ENOSPC/)
    const failed = (): number => lines.filter((l) => String(l['msg']).includes('could not write the chain file')).length
    await waitFor(() => failed() === 1, 5_000, 'one warning')
    disk.full = false
    await waitFor(() => service.status()['writeError'] === undefined, 5_000, 'the error gone once writes pass')
    expect(failed()).toBe(1)
    await service.stop()
  })

  it('should close the file on a full disk, so that no retry writes into a file the next start opened', async () => {
    const dir = await tempDir('revoada-chain-full-close-')
    const { builder } = await standardChain('cluster-a')
    const store = new ChainStore(dir)
    const machine = new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store, verify: verifyWithCodec })
    for (const entry of builder.entries.slice(0, 9)) machine.apply(entry.bytes, entry.context)
    store.sync()
    disk.full = true
    for (const entry of builder.entries.slice(9)) machine.apply(entry.bytes, entry.context)
    await waitFor(() => store.writeError !== undefined, 5_000, 'a failed flush')
    try {
      store.close()
    } catch {
      // the old close threw the write error; either way the node's stop goes on
    }
    expect(store.isOpen).toBe(false)
    // The disk recovers and the node starts again in this process: it re-derives the blocks from its log.
    disk.full = false
    const reopened = new ChainStore(dir)
    const again = new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store: reopened, verify: verifyWithCodec })
    for (const entry of builder.entries) again.apply(entry.bytes, entry.context)
    reopened.sync()
    // The old store's retry timer fires now: it must write nothing.
    store.flush()
    reopened.close()
    const last = new ChainStore(dir)
    expect(last.height).toBe(builder.blocks.length)
    last.close()
  })

  it('should start a new segment after a snapshot while block writes fail, without the old segment\'s pending blocks', async () => {
    // Installing a snapshot flushed first and threw the write error out of the restore (the node stopped);
    // the unwritten blocks belong to the old segment and must not land at the new file's start.
    const dir = await tempDir('revoada-chain-full-segment-')
    const aheadDir = await tempDir('revoada-chain-full-segment-ahead-')
    const { builder } = await standardChain('cluster-a')
    const ahead = new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store: new ChainStore(aheadDir), verify: verifyWithCodec })
    for (const entry of builder.entries.slice(0, 9)) ahead.apply(entry.bytes, entry.context)
    const store = new ChainStore(dir)
    const behind = new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store, verify: verifyWithCodec })
    for (const entry of builder.entries.slice(0, 2)) behind.apply(entry.bytes, entry.context)
    store.sync()
    disk.full = true
    behind.apply(builder.entries[2]!.bytes, builder.entries[2]!.context)
    expect(() => { behind.restore(ahead.snapshot()) }).not.toThrow()
    expect(store.firstHeight).toBe(10)
    disk.full = false
    for (const entry of builder.entries.slice(9)) behind.apply(entry.bytes, entry.context)
    store.close()
    const reopened = new ChainStore(dir)
    expect(reopened.firstHeight).toBe(10)
    expect(reopened.height).toBe(builder.blocks.length)
    for (let h = 10; h <= builder.blocks.length; h++) expect(reopened.read(h)).toEqual(builder.blocks[h - 1])
    reopened.close()
  })

  it('should forget blocks from a height while writes fail, without throwing, and write the right ones once the disk takes them', async () => {
    // A re-derived block that differs from the stored one cuts the file there (truncateFrom); with writes
    // failing, its flush threw out of the machine's apply, through the Raft driver.
    const dir = await tempDir('revoada-chain-full-truncate-')
    const { builder } = await standardChain('cluster-a')
    const blocks = builder.blocks
    const store = new ChainStore(dir)
    for (let h = 1; h <= 9; h++) store.append(h, blocks[h - 1]!)
    store.sync()
    // A cut inside the unwritten records: the ones before it stay pending.
    disk.full = true
    for (let h = 10; h <= 12; h++) store.append(h, blocks[h - 1]!)
    expect(() => { store.flush() }).toThrow(/ENOSPC/)
    expect(() => { store.truncateFrom(11) }).not.toThrow()
    expect(store.height).toBe(10)
    disk.full = false
    for (let h = 11; h <= 12; h++) store.append(h, blocks[h - 1]!)
    store.sync()
    const between = new ChainStore(dir)
    expect(between.height).toBe(12)
    for (let h = 1; h <= 12; h++) expect(between.read(h)).toEqual(blocks[h - 1])
    between.close()
    // A cut below them: the file is cut, and none of them is written.
    disk.full = true
    for (let h = 13; h <= 15; h++) store.append(h, blocks[h - 1]!)
    expect(() => { store.flush() }).toThrow(/ENOSPC/)
    expect(() => { store.truncateFrom(5) }).not.toThrow()
    expect(store.height).toBe(4)
    disk.full = false
    for (let h = 5; h <= 15; h++) store.append(h, blocks[h - 1]!)
    store.sync()
    // A cut the disk refuses: appends would land after the records still there, so the file stops (a warning).
    const warnings: string[] = []
    const second = new ChainStore(dir, { warn: (_obj, msg) => { warnings.push(msg) } })
    disk.truncateFails = true
    expect(() => { second.truncateFrom(12) }).not.toThrow()
    expect(second.isOpen).toBe(false)
    expect(warnings.join('\n')).toMatch(/could not cut the chain file/)
    disk.truncateFails = false
    store.close()
    const reopened = new ChainStore(dir)
    expect(reopened.height).toBe(15)
    for (let h = 1; h <= 15; h++) expect(reopened.read(h)).toEqual(blocks[h - 1])
    reopened.close()
  })

  it('should name the old segment after the last block written to it whole, and cut a record a failed write tore', async () => {
    // A snapshot installed while block writes fail drops the old segment's unwritten blocks: its name
    // `blocks.upto-<h>` said the height the store had derived, not what the file holds.
    const { builder } = await standardChain('cluster-a')
    const blocks = builder.blocks
    const ahead = new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store: null, verify: verifyWithCodec })
    for (const entry of builder.entries.slice(0, 9)) ahead.apply(entry.bytes, entry.context)
    const recordsOf = (count: number): Buffer => Buffer.concat(blocks.slice(0, count).map((b) => {
      const header = Buffer.alloc(8)
      header.writeUInt32BE(b.length, 0)
      header.writeUInt32BE(crc32(b), 4)
      return Buffer.concat([header, b])
    }))
    // Nothing of block 3 written, then 13 bytes of it (the disk took what fitted).
    for (const bytesLeft of [0, 13]) {
      const dir = await tempDir('revoada-chain-full-upto-')
      const store = new ChainStore(dir)
      for (let h = 1; h <= 2; h++) store.append(h, blocks[h - 1]!)
      store.sync()
      disk.bytesLeft = bytesLeft
      for (let h = 3; h <= 4; h++) store.append(h, blocks[h - 1]!)
      expect(() => { store.flush() }).toThrow(/ENOSPC/)
      expect(store.height).toBe(4)
      // Still refused: the restart's own flush writes nothing more.
      store.restartAfter(ahead.chainState())
      disk.bytesLeft = undefined
      expect(store.firstHeight).toBe(10)
      expect(readdirSync(dir).filter((name) => name.startsWith('blocks.'))).toEqual(['blocks.upto-2'])
      expect(readFileSync(path.join(dir, 'blocks.upto-2'))).toEqual(recordsOf(2))
      store.close()
    }
  })

  it('should answer an export with 503 naming the closed chain file once a disk error closed it, not 500', async () => {
    // A cut the disk refuses closes the chain file until the next start (above); reading a block then gives
    // undefined, and the export encoded it: MalformedEncodingError, a 500 that said nothing of the disk.
    const dir = await tempDir('revoada-chain-full-closed-')
    const { builder } = await standardChain('cluster-a')
    const store = new ChainStore(dir)
    const machine = new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store, verify: verifyWithCodec })
    for (const entry of builder.entries) machine.apply(entry.bytes, entry.context)
    store.sync()
    disk.truncateFails = true
    store.truncateFrom(5)
    disk.truncateFails = false
    expect(store.isOpen).toBe(false)
    const reader = new ChainReader(store, machine, new WitnessPool())
    expect(() => reader.exportBytes()).toThrow(expect.objectContaining({ name: 'ChainFileClosedError' }))
    const app = Fastify()
    try {
      registerChainRoutes(app, { attached: true, reader: () => reader } as unknown as AttestationService)
      for (const url of ['/v1/chain/export', '/v1/chain/export?from=3']) {
        const res = await app.inject({ method: 'GET', url })
        expect({ url, status: res.statusCode }).toEqual({ url, status: 503 })
        expect(res.body).toMatch(/chain file is closed/)
      }
    } finally {
      await app.close()
    }
  })
})
