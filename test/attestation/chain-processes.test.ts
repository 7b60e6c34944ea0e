/**
 * The chain with real processes (issue 14): five `revoada start` processes reach ha-three; the Raft
 * leader is SIGKILLed and restarted; then the new leader is cut off (SIGSTOP: its peers see a dead
 * link, the majority carries on and re-elects) and healed (SIGCONT). Afterwards every node's
 * `revoada chain --json` reports the same head at the same height, and `revoada chain verify` passes on
 * each node's export, each export consistent with the first. Uses the built CLI (`npm test` builds).
 */
import type { ChildProcess } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { killHard, REVOADA_MAIN, revoadaCli, startRevoada } from '../consensus/cluster/revoada-process.js'
import { tempDir, waitFor } from '../node/helpers.js'

const MAIN = REVOADA_MAIN
const children: ChildProcess[] = []
let root = ''

async function cli (...args: string[]): Promise<string> {
  return await revoadaCli(args, 60_000)
}

interface Status { nodeId: string, leader: string | null, role: string, voters: string[], learners: string[], roles: string[] }
interface Chain { height: number, head: string, sealedHeight: number, voters: string[], lastSeal: { witnesses: Array<{ voter: boolean }> } | null }
const status = async (dir: string): Promise<Status> => JSON.parse(await cli('status', '--json', '--data-dir', dir)) as Status
const statusOrNull = async (dir: string): Promise<Status | null> => { try { return await status(dir) } catch { return null } }
const chainOf = async (dir: string): Promise<Chain | null> => { try { return JSON.parse(await cli('chain', '--json', '--data-dir', dir)) as Chain } catch { return null } }

async function start (dir: string, join?: string): Promise<ChildProcess> {
  return await startRevoada({ dir, config: path.join(root, 'config.json'), ...(join !== undefined ? { join } : {}), children, answering: async (d) => (await statusOrNull(d)) !== null, deadlineMs: 120_000 })
}

afterEach(async () => {
  for (const child of children.splice(0)) await killHard(child)
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

async function leaderDir (dirs: string[], ids: string[], among: string[]): Promise<string | undefined> {
  for (const dir of among) {
    const s = await statusOrNull(dir)
    if (s?.role === 'leader') return dirs[ids.indexOf(s.nodeId)]
  }
  return undefined
}

describe('chain across processes', () => {
  it('should give every node the same head at the same height, and verifiable exports, after a leader kill and a cut-off healed', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npx tsc -p .\` (npm test builds first)`)
    root = await tempDir('revoada-chain-')
    await fs.writeFile(path.join(root, 'config.json'), JSON.stringify({
      // Default Raft timing (elections after 0.5–1 s): the test must pass on a loaded 2-core machine.
      membership: { heartbeatIntervalMs: 200 },
      policy: { stabilizationMs: 500, perNodeIntervalMs: 0, auditIntervalMs: 1000 }
    }))
    const dirs = ['a', 'b', 'c', 'd', 'e'].map((n) => path.join(root, n))
    const procs = new Map<string, ChildProcess>()
    procs.set(dirs[0]!, await start(dirs[0]!))
    const join = (await cli('join-string', '--data-dir', dirs[0]!)).trim()
    for (const dir of dirs.slice(1)) procs.set(dir, await start(dir, join))
    const ids = await Promise.all(dirs.map(async (d) => (await status(d)).nodeId))
    await waitFor(async () => (await status(dirs[0]!)).learners.length + (await status(dirs[0]!)).voters.length === 5, 120_000, 'five members')
    await cli('target', 'set', 'ha-three', '--data-dir', dirs[0]!)
    await waitFor(async () => (await Promise.all(dirs.map(statusOrNull))).every((s) => s?.voters.length === 3), 240_000, 'ha-three: 3 voters everywhere')

    // The leader dies hard and comes back.
    const first = await waitForLeader(dirs, ids)
    await killHard(procs.get(first)!)
    const survivors = dirs.filter((d) => d !== first)
    await waitFor(async () => (await leaderDir(dirs, ids, survivors)) !== undefined, 120_000, 'a new leader')
    procs.set(first, await start(first))

    // The new leader is cut off (SIGSTOP), the majority moves on, then the link heals (SIGCONT).
    const second = (await waitForLeader(dirs, ids))
    const cut = procs.get(second)!
    const others = dirs.filter((d) => d !== second)
    cut.kill('SIGSTOP')
    const before = Math.max(...(await Promise.all(others.map(chainOf))).map((c) => c?.height ?? 0))
    await waitFor(async () => (await leaderDir(dirs, ids, others)) !== undefined, 120_000, 'a leader on the majority side')
    await cli('target', 'set', 'ha-three', '--data-dir', others[0]!)
    await waitFor(async () => (await chainOf(others[0]!))!.height > before, 120_000, 'the majority appended blocks')
    cut.kill('SIGCONT')

    await waitFor(async () => {
      const chains = await Promise.all(dirs.map(chainOf))
      return chains.every((c) => c !== null && c.height === chains[0]!.height && c.head === chains[0]!.head && c.sealedHeight > before)
    }, 240_000, 'the same head at the same height on every node')
    const chain = (await chainOf(dirs[0]!))!
    expect(chain.lastSeal!.witnesses.filter((w) => w.voter).length).toBeGreaterThanOrEqual(2)

    // Exports taken one after another can straddle a new block (a seal, or the policy still moving roles on
    // a loaded machine), so the round is repeated until every export ends at the same head. Every export
    // must verify, and none may fork from the first (a fork fails `--against` and ends the wait at once).
    let files: string[] = []
    await waitFor(async () => {
      files = []
      const heads: string[] = []
      for (const dir of dirs) {
        const file = path.join(root, `${path.basename(dir)}.chain`)
        await cli('chain', 'export', '--data-dir', dir, '-o', file)
        files.push(file)
        const checked = JSON.parse(await cli('chain', 'verify', file, '--json', ...(files.length > 1 ? ['--against', files[0]!] : []))) as { ok: boolean, head: string, height: number }
        expect(checked.ok).toBe(true)
        expect(checked.height).toBeGreaterThanOrEqual(chain.height)
        heads.push(checked.head)
      }
      return heads.every((head) => head === heads[0])
    }, 120_000, 'every export ending at the same head')
    const out = await cli('chain', 'verify', files[1]!, '--against', files[0]!)
    expect(out).toContain('OK')
    expect(out).toContain('the exports end at the same head')
    // The genesis every export carries is the creator's key.
    const report = JSON.parse(await cli('chain', 'verify', files[0]!, '--json', '--first-voter', ids[0]!)) as { ok: boolean, height: number }
    expect(report.ok).toBe(true)
    expect(report.height).toBeGreaterThanOrEqual(chain.height)
  }, 1_200_000)
})

async function waitForLeader (dirs: string[], ids: string[]): Promise<string> {
  let found: string | undefined
  await waitFor(async () => { found = await leaderDir(dirs, ids, dirs); return found !== undefined }, 60_000, 'a leader')
  return found!
}
