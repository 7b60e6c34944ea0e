/**
 * A one-shot command whose reader went away (`revoada shape | head -1`) ends quietly with exit 0, as a Unix tool
 * does, instead of an unhandled EPIPE's stack and exit 1 (src/cli/main.ts).
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { cleanEnv, REPO } from './helpers.js'

/** The bin users run: the unbundled build's slower start happens to hide the failure. */
const BIN = path.join(REPO, 'dist/bundle/main.js')

/** Runs the CLI with `args`, its stdout's read end closed before it writes; resolves with its exit code and stderr. */
async function runWithClosedStdout (args: string[]): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.destroy()
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => { resolve(c) }))
  return { code, stderr }
}

describe('revoada with its output piped to a reader that left', () => {
  it('should exit 0 without a stack trace', async () => {
    for (const args of [['--help'], ['shape', '--help']]) {
      const { code, stderr } = await runWithClosedStdout(args)
      expect({ args, code, stderr }).toEqual({ args, code: 0, stderr: '' })
    }
  }, 60_000)
})
