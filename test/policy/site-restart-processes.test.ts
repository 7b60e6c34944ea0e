/**
 * A site loses power (docs/POLICY.md, "A member membership does not list…"): four `revoada start` processes
 * (the built CLI), target ha-three (3 etcd voters) and one spare, all SIGKILLed at once — a power cut says no
 * goodbye: no leave notice, no graceful stop, only what each node had already made durable survives.
 * 1. Every node comes back: a leader is elected and, past the grace (`policy.unlistedDeadMs`, short here),
 *    the shape is the same and no role moved: nothing was counted dead.
 * 2. Power lost again, and one etcd holder never comes back: the other two elect a leader, the dead one is
 *    counted dead once the grace is over (it is never heard, so membership never lists it) and its roles move
 *    to the spare: 3 voters again, the dead one not among them.
 * 3. The lost machine is repaired and comes back: it catches up with the shape it missed, as a non-voter.
 * Each node listens on the port it had before, as a machine with a fixed listen address does. Timings are
 * printed, not asserted (the machine is shared).
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { apiGet, apiRequest } from '../../src/api/index.js'
import { killHard, REVOADA_MAIN, startRevoada } from '../consensus/cluster/revoada-process.js'
import { tempDir, waitFor } from '../node/helpers.js'

/** The grace before a never-listed member counts as dead: the shortest the config takes (5 s) plus a little. */
const GRACE_MS = 6_000
/** Deadline of each wait for a condition: only bounds a phase that never happens (the machine is loaded). */
const PHASE_MS = 60_000

interface Status { nodeId: string, role: string, leader: string | null, voters: string[], learners: string[], shapeCid: string, addresses: string[] }
interface Shape { cid: string, voters: string[], members: Array<{ nodeId: string, roles: string[] }> }

const children: ChildProcess[] = []
afterEach(async () => { for (const child of children.splice(0)) await killHard(child) })

const statusOf = async (dir: string): Promise<Status | null> => await (apiGet(dir, '/v1/status') as Promise<Status>).catch(() => null)
const shapeOf = async (dir: string): Promise<Shape> => await apiGet(dir, '/v1/shape?stale=true') as Shape
/** `nodeId roles…` per member, sorted: what "no role moved" compares. */
const rolesText = (shape: Shape): string[] => shape.members.map((m) => `${m.nodeId} ${[...m.roles].sort().join(',')}`).sort()
const count = (shape: Shape, role: string): number => shape.members.filter((m) => m.roles.includes(role)).length

describe('a site-wide power cut', () => {
  it('should keep the shape when every node comes back, and move a lost etcd holder\'s roles to the spare when one does not', async () => {
    if (!existsSync(REVOADA_MAIN)) throw new Error(`${REVOADA_MAIN} missing: run \`npm run build\` (npm test builds first)`)
    const t0 = Date.now()
    const root = await tempDir()
    const config = path.join(root, 'config.json')
    // Formation without the per-node damper (it is not what this test is about); the restarts run with it.
    const writeConfig = async (policy: Record<string, number>): Promise<void> => {
      await fs.writeFile(config, JSON.stringify({
        raft: { tickMs: 100, electionTicks: 10, heartbeatTicks: 1, operationTimeoutMs: 30_000 },
        membership: { heartbeatIntervalMs: 400, phiThreshold: 12 },
        policy: { stabilizationMs: 500, auditIntervalMs: 1_000, unlistedDeadMs: GRACE_MS, ...policy }
      }))
    }
    await writeConfig({ perNodeIntervalMs: 0 })
    const dirs = ['a', 'b', 'c', 'd'].map((n) => path.join(root, n))
    const stderr = new Map<string, () => string>()
    const listen = new Map<string, string>()
    const start = async (dir: string, join?: string): Promise<void> => {
      const child = await startRevoada({
        dir, config, children, deadlineMs: PHASE_MS, ...(join !== undefined ? { join } : {}),
        ...(listen.has(dir) ? { listen: listen.get(dir)! } : {}), answering: async (d) => (await statusOf(d)) !== null
      })
      let text = ''
      child.stderr?.on('data', (b: Buffer) => { text += b.toString() })
      stderr.set(dir, () => text)
      // The port it listens on now is the one it comes back on.
      const tcp = (await statusOf(dir))!.addresses.find((a) => a.startsWith('/ip4/127.0.0.1/tcp/'))!
      listen.set(dir, tcp.split('/p2p/')[0]!)
    }
    const statuses = async (ds: string[]): Promise<Array<Status | null>> => await Promise.all(ds.map(statusOf))
    const killAll = async (): Promise<void> => { await Promise.all(children.splice(0).map(killHard)) }
    const mark = (label: string, since: number): void => { console.log(`site restart: ${label} in ${Date.now() - since} ms`) }

    // Formation: a creates the cluster, b c d join, ha-three is set; the policy makes 3 voters.
    await start(dirs[0]!)
    const { joinString } = await apiGet(dirs[0]!, '/v1/join-string') as { joinString: string }
    await Promise.all(dirs.slice(1).map(async (d) => { await start(d, joinString) }))
    await waitFor(async () => (await statusOf(dirs[0]!))?.learners.length === 3, PHASE_MS, 'three learners admitted')
    await waitFor(async () => await apiRequest(dirs[0]!, 'POST', '/v1/target', { preset: 'ha-three' }, 30_000).then(() => true, () => false), PHASE_MS, 'ha-three committed')
    const formed = async (ds: string[], dead?: string): Promise<boolean> => {
      const all = await statuses(ds)
      if (all.some((s) => s === null || s.shapeCid !== all[0]!.shapeCid || s.voters.length !== 3 || (dead !== undefined && s.voters.includes(dead)))) return false
      const shape = await shapeOf(ds[0]!)
      const deadRoles = shape.members.find((m) => m.nodeId === dead)?.roles.filter((r) => r !== 'worker') ?? []
      return deadRoles.length === 0 && count(shape, 'etcd') === 3 && count(shape, 'api-server') === 3 && count(shape, 'scheduler') === 1 &&
        count(shape, 'controller-manager') === 1 && shape.voters.join() === [...all[0]!.voters].sort().join()
    }
    await waitFor(async () => await formed(dirs), PHASE_MS, 'ha-three formed: 3 voters and every role at its target')
    mark('formed', t0)
    await writeConfig({})
    const before = await shapeOf(dirs[0]!)
    const ids = new Map((await statuses(dirs)).map((s, i) => [dirs[i]!, s!.nodeId]))
    // As in a site that ran for a while: every node has met every other and recorded it (peers.json). Cut
    // sooner, two holders that never met can be left with each other's ids only and, the one that knew both
    // lost, nobody to ask: they elect nobody (docs/MEMBERSHIP.md, "Where a node learns other members' addresses").
    const knows = async (d: string): Promise<boolean> => {
      const known = Object.keys(JSON.parse(await fs.readFile(path.join(d, 'peers.json'), 'utf8').catch(() => '{}')) as object)
      return dirs.every((o) => o === d || known.includes(ids.get(o)!))
    }
    await waitFor(async () => (await Promise.all(dirs.map(knows))).every(Boolean), PHASE_MS, 'every node has recorded every other')
    mark('every node has recorded every other', t0)

    // 1. Power cut, and every node comes back.
    await killAll()
    const t1 = Date.now()
    await Promise.all(dirs.map(async (d) => { await start(d) }))
    mark('all four answering again', t1)
    const leaderOf = async (ds: string[]): Promise<string | undefined> => (await statuses(ds)).find((s) => s?.role === 'leader')?.nodeId
    await waitFor(async () => (await leaderOf(dirs)) !== undefined, PHASE_MS, 'a leader after the whole site restarted')
    const electedAt = Date.now()
    mark('leader elected', t1)
    // Nothing can be seen to not happen: watch past the grace (from the election, the earliest the leader can
    // start missing a member) that every node keeps the shape it had.
    await waitFor(async () => {
      const all = await statuses(dirs)
      expect(all.map((s) => s?.shapeCid ?? before.cid)).toEqual(dirs.map(() => before.cid))
      return Date.now() - electedAt > GRACE_MS + 3_000
    }, PHASE_MS, 'the grace over')
    expect(rolesText(await shapeOf(dirs[0]!))).toEqual(rolesText(before))
    for (const d of dirs) expect(stderr.get(d)!()).not.toContain('never listed as dead')
    mark('shape kept past the grace', t1)

    // 2. Power cut again; one etcd holder (not the spare) never comes back.
    const spare = dirs.find((d) => !before.voters.includes(ids.get(d)!))!
    const lost = dirs.find((d) => before.voters.includes(ids.get(d)!))!
    const lostId = ids.get(lost)!
    await killAll()
    const t2 = Date.now()
    const back = dirs.filter((d) => d !== lost)
    await Promise.all(back.map(async (d) => { await start(d) }))
    await waitFor(async () => (await leaderOf(back)) !== undefined, PHASE_MS, 'a leader among the two etcd holders back')
    mark('leader elected without the lost holder', t2)
    await waitFor(async () => await formed(back, lostId), PHASE_MS, 'ha-three again without the lost holder')
    mark('3 voters again, the spare among them', t2)
    const after = await shapeOf(back[0]!)
    expect(after.voters).toContain(ids.get(spare)!)
    expect(after.voters).not.toContain(lostId)
    expect(after.members.find((m) => m.nodeId === lostId)?.roles.filter((r) => r !== 'worker')).toEqual([])
    // Moved because the leader counted it dead as never listed (it was never heard: membership has no verdict).
    expect(back.some((d) => stderr.get(d)!().includes('never listed as dead') && stderr.get(d)!().includes(lostId))).toBe(true)

    // 3. The lost machine is repaired and comes back: it follows the shape it missed, as a non-voter.
    const t3 = Date.now()
    await start(lost)
    await waitFor(async () => {
      const all = await statuses(dirs)
      return all.every((s) => s !== null && s.shapeCid === all[0]!.shapeCid && !s.voters.includes(lostId))
    }, PHASE_MS, 'the repaired machine caught up')
    expect(rolesText(await shapeOf(lost))).toEqual(rolesText(await shapeOf(back[0]!)))
    expect((await shapeOf(lost)).voters).toEqual(after.voters)
    mark('the repaired machine caught up', t3)
    mark('whole test', t0)
  }, PHASE_MS * 9)
})
