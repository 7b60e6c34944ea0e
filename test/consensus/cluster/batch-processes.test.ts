/**
 * Group commit at the API (issue 16) on three real `revoada start` processes (3 voters, fsync on): many
 * concurrent `POST /v1/proposals` spread over the three nodes are each answered with their own typed
 * outcome, yet commit in fewer Raft entries than requests (batch envelopes: one entry and one chain
 * block per batch), every node ends at the same shape, and the chain, batch blocks included, verifies
 * offline. Uses the built CLI (`npm test` builds first).
 */
import type { ChildProcess } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { killHard, REVOADA_MAIN, revoadaCli, startRevoada } from './revoada-process.js'
import { tempDir, waitFor } from '../../node/helpers.js'

/** Deadline of each wait for a condition (a loaded 2-core machine is slow; nothing here measures speed). */
const PHASE_MS = 90_000
const PHASES = 8
/** Concurrent API requests: enough that several reach each node while its previous batch is in flight. */
const REQUESTS = 30
const MAIN = REVOADA_MAIN
const children: ChildProcess[] = []
let root = ''

async function cli (...args: string[]): Promise<string> {
  return await revoadaCli(args, PHASE_MS)
}

interface Api { url: string, token: string }
interface Status {
  nodeId: string, leader: string | null, term: number, voters: string[], learners: string[], shapeCid: string, appliedIndex: number,
  proposals: { batches: number, batchedCommands: number, requestsForwarded: number, groupsMerged: number }
}
interface Answer { index: number, term: number, cid: string, outcome: { kind: string, code?: string }, duplicate: boolean, batch?: { position: number, commands: number } }

async function api (dir: string): Promise<Api> {
  return JSON.parse(await fs.readFile(path.join(dir, 'api.json'), 'utf8')) as Api
}

async function call<T> (dir: string, route: string, body?: unknown): Promise<T> {
  const { url, token } = await api(dir)
  const res = await fetch(new URL(route, url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(PHASE_MS)
  })
  if (!res.ok) throw new Error(`${route}: ${res.status} ${await res.text()}`)
  return await res.json() as T
}

const status = async (dir: string): Promise<Status> => await call<Status>(dir, '/v1/status')
const statusOrNull = async (dir: string): Promise<Status | null> => { try { return await status(dir) } catch { return null } }

async function start (dir: string, join?: string): Promise<void> {
  await startRevoada({ dir, config: path.join(root, 'config.json'), ...(join !== undefined ? { join } : {}), children, answering: async (d) => (await statusOrNull(d)) !== null, deadlineMs: PHASE_MS })
}

afterEach(async () => {
  for (const child of children.splice(0)) await killHard(child)
  if (root !== '') await fs.rm(root, { recursive: true, force: true })
})

describe('batched operator proposals on three processes', () => {
  it('should answer each concurrent proposal with its own outcome and commit them in fewer entries than requests', async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`npx tsc -p .\` (npm test builds first)`)
    root = await tempDir()
    await fs.writeFile(path.join(root, 'config.json'), JSON.stringify({ policy: { enabled: false }, raft: { operationTimeoutMs: 60_000 } }))
    const dirs = ['a', 'b', 'c'].map((n) => path.join(root, n))
    await start(dirs[0]!)
    const join = (await cli('join-string', '--data-dir', dirs[0]!)).trim()
    for (const dir of dirs.slice(1)) await start(dir, join)
    await waitFor(async () => (await status(dirs[0]!)).learners.length === 2, PHASE_MS, 'two learners admitted')
    const ids = await Promise.all(dirs.map(async (d) => (await status(d)).nodeId))
    // Voter moves travel alone (a joint configuration change each), never in a batch.
    for (const id of ids.slice(1)) {
      const out = await call<Answer>(dirs[0]!, '/v1/proposals', { kind: 'promote', nodeId: id, roles: ['etcd'] })
      expect(out.outcome.kind).toBe('applied')
      expect(out.batch).toBeUndefined()
    }
    await waitFor(async () => (await Promise.all(dirs.map(status))).every((s) => s.voters.length === 3), PHASE_MS, '3 voters everywhere')
    const before = await Promise.all(dirs.map(status))

    // Alternating promote/demote of one role on one node: racing requests are committed as typed
    // rejections (role-already-held / role-not-held), the others applied; each caller learns its own.
    const target = ids[2]!
    const answers = await Promise.all(Array.from({ length: REQUESTS }, async (_, i) =>
      await call<Answer>(dirs[i % 3]!, '/v1/proposals', { kind: i % 2 === 0 ? 'promote' : 'demote', nodeId: target, roles: ['scheduler'] })))
    expect(answers).toHaveLength(REQUESTS)
    for (const answer of answers) {
      expect(answer.index).toBeGreaterThan(before[0]!.appliedIndex)
      expect(['applied', 'rejected']).toContain(answer.outcome.kind)
      if (answer.outcome.kind === 'rejected') expect(['role-already-held', 'role-not-held']).toContain(answer.outcome.code)
    }
    const entries = new Set(answers.map((a) => a.index))
    expect(entries.size).toBeLessThan(REQUESTS)
    // Each batch's answers carry distinct positions, one per command, and the batch's own size.
    for (const index of entries) {
      const members = answers.filter((a) => a.index === index)
      if (members.length === 1 && members[0]!.batch === undefined) continue
      expect(members.map((a) => a.batch?.position).sort((x, y) => x! - y!)).toEqual(members.map((_, k) => k))
      for (const a of members) expect(a.batch?.commands).toBe(members.length)
    }
    // Sequential application within and across batches: applied promotes and demotes alternate.
    const applied = answers.filter((a) => a.outcome.kind === 'applied').length
    expect(applied).toBeGreaterThan(0)

    const after = await Promise.all(dirs.map(status))
    const sum = (of: (s: Status) => number): number => after.reduce((n, s, k) => n + of(s) - of(before[k]!), 0)
    const batches = sum((s) => s.proposals.batches)
    const commands = sum((s) => s.proposals.batchedCommands)
    // Every entry that answered is a counted batch, every request a counted command. Exactly so when nothing sent a
    // command in a second envelope (counted as a batch with its commands, and never in an answer). Two things do,
    // both normal on a loaded machine: an election (a merged envelope lost with its leader: this node's commands go
    // again, the followers' groups come back to the next leader), and a follower's retry (every second, raft-node.ts
    // sweep) that reaches the leader after it applied the group but before it knows the follower holds that entry
    // (appliedAndHeldBy): the leader merges it again and it applies as a duplicate. Then every forwarded request
    // was not merged exactly once, or a term moved.
    const undisturbed = after.every((s, k) => s.term === before[k]!.term) && sum((s) => s.proposals.groupsMerged) === sum((s) => s.proposals.requestsForwarded)
    if (undisturbed) {
      expect(commands).toBe(REQUESTS)
      expect(batches).toBe(entries.size)
    } else {
      expect(commands).toBeGreaterThanOrEqual(REQUESTS)
      expect(batches).toBeGreaterThanOrEqual(entries.size)
    }
    await waitFor(async () => {
      const all = await Promise.all(dirs.map(status))
      return all.every((s) => s.shapeCid === all[0]!.shapeCid && s.appliedIndex === all[0]!.appliedIndex)
    }, PHASE_MS, 'every node at the same shape')

    // The chain: one block per batch entry, verified offline from each node's export.
    for (const dir of dirs) {
      const file = path.join(root, `${path.basename(dir)}.chain`)
      await cli('chain', 'export', '--data-dir', dir, '-o', file)
      const report = JSON.parse(await cli('chain', 'verify', file, '--json')) as { height: number }
      expect(report.height).toBeGreaterThan(0)
    }
  }, PHASE_MS * PHASES)
})
