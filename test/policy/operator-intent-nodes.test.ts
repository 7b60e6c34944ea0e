/**
 * Operator intent end to end (issue 12 items 2 and 4): 3 real nodes in one process (target homelab: one
 * etcd holder, the creator), driven through the built CLI (`dist/src/cli/main.js`, built by `npm test`).
 * - `propose promote <n1> --roles etcd` is refused, exit 2, saying "etcd would be 2/1; the policy would
 *   demote <creator> etcd"; nothing is committed;
 * - with `--pin` it is committed and pinned; the policy scales around the pin (the creator loses etcd, n1
 *   keeps it and is never demoted); `shape` lists the pin; `unpin` drops it and says so (`--json`: its answer);
 * - `decisions --follow --json`, started on a follower before the pin, streams the scale-down decision.
 */
import { execFile, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { leaderOf, startCluster, stopAll, waitFor, FAST } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'

const run = promisify(execFile)
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/cli/main.js')

function cleanEnv (): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('REVOADA_')))
}

async function cli (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [MAIN, ...args], { env: cleanEnv(), timeout: 40_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

describe('operator intent with real nodes', () => {
  let members: Member[] = []
  let follow: ChildProcess | undefined
  afterEach(async () => {
    follow?.kill('SIGKILL')
    await stopAll(members)
    members = []
  })

  it('should refuse a promote the policy would undo, accept it pinned, scale around the pin, and stream the decision', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npx tsc -p .\` (npm test builds first)`)
    members = await startCluster(3, { policy: true, extra: { ...FAST, membership: { heartbeatIntervalMs: 400, phiThreshold: 12 }, policy: { stabilizationMs: 500, auditIntervalMs: 1000 } } })
    const [creator, n1, n2] = members as [Member, Member, Member]
    const shapeOf = (m: Member) => m.consensus.shapeMachine.shape
    const n1Id = n1.node.nodeId
    await waitFor(() => members.every((m) => m.membership.view().members.filter((x) => x.health === 'alive').length === 3), 30_000, 'everyone alive')

    const refused = await cli('propose', 'promote', n1Id, '--roles', 'etcd', '--data-dir', n2.dir)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(`etcd would be 2/1; the policy would demote ${creator.node.nodeId} etcd`)
    expect(shapeOf(creator).voters()).toEqual([creator.node.nodeId])

    let streamed = ''
    follow = spawn(process.execPath, [MAIN, 'decisions', '--follow', '--json', '--data-dir', n2.dir], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    follow.stdout?.on('data', (d: Buffer) => { streamed += d.toString() })

    const pinned = await cli('propose', 'promote', n1Id, '--roles', 'etcd', '--pin', '--json', '--data-dir', n2.dir)
    expect(pinned.code).toBe(0)
    expect(JSON.parse(pinned.stdout)).toMatchObject({ outcome: { kind: 'applied' } })
    // The policy scales around the pin: the creator's etcd goes, n1's stays.
    await waitFor(() => members.every((m) => shapeOf(m).voters().join() === n1Id && m.consensus.node.configuration().votersOutgoing.length === 0), 60_000, 'etcd scaled down around the pin')
    expect(shapeOf(n2).pinOf(n1Id, 'etcd')).toBe(true)
    const demoteOfCreator = (line: string): boolean => {
      const r = JSON.parse(line) as { proposals: Array<{ command: { kind: string, nodeId: string, roles: string[] } }> }
      return r.proposals.some((p) => p.command.kind === 'demote' && p.command.nodeId === creator.node.nodeId && p.command.roles.includes('etcd'))
    }
    await waitFor(() => streamed.split('\n').filter((l) => l.trim() !== '').some(demoteOfCreator), 30_000, 'the scale-down streamed by decisions --follow')
    const shape = await cli('shape', '--stale', '--data-dir', creator.dir)
    expect(shape.stdout).toContain(`Pins:    ${n1Id} +etcd`)

    // Nothing any leader decided undoes the pin, and a fresh evaluation by the leader proposes nothing.
    // The only voter left leads once the hand-off's election is over (none may lead for a moment).
    await waitFor(() => leaderOf(members) !== undefined, 20_000, 'a leader after the scale-down')
    const leader = leaderOf(members)!
    expect(leader.policy!.tick('manual')?.proposals ?? []).toEqual([])
    const all = members.flatMap((m) => m.policy!.log.last(500)).flatMap((r) => r.proposals)
    expect(all.filter((p) => p.command.kind === 'demote' && p.command.nodeId === n1Id)).toEqual([])

    // Printed as propose prints its result (it was one line of raw JSON), JSON with --json.
    const unpinned = await cli('unpin', n1Id, '--data-dir', creator.dir)
    expect(unpinned.code).toBe(0)
    expect(unpinned.stdout).toMatch(new RegExp(`^unpin ${n1Id}: applied at index \\d+ \\(term \\d+\\)\\n$`))
    await waitFor(() => members.every((m) => shapeOf(m).pins().length === 0), 20_000, 'pin dropped everywhere')
    const again = await cli('unpin', n1Id, '--json', '--data-dir', creator.dir)
    expect(again.code).toBe(2)
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: { kind: 'rejected', code: 'not-pinned' } })
  }, 240_000)
})
