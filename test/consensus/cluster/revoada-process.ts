/**
 * Real `revoada` processes for tests: the built CLI (`npm test` builds first), run without the caller's
 * REVOADA_* environment, started on a temp data dir and port 0, and killed hard afterwards.
 */
import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { waitFor } from '../../node/helpers.js'

const run = promisify(execFile)
export const REVOADA_MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/src/cli/main.js')

/** This process's environment without REVOADA_* variables, so a developer's settings never leak in. */
export const revoadaEnv = (): NodeJS.ProcessEnv => Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REVOADA_')))

/** Runs `revoada <args>` and returns its stdout. */
export async function revoadaCli (args: string[], timeoutMs: number): Promise<string> {
  const { stdout } = await run(process.execPath, [REVOADA_MAIN, ...args], { env: revoadaEnv(), timeout: timeoutMs })
  return stdout
}

/**
 * Starts `revoada start` on `dir` (with `config`, joining through `join` when given, listening on `listen` or
 * else a free port of 127.0.0.1), adds it to `children`
 * and waits until `answering(dir)` holds; a process that exits first fails with the tail of its stderr.
 */
export async function startRevoada (opts: { dir: string, config: string, join?: string, listen?: string, children: ChildProcess[], answering: (dir: string) => Promise<boolean>, deadlineMs: number }): Promise<ChildProcess> {
  const { dir, join } = opts
  await fs.mkdir(dir, { recursive: true })
  const child = spawn(process.execPath, [REVOADA_MAIN, 'start', '--data-dir', dir, '--listen', opts.listen ?? '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn',
    '--config', opts.config, ...(join !== undefined ? ['--join', join] : [])], { env: revoadaEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000) })
  opts.children.push(child)
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`revoada start exited ${child.exitCode}: ${stderr}`)
    return await opts.answering(dir)
  }, opts.deadlineMs, `${dir} answering`)
  return child
}

/** SIGKILL (after SIGCONT, in case the test stopped it) and wait for the exit. */
export async function killHard (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGCONT')
  child.kill('SIGKILL')
  await exited
}
