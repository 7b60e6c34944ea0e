/**
 * README.md's walkthrough, run exactly as written (issue 11): every ```sh block preceded by
 * `<!-- walkthrough -->` is concatenated in order and run by bash with `set -e` from the repository root, so
 * a README step that stops working fails this test. Temp dirs land in a directory the test owns, and the whole
 * process group is killed afterwards whatever happens.
 */
import { spawn } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../node/helpers.js'
import { MAIN, REPO, cleanEnv } from './helpers.js'

const MARKER = '<!-- walkthrough -->'

/** The marked blocks' contents, in README order. */
export function walkthroughBlocks (markdown: string): string[] {
  const blocks: string[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== MARKER) continue
    if (lines[i + 1]?.trim() !== '```sh') throw new Error(`README line ${i + 2}: ${MARKER} must be followed by a \`\`\`sh block`)
    const end = lines.indexOf('```', i + 2)
    if (end < 0) throw new Error(`README line ${i + 2}: unterminated block`)
    blocks.push(lines.slice(i + 2, end).join('\n'))
    i = end
  }
  return blocks
}

let tmp = ''
let pgid: number | undefined
afterAll(async () => {
  if (pgid !== undefined) { try { process.kill(-pgid, 'SIGKILL') } catch { /* already gone */ } }
  if (tmp !== '') await fs.rm(tmp, { recursive: true, force: true })
})

describe('README walkthrough', () => {
  it('should run every marked block as written and show the mesh healing, a removal and a leave', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npm run build\``)
    const blocks = walkthroughBlocks(await fs.readFile(path.join(REPO, 'README.md'), 'utf8'))
    expect(blocks.length).toBeGreaterThanOrEqual(4)
    tmp = await tempDir('revoada-readme-')
    const script = ['set -e', ...blocks.map((b, i) => `echo "### block ${i + 1}"\n${b}`)].join('\n')
    const child = spawn('bash', ['-c', script], { cwd: REPO, env: { ...cleanEnv(), TMPDIR: tmp }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
    pgid = child.pid
    let out = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { out += d.toString() })
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    if (code !== 0) throw new Error(`walkthrough exited ${String(code)}:\n${out}`)
    expect(out).toContain(`### block ${blocks.length}`)
    expect(out).toMatch(/target apiServers=3 etcd=3 .*: applied at index \d+/)
    expect(out).toMatch(/^NODE\s+ROLES\s+RAFT\s+HEALTH$/m)
    // The node found to be the leader a moment earlier may have lost it on a loaded machine: a leader is named.
    expect(out).toMatch(/Leader:\s+\S+/)
    // phi grows to ∞ (JSON null) the longer the member is silent; either way the row prints.
    expect(out).toMatch(/\s+dead\s+(∞|\d+\.\d)\s/)
    expect(out).toMatch(/remove-member \S+: applied at index \d+/)
    expect(out).toContain('refused: exit 6')
    expect(out).toMatch(/left the cluster at index \d+; the node stopped/)
    // The last block removed its temp dir.
    expect((await fs.readdir(tmp)).filter((n) => n.startsWith('tmp.'))).toEqual([])
  }, 900_000)
})
