/**
 * Goal: a policy proposal made by a leader that is deposed before it commits is never applied under its
 * successor. The policy decides from the leader's own snapshot; its successor decides again from its own, so
 * the deposed leader's proposal, forwarded once it follows (the driver re-submits a lost proposal under the
 * same id for up to its operation timeout), would apply beside the successor's decision: a duplicate
 * restoration (3/2 schedulers here), which a later round scales down again — a role flap. The engine proposes
 * leader-only (raft-node.ts ProposeOptions.leaderOnly, passed by EntryProposer.one): never forwarded, failed
 * with ProposalLostError once the committed log rules it out.
 * Method: three drivers with the real MeshShape machine and rules on a loopback network with cuttable links;
 * the leader's proposal goes through EntryProposer.one as ConsensusService.propose sends the engine's.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { encodeCanonical } from '../../src/codec/index.js'
import type { Signer } from '../../src/codec/index.js'
import { RaftNode } from '../../src/consensus/raft-node.js'
import type { ProposalResult } from '../../src/consensus/raft-node.js'
import { EntryProposer } from '../../src/consensus/entry-proposer.js'
import { ShapeMachine } from '../../src/consensus/shape/shape-machine.js'
import { ShapeProposer } from '../../src/consensus/shape/proposer.js'
import { shapeCommandRules } from '../../src/consensus/shape-command-rules.js'
import { MeshShape } from '../../src/consensus/shape/core/index.js'
import type { ApplyResult } from '../../src/consensus/shape/core/index.js'
import { MemoryStorage } from '../consensus/sim/memory-storage-shim.js'
import { LoopbackNetwork, silentLogger, waitUntil } from '../consensus/driver/harness.js'
import { newSigner } from '../consensus/shape/helpers.js'

const CLUSTER = 'cluster-1'

interface Driver { id: string, raft: RaftNode<ApplyResult>, machine: ShapeMachine, signer: Signer }

/** Settles with the proposal's result or error, or 'pending' after `ms`. */
async function within (promise: Promise<ProposalResult<ApplyResult>>, ms: number): Promise<ProposalResult<ApplyResult> | Error | 'pending'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'pending'>((resolve) => { timer = setTimeout(() => resolve('pending'), ms) })
  try {
    return await Promise.race([promise.catch((err: Error) => err), late])
  } finally {
    clearTimeout(timer)
  }
}

describe('a deposed leader\'s policy proposal', () => {
  let a: Signer, b: Signer, c: Signer
  beforeAll(async () => { [a, b, c] = await Promise.all([newSigner(), newSigner(), newSigner()]) })
  const drivers: Driver[] = []
  afterEach(() => { for (const d of drivers.splice(0)) d.raft.stop() })

  function startDriver (network: LoopbackNetwork, signer: Signer, bootstrap: boolean): Driver {
    const machine = new ShapeMachine(CLUSTER)
    // a holds every role; the target wants 2 schedulers: one is missing, and each leader's policy restores it.
    const members = [[a.nodeId, ['api-server', 'etcd', 'scheduler', 'controller-manager']], [b.nodeId, []], [c.nodeId, []]]
      .sort((x, y) => String(x[0]).localeCompare(String(y[0])))
    machine.restore(encodeCanonical(MeshShape.fromData({ members, target: { apiServers: 1, etcd: 1, schedulers: 2, controllerManagers: 1, minWorkers: 0 } }).toData()))
    const raft = new RaftNode<ApplyResult>({
      id: signer.nodeId, clientId: `${signer.nodeId}/driver`, tickMs: 10, electionTicks: 10, heartbeatTicks: 1, bootstrap,
      retryIntervalMs: 200, operationTimeoutMs: 20_000, snapshotEveryEntries: 10_000, retainEntries: 1
    }, { storage: new MemoryStorage(), transport: network.transport(signer.nodeId), stateMachine: machine, logger: silentLogger, commandRules: shapeCommandRules(() => machine.shape), takeRequest: () => null })
    raft.start()
    const driver = { id: signer.nodeId, raft, machine, signer }
    drivers.push(driver)
    return driver
  }

  async function threeVoters (network: LoopbackNetwork): Promise<[Driver, Driver, Driver]> {
    const da = startDriver(network, a, true)
    await waitUntil(() => da.raft.isLeader(), 5000, 'a leads')
    const rest: Driver[] = []
    for (const signer of [b, c]) {
      rest.push(startDriver(network, signer, false))
      da.raft.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: signer.nodeId }], transition: 'auto', enterJoint: true })
      await waitUntil(() => da.raft.configuration().voters.includes(signer.nodeId) && da.raft.configuration().votersOutgoing.length === 0, 5000, 'voter added')
    }
    await waitUntil(() => drivers.every((d) => d.raft.appliedIndex() === da.raft.appliedIndex()), 5000, 'all applied')
    return [da, rest[0]!, rest[1]!]
  }

  /** `d`'s policy restores the second scheduler on `nodeId`, sent as the engine's proposals are. */
  function policyPromotes (d: Driver, nodeId: string): Promise<ProposalResult<ApplyResult>> {
    const entries = new EntryProposer({ raft: () => d.raft, proposer: new ShapeProposer(d.signer, CLUSTER, `${d.id}/policy`), machine: d.machine })
    return entries.one({ kind: 'promote', nodeId, roles: ['scheduler'] }, 'scaling-up', { leaderOnly: true })
  }

  it('should fail with ProposalLostError and never apply beside the successor\'s own decision', async () => {
    const network = new LoopbackNetwork()
    const [da, db, dc] = await threeVoters(network)
    const before = da.raft.status().lastIndex
    // a is cut off with the promotion of c appended in its log only.
    network.isolate(da.id, [db.id, dc.id])
    const answer = policyPromotes(da, c.nodeId)
    await waitUntil(() => da.raft.status().lastIndex === before + 1, 5000, 'a appended its proposal')
    await waitUntil(() => db.raft.isLeader() || dc.raft.isLeader(), 5000, 'a successor')
    const successor = db.raft.isLeader() ? db : dc
    // The successor's policy sees 1/2 schedulers too and restores the second on b; it commits.
    await policyPromotes(successor, b.nodeId)
    network.heal()
    const outcome = await within(answer, 5000)
    expect(outcome).toBeInstanceOf(Error)
    expect((outcome as Error).name).toBe('ProposalLostError')
    // Given the driver's retries, a forwarded copy would have applied by now: a settles only after its log matches.
    await waitUntil(() => drivers.every((d) => d.raft.appliedIndex() === successor.raft.appliedIndex()), 5000, 'all applied')
    for (const d of drivers) {
      expect(d.machine.shape.holders('scheduler').sort()).toEqual([a.nodeId, b.nodeId].sort())
      expect(d.raft.counters().duplicateCommands).toBe(0)
    }
  })
})
