/**
 * Issue 16: the benchmarks are not timed tests, but CI checks that they run. Each bench runs here at its
 * shortest (a 3-node scale run, one short consensus phase beside etcd) and must exit 0 and print its tables;
 * no figure is asserted beyond what a working bench must show (a cluster that converged, both systems
 * measured).
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/** Runs a built bench to its end; its stdout and exit code. */
async function runBench (name: string, env: Record<string, string>): Promise<{ code: number | null, out: string }> {
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/bench', `${name}.js`)], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let out = ''
  let err = ''
  child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString() })
  child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0) console.error(`${name} exited ${String(code)}:\n${out.slice(-4000)}\n${err.slice(-4000)}`)
  return { code, out }
}

/** The cells of the table row whose first cell is `first`, under the header row that names `column`. */
function cell (out: string, column: string, first: string): string | undefined {
  const rows = out.split('\n').filter((l) => l.startsWith('|')).map((l) => l.split('|').slice(1, -1).map((c) => c.trim()))
  const header = rows.findIndex((r) => r.includes(column))
  if (header < 0) return undefined
  const row = rows.slice(header + 1).find((r) => r[0] === first)
  return row?.[rows[header]!.indexOf(column)]
}

describe('benchmarks run (short)', () => {
  it('should run bench:scale with 3 nodes: converged, every process counted at idle', async () => {
    const { code, out } = await runBench('scale', { SCALE_NODES: '3', SCALE_IDLE_S: '2', SCALE_DEADLINE_S: '90' })
    expect(code).toBe(0)
    expect(cell(out, 'spawn → converged ms', '3')).toMatch(/^[\d,]+$/)
    expect(cell(out, 'processes running at idle', '3')).toBe('3')
  }, 180_000)

  it('should run bench:consensus with one short phase for revoada and etcd', async () => {
    const { code, out } = await runBench('consensus', { DURATION_MS: '800', WARMUP_MS: '300', PHASE_WARMUP_MS: '300', CONCURRENCY: '2', FAILOVER_TRIALS: '1' })
    expect(code).toBe(0)
    expect(Number(cell(out, 'commits/s', 'revoada')?.replace(/,/g, ''))).toBeGreaterThan(0)
    expect(Number(cell(out, 'commits/s', 'etcd 3.4')?.replace(/,/g, ''))).toBeGreaterThan(0)
    expect(cell(out, 'commits/s revoada ÷ etcd', '2')).toMatch(/^\d+\.\d+$/)
  }, 180_000)
})
