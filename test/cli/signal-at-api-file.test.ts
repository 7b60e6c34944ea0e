/**
 * Goal: a node stops gracefully on a SIGTERM sent the moment its `api.json` appears (exit 0, `api.json`
 * removed), as `revoada start` and as a testbed node. The API answers and the file is written inside the start,
 * before the process had its signal handlers: a script that waits for the file and then stops the node ended
 * it by the signal's default action, without its graceful stop, leaving a stale `api.json`. Method: the built
 * CLI (dist/) on a temp data dir, a directory watch that sends SIGTERM as soon as the file's name exists.
 */
import { spawn } from 'node:child_process'
import { existsSync, promises as fs, watch } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { cleanEnv, MAIN, REPO } from './helpers.js'
import { tempDir } from '../node/helpers.js'

const TESTBED_NODE = path.join(REPO, 'dist/src/testbed/node-main.js')

/** Runs `args` (a node on `dir`), sends SIGTERM as soon as `dir/api.json` exists; its exit and what it left. */
async function termAtApiFile (args: string[], dir: string): Promise<{ code: number | null, signal: string | null, apiFileLeft: boolean, stderr: string }> {
  await fs.mkdir(dir, { recursive: true })
  const apiFile = path.join(dir, 'api.json')
  const child = spawn(process.execPath, args, { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<[number | null, string | null]>((resolve) => child.once('exit', (code, signal) => { resolve([code, signal]) }))
  const watcher = watch(dir, (_event, name) => {
    if (name !== 'api.json' || !existsSync(apiFile)) return
    watcher.close()
    child.kill('SIGTERM')
  })
  const [code, signal] = await exited
  watcher.close()
  return { code, signal, apiFileLeft: existsSync(apiFile), stderr }
}

describe('a SIGTERM at the moment api.json appears', () => {
  it('should stop `revoada start` gracefully: exit 0, api.json removed', async () => {
    const dir = path.join(await tempDir(), 'node')
    const result = await termAtApiFile([MAIN, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], dir)
    expect(result).toMatchObject({ code: 0, signal: null, apiFileLeft: false })
  }, 60_000)

  it('should stop a testbed node gracefully: exit 0, api.json removed', async () => {
    const dir = path.join(await tempDir(), 'node')
    const result = await termAtApiFile([TESTBED_NODE, dir, '127.0.0.1'], dir)
    expect(result).toMatchObject({ code: 0, signal: null, apiFileLeft: false })
  }, 60_000)
})
