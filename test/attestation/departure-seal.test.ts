/**
 * Taking one of two voters out must not leave the last voter unable to seal (docs/CHAIN.md §4, the hand-over;
 * docs/OPERATIONS.md, "Removal, leaving, and coming back"). From protocol level 8 a seal needs a majority of the
 * voters where the chain was last sealed: both, from two voters to one. `remove-member` and `leave` demote the
 * voter, wait for a seal over its departure when the chain needs its signature, and only then remove it; removed
 * at once, it stopped before signing and the voter left never sealed again. Method: in-process clusters of two
 * voters whose removed node stops as `revoada start` does, then a new block on the voter left must be sealed; and
 * the removal's choices (wait, do not wait, give up) on fakes and on real chains.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { FAST, promoteEtcd, startCluster, stopAll, waitFor } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'
import { EXIT_CODE_REMOVED } from '../../src/consensus/consensus-service.js'
import { MemberRemoval } from '../../src/consensus/member-removal.js'
import type { DepartureSeal, MemberRemovalDeps } from '../../src/consensus/member-removal.js'
import { PROTOCOL_SEAL_HANDOVER } from '../../src/consensus/shape/core/index.js'
import type { Command } from '../../src/consensus/shape/core/index.js'
import { REMOVAL_SEAL_PROGRESS_MS, REMOVAL_SEAL_WAIT_MS } from '../../src/consensus/constants.js'
import { departureNeedsWitness } from '../../src/attestation/core/index.js'
import { capturingLogger } from '../node/helpers.js'
import { ChainBuilder, makeNodes, sealedThreeVoters } from './helpers.js'
import type { TestNode } from './helpers.js'

interface ChainStatus { height: number, sealedHeight: number }
const chainOf = (m: Member): ChainStatus => m.node.status().chain as ChainStatus
const ONE_VOTER = { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 0 }

/** Stops `m` when it asks to (its removal applied), as `revoada start` does; resolves with its request. */
function stopOnRequest (m: Member): Promise<{ exitCode: number }> {
  return m.node.stopRequested.then(async (request) => {
    await m.node.stop()
    return request
  })
}

/** A block on `a` (one voter left), then a seal of it: what the chain could not do after an unwitnessed departure. */
async function expectSealAfter (a: Member): Promise<void> {
  const r = await a.consensus.propose({ kind: 'set-target', target: ONE_VOTER }, 'operator')
  expect(r.result.outcome.kind).toBe('applied')
  const next = chainOf(a).height
  await waitFor(() => chainOf(a).sealedHeight >= next, 30_000, `a seal of height ${next} by the one voter left`)
}

describe('taking one of two voters out', () => {
  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  // A 1 s seal interval: the removed node's last chance to sign by chance, between its demotion and its stop, stays small.
  const extra = { ...FAST, attestation: { sealIntervalMs: 1000 } }

  it('should seal on the voter left when remove-member takes out the other of two voters', async () => {
    members = await startCluster(2, { extra })
    const [a, b] = members as [Member, Member]
    await promoteEtcd(a, b)
    const promotedAt = chainOf(a).height
    await waitFor(() => chainOf(a).sealedHeight >= promotedAt, 60_000, 'a seal while both are voters')
    const stopped = stopOnRequest(b)
    const removed = await a.consensus.removeMember(b.node.nodeId)
    expect(removed.result.outcome.kind).toBe('applied')
    expect((await stopped).exitCode).toBe(EXIT_CODE_REMOVED)
    await expectSealAfter(a)
    expect(removed.departure).toMatchObject({ seal: 'covered' })
  }, 180_000)

  it('should seal on the voter left when the other of two voters leaves', async () => {
    members = await startCluster(2, { extra })
    const [a, b] = members as [Member, Member]
    await promoteEtcd(a, b)
    const promotedAt = chainOf(a).height
    await waitFor(() => chainOf(a).sealedHeight >= promotedAt, 60_000, 'a seal while both are voters')
    const stopped = stopOnRequest(b)
    const left = await b.consensus.leave()
    expect(left.result.outcome.kind).toBe('applied')
    expect((await stopped).exitCode).toBe(0)
    await expectSealAfter(a)
    expect(left.departure).toMatchObject({ seal: 'covered' })
  }, 180_000)
})

/** n0 bootstraps at `level`, n1 joins and becomes the second voter, and both seal: the start of every case here. */
async function twoSealedVoters (level: number): Promise<{ b: ChainBuilder, n0: TestNode, n1: TestNode }> {
  const [n0, n1] = await makeNodes(2) as [TestNode, TestNode]
  const b = new ChainBuilder('departure')
  b.propose(n0, { kind: 'bootstrap', nodeId: n0.id, ...(level > 1 ? { protocol: level } : {}) })
  b.propose(n0, { kind: 'add-member', nodeId: n1.id })
  expect(b.propose(n0, { kind: 'promote', nodeId: n1.id, roles: ['etcd'] }).outcome.kind).toBe('applied')
  expect(b.commitSeal(b.sealOf([n0, n1])).outcome.kind).toBe('applied')
  return { b, n0, n1 }
}

describe('departureNeedsWitness', () => {
  it('should need a demoted voter of two until a seal covers its departure', async () => {
    const { b, n0, n1 } = await twoSealedVoters(PROTOCOL_SEAL_HANDOVER)
    const live = new Set([n0.id, n1.id])
    // Still a voter of two: the other alone is no majority of the two that last sealed.
    expect(departureNeedsWitness(b.machine.view(), n1.id, live)).toBe(true)
    b.propose(n0, { kind: 'demote', nodeId: n1.id, roles: ['etcd'] })
    expect(departureNeedsWitness(b.machine.view(), n1.id, live)).toBe(true)
    expect(b.commitSeal(b.sealOf([n0, n1])).outcome.kind).toBe('applied')
    expect(departureNeedsWitness(b.machine.view(), n1.id, live)).toBe(false)
  })

  it('should not need a voter of three whose two others live, and need it when one of them is gone', async () => {
    const { b, nodes } = await sealedThreeVoters('departure-3', PROTOCOL_SEAL_HANDOVER)
    const [n0, n1, n2] = nodes as [TestNode, TestNode, TestNode]
    b.propose(n0, { kind: 'demote', nodeId: n2.id, roles: ['etcd'] })
    expect(departureNeedsWitness(b.machine.view(), n2.id, new Set([n0.id, n1.id, n2.id]))).toBe(false)
    expect(departureNeedsWitness(b.machine.view(), n2.id, new Set([n0.id, n2.id]))).toBe(true)
  })

  it('should need nobody below protocol level 8 (no hand-over)', async () => {
    const { b, n0, n1 } = await twoSealedVoters(1)
    b.propose(n0, { kind: 'demote', nodeId: n1.id, roles: ['etcd'] })
    expect(departureNeedsWitness(b.machine.view(), n1.id, new Set([n0.id, n1.id]))).toBe(false)
  })
})

describe('MemberRemoval and the chain', () => {
  /** A removal of n1 (a voter of n0's cluster) on fakes: what it proposed, how often it waited, what it logged. */
  async function removal (seal: Partial<DepartureSeal>, live: (n0: string, n1: string) => string[]): Promise<{
    removal: MemberRemoval, n1: string, proposed: Command[], waits: number[], logged: () => Promise<Array<Record<string, unknown>>>
  }> {
    const { b, n0, n1 } = await twoSealedVoters(PROTOCOL_SEAL_HANDOVER)
    const proposed: Command[] = []
    const waits: number[] = []
    const { log, lines } = capturingLogger('info')
    const deps: MemberRemovalDeps = {
      raft: () => ({ read: async () => {}, configurationView: () => { throw new Error('unused') }, leaderId: () => n0.id }) as unknown as ReturnType<MemberRemovalDeps['raft']>,
      shape: () => b.shape.shape,
      propose: async (command) => {
        proposed.push(command)
        return { index: proposed.length, term: 1, duplicate: false, result: { outcome: { kind: 'applied' } } } as unknown as Awaited<ReturnType<MemberRemovalDeps['propose']>>
      },
      liveMembers: () => live(n0.id, n1.id),
      departureSeal: {
        needed: () => true,
        covered: async (_nodeId, timeoutMs) => { waits.push(timeoutMs); return false },
        progress: () => ({ height: 9, sealedHeight: 4 }),
        ...seal
      },
      ctx: { nodeId: n0.id, log, cluster: { clusterId: 'departure' }, config: { dataDir: '/nonexistent' }, requestStop: () => {} } as unknown as MemberRemovalDeps['ctx']
    }
    // The sink is written asynchronously: a marker line, once seen, follows every line before it.
    const logged = async (): Promise<Array<Record<string, unknown>>> => {
      log.warn('marker')
      await waitFor(() => lines.some((l) => l.msg === 'marker'), 10_000, 'the log flushed')
      return lines
    }
    return { removal: new MemberRemoval(deps), n1: n1.id, proposed, waits, logged }
  }

  it('should give up after the bound, logging progress, and leave the member demoted but not removed', async () => {
    const r = await removal({}, (n0, n1) => [n0, n1])
    await expect(r.removal.removeMember(r.n1)).rejects.toMatchObject({ name: 'RequestRefusedError', message: expect.stringMatching(/no seal covered the departure/) })
    expect(r.proposed.map((c) => c.kind)).toEqual(['demote'])
    expect(r.waits).toHaveLength(Math.ceil(REMOVAL_SEAL_WAIT_MS / REMOVAL_SEAL_PROGRESS_MS))
    expect((await r.logged()).filter((l) => String(l.msg).startsWith('still waiting for a seal'))).toHaveLength(r.waits.length - 1)
  })

  it('should remove at once, with a warning, a needed member that is gone (it can sign nothing)', async () => {
    const r = await removal({}, (n0) => [n0])
    const removed = await r.removal.removeMember(r.n1)
    expect(r.proposed.map((c) => c.kind)).toEqual(['demote', 'remove-member'])
    expect(r.waits).toEqual([])
    expect(removed.departure).toEqual({ seal: 'member-gone' })
    expect((await r.logged()).some((l) => String(l.msg).includes('without a seal over its departure'))).toBe(true)
  })

  it('should not wait when the chain does not need the member, and wait until covered when it does', async () => {
    const notNeeded = await removal({ needed: () => false }, (n0, n1) => [n0, n1])
    expect((await notNeeded.removal.removeMember(notNeeded.n1)).departure).toBeUndefined()
    expect(notNeeded.waits).toEqual([])
    let calls = 0
    const covered = await removal({ covered: async () => ++calls >= 2 }, (n0, n1) => [n0, n1])
    const removed = await covered.removal.removeMember(covered.n1)
    expect(covered.proposed.map((c) => c.kind)).toEqual(['demote', 'remove-member'])
    expect(removed.departure).toMatchObject({ seal: 'covered', sealedHeight: 4 })
    expect(calls).toBe(2)
  })
})
