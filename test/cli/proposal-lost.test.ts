/**
 * Goal: an operator command whose envelope was lost with its leader's term once more than the batcher may
 * send it again (SHAPE_BATCH_RESUBMITS_MAX) reaches its HTTP caller as 503 `Unavailable` saying it was not
 * applied and is safe to retry, and `revoada propose` prints that message and exits 1 (docs/OPERATIONS.md,
 * "Errors"). Method: the real ApiServer and consensus routes on port 0; the service is stubbed at the
 * routes' seam, its `proposeOperator` being a real ProposalBatcher (the service's limits) whose every
 * proposal the driver reports lost (ProposalLostError, as raft-node.ts `resolveLeaderOnly` does); the built
 * CLI talks to the server through an api.json in a temp dir.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiServer, API_FILE_NAME } from '../../src/api/index.js'
import { silentLogger } from '../../src/log/index.js'
import { registerConsensusRoutes } from '../../src/consensus/routes.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import { ProposalBatcher } from '../../src/consensus/proposal-batcher.js'
import { ConsensusTimeoutError, ProposalLostError } from '../../src/consensus/errors.js'
import {
  SHAPE_BATCH_BYTES_MAX, SHAPE_BATCH_COMMANDS_MAX, SHAPE_BATCH_LINGER_MAX_MS, SHAPE_BATCH_QUEUE_MAX, SHAPE_BATCH_RESUBMITS_MAX, SHAPE_BATCHES_IN_FLIGHT_MAX
} from '../../src/consensus/constants.js'
import { MeshShape } from '../../src/consensus/shape/core/index.js'
import type { ApplyResult, BatchedCommand, Command, Reason } from '../../src/consensus/shape/core/index.js'
import type { ProposalResult } from '../../src/consensus/raft-node.js'
import { tempDir } from '../node/helpers.js'
import { cliRun } from './helpers.js'

const TOKEN = 't'.repeat(43)
/** Proposals one command gets: the first and every resubmission. */
const SENT = 1 + SHAPE_BATCH_RESUBMITS_MAX
const MEMBER = '12D3KooWFgpYFkCtCYz6N7T4JxgdMc1fY7iZ7PgNzgkxgLPLSimT'
const SHAPE = MeshShape.fromData({ members: [['node-a', ['api-server', 'etcd', 'scheduler', 'controller-manager']], [MEMBER, []]], target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 } })

const cleanup: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanup.splice(0).reverse()) await c() })

/**
 * The routes' view of the service; every proposal its batcher makes is lost with its leader — or, with
 * `lateAfterLoss`, the first is lost and the resubmission finds its first deadline passed, so the driver
 * proposes nothing (raft-node.ts).
 */
function lossyService (lateAfterLoss = false): { service: ConsensusService, proposals: () => number } {
  let proposals = 0
  let term = 1
  const lost = async (): Promise<ProposalResult<ApplyResult>> => {
    proposals++
    term++
    if (lateAfterLoss && proposals > 1) throw new ConsensusTimeoutError(`proposal a/s/${proposals}: its caller's deadline passed before it was proposed (not proposed)`, false)
    throw new ProposalLostError(`proposal a/s/${proposals} appended at 7@${term} can no longer commit (applied 8 at term ${term + 1})`, 1)
  }
  const batcher = new ProposalBatcher({
    proposeOne: lost, proposeBatch: lost, proposeMerged: lost, forward: lost, encodedBytes: () => 100
  }, {
    commandsMax: SHAPE_BATCH_COMMANDS_MAX, bytesMax: SHAPE_BATCH_BYTES_MAX, inFlightMax: SHAPE_BATCHES_IN_FLIGHT_MAX,
    queueMax: SHAPE_BATCH_QUEUE_MAX, lingerMaxMs: SHAPE_BATCH_LINGER_MAX_MS, resubmitsMax: SHAPE_BATCH_RESUBMITS_MAX
  })
  const service = {
    shapeMachine: { shape: SHAPE },
    operatorGuard: undefined,
    proposeOperator: async (command: Command, reason: Reason) => await batcher.submit({ command, reason } as BatchedCommand)
  } as unknown as ConsensusService
  return { service, proposals: () => proposals }
}

async function serve (service: ConsensusService): Promise<string> {
  const server = new ApiServer({ host: '127.0.0.1', port: 0, allowNonLoopback: false, token: TOKEN, log: silentLogger() })
  registerConsensusRoutes(server.app, service)
  cleanup.push(async () => { await server.close() })
  return await server.listen()
}

/** POSTs the test's promotion to the API at `url` and returns the response with its JSON body. */
async function postPromote (url: string): Promise<{ res: Response, body: { error: string, message: string } }> {
  const res = await fetch(`${url}/v1/proposals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'promote', nodeId: MEMBER, roles: ['scheduler'] })
  })
  return { res, body: await res.json() as { error: string, message: string } }
}

describe('a command lost with its leader once more than it may be sent again', () => {
  it('should answer 503 Unavailable "not applied; safe to retry" after 1 + SHAPE_BATCH_RESUBMITS_MAX proposals, and the CLI should print it and exit 1', async () => {
    const { service, proposals } = lossyService()
    const url = await serve(service)
    const { res, body } = await postPromote(url)
    expect(res.status).toBe(503)
    expect(body).toEqual({ error: 'Unavailable', message: expect.stringMatching(new RegExp(`^sent ${SENT} times, each time in an envelope lost with its leader .*\\(not applied; safe to retry\\)$`)) })
    expect(proposals()).toBe(SENT)

    const dir = await tempDir()
    cleanup.push(async () => { await fs.rm(dir, { recursive: true, force: true }) })
    await fs.writeFile(path.join(dir, API_FILE_NAME), JSON.stringify({ url, token: TOKEN }), { mode: 0o600 })
    const cli = await cliRun(['propose', 'promote', MEMBER, '--roles', 'scheduler', '--data-dir', dir])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toBe('')
    expect(cli.stderr).toMatch(new RegExp(`^revoada: sent ${SENT} times, each time in an envelope lost with its leader before it committed \\(leadership keeps changing\\); the last: proposal .* can no longer commit .* \\(not applied; safe to retry\\)\n$`))
    expect(proposals()).toBe(2 * SENT)
  })

  it('should answer 503 "not applied; safe to retry", not 504 "may still commit", when the resubmission\'s first deadline had already passed', async () => {
    const { service, proposals } = lossyService(true)
    const url = await serve(service)
    const { res, body } = await postPromote(url)
    expect(res.status).toBe(503)
    expect(body).toEqual({ error: 'Unavailable', message: expect.stringMatching(/^lost with its leader before it committed .*its first deadline passed before it could be sent again.*\(not applied; safe to retry\)$/) })
    expect(proposals()).toBe(2)
  })
})
