/**
 * `readTailLines` (src/util/tail-lines.ts) against a naive reference: for any text, any chunk size and any limits it
 * returns the same last lines as splitting the whole text, skips a line longer than its bound without holding it,
 * and reads no more than its byte bound. The reference reads the whole file; the reader must not.
 */
import { writeFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import fc from 'fast-check'
import { afterEach, describe, expect, it } from 'vitest'
import { NODE_TAIL_IO, readTailLines } from '../../src/util/tail-lines.js'
import type { TailIo } from '../../src/util/tail-lines.js'
import { tempDir } from '../node/helpers.js'

/** What the reader should return, from the whole text. */
function reference (text: string, linesMax: number, lineBytesMax: number): { lines: string[], longLines: number } {
  const all = text.split('\n')
  const kept: string[] = []
  let longLines = 0
  for (let i = all.length - 1; i >= 0 && kept.length < linesMax; i--) {
    const line = all[i] as string
    if (Buffer.byteLength(line) > lineBytesMax) longLines++
    else if (line.trim() !== '') kept.push(line)
  }
  return { lines: kept.reverse(), longLines }
}

describe('readTailLines', () => {
  let dir = ''
  afterEach(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

  it('should return the last lines a whole read would, whatever the chunk size, skipping lines over their bound', async () => {
    dir = await tempDir()
    const file = path.join(dir, 'lines.txt')
    const line = fc.oneof(fc.constant(''), fc.constant(' '), fc.string({ maxLength: 12 }).map((s) => s.replace(/\n/g, '')), fc.constant('é'.repeat(9)))
    fc.assert(fc.property(fc.array(line, { maxLength: 30 }), fc.boolean(), fc.integer({ min: 1, max: 17 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 20 }),
      (lines, newlineAtEnd, chunkBytes, linesMax, lineBytesMax) => {
        const text = lines.join('\n') + (newlineAtEnd ? '\n' : '')
        writeFileSync(file, text)
        const tail = readTailLines(file, { linesMax, lineBytesMax, bytesMax: 1 << 20, chunkBytes })
        const expected = reference(text, linesMax, lineBytesMax)
        expect(tail.lines).toEqual(expected.lines)
        // Lines over the bound are counted as far as the read went: all of them when it reached the start.
        if (tail.complete) expect(tail.longLines).toBe(expected.longLines)
        if (tail.lines.length < linesMax) expect(tail.complete).toBe(true)
      }), { numRuns: 500 })
  })

  it('should read at most bytesMax, in chunks, and hold no line over lineBytesMax', async () => {
    dir = await tempDir()
    const file = path.join(dir, 'lines.txt')
    // One 1 MB line, then three short ones.
    writeFileSync(file, 'x'.repeat(1_000_000) + '\na\nb\nc\n')
    const reads: number[] = []
    const io: TailIo = { ...NODE_TAIL_IO, readSync: (fd, buffer, offset, length, position) => { reads.push(length); return NODE_TAIL_IO.readSync(fd, buffer, offset, length, position) } }
    const bounded = readTailLines(file, { linesMax: 10, lineBytesMax: 100, bytesMax: 10_000, chunkBytes: 1_000 }, io)
    expect(bounded).toEqual({ lines: ['a', 'b', 'c'], longLines: 0, complete: false, bytesRead: 10_000 })
    expect(reads.reduce((a, b) => a + b, 0)).toBe(10_000)
    expect(Math.max(...reads)).toBe(1_000)
    // Allowed to read it all, the long line is skipped and counted.
    expect(readTailLines(file, { linesMax: 10, lineBytesMax: 100, bytesMax: 2_000_000, chunkBytes: 1_000 })).toMatchObject({ lines: ['a', 'b', 'c'], longLines: 1, complete: true })
  })
})
