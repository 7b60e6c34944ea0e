/**
 * The progress bar of `revoada content add` and `revoada content get` (src/cli/progress.ts), end to end: the
 * real CLI against a running node, once under a pseudo-terminal (util-linux `script`, which .ci/run installs
 * when missing), where the bar must be drawn, and once piped, where stderr must stay empty and stdout hold
 * only the answer. The renderer itself: test/cli/progress.test.ts. Uses dist/ (npm test builds first).
 */
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { spawn, execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { promises as fs } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { MAIN, Procs, cleanEnv } from './procs.js'

const run = promisify(execFile)
const procs = new Procs()
afterAll(async () => { await procs.close() })

/** Runs the CLI with stdin, stdout and stderr on a pseudo-terminal; everything it drew there. */
async function underTerminal (args: string[]): Promise<string> {
  const command = [process.execPath, MAIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ')
  return await new Promise((resolve, reject) => {
    const child = spawn('script', ['-qefc', command, '/dev/null'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code === 0) resolve(out)
      else reject(new Error(`script … ${args.join(' ')} exited ${String(code)}: ${out}`))
    })
  })
}

/** The bar's final drawing: label, a full bar, 100 %, bytes of bytes, a rate and an ETA. */
const fullBar = (label: string): RegExp => new RegExp(`\\r\\x1b\\[2K${label} \\[#{24}\\] 100% 3\\.0 MiB / 3\\.0 MiB  [\\d.]+ (B|KiB|MiB|GiB)/s  ETA \\d+s`)

describe('content progress bar', () => {
  it('should draw bytes, rate and ETA on a terminal for add and get, and nothing when piped', async () => {
    const root = await procs.init('revoada-content-tty-')
    const dir = path.join(root, 'a')
    await procs.start(dir)
    const input = path.join(root, 'input.bin')
    const bytes = randomBytes(3 * 1024 * 1024)
    await fs.writeFile(input, bytes)

    // Piped: only the CID on stdout, not a byte of bar on stderr.
    const piped = await run(process.execPath, [MAIN, 'content', 'add', input, '--data-dir', dir], { env: cleanEnv() })
    const cid = piped.stdout.trim()
    expect(cid).toMatch(/^bafyr4i\S+$/)
    expect(piped.stderr).toBe('')

    const added = await underTerminal(['content', 'add', input, '--data-dir', dir])
    expect(added).toMatch(fullBar('add input\\.bin'))
    expect(added).toContain(cid)

    const viaTerminal = path.join(root, 'tty.bin')
    const got = await underTerminal(['content', 'get', cid, '-o', viaTerminal, '--data-dir', dir])
    expect(got).toMatch(fullBar(`get ${cid.slice(0, 16)}…`))
    expect((await fs.readFile(viaTerminal)).equals(bytes)).toBe(true)

    const viaPipe = path.join(root, 'piped.bin')
    const pipedGet = await run(process.execPath, [MAIN, 'content', 'get', cid, '-o', viaPipe, '--data-dir', dir], { env: cleanEnv() })
    expect(pipedGet.stdout).toBe('')
    expect(pipedGet.stderr).toBe('')
    expect((await fs.readFile(viaPipe)).equals(bytes)).toBe(true)
  }, 300_000)

  it('should draw one bar for all the bytes of a directory, whose files are added several at once', async () => {
    const root = await procs.init('revoada-content-tty-dir-')
    const dir = path.join(root, 'a')
    await procs.start(dir)
    const tree = path.join(root, 'tree')
    for (const sub of ['x', 'y']) {
      await fs.mkdir(path.join(tree, sub), { recursive: true })
      for (let i = 0; i < 6; i++) await fs.writeFile(path.join(tree, sub, `f${i}`), randomBytes(256 * 1024))
    }
    const added = await underTerminal(['content', 'add', tree, '--data-dir', dir])
    // Concurrent adds redraw the one line in place: no line per file, and it ends full, with a newline.
    expect(added).toMatch(fullBar('add tree'))
    expect(added).toMatch(/ETA \d+s\r?\nbafyr4i\S+\r?\n$/)
    expect(added).not.toMatch(/add f\d/)
    expect(added.split('\n').length).toBe(3)
  }, 300_000)
})
