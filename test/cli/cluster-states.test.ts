/**
 * The operator's commands on a real cluster of `revoada start` processes, in every state a member can be in
 * (issue 11 items 1, 4, 5, 6): `members`, `shape` and `status` after a member is SIGKILLed, removed and has
 * left; `remove-member` takes a dead node out of the shape and the Raft configuration and that node, restarted,
 * is told so and refuses to run; `leave` hands off and stops the node; the API's one error shape.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../node/helpers.js'
import { cliRun, spawnStart, startReady, stopChild, waitFor } from './helpers.js'
import type { StartedChild } from './helpers.js'

const children: StartedChild[] = []
let root = ''
afterAll(async () => {
  await Promise.all(children.map(stopChild))
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

async function ok (args: string[]): Promise<string> {
  const r = await cliRun(args)
  if (r.code !== 0) throw new Error(`revoada ${args.join(' ')} exited ${r.code}: ${r.stderr}`)
  return r.stdout
}

interface Shape { voters: string[], members: Array<{ nodeId: string, roles: string[] }>, removed: string[] }
interface Members { members: Array<{ nodeId: string, health: string }> }

describe('revoada cli on a cluster whose members die, are removed and leave', () => {
  it('should keep members/shape/status working and make remove-member and leave stick', async () => {
    root = await tempDir()
    const dir = (n: string): string => path.join(root, n)
    children.push(await startReady(dir('a')))
    const join = (await ok(['join-string', '--data-dir', dir('a')])).trim()
    for (const n of ['b', 'c', 'd']) children.push(spawnStart(dir(n), ['--join', join]))
    for (const n of ['b', 'c', 'd']) await ok(['wait-ready', '--data-dir', dir(n), '--timeout', '120'])
    const ids = Object.fromEntries(await Promise.all(['a', 'b', 'c', 'd'].map(async (n) => [n, (await ok(['id', '--data-dir', dir(n)])).trim()])))

    // One error shape: {error, message} for 401, 404 and 400, and the CLI's exit code for each.
    const api = JSON.parse(await fs.readFile(path.join(dir('b'), 'api.json'), 'utf8')) as { url: string, token: string }
    const unauthorized = await fetch(`${api.url}/v1/status`)
    expect([unauthorized.status, await unauthorized.json()]).toEqual([401, { error: 'Unauthorized', message: expect.stringContaining('token') }])
    const auth = { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' }
    const missing = await fetch(`${api.url}/v1/nope`, { headers: auth })
    expect([missing.status, await missing.json()]).toEqual([404, { error: 'NotFound', message: 'no route GET /v1/nope' }])
    const bad = await fetch(`${api.url}/v1/proposals`, { method: 'POST', headers: auth, body: JSON.stringify({ kind: 'promote', nodeId: ids.c }) })
    expect([bad.status, await bad.json()]).toEqual([400, { error: 'BadRequest', message: 'promote needs roles' }])
    const badJson = await fetch(`${api.url}/v1/target`, { method: 'POST', headers: auth, body: '{' })
    expect(badJson.status).toBe(400)
    expect(await badJson.json()).toMatchObject({ error: 'BadRequest' })
    const stranger = await cliRun(['propose', 'quarantine', '12D3KooWFgpYFkCtCYz6N7T4JxgdMc1fY7iZ7PgNzgkxgLPLSimT', '--data-dir', dir('b')])
    expect([stranger.code, stranger.stderr]).toEqual([5, expect.stringContaining('is not a member of the cluster')])

    // Target: three voters; then a scale-down below their fault tolerance is refused (exit 2) without --yes.
    expect(await ok(['target', 'set', '--etcd', '3', '--data-dir', dir('b')])).toContain('applied at index')
    await ok(['wait-ready', '--voters', '3', '--data-dir', dir('b'), '--timeout', '120'])
    // An even etcd count is refused (409) unless forced; the fault-tolerance refusal depends on what membership
    // sees alive at that instant, which a loaded machine makes flap, so it is unit-tested (test/consensus/shape).
    const even = await fetch(`${api.url}/v1/target`, { method: 'POST', headers: auth, body: JSON.stringify({ target: { etcd: 2 } }) })
    expect([even.status, await even.json()]).toEqual([409, { error: 'Refused', message: expect.stringContaining('etcd 2 is even') }])
    expect(JSON.parse(await ok(['target', 'show', '--json', '--data-dir', dir('b')]))).toMatchObject({ target: { etcd: 3 }, voters: 3 })

    // SIGKILL the worker: every view command still answers, and says it is dead.
    const shape = JSON.parse(await ok(['shape', '--json', '--data-dir', dir('b')])) as Shape
    const workerId = shape.members.find((m) => m.roles.includes('worker'))?.nodeId as string
    const worker = ['a', 'b', 'c', 'd'].find((n) => ids[n] === workerId) as string
    const asker = ['a', 'b', 'c', 'd'].find((n) => n !== worker) as string
    await stopChild(children[['a', 'b', 'c', 'd'].indexOf(worker)] as StartedChild)
    await waitFor(async () => {
      const m = JSON.parse(await ok(['members', '--json', '--data-dir', dir(asker)])) as Members
      return m.members.some((x) => x.nodeId === workerId && x.health === 'dead')
    }, 120_000, 'the killed worker to be seen dead')
    const members = await ok(['members', '--data-dir', dir(asker)])
    expect(members.split('\n')[0]).toMatch(/^NODE\s+HEALTH\s+PHI\s+GEN\s+ROLES\s+LABELS\s+NOTE$/)
    // phi grows to ∞ (JSON null) the longer the member is silent; either way the row prints.
    expect(members).toMatch(new RegExp(`${workerId}\\s+dead\\s+(∞|\\d+\\.\\d)\\s`))
    expect(members).toMatch(/leader/)
    expect(await ok(['shape', '--data-dir', dir(asker)])).toMatch(new RegExp(`${workerId}\\s+worker\\s+learner\\s+dead`))
    expect(await ok(['status', '--data-dir', dir(asker)])).toContain(`Data dir:  ${dir(asker)}`)

    // remove-member: gone from the shape and, once the leader reconciles, from the Raft configuration.
    expect(await ok(['remove-member', workerId, '--data-dir', dir(asker)])).toContain('applied at index')
    const after = JSON.parse(await ok(['shape', '--json', '--data-dir', dir(asker)])) as Shape
    expect(after.members.map((m) => m.nodeId)).not.toContain(workerId)
    expect(after.removed).toContain(workerId)
    await waitFor(async () => !(await ok(['status', '--get', 'learners', '--data-dir', dir(asker)])).includes(workerId), 60_000, 'the removed node out of the learners')
    // The removed node comes back: the leader tells it, it records that and exits 6; later starts refuse at once.
    const back = spawnStart(dir(worker))
    children.push(back)
    expect(await back.exited).toBe(6)
    expect(back.stderr()).toContain('removed from cluster')
    const again = await cliRun(['start', '--data-dir', dir(worker), '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect([again.code, again.stderr]).toEqual([6, expect.stringContaining('NodeRemovedError: this node was removed from cluster')])

    // leave: a voter hands off, leaves, and its process exits 0; the others see it as gone, views still work.
    const leaver = ['a', 'b', 'c', 'd'].find((n) => n !== worker && n !== asker) as string
    const leaving = children[['a', 'b', 'c', 'd'].indexOf(leaver)] as StartedChild
    expect(await ok(['leave', '--data-dir', dir(leaver)])).toMatch(/left the cluster at index \d+; the node stopped/)
    expect(await leaving.exited).toBe(0)
    await ok(['wait-ready', '--data-dir', dir(asker), '--timeout', '120'])
    const final = JSON.parse(await ok(['shape', '--json', '--data-dir', dir(asker)])) as Shape
    expect(final.members.map((m) => m.nodeId)).not.toContain(ids[leaver])
    expect(final.voters.length).toBeGreaterThan(0)
    for (const cmd of [['members'], ['shape'], ['status'], ['decisions'], ['target', 'show']]) await ok([...cmd, '--data-dir', dir(asker)])
  }, 600_000)
})
