/**
 * `revoada recover-quorum` on real processes, as docs/OPERATIONS.md tells the operator, and then what the
 * operator was told must never happen: the lost voters come back with their data. Goal: they cannot reach into
 * the recovered history. Method: three voters (ha-three) and a learner; two voters SIGKILLed, the third stopped
 * and recovered, then started as usual with the learner following it, and the target set to one voter so that the
 * learner stays one (a lost voter takes a removal notice only from a voter it knows). (1) With the recovered voter stopped,
 * both lost voters start again on their old addresses: they are a majority of their old configuration, and may
 * elect each other, but the learner that applied the recovery refuses them, and once the recovered voter is back
 * it leads and the learner follows it and applies its next entry. Without the run's removals the lost voters
 * learnt the recovered term from the learner, elected each other past it and took the learner over (two leaders
 * in one term). (2) Started again one at a time with the recovered voter up, each is told it was removed and
 * exits 6 (EXIT_CODE_REMOVED); without the removals each became a learner again.
 */
import { spawn } from 'node:child_process'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { tempDir } from '../../node/helpers.js'
import { cleanEnv, cliRun, MAIN, spawnStart, startReady, stopChild, waitFor } from '../../cli/helpers.js'
import type { StartedChild } from '../../cli/helpers.js'

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

interface Status {
  nodeId: string, pid: number, addresses: string[], leader: string | null, term: number, isLeader: boolean,
  voters: string[], learners: string[], appliedIndex: number, shapeCid: string
}

/** `status --json` of the node on `dir`, or undefined while it does not answer. */
async function status (dir: string): Promise<Status | undefined> {
  const r = await cliRun(['status', '--json', '--data-dir', dir], 20_000)
  return r.code === 0 ? JSON.parse(r.stdout) as Status : undefined
}

/** `revoada start` on `dir` listening on `listen` (a node coming back on its machine's address). */
function startOn (dir: string, listen: string): StartedChild {
  const child = spawn(process.execPath, [MAIN, 'start', '--data-dir', dir, '--listen', listen, '--log-level', 'warn'],
    { env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr?.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-8000) })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => { resolve(code) }))
  const started = { child, stdout: () => '', stderr: () => err, exited }
  children.push(started)
  return started
}

/** SIGTERM, and wait for the graceful exit. */
async function stopGracefully (c: StartedChild): Promise<void> {
  c.child.kill('SIGTERM')
  await c.exited
}

describe('quorum recovery on processes, the lost voters coming back with their data', () => {
  it('should keep them out of the recovered history, and stop each that reaches the recovered voter', async () => {
    root = await tempDir()
    const dir = (n: string): string => path.join(root, n)
    const procs = new Map<string, StartedChild>()
    procs.set('a', await startReady(dir('a')))
    children.push(procs.get('a')!)
    const join = (await ok(['join-string', '--data-dir', dir('a')])).trim()
    for (const n of ['b', 'c', 'd']) {
      const started = spawnStart(dir(n), ['--join', join])
      procs.set(n, started)
      children.push(started)
    }
    for (const n of ['b', 'c', 'd']) await ok(['wait-ready', '--data-dir', dir(n), '--timeout', '120'])
    await ok(['target', 'set', 'ha-three', '--data-dir', dir('a')])
    await ok(['wait-ready', '--voters', '3', '--data-dir', dir('a'), '--timeout', '120'])
    const names = ['a', 'b', 'c', 'd']
    const ids = new Map(await Promise.all(names.map(async (n) => [n, (await ok(['id', '--data-dir', dir(n)])).trim()] as const)))
    const name = (id: string): string => names.find((n) => ids.get(n) === id)!
    const voters = (await status(dir('a')))!.voters.map(name)
    expect(voters).toHaveLength(3)
    const [lost1, lost2, survivor] = voters as [string, string, string]
    const learner = names.find((n) => !voters.includes(n))!
    // Every node has applied the voters: the learner must hold the survivor's address and log.
    const applied = (await status(dir(survivor)))!.appliedIndex
    await waitFor(async () => (await status(dir(learner)))?.appliedIndex !== undefined &&
      (await status(dir(learner)))!.appliedIndex >= applied, 60_000, 'the learner applied the voters')
    const address = new Map(await Promise.all(voters.map(async (n) => [n, (await status(dir(n)))!.addresses.find((x) => x.startsWith('/ip4/127.0.0.1/'))!.replace(/\/p2p\/.*$/, '')] as const)))

    // Two voters lost; the survivor stopped, recovered as OPERATIONS.md says, and started as usual.
    for (const n of [lost1, lost2]) await stopChild(procs.get(n)!)
    await stopGracefully(procs.get(survivor)!)
    const recovered = await cliRun(['recover-quorum', '--data-dir', dir(survivor), '--listen', address.get(survivor)!, '--log-level', 'warn'])
    expect(recovered.stderr).toContain('quorum recovered')
    expect(recovered.code).toBe(0)
    let s = startOn(dir(survivor), address.get(survivor)!)
    await ok(['wait-ready', '--data-dir', dir(survivor), '--timeout', '120'])
    const after = (await status(dir(survivor)))!
    expect(after.voters).toEqual([ids.get(survivor)])
    // The run removed the lost voters: they are neither voters nor learners.
    expect(after.learners).not.toContain(ids.get(lost1))
    expect(after.learners).not.toContain(ids.get(lost2))
    // One voter wanted from here on: under ha-three the policy may promote the learner, which could then win the
    // election when the recovered voter comes back, and a lost voter takes a removal notice only from a voter of
    // its own configuration (consensus/removal.ts). Kept a learner, it is the node that must refuse them.
    await ok(['target', 'set', '--etcd', '1', '--yes', '--data-dir', dir(survivor)])
    await waitFor(async () => {
      const seen = await status(dir(survivor))
      return seen !== undefined && seen.voters.length === 1 && seen.learners.includes(ids.get(learner)!)
    }, 60_000, 'the recovered voter is the only voter, the other member a learner')
    await waitFor(async () => (await status(dir(learner)))?.leader === ids.get(survivor), 60_000, 'the learner follows the recovered voter')

    // (1) The recovered voter down, both lost voters back on their addresses with their data.
    await stopGracefully(s)
    const back = [lost1, lost2].map((n) => startOn(dir(n), address.get(n)!))
    await waitFor(async () => (await status(dir(lost1)))?.leader != null || (await status(dir(lost2)))?.leader != null, 120_000, 'the lost voters elect each other')
    const oldLeader = (await status(dir(lost1)))?.leader ?? (await status(dir(lost2)))?.leader
    expect([ids.get(lost1), ids.get(lost2)]).toContain(oldLeader)
    // The recovered voter back: it leads, and the learner follows it and applies its next entry.
    s = startOn(dir(survivor), address.get(survivor)!)
    await ok(['wait-ready', '--data-dir', dir(survivor), '--timeout', '120'])
    const changed = await ok(['target', 'set', '--min-workers', '2', '--data-dir', dir(survivor)])
    const index = Number(/applied at index (\d+)/.exec(changed)?.[1])
    expect(index).toBeGreaterThan(0)
    await waitFor(async () => {
      const seen = await status(dir(learner))
      return seen !== undefined && seen.leader === ids.get(survivor) && seen.appliedIndex >= index
    }, 60_000, 'the learner follows the recovered voter and applies its entry').catch(async (err: Error) => {
      throw new Error(`${err.message}: learner ${JSON.stringify(await status(dir(learner)))}`)
    })
    const learnerNow = (await status(dir(learner)))!
    const survivorNow = (await status(dir(survivor)))!
    expect(learnerNow.shapeCid).toBe(survivorNow.shapeCid)
    expect(survivorNow.isLeader).toBe(true)
    expect(survivorNow.voters).toEqual([ids.get(survivor)])
    expect(survivorNow.learners).not.toContain(ids.get(lost1))
    expect(survivorNow.learners).not.toContain(ids.get(lost2))
    for (const c of back) await stopChild(c)

    // (2) Started again one at a time with the recovered voter up: each is told it was removed, and stops.
    for (const n of [lost1, lost2]) {
      const again = startOn(dir(n), address.get(n)!)
      const code = await Promise.race([again.exited, new Promise((resolve) => setTimeout(resolve, 90_000, 'still running'))])
      expect(again.stderr()).toContain('removed from cluster')
      expect(code).toBe(6)
    }
    await stopChild(s)
  }, 420_000)
})
