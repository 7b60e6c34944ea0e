/**
 * The `--log-file` sink (src/log/file-sink.ts): a log rotation's reopen moves the writes to a new file at the
 * path, and a disk that fails for a while loses only the lines written meanwhile, said so in the file — the
 * WriteStream before it ended on its first failed write and lost every later line of the process.
 */
import { closeSync, openSync, promises as fs, writeSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createLogger } from '../../src/log/index.js'
import { LogFileSink } from '../../src/log/file-sink.js'
import type { LogFileIo } from '../../src/log/file-sink.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

async function logPath (): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir)
  return path.join(dir, 'node.log')
}

const records = async (file: string): Promise<Array<Record<string, unknown>>> =>
  (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)

/** Real file calls whose writes fail with `code` while `failing.on`; `partial` bytes of the first failing write land first. */
function failingIo (failing: { on: boolean, partial?: number }, code = 'ENOSPC'): LogFileIo {
  return {
    openSync,
    closeSync,
    writeSync (fd, data, offset, length) {
      if (!failing.on) return writeSync(fd, data, offset, length)
      const partial = failing.partial ?? 0
      failing.partial = 0
      if (partial > 0) return writeSync(fd, data, offset, Math.min(partial, length))
      throw Object.assign(new Error(`${code}: no space left on device, write`), { code })
    }
  }
}

describe('LogFileSink', () => {
  it('should write to a new file at the path after a reopen, and leave the renamed file whole', async () => {
    const file = await logPath()
    const sink = new LogFileSink(file)
    const log = createLogger('info', sink)
    log.info('before rotation')
    await fs.rename(file, `${file}.1`)
    log.info('after rename, before reopen')
    sink.reopen()
    log.info('after reopen')

    const rotated = await records(`${file}.1`)
    expect(rotated.map((r) => r.msg)).toEqual(['before rotation', 'after rename, before reopen'])
    const current = await records(file)
    expect(current.map((r) => r.msg)).toEqual(['log file reopened', 'after reopen'])
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600)
  })

  it('should keep writing to the open file when the path cannot be opened again, and say why in it', async () => {
    const file = await logPath()
    const sink = new LogFileSink(file)
    const log = createLogger('info', sink)
    await fs.rename(file, `${file}.1`)
    await fs.mkdir(file) // the path is now a directory: the reopen fails
    sink.reopen()
    log.info('still logged')
    const kept = await records(`${file}.1`)
    expect(kept[0]).toMatchObject({ msg: 'log file not reopened: writing on to the file already open', file })
    expect(kept[1]).toMatchObject({ msg: 'still logged' })
  })

  it('should keep logging once a full disk has room again, and say how many lines were lost', async () => {
    const file = await logPath()
    const failing = { on: false, partial: 0 }
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const sink = new LogFileSink(file, 'json', failingIo(failing))
    const log = createLogger('info', sink)
    log.info('before the disk filled')
    failing.on = true
    failing.partial = 10 // the first failing write leaves part of its line
    for (let i = 0; i < 3; i++) log.info(`lost ${i}`)
    failing.on = false
    log.info('after the disk had room')
    log.info('and on')

    expect(sink.writable).toBe(true)
    const lines = (await fs.readFile(file, 'utf8')).split('\n')
    // The torn line stands alone; every other line is whole JSON.
    expect(lines.filter((l) => l !== '' && !l.endsWith('}'))).toHaveLength(1)
    const whole = lines.filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(whole.map((r) => r.msg)).toEqual(['before the disk filled', 'log lines lost while the log file could not be written', 'after the disk had room', 'and on'])
    expect(whole[1]).toMatchObject({ lines: 3, err: 'ENOSPC', level: 40 })
    expect(sink.droppedLines).toBe(0)
    // One word on stderr for the whole run of failures.
    expect(stderr.mock.calls.filter(([text]) => String(text).includes('cannot write the log file'))).toHaveLength(1)
  })

  it('should write its own lines in the pretty format when the file is pretty', async () => {
    const file = await logPath()
    const sink = new LogFileSink(file, 'pretty')
    const log = createLogger('info', sink, 'pretty')
    log.info('hello')
    sink.reopen()
    const text = await fs.readFile(file, 'utf8')
    expect(text).toMatch(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}node {7}hello\n\d\d:\d\d:\d\d\.\d{3} INFO {2}log {8}log file reopened file=\S+\n$/)
  })
})
