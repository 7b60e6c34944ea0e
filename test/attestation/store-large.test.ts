/**
 * Goal: a node whose chain file has grown past 2 GiB (Node's readFile limit, one buffer) still starts: the
 * store indexes the file a window at a time. Before, its start read the file whole and threw readFile's bare
 * RangeError (ERR_FS_FILE_TOO_LARGE) out of the attestation layer's attach, so the node could not start again.
 * Method: a file of 32,768 records of 64 KiB (their checksums right; the start checks those and the last
 * block's height) ending in a real block at the next height, written in a temp dir (2 GiB of disk for the
 * test's duration).
 */
import { closeSync, openSync, writeSync } from 'node:fs'
import path from 'node:path'
import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { ChainStore } from '../../src/attestation/store.js'
import { decodeBlock, encodeBlock } from '../../src/attestation/core/index.js'
import { tempDir } from '../node/helpers.js'
import { standardChain } from './helpers.js'

function record (body: Uint8Array): Buffer {
  const out = Buffer.alloc(8 + body.length)
  out.writeUInt32BE(body.length, 0)
  out.writeUInt32BE(crc32(body), 4)
  out.set(body, 8)
  return out
}

describe('chain store of a large file', () => {
  it('should open a chain file larger than 2 GiB, with every record where the file has it', async () => {
    const dir = await tempDir('revoada-chain-large-store-')
    const { builder } = await standardChain('cluster-a')
    const filler = record(Buffer.alloc(64 * 1024, 0xa5))
    const fillers = 32 * 1024
    const batch = Buffer.concat(Array.from({ length: 1024 }, () => filler))
    const last = encodeBlock({ ...decodeBlock(builder.blocks[0]!)!, height: fillers + 1 })
    const fd = openSync(path.join(dir, 'blocks'), 'w')
    try {
      for (let i = 0; i < fillers / 1024; i++) for (let at = 0; at < batch.length;) at += writeSync(fd, batch, at)
      writeSync(fd, record(last))
    } finally {
      closeSync(fd)
    }
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
})
