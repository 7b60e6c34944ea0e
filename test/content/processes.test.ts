/**
 * Content sync between real `revoada start` processes (issue 13): a file added on one node is fetched by
 * three others (by adding the same bytes: same CID); one of them (L) serves corrupt chunks (TEST_ONLY_CONTENT_CORRUPT_SERVED_CHUNKS with
 * NODE_ENV=test). A fifth node fetches from all four providers at once: it must write exactly the original
 * bytes, score L down for its bad chunks, and announce the blob again so others can fetch from it.
 * Drives everything through the CLI (`content add/get/ls/providers`). Uses dist/ (npm test builds first).
 */
import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir, waitFor } from '../node/helpers.js'

const run = promisify(execFile)
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli/main.js')
const children: ChildProcess[] = []
let root = ''

const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REVOADA_') && !k.startsWith('TEST_ONLY_')))

async function cli (...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [MAIN, ...args], { env: cleanEnv(), timeout: 120_000, maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

interface Status { nodeId: string, voters: string[], learners: string[], content: { scores: Array<{ peer: string, badChunks: number, score: number }>, server: { blocksServed: number } } }
/** Status straight from the admin API (a CLI process per poll costs seconds on a loaded machine). */
async function status (dir: string): Promise<Status> {
  const api = JSON.parse(await fs.readFile(path.join(dir, 'api.json'), 'utf8')) as { url: string, token: string }
  const res = await fetch(new URL('/v1/status', api.url), { headers: { authorization: `Bearer ${api.token}` }, signal: AbortSignal.timeout(10_000) })
  if (!res.ok) throw new Error(`status ${res.status}`)
  return await res.json() as Status
}
const statusOrNull = async (dir: string): Promise<Status | null> => { try { return await status(dir) } catch { return null } }

async function start (dir: string, join?: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  await fs.mkdir(dir, { recursive: true })
  const child = spawn(process.execPath, [MAIN, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn',
    '--config', path.join(root, 'config.json'), ...(join !== undefined ? ['--join', join] : [])], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8000) })
  children.push(child)
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`revoada start exited ${child.exitCode}: ${stderr}`)
    return (await statusOrNull(dir)) !== null
  }, 120_000, `${dir} answering`)
}

afterAll(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

describe('content between processes', () => {
  it('should fetch from four providers at once, one lying, and write exactly the added bytes', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npx tsc -p .\` (npm test builds first)`)
    root = await tempDir('revoada-content-procs-')
    await fs.writeFile(path.join(root, 'config.json'), JSON.stringify({ policy: { enabled: false } }))
    const [a, b, c, liar, f] = ['a', 'b', 'c', 'liar', 'f'].map((n) => path.join(root, n)) as [string, string, string, string, string]
    await start(a)
    const join = (await cli('join-string', '--data-dir', a)).trim()
    await Promise.all([start(b, join), start(c, join), start(liar, join, { TEST_ONLY_CONTENT_CORRUPT_SERVED_CHUNKS: '1', NODE_ENV: 'test' }), start(f, join)])
    const all = [a, b, c, liar, f]
    await waitFor(async () => (await Promise.all(all.map(statusOrNull))).every((s) => s !== null && s.voters.length + s.learners.length === 5), 180_000, 'every node knows all five members')

    const original = randomBytes(24 * 1024 * 1024 + 333)
    const input = path.join(root, 'input.bin')
    await fs.writeFile(input, original)
    const cid = (await cli('content', 'add', input, '--data-dir', a)).trim()
    expect(cid).toMatch(/^bafyr4i/)

    // Three more providers: the same bytes added anywhere have the same CID. L will serve corrupt chunks.
    for (const dir of [b, c, liar]) expect((await cli('content', 'add', input, '--data-dir', dir)).trim()).toBe(cid)
    const ids = await Promise.all(all.map(async (d) => (await status(d)).nodeId))
    const liarId = ids[3] as string
    await waitFor(async () => {
      const providers = JSON.parse(await cli('content', 'providers', cid, '--json', '--data-dir', f)) as { providers: Array<{ peer: string, partial: boolean }> }
      return providers.providers.filter((p) => !p.partial).length >= 4
    }, 180_000, 'f knows four complete providers')

    const output = path.join(f, 'out.bin')
    await cli('content', 'get', cid, '-o', output, '--data-dir', f)
    // Nothing but the added bytes reached the output file, though L sent corrupt chunks.
    expect((await fs.readFile(output)).equals(original)).toBe(true)
    const fStatus = await status(f)
    const liarScore = fStatus.content.scores.find((s) => s.peer === liarId)
    expect((await status(liar)).content.server.blocksServed).toBeGreaterThan(0)
    expect(liarScore?.badChunks).toBeGreaterThanOrEqual(1)
    expect(fStatus.content.scores.filter((s) => s.badChunks > 0).map((s) => s.peer)).toEqual([liarId])

    // The fetched blob is announced again: A now lists F as a complete provider.
    await waitFor(async () => {
      const providers = JSON.parse(await cli('content', 'providers', cid, '--json', '--data-dir', a)) as { providers: Array<{ peer: string, partial: boolean }> }
      return providers.providers.some((p) => p.peer === ids[4] && !p.partial)
    }, 180_000, 'a sees f as a provider')
    const ls = JSON.parse(await cli('content', 'ls', '--json', '--data-dir', f)) as { objects: Array<{ cid: string, complete: boolean }> }
    expect(ls.objects).toEqual([expect.objectContaining({ cid, complete: true })])
  }, 600_000)
})
