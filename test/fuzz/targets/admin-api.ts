/**
 * @module test/fuzz/targets/admin-api
 * Admin API request bodies, through the real ApiServer (token hook, body limit, JSON parser) and the
 * consensus routes, with `fastify.inject` (no socket). The stub service judges each command with the
 * real pure core (requiredConfChange, transition on a sample shape), so a body that passes the route's
 * checks is also fed to the code the real service runs. Input: byte 0 picks the route, byte 1 the
 * content type, byte 2 the token (mostly the right one); the rest is the body.
 *
 * A crash is a 5xx: a request must be answered 2xx, 400, 401, 404, 405, 413 or 415, never with an
 * unhandled error.
 */
import { ApiServer } from '../../../src/api/server.js'
import { silentLogger } from '../../../src/log/index.js'
import { registerConsensusRoutes } from '../../../src/consensus/routes.js'
import type { ConsensusService } from '../../../src/consensus/consensus-service.js'
import { CONTROL_PLANE_ROLES, MeshShape, REASONS, requiredConfChange, transition } from '../../../src/consensus/shape/core/index.js'
import type { Command, Reason } from '../../../src/consensus/shape/core/index.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'
import { damageValue } from '../values.js'

const TOKEN = 'a'.repeat(43)
const ROUTES = [['POST', '/v1/proposals'], ['POST', '/v1/target'], ['GET', '/v1/shape'], ['GET', '/v1/shape?stale=true'], ['POST', '/v1/shape'], ['PUT', '/v1/proposals']] as const
const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain', 'application/octet-stream', '', 'application/json; charset=latin1', 'multipart/form-data; boundary=x']
const ANSWERS = new Set([200, 400, 401, 404, 405, 406, 409, 413, 415])

const SHAPE = MeshShape.fromData({ members: [['node-a', [...CONTROL_PLANE_ROLES]], ['node-b', []], ['node-c', ['etcd']]], target: { apiServers: 1, etcd: 2, schedulers: 1, controllerManagers: 1, minWorkers: 1 } })

/** Only what the routes call; each command goes through the pure core the real service uses. */
const service = {
  async propose (command: Command) {
    requiredConfChange(SHAPE, command)
    const attempt = transition(SHAPE, command)
    return { result: { index: 1, term: 1, cid: '', outcome: attempt.kind === 'applied' ? { kind: 'applied' } : attempt }, duplicate: false }
  },
  /** The route's entry (batched in the real service); here every command is judged alone, as in a batch of one. */
  async proposeOperator (command: Command, reason: Reason) {
    return await service.propose(command, reason)
  },
  async readShape () {
    return { shape: SHAPE, cid: 'cid', appliedIndex: 1 }
  },
  shapeMachine: { shape: SHAPE },
  nodeId: 'node-a',
  liveMembers: () => SHAPE.memberIds(),
  operatorGuard: undefined,
  async removeMember (nodeId: string) {
    return await service.propose({ kind: 'remove-member', nodeId }, 'operator')
  },
  async leave () {
    return await service.propose({ kind: 'remove-member', nodeId: 'node-a' }, 'operator')
  }
} as unknown as ConsensusService

let server: ApiServer | undefined

function body (rng: FuzzRng): unknown {
  const valid = rng.pick<unknown>([
    { kind: 'promote', nodeId: 'node-b', roles: ['etcd', 'scheduler'], reason: rng.pick(REASONS) },
    { kind: 'remove-member', nodeId: 'node-b' },
    { preset: 'ha-three' },
    { target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 0 } }
  ])
  return rng.chance(0.7) ? damageValue(rng, valid) : valid
}

export const adminApiTarget: FuzzTarget = {
  name: 'admin-api',
  description: 'admin API request (route, content type, token, body) → ApiServer + consensus routes (never a 5xx)',
  typedErrors: [],
  async setup () {
    if (server !== undefined) return
    server = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
    registerConsensusRoutes(server.app, service)
    await server.app.ready()
  },
  corpus: () => [
    Buffer.concat([Buffer.from([0, 0, 0]), Buffer.from(JSON.stringify({ kind: 'promote', nodeId: 'node-b', roles: ['etcd'] }))]),
    Buffer.concat([Buffer.from([1, 0, 0]), Buffer.from(JSON.stringify({ target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 1 } }))])
  ],
  generate (rng) {
    const text = JSON.stringify(body(rng), (_k, v: unknown) => typeof v === 'bigint' ? Number(v) : v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v) ?? 'null'
    return Buffer.concat([Buffer.from([rng.int(2), rng.chance(0.8) ? 0 : rng.int(CONTENT_TYPES.length), rng.chance(0.9) ? 0 : 1 + rng.int(255)]), Buffer.from(text)])
  },
  async run (input) {
    invariant(server !== undefined, 'setup() not called')
    const [method, url] = ROUTES[(input[0] ?? 0) % ROUTES.length] as readonly [string, string]
    const contentType = CONTENT_TYPES[(input[1] ?? 0) % CONTENT_TYPES.length] as string
    const tokenByte = input[2] ?? 0
    const token = tokenByte === 0 ? TOKEN : tokenByte === 1 ? '' : TOKEN.slice(0, tokenByte % 44) + String.fromCharCode(tokenByte)
    const headers: Record<string, string> = { authorization: `Bearer ${token}` }
    if (contentType !== '') headers['content-type'] = contentType
    const payload = Buffer.from(input.subarray(3))
    const response = await server.app.inject({ method: method as 'POST', url, headers, ...(method === 'GET' ? {} : { payload }) })
    invariant(ANSWERS.has(response.statusCode), () => `${method} ${url} answered ${response.statusCode}: ${response.body.slice(0, 300)}`)
  },
  async close () {
    await server?.close()
    server = undefined
  }
}
