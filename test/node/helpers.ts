/**
 * Shared helpers for node-level tests: temp data dirs, fast test config, condition polling with a deadline,
 * and a logger that captures JSON lines.
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import { loadConfig } from '../../src/config/index.js'
import type { Config, ConfigInput } from '../../src/config/index.js'
import { createLogger } from '../../src/log/index.js'
import type { Logger } from '../../src/log/index.js'
import { apiGet } from '../../src/api/index.js'

/** Every dir `tempDir` made in this test file (vitest runs each file in its own module registry). */
const madeDirs: string[] = []

export async function tempDir (label = 'revoada-test-'): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), label))
  madeDirs.push(dir)
  return dir
}

/**
 * A tmpfs of `size` (mount's syntax: '256k', '2m') on a new temp dir, for a test to fill: pushed on `mounts`, which
 * the caller unmounts after the test. Skips the test where mounting needs root (CI runs as root).
 */
export async function smallTmpfs (ctx: { skip: () => void }, size: string, mounts: string[], label = 'revoada-tmpfs-'): Promise<string> {
  const mount = await tempDir(label)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', mount], { stdio: 'ignore' })
  } catch {
    ctx.skip()
  }
  mounts.push(mount)
  return mount
}

/**
 * Removes every dir `tempDir` made in this file (test/setup/temp-dirs.ts runs it after the file's own hooks, so
 * a test that stops its nodes in afterEach or afterAll need not remove their data dirs itself). Best effort: a
 * dir that cannot be removed is left, and says nothing.
 */
export async function removeMadeDirs (): Promise<void> {
  await Promise.all(madeDirs.splice(0).map(async (dir) => {
    await fs.rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => {})
  }))
}

/** Config for an in-process test node: loopback, free ports, fast redial and dial timeout. */
export function testConfig (dataDir: string, extra: ConfigInput = {}): Config {
  return loadConfig({
    flags: {
      dataDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      logLevel: 'silent',
      ...extra,
      net: { redialIntervalMs: 100, redialBackoffMinMs: 100, redialBackoffMaxMs: 1000, dialTimeoutMs: 2000, ...extra.net }
    }
  })
}

/** Polls `cond` until true or the deadline passes (no sleeps as synchronisation). */
export async function waitFor (cond: () => boolean | Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A logger at `level` whose JSON lines are collected in `lines`. */
export function capturingLogger (level: 'debug' | 'info' | 'warn' = 'warn'): { log: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      cb()
    }
  })
  return { log: createLogger(level, sink), lines }
}

/** tsc's build of the CLI (`npm test` builds first), for nodes run as child processes. */
const CLI_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli/main.js')

/**
 * A node in a child process (`revoada start` on `dataDir` with `args`: a cluster of its own unless they join
 * one), once its API answers: its join
 * string and node id. A test can freeze it with SIGSTOP (its sockets stay open: only a ping notices).
 */
export async function spawnNodeProcess (dataDir: string, args: readonly string[] = []): Promise<{ child: ChildProcess, joinString: string, nodeId: string }> {
  if (!existsSync(CLI_MAIN)) throw new Error(`${CLI_MAIN} missing: run \`npx tsc -p .\` (npm test builds first)`)
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REVOADA_')))
  const child = spawn(process.execPath, [CLI_MAIN, 'start', '--data-dir', dataDir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'silent', ...args],
    { env, stdio: 'ignore' })
  try {
    await waitFor(() => existsSync(path.join(dataDir, 'api.json')), 20_000, 'child api.json')
    const { joinString } = await apiGet(dataDir, '/v1/join-string') as { joinString: string }
    const { nodeId } = await apiGet(dataDir, '/v1/status') as { nodeId: string }
    return { child, joinString, nodeId }
  } catch (err) {
    await killNodeProcess(child)
    throw err
  }
}

/** Kills a child node process, frozen or not, and waits until it exited; nothing if it already had. */
export async function killNodeProcess (child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGCONT')
  child.kill('SIGKILL')
  await exited
}
