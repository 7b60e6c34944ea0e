/**
 * BlockFiles must be opened before anything reads its blocks: before `open()` the blocks on disk are not
 * scanned, so a held block read as absent and usage as 0 — a put could pass the quota, a gc round saw nothing.
 * Each such call now fails with an AssertionError naming it (a programmer error), and so does a second open.
 * Method: a real store directory holding one block from an earlier open.
 */
import { describe, expect, it } from 'vitest'
import path from 'node:path'
import { BlockFiles, digestHex } from '../../src/content/block-files.js'
import { cidOfBytes } from '../../src/codec/index.js'
import { silentLogger } from '../../src/log/index.js'
import { tempDir } from '../node/helpers.js'

const bytes = new TextEncoder().encode('a block')
const cid = cidOfBytes(bytes)
const hex = digestHex(cid.multihash.digest)

function filesIn (dir: string): BlockFiles {
  return new BlockFiles({ dir: path.join(dir, 'content'), quotaBytes: 1 << 20, log: silentLogger(), onForget: () => {} })
}

describe('BlockFiles before open()', () => {
  it('should fail every call that reads the blocks with an AssertionError naming it, and work once opened', async () => {
    const dir = await tempDir()
    const earlier = filesIn(dir)
    earlier.open()
    await earlier.put(cid, bytes)

    const files = filesIn(dir)
    const named = (call: string): RegExp => new RegExp(`${call} before open\\(\\)`)
    for (const [call, run] of [
      ['has', () => files.has(hex)],
      ['bytes', () => files.bytes(hex)],
      ['keys', () => files.keys()],
      ['usedBytes', () => files.usedBytes]
    ] as const) {
      expect(run, call).toThrow(expect.objectContaining({ name: 'AssertionError', message: expect.stringMatching(named(call)) }))
    }
    await expect(files.put(cid, bytes)).rejects.toMatchObject({ name: 'AssertionError', message: expect.stringMatching(named('put')) })
    await expect(files.read(cid)).rejects.toMatchObject({ name: 'AssertionError', message: expect.stringMatching(named('read')) })
    await expect(files.delete(hex)).rejects.toMatchObject({ name: 'AssertionError', message: expect.stringMatching(named('delete')) })

    files.open()
    expect(files.has(hex)).toBe(true)
    expect(files.usedBytes).toBe(bytes.length)
    expect(Buffer.from((await files.read(cid))!).equals(Buffer.from(bytes))).toBe(true)
    expect(() => { files.open() }).toThrow(expect.objectContaining({ name: 'AssertionError', message: expect.stringMatching(/opened twice/) }))
  })
})
