/**
 * Real `revoada start` processes for the content tests (uses dist/: `npm test` builds first): start a node,
 * run the CLI against it, read its status and call its admin API directly (a CLI process per poll costs
 * seconds on a loaded machine). `Procs.close()` kills every process it started and removes the root dir.
 */
import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { tempDir, waitFor } from '../node/helpers.js'

const run = promisify(execFile)
export const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli/main.js')

export const cleanEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REVOADA_') && !k.startsWith('TEST_ONLY_')))

export interface ServerCounters { blocksServed: number, openStreams: number, connectionStreams: number, rejectedBusy: number, delayedAnswers: number }
export interface Status {
  nodeId: string
  voters: string[]
  learners: string[]
  content: { scores: Array<{ peer: string, badChunks: number, score: number }>, server: ServerCounters }
}

export class Procs {
  readonly children: ChildProcess[] = []
  root = ''

  /** Creates the root dir and a shared config (policy off, plus `config`). */
  async init (label: string, config: Record<string, unknown> = {}): Promise<string> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npx tsc -p .\` (npm test builds first)`)
    this.root = await tempDir(label)
    await fs.writeFile(path.join(this.root, 'config.json'), JSON.stringify({ policy: { enabled: false }, ...config }))
    return this.root
  }

  async cli (...args: string[]): Promise<string> {
    const { stdout } = await run(process.execPath, [MAIN, ...args], { env: cleanEnv(), timeout: 300_000, maxBuffer: 64 * 1024 * 1024 })
    return stdout
  }

  async start (dir: string, join?: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
    await fs.mkdir(dir, { recursive: true })
    const child = spawn(process.execPath, [MAIN, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn',
      '--config', path.join(this.root, 'config.json'), ...(join !== undefined ? ['--join', join] : [])], { env: { ...cleanEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-8000) })
    this.children.push(child)
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`revoada start exited ${child.exitCode}: ${stderr}`)
      return (await statusOrNull(dir)) !== null
    }, 120_000, `${dir} answering`)
    return child
  }

  async close (): Promise<void> {
    for (const child of this.children.splice(0)) {
      if (child.exitCode !== null || child.signalCode !== null) continue
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
    }
    if (this.root !== '') await fs.rm(this.root, { recursive: true, force: true })
  }
}

/** A request to a node's admin API; the parsed JSON answer (throws on a non-2xx status). */
export async function api<T> (dir: string, method: 'GET' | 'POST', route: string, timeoutMs = 10_000): Promise<T> {
  const res = await apiRaw(dir, method, route, timeoutMs)
  const body = await res.text()
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${body}`)
  return JSON.parse(body) as T
}

export async function apiRaw (dir: string, method: 'GET' | 'POST', route: string, timeoutMs = 10_000): Promise<Response> {
  const info = JSON.parse(await fs.readFile(path.join(dir, 'api.json'), 'utf8')) as { url: string, token: string }
  return await fetch(new URL(route, info.url), {
    method,
    headers: { authorization: `Bearer ${info.token}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    ...(method === 'POST' ? { body: '{}' } : {}),
    signal: AbortSignal.timeout(timeoutMs)
  })
}

export async function status (dir: string): Promise<Status> {
  return await api<Status>(dir, 'GET', '/v1/status')
}

export const statusOrNull = async (dir: string): Promise<Status | null> => { try { return await status(dir) } catch { return null } }

export interface Progress {
  state: string
  chunksDone: number
  chunksTotal: number
  chunksByProvider: Record<string, number>
  droppedProviders: string[]
  error?: { name: string, message: string }
}

/** Starts a fetch of `cid` on `dir` and waits for it to end; the final progress (state 'done' or 'failed'). */
export async function fetchAndWait (dir: string, cid: string, timeoutMs: number): Promise<Progress> {
  await api(dir, 'POST', `/v1/content/${cid}/fetch`)
  const deadline = Date.now() + timeoutMs
  while (true) {
    const progress = await api<Progress>(dir, 'GET', `/v1/content/${cid}/progress`)
    if (progress.state === 'done' || progress.state === 'failed') return progress
    if (Date.now() > deadline) throw new Error(`fetch of ${cid} on ${dir} still ${progress.state} after ${timeoutMs} ms (${progress.chunksDone}/${progress.chunksTotal} chunks)`)
    await new Promise((resolve) => setTimeout(resolve, PROGRESS_POLL_MS))
  }
}

/** How often fetchAndWait reads a fetch's progress (each read is an HTTP request to a busy node). */
const PROGRESS_POLL_MS = 250
