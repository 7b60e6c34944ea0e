/**
 * Running the built CLI (`dist/src/cli/main.js`, built by `npm test`) as child processes: one-shot commands
 * with their exit code and output, and long-running `start` children cleaned up after each test.
 */
import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import type { Server } from 'node:http'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach } from 'vitest'
import { tempDir, waitFor } from '../node/helpers.js'

export const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli/main.js')
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Environment without REVOADA_* so the developer's shell cannot change the test. */
export function cleanEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REVOADA_')))
}

export interface CliResult { code: number, stdout: string, stderr: string }

/**
 * A test file's stand-in API servers and temp dirs: push servers to `servers`, make dirs with `newDir`; after each
 * test the servers are closed (their connections first) and the dirs removed. Call once, at the file's top.
 */
export function scratchSpace (label?: string): { servers: Server[], newDir: () => Promise<string> } {
  const servers: Server[] = []
  const dirs: string[] = []
  afterEach(async () => {
    for (const s of servers.splice(0)) {
      s.closeAllConnections()
      await new Promise((resolve) => s.close(resolve))
    }
    await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
  })
  return { servers, newDir: async () => { const dir = await tempDir(label); dirs.push(dir); return dir } }
}

/** Runs one CLI command to completion; never throws on a non-zero exit. */
export async function cliRun (args: string[], timeoutMs = 180_000): Promise<CliResult> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npm run build\` (npm test builds first)`)
  return await new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env: cleanEnv(), timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

export interface StartedChild {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<number | null>
}

/** Spawns `revoada start` (loopback, free port) without waiting for anything. */
export function spawnStart (dataDir: string, extra: string[] = []): StartedChild {
  const child = spawn(process.execPath, [MAIN, 'start', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0',
    '--log-level', 'warn', ...extra], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code) }))
  return { child, stdout: () => out, stderr: () => err, exited }
}

/** Spawns `revoada start` and waits with `revoada wait-ready` until it is a Raft member with a known leader. */
export async function startReady (dataDir: string, extra: string[] = []): Promise<StartedChild> {
  const started = spawnStart(dataDir, extra)
  const ready = await cliRun(['wait-ready', '--data-dir', dataDir, '--timeout', '90'], 120_000)
  if (ready.code !== 0) throw new Error(`node in ${dataDir} not ready: ${ready.stderr}\n--- its stderr:\n${started.stderr()}`)
  return started
}

export async function stopChild (c: StartedChild): Promise<void> {
  if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL')
  await c.exited
}

export { waitFor }
