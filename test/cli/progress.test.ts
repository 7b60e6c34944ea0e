/**
 * The CLI's progress bar (src/cli/progress.ts) with a fake terminal: on a TTY it draws bytes done and total,
 * a rate and an ETA, redraws in place, fits the terminal's width; anything that is not a TTY gets nothing.
 * The real CLI under a pseudo-terminal: test/content/progress-tty.test.ts.
 */
import { describe, expect, it } from 'vitest'
import { createProgress, progressLine } from '../../src/cli/progress.js'

const MiB = 1024 * 1024

function fakeStream (isTTY: boolean, columns?: number): { writes: string[], stream: { isTTY: boolean, columns?: number, write: (s: string) => boolean } } {
  const writes: string[] = []
  return { writes, stream: { isTTY, ...(columns !== undefined ? { columns } : {}), write: (s: string) => { writes.push(s); return true } } }
}

describe('cli progress bar', () => {
  it('should draw bytes done of total, the rate and the ETA on a TTY, redrawing the same line', () => {
    const { writes, stream } = fakeStream(true, 120)
    let now = 1_000
    const bar = createProgress('get bafyr4i…', stream, () => now)
    bar.update(0, 4 * MiB)
    now += 2000
    bar.update(1 * MiB)
    const line = writes.at(-1) as string
    expect(line.startsWith('\r\x1b[2K')).toBe(true) // back to the line start, cleared: drawn in place
    expect(line).toContain('get bafyr4i…')
    expect(line).toContain('25%')
    expect(line).toContain('1.0 MiB / 4.0 MiB')
    expect(line).toContain('512.0 KiB/s') // 1 MiB in 2 s
    expect(line).toContain('ETA 6s') // 3 MiB left at 512 KiB/s
    expect(line).not.toContain('\n')
    // Redraws are throttled: an update 50 ms later draws nothing new.
    const drawn = writes.length
    now += 50
    bar.update(2 * MiB)
    expect(writes.length).toBe(drawn)
    now += 2000
    bar.finish()
    expect(writes.at(-2)).toContain('2.0 MiB / 4.0 MiB')
    expect(writes.at(-1)).toBe('\n')
  })

  it('should cut the line to the terminal width so a redraw never wraps', () => {
    const { writes, stream } = fakeStream(true, 40)
    let now = 0
    const bar = createProgress('add a-file-with-a-rather-long-name.tar', stream, () => now)
    bar.update(0, 100 * MiB)
    now += 1000
    bar.finish()
    expect(writes.length).toBeGreaterThan(1)
    for (const w of writes.filter((w) => w !== '\n')) expect(w.replace('\r\x1b[2K', '').length).toBeLessThanOrEqual(39)
  })

  it('should show bytes and rate without a total or an ETA when the size is unknown (stdin)', () => {
    const line = progressLine('add stdin', 3 * MiB, 0, 1000)
    expect(line).toContain('3.0 MiB')
    expect(line).toContain('3.0 MiB/s')
    expect(line).not.toMatch(/ETA|%/)
  })

  it('should write nothing to a stream that is not a TTY (a pipe or a file)', () => {
    const noTtyFlag = fakeStream(true)
    delete (noTtyFlag.stream as { isTTY?: boolean }).isTTY
    for (const { writes, stream } of [fakeStream(false, 120), noTtyFlag]) {
      const bar = createProgress('get x', stream)
      bar.update(1 * MiB, 4 * MiB)
      bar.finish()
      expect(writes).toEqual([])
    }
  })
})
