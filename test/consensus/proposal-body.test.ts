/**
 * `POST /v1/proposals` checks its body by hand first (consensus/proposal-body.ts) and asks zod only for the
 * message of a bad one. The hand check must accept exactly what the zod schema accepts (generated good and
 * damaged bodies, JSON round-tripped as the route receives them), and the route must answer bad bodies with
 * the same typed 400 and message as before.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiServer } from '../../src/api/server.js'
import { silentLogger } from '../../src/log/index.js'
import { registerConsensusRoutes } from '../../src/consensus/routes.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import { proposalBodySchema, wellFormedProposalBody, zodIssues } from '../../src/consensus/proposal-body.js'
import { CONTROL_PLANE_ROLES, MeshShape, REASONS } from '../../src/consensus/shape/core/index.js'
import type { Command } from '../../src/consensus/shape/core/index.js'
import { seededUniform as rng } from '../fuzz/rng.js'


const ODD_VALUES: unknown[] = [null, true, false, 0, 1, -1, 1.5, '', 'x', 'promote', 'etcd', 'operator', 'bootstrap', [], {}, ['etcd'],
  'n'.repeat(128), 'n'.repeat(129), '😀'.repeat(64), '😀'.repeat(65), '😀'.repeat(128), '😀'.repeat(129), '\ud800'.repeat(129), 'a\udc00\ud800'.repeat(43), 'é'.repeat(128), [null], ['etcd', 'etcd'], [...CONTROL_PLANE_ROLES, 'etcd'],
  ['worker'], { kind: 'promote' }]

function body (next: () => number): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T
  const good: Record<string, unknown> = {
    kind: pick(['promote', 'demote', 'quarantine', 'restore', 'remove-member', 'unpin']),
    nodeId: pick(['12D3KooWabc', 'n'.repeat(1 + Math.floor(next() * 130)), '😀'.repeat(1 + Math.floor(next() * 130)), 'é😀'.repeat(60 + Math.floor(next() * 10))])
  }
  if (next() < 0.5) good.roles = CONTROL_PLANE_ROLES.filter(() => next() < 0.5)
  if (next() < 0.3) good.reason = pick(REASONS)
  if (next() < 0.3) good.pin = next() < 0.5
  if (next() < 0.3) good.force = next() < 0.5
  // Damage: a field replaced, dropped, an unknown key, or not an object at all.
  const damage = Math.floor(next() * 6)
  if (damage === 0) good[pick(['kind', 'nodeId', 'roles', 'reason', 'pin', 'force'])] = pick(ODD_VALUES)
  if (damage === 1) delete good[pick(['kind', 'nodeId', 'roles', 'reason'])]
  if (damage === 2) good[pick(['extra', 'Kind', 'node_id', 'constructor'])] = pick(ODD_VALUES)
  if (damage === 3 && next() < 0.3) return pick(ODD_VALUES)
  return JSON.parse(JSON.stringify(good)) as unknown
}

describe('proposal body check', () => {
  it('accepts exactly what the zod schema accepts', () => {
    let accepted = 0
    let refused = 0
    for (let seed = 1; seed <= 8000; seed++) {
      const value = body(rng(seed))
      const expected = proposalBodySchema.safeParse(value).success
      expect(wellFormedProposalBody(value), `seed ${seed}: ${JSON.stringify(value)}`).toBe(expected)
      if (expected) accepted++
      else refused++
    }
    // Both sides were exercised.
    expect(accepted).toBeGreaterThan(1000)
    expect(refused).toBeGreaterThan(1000)
  })
})

describe('POST /v1/proposals body handling', () => {
  const TOKEN = 't'.repeat(43)
  const shape = MeshShape.fromData({ members: [['n-a', [...CONTROL_PLANE_ROLES]], ['n-b', []]], target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 } })
  const proposed: Array<{ command: Command, reason: string }> = []
  const service = {
    shapeMachine: { shape },
    operatorGuard: undefined,
    async proposeOperator (command: Command, reason: string) {
      proposed.push({ command, reason })
      return { result: { index: 5, term: 2, cid: 'c', outcome: { kind: 'applied' } }, duplicate: false, index: 5, term: 2, batch: { position: 1, commands: 3 } }
    }
  } as unknown as ConsensusService
  let server: ApiServer
  beforeAll(async () => {
    server = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
    registerConsensusRoutes(server.app, service)
    await server.app.ready()
  })
  afterAll(async () => { await server.close() })

  async function post (value: unknown): Promise<{ status: number, json: unknown }> {
    const res = await server.app.inject({ method: 'POST', url: '/v1/proposals', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, payload: JSON.stringify(value) })
    return { status: res.statusCode, json: res.json() }
  }

  it('answers a bad body with the typed 400 and zod\'s message, and proposes nothing', async () => {
    const bad: unknown[] = [
      { kind: 'promote', nodeId: 'n-b', roles: ['etcd'], extra: 1 },
      { kind: 'elect', nodeId: 'n-b' },
      { kind: 'promote', nodeId: '', roles: ['etcd'] },
      { kind: 'promote', nodeId: 'n-b', roles: [] },
      { kind: 'promote', nodeId: 'n-b', roles: ['etcd'], reason: 'bootstrap' },
      { kind: 'promote', nodeId: 'n-b', roles: ['etcd'], pin: 'yes' },
      ['promote'],
      null
    ]
    for (const value of bad) {
      const parsed = proposalBodySchema.safeParse(value)
      expect(parsed.success).toBe(false)
      expect(await post(value), JSON.stringify(value)).toEqual({ status: 400, json: { error: 'BadRequest', message: zodIssues(parsed.error!) } })
    }
    expect(await post({ kind: 'promote', nodeId: 'n-b' })).toEqual({ status: 400, json: { error: 'BadRequest', message: 'promote needs roles' } })
    expect(proposed).toEqual([])
  })

  it('answers 400 and proposes nothing when a role repeats in roles', async () => {
    // It used to be proposed and committed as a rejected "malformed" entry (the shape refuses a repeated role).
    const proposedBefore = proposed.length
    for (const roles of [['api-server', 'api-server'], ['etcd', 'scheduler', 'etcd']]) {
      const value = { kind: 'promote', nodeId: 'n-b', roles }
      expect(proposalBodySchema.safeParse(value).success).toBe(false)
      expect(wellFormedProposalBody(value)).toBe(false)
      expect(await post(value), JSON.stringify(roles)).toEqual({ status: 400, json: { error: 'BadRequest', message: 'roles: each role at most once' } })
    }
    expect(proposed).toHaveLength(proposedBefore)
  })

  it('proposes a good body\'s command with its reason and answers the typed result', async () => {
    expect(await post({ kind: 'promote', nodeId: 'n-b', roles: ['scheduler'], reason: 'rebalance', pin: true })).toEqual({
      status: 200, json: { index: 5, term: 2, cid: 'c', outcome: { kind: 'applied' }, duplicate: false, batch: { position: 1, commands: 3 } }
    })
    expect(await post({ kind: 'demote', nodeId: 'n-b', roles: ['scheduler'] })).toMatchObject({ status: 200 })
    expect(proposed).toEqual([
      { command: { kind: 'promote', nodeId: 'n-b', roles: ['scheduler'], pin: true }, reason: 'rebalance' },
      { command: { kind: 'demote', nodeId: 'n-b', roles: ['scheduler'] }, reason: 'operator' }
    ])
    expect(await post({ kind: 'quarantine', nodeId: 'stranger' })).toMatchObject({ status: 404, json: { error: 'NotFound' } })
  })
})
