/**
 * Idle resident memory of one `revoada start` process (issue 11 item 10): starts a fresh single-node cluster
 * with and without `--max-semi-space-size=1`, waits IDLE_S seconds after it answers, and prints VmRSS from
 * /proc (Linux). `npm run bench:rss`.
 */
import { spawn } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js')
const IDLE_S = Number(process.env.IDLE_S ?? 40)

async function rssMb (pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024
}

async function measure (nodeFlags: string[]): Promise<number> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-rss-'))
  const child = spawn(process.execPath, [...nodeFlags, MAIN, 'start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'warn'], { stdio: 'ignore' })
  try {
    const deadline = Date.now() + 120_000
    while (!existsSync(path.join(dir, 'api.json'))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('node did not start')
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    await new Promise((resolve) => setTimeout(resolve, IDLE_S * 1000))
    return await rssMb(child.pid as number)
  } finally {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
    await fs.rm(dir, { recursive: true, force: true })
  }
}

for (const flags of [[], ['--max-semi-space-size=1']]) {
  const mb = await measure(flags)
  process.stdout.write(`idle RSS after ${IDLE_S} s, node ${flags.join(' ') || '(no flags)'}: ${mb.toFixed(1)} MB\n`)
}
