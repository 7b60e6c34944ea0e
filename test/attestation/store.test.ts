/**
 * The chain on disk: blocks survive a reopen, a torn last record is truncated, damage before the tail
 * refuses to open with a typed error, replaying the log after a restart re-derives the stored blocks
 * without duplicating them, and a node restored from a snapshot beyond its stored blocks starts a new
 * segment whose export verifies from the snapshot's base state.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { promises as fs, appendFileSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ChainStore } from '../../src/attestation/store.js'
import { AttestedMachine } from '../../src/attestation/attested-machine.js'
import { ShapeMachine } from '../../src/consensus/shape/shape-machine.js'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import { decodeBlock, verifyChain } from '../../src/attestation/core/index.js'
import { tempDir } from '../node/helpers.js'
import { standardChain } from './helpers.js'

let dir = ''
let aheadDir = ''
afterEach(async () => {
  for (const d of [dir, aheadDir]) if (d !== '') await fs.rm(d, { recursive: true, force: true })
  dir = ''
  aheadDir = ''
})

function machineOn (store: ChainStore): AttestedMachine {
  return new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store, verify: verifyWithCodec })
}

/** A fresh `dir` holding the standard chain's blocks, applied through the machine and closed. */
async function writtenChain (): Promise<Awaited<ReturnType<typeof standardChain>>['builder']> {
  dir = await tempDir('revoada-chain-store-')
  const { builder } = await standardChain('cluster-a')
  const store = new ChainStore(dir)
  const machine = machineOn(store)
  for (const entry of builder.entries) machine.apply(entry.bytes, entry.context)
  store.close()
  return builder
}

/** The byte offset of the last record of a chain file. */
function lastRecordOffset (bytes: Buffer): number {
  let offset = 0
  for (;;) {
    const next = offset + 8 + bytes.readUInt32BE(offset)
    if (next >= bytes.length) return offset
    offset = next
  }
}

describe('chain store', () => {
  it('should keep blocks across a reopen, and re-derive without duplicating on replay', async () => {
    const builder = await writtenChain()
    const reopened = new ChainStore(dir)
    expect(reopened.height).toBe(builder.blocks.length)
    for (let h = 1; h <= reopened.height; h++) expect(reopened.read(h)).toEqual(builder.blocks[h - 1])
    // A restart replays the whole log: same blocks, nothing appended twice.
    const replay = machineOn(reopened)
    for (const entry of builder.entries) replay.apply(entry.bytes, entry.context)
    reopened.close()
    expect(new ChainStore(dir).height).toBe(builder.blocks.length)
  })

  it('should truncate a torn last record and refuse damage before it', async () => {
    const builder = await writtenChain()
    const file = path.join(dir, 'blocks')
    appendFileSync(file, Buffer.from([0, 0, 1, 0, 9, 9, 9]))
    const torn = new ChainStore(dir)
    expect(torn.height).toBe(builder.blocks.length)
    torn.close()
    const bytes = readFileSync(file)
    bytes[20]! ^= 0xff
    writeFileSync(file, bytes)
    expect(() => new ChainStore(dir)).toThrow(expect.objectContaining({ name: 'ChainStoreCorruptError' }))
  })

  it('should refuse a record whose damaged length runs past the end when valid records follow it', async () => {
    // A flipped high bit in a length field in the middle of the file, not a torn tail: truncating there
    // dropped every later block, and a snapshot's compaction had taken the entries they came from.
    const builder = await writtenChain()
    const file = path.join(dir, 'blocks')
    const bytes = readFileSync(file)
    const second = 8 + bytes.readUInt32BE(0)
    bytes[second]! |= 0x80
    writeFileSync(file, bytes)
    expect(() => new ChainStore(dir)).toThrow(expect.objectContaining({ name: 'ChainStoreCorruptError' }))
    expect(readFileSync(file)).toEqual(bytes)
    // The last record's length damaged in the same way, with nothing after it: a torn tail, cut off.
    bytes[second]! &= 0x7f
    const last = lastRecordOffset(bytes)
    bytes[last]! |= 0x80
    writeFileSync(file, bytes)
    const torn = new ChainStore(dir)
    expect(torn.height).toBe(builder.blocks.length - 1)
    torn.close()
  })

  it('should start a new segment after a snapshot beyond its blocks, whose export verifies from the base', async () => {
    dir = await tempDir('revoada-chain-store-')
    const { builder } = await standardChain('cluster-a')
    aheadDir = await tempDir('revoada-chain-store-ahead-')
    const ahead = machineOn(new ChainStore(aheadDir))
    for (const entry of builder.entries.slice(0, 9)) ahead.apply(entry.bytes, entry.context)
    const store = new ChainStore(dir)
    const behind = machineOn(store)
    behind.restore(ahead.snapshot())
    expect(store.firstHeight).toBe(10)
    for (const entry of builder.entries.slice(9)) behind.apply(entry.bytes, entry.context)
    expect(store.height).toBe(builder.blocks.length)
    expect(decodeBlock(store.read(10)!)!.height).toBe(10)
    const blocks = Array.from({ length: store.height - 9 }, (_x, i) => store.read(10 + i)!)
    const report = verifyChain({ genesis: { clusterId: 'cluster-a', firstVoter: behind.view().firstVoter }, base: store.base!, blocks }, { verify: verifyWithCodec })
    expect(report).toMatchObject({ fromHeight: 10, height: builder.blocks.length })
    store.close()
  })
})
