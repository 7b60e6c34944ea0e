/**
 * The chain store across a crash or power cut: a new segment's base.cbor is written as the Raft snapshot
 * files are (temp file fsynced, renamed, directory fsynced), after the old segment's rename is itself
 * durable; a zero-filled tail (an extended write the power cut never filled) is cut off with a log line,
 * while zeros with whole records after them are damage and still refuse the start. So is a record whose
 * header survived a power cut but whose body did not, in a file already as long as the later records: the
 * crc32 covers the body only, so such a record is a torn tail when no whole record follows it anywhere.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { promises as fs, appendFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { ChainStore } from '../../src/attestation/store.js'
import { AttestedMachine } from '../../src/attestation/attested-machine.js'
import { ShapeMachine } from '../../src/consensus/shape/shape-machine.js'
import { verifyWithCodec } from '../../src/attestation/signatures.js'
import { nodeStorageFs } from '../../src/consensus/storage/storage-fs.js'
import type { StorageFs } from '../../src/consensus/storage/storage-fs.js'
import { tempDir } from '../node/helpers.js'
import { standardChain } from './helpers.js'

const dirs: string[] = []
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true })
})

async function newDir (label: string): Promise<string> {
  const dir = await tempDir(label)
  dirs.push(dir)
  return dir
}

function machineOn (store: ChainStore): AttestedMachine {
  return new AttestedMachine({ shape: new ShapeMachine('cluster-a'), clusterId: 'cluster-a', store, verify: verifyWithCodec })
}

/** The real file system, recording each call as `op name` (names relative to `dir`, fds by the file they open). */
function recordingFs (dir: string, calls: string[]): StorageFs {
  const files = new Map<number, string>()
  const name = (file: string): string => path.relative(dir, file) || '.'
  return {
    ...nodeStorageFs,
    openSync: (file, flags, mode) => {
      const fd = nodeStorageFs.openSync(file, flags, mode)
      files.set(fd, name(file))
      calls.push(`open ${name(file)}`)
      return fd
    },
    writeSync: (fd, buffer, offset, length, position) => {
      calls.push(`write ${files.get(fd) ?? '?'}`)
      return nodeStorageFs.writeSync(fd, buffer, offset, length, position)
    },
    fsyncSync: (fd) => { calls.push(`fsync ${files.get(fd) ?? '?'}`); nodeStorageFs.fsyncSync(fd) },
    fdatasyncSync: (fd) => { calls.push(`fsync ${files.get(fd) ?? '?'}`); nodeStorageFs.fdatasyncSync(fd) },
    closeSync: (fd) => { calls.push(`close ${files.get(fd) ?? '?'}`); files.delete(fd); nodeStorageFs.closeSync(fd) },
    renameSync: (from, to) => { calls.push(`rename ${name(from)} ${name(to)}`); nodeStorageFs.renameSync(from, to) }
  }
}

/** The byte offset of each record of a chain file. */
function recordOffsets (bytes: Buffer): number[] {
  const offsets: number[] = []
  for (let offset = 0; offset < bytes.length; offset += 8 + bytes.readUInt32BE(offset)) offsets.push(offset)
  return offsets
}

/** A fresh dir holding the standard chain's blocks, applied through the machine and closed. */
async function writtenChain (): Promise<{ dir: string, blocks: number }> {
  const dir = await newDir('revoada-chain-crash-')
  const { builder } = await standardChain('cluster-a')
  const store = new ChainStore(dir)
  const machine = machineOn(store)
  for (const entry of builder.entries) machine.apply(entry.bytes, entry.context)
  store.close()
  return { dir, blocks: builder.blocks.length }
}

describe('chain store crash ordering', () => {
  it('should fsync base.cbor before its rename and the directory after it, once the old segment\'s rename is durable', async () => {
    const dir = await newDir('revoada-chain-crash-')
    const aheadDir = await newDir('revoada-chain-crash-ahead-')
    const { builder } = await standardChain('cluster-a')
    const ahead = machineOn(new ChainStore(aheadDir))
    for (const entry of builder.entries.slice(0, 9)) ahead.apply(entry.bytes, entry.context)
    const calls: string[] = []
    const store = new ChainStore(dir, { fs: recordingFs(dir, calls) })
    const behind = machineOn(store)
    for (const entry of builder.entries.slice(0, 3)) behind.apply(entry.bytes, entry.context)
    behind.restore(ahead.snapshot())
    expect(store.firstHeight).toBe(10)
    const at = (call: string): number => {
      const i = calls.indexOf(call)
      expect(i, `${call} in ${calls.join(', ')}`).toBeGreaterThanOrEqual(0)
      return i
    }
    const renameOld = at('rename blocks blocks.upto-3')
    // The old segment's bytes are on disk before its name says what it holds (its descriptor, opened by the
    // store itself, is the one this fs does not name).
    expect(calls.slice(0, renameOld)).toContain('fsync ?')
    const renameBase = at('rename base.cbor.tmp base.cbor')
    const written = calls.lastIndexOf('write base.cbor.tmp')
    const synced = calls.lastIndexOf('fsync base.cbor.tmp')
    expect(written).toBeGreaterThanOrEqual(0)
    // The temp file's bytes are on disk before its name replaces the old base: else a power cut leaves an empty base.cbor.
    expect(synced).toBeGreaterThan(written)
    expect(synced).toBeLessThan(renameBase)
    // The old segment's new name is durable before the new base is: else a power cut could keep the new base
    // with the old blocks file under its old name, which then starts at the wrong height (refused as corrupt).
    expect(calls.slice(renameOld, renameBase)).toContain('fsync .')
    // And the new base's name (and the new blocks file) after it.
    expect(calls.slice(renameBase)).toContain('fsync .')
    store.close()
    const reopened = new ChainStore(dir)
    expect(reopened.base?.height).toBe(9)
    reopened.close()
  })

  it('should make the blocks file\'s name durable at the first sync, which a snapshot relies on', async () => {
    // A snapshot lets Raft compact the entries the blocks came from, so its sync must keep the file's name as
    // well as its bytes: a power cut keeps a new name only once its directory was fsynced.
    const dir = await newDir('revoada-chain-crash-')
    const { builder } = await standardChain('cluster-a')
    const calls: string[] = []
    const store = new ChainStore(dir, { fs: recordingFs(dir, calls) })
    const machine = machineOn(store)
    for (const entry of builder.entries.slice(0, 5)) machine.apply(entry.bytes, entry.context)
    machine.snapshot()
    expect(calls).toContain('fsync .')
    // Once is enough: the name stays.
    const before = calls.length
    for (const entry of builder.entries.slice(5, 8)) machine.apply(entry.bytes, entry.context)
    machine.snapshot()
    expect(calls.slice(before)).not.toContain('fsync .')
    store.close()
  })

  it('should close the chain file, with a warning and no throw, when a new segment\'s base.cbor cannot be written', async () => {
    // A full disk while a snapshot from the leader is installed: the store had closed its file to rename it,
    // and the throw went up through the snapshot's restore out of the Raft driver, which stopped the node.
    const dir = await newDir('revoada-chain-crash-')
    const aheadDir = await newDir('revoada-chain-crash-ahead-')
    const { builder } = await standardChain('cluster-a')
    const ahead = machineOn(new ChainStore(aheadDir))
    for (const entry of builder.entries.slice(0, 9)) ahead.apply(entry.bytes, entry.context)
    const full: StorageFs = {
      ...nodeStorageFs,
      openSync: (file, flags, mode) => {
        if (file.endsWith('.tmp')) throw Object.assign(new Error('ENOSPC: no space left on device, open'), { code: 'ENOSPC' })
        return nodeStorageFs.openSync(file, flags, mode)
      }
    }
    const warnings: string[] = []
    const store = new ChainStore(dir, { fs: full, warn: (_obj, msg) => { warnings.push(msg) } })
    const behind = machineOn(store)
    for (const entry of builder.entries.slice(0, 3)) behind.apply(entry.bytes, entry.context)
    expect(() => { behind.restore(ahead.snapshot()) }).not.toThrow()
    expect(store.isOpen).toBe(false)
    expect(warnings.join('\n')).toMatch(/base\.cbor/)
    expect(store.read(store.height)).toBeUndefined()
    // Later blocks are dropped (the log re-derives them), not written through a closed descriptor.
    for (const entry of builder.entries.slice(9)) behind.apply(entry.bytes, entry.context)
    store.close()
    // The next start, the disk taking writes again, opens the file and the snapshot's restore starts the segment.
    const reopened = new ChainStore(dir)
    const again = machineOn(reopened)
    again.restore(ahead.snapshot())
    expect(reopened.firstHeight).toBe(10)
    reopened.close()
  })

  it('should cut a zero-filled tail after the last whole record with a log line, and start', async () => {
    const { dir, blocks } = await writtenChain()
    const file = path.join(dir, 'blocks')
    const size = statSync(file).size
    // What a power cut leaves after a write that extended the file: the new size, but zeros for its data.
    appendFileSync(file, Buffer.alloc(4096))
    const warnings: string[] = []
    const store = new ChainStore(dir, { warn: (_obj, msg) => { warnings.push(msg) } })
    expect(store.height).toBe(blocks)
    expect(statSync(file).size).toBe(size)
    expect(warnings.join('\n')).toMatch(/zero/)
    store.close()
    // An odd number of zeros (not whole 8-byte headers) too.
    appendFileSync(file, Buffer.alloc(13))
    const again = new ChainStore(dir)
    expect(again.height).toBe(blocks)
    expect(statSync(file).size).toBe(size)
    again.close()
  })

  it('should refuse zeros followed by whole records: damage, not a tail', async () => {
    const { dir } = await writtenChain()
    const file = path.join(dir, 'blocks')
    const bytes = readFileSync(file)
    const second = 8 + bytes.readUInt32BE(0)
    const damaged = Buffer.concat([bytes.subarray(0, second), Buffer.alloc(4096), bytes.subarray(second)])
    writeFileSync(file, damaged)
    expect(() => new ChainStore(dir)).toThrow(expect.objectContaining({ name: 'ChainStoreCorruptError' }))
    expect(readFileSync(file)).toEqual(damaged)
  })

  it('should cut a record whose header survived and whose body is zeros, with zeros where the later records were', async () => {
    // A power cut after a write that extended the file (or on a pre-extended one): the size and the page with
    // the record's header reached the disk, its body and the records after it did not. The crc32 covers the
    // body only, so the header alone proves nothing; nothing valid after it makes it the torn tail.
    const { dir, blocks } = await writtenChain()
    const file = path.join(dir, 'blocks')
    const bytes = readFileSync(file)
    const offsets = recordOffsets(bytes)
    expect(offsets.length).toBe(blocks)
    const torn = offsets.length - 4
    for (const kept of [8, 8 + 5]) {
      // The header alone, then the header and the first bytes of the body (a page boundary inside the body).
      const cut = Buffer.alloc(bytes.length)
      bytes.copy(cut, 0, 0, offsets[torn]! + kept)
      writeFileSync(file, cut)
      const warnings: string[] = []
      const store = new ChainStore(dir, { warn: (_obj, msg) => { warnings.push(msg) } })
      expect(store.height).toBe(torn)
      expect(statSync(file).size).toBe(offsets[torn])
      expect(warnings.join('\n')).toMatch(/cutting/)
      for (let h = 1; h <= torn; h++) expect(store.read(h)).toEqual(new Uint8Array(bytes.subarray(offsets[h - 1]! + 8, offsets[h]!)))
      store.close()
    }
  })

  it('should refuse a record whose body is zeros when whole records follow it, however far', async () => {
    const { dir } = await writtenChain()
    const file = path.join(dir, 'blocks')
    const bytes = readFileSync(file)
    const offsets = recordOffsets(bytes)
    const zeroed = Buffer.from(bytes)
    zeroed.fill(0, offsets[3]! + 8, offsets[4])
    writeFileSync(file, zeroed)
    expect(() => new ChainStore(dir)).toThrow(expect.objectContaining({ name: 'ChainStoreCorruptError' }))
    expect(readFileSync(file)).toEqual(zeroed)
    // More zeros than one largest block (64 KiB) before the next whole record: still damage, not a tail.
    // More zeros than the start reads at a time (8 MiB); and one whole record only, straddling the end of the
    // first 8 MiB of offsets tried (the window read runs one largest record further).
    const window = 8 * 1024 * 1024
    const tried = offsets[3]! + 1
    for (const [zeros, rest] of [[200 * 1024, offsets[4]!], [9 * 1024 * 1024, offsets[4]!], [tried + window - 2 - (offsets[3]! + 8), offsets.at(-1)!]] as const) {
      const far = Buffer.concat([bytes.subarray(0, offsets[3]! + 8), Buffer.alloc(zeros), bytes.subarray(rest)])
      writeFileSync(file, far)
      expect(() => new ChainStore(dir), `${zeros} zeros`).toThrow(expect.objectContaining({ name: 'ChainStoreCorruptError' }))
      expect(readFileSync(file).equals(far)).toBe(true)
    }
  })
})
