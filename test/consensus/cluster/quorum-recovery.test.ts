/**
 * `revoada recover-quorum` on real nodes: two of three voters are gone for good; the survivor, started in
 * recovery, becomes the only voter with its log (target and shape) kept and the lost voters removed, the learner
 * still running follows it, and it then starts as usual and commits alone. A survivor whose log's tail demoted it
 * takes etcd back; a run resumes the lost voters an earlier run recorded, and one killed after its demotions
 * resumes with the removals alone. Recovery is refused while a leader answers, without a log and on a non-voter.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../../src/node/index.js'
import type { RevoadaNode } from '../../../src/node/index.js'
import { defaultServices } from '../../../src/node/services.js'
import type { ConsensusService } from '../../../src/consensus/consensus-service.js'
import { startCluster, startMember, stopAll, waitFor, waitForMesh, FAST } from './helpers.js'
import type { Member } from './helpers.js'
import { tempDir, testConfig } from '../../node/helpers.js'
import { decodeChainExport, verifyChain } from '../../../src/attestation/core/index.js'
import type { VerifyReport } from '../../../src/attestation/core/index.js'
import { verifyWithCodec } from '../../../src/attestation/signatures.js'
import { QUORUM_RECOVERY_FILE_NAME, readRecoveryRecord, writeRecoveryRecord } from '../../../src/consensus/recovery-record.js'
import { EXIT_CODE_REMOVED } from '../../../src/consensus/member-removal.js'
import { peerIdFromString } from '@libp2p/peer-id'

const TARGET = { apiServers: 1, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 2 }

let members: Member[] = []
const others: RevoadaNode[] = []
afterEach(async () => {
  await stopAll(members)
  members = []
  for (const node of others.splice(0)) await node.stop()
})

/**
 * Starts the consensus layer on `dir` in quorum recovery, without the policy engine, on `listen` if given: a
 * machine comes back on its address, and a learner that never dialled this node's new port would not hear it.
 */
async function startRecovery (dir: string, listen?: string): Promise<{ node: RevoadaNode, consensus: ConsensusService }> {
  const services = defaultServices({ policy: false })
  const node = await startNode({ config: testConfig(dir, { ...FAST, ...(listen !== undefined ? { listen: [listen] } : {}) }), services, recoverQuorum: true })
  others.push(node)
  return { node, consensus: services.find((s): s is ConsensusService => s.name === 'consensus')! }
}

/** Promotes `voters` to etcd through `a`, one at a time, until every member has applied the last one. */
async function promoteAll (a: Member, voters: Member[]): Promise<void> {
  for (const m of voters) {
    await a.consensus.propose({ kind: 'promote', nodeId: m.node.nodeId, roles: ['etcd'] }, 'operator')
    await waitFor(() => a.consensus.node.configuration().voters.includes(m.node.nodeId) && a.consensus.node.configuration().votersOutgoing.length === 0, 60_000, 'a voter')
  }
  const applied = a.consensus.node.appliedIndex()
  await waitFor(() => members.every((m) => m.consensus.node.appliedIndex() >= applied), 60_000, 'every member applied the voters')
}

/** `m`'s TCP address on 127.0.0.1 without its PeerId: where it starts again, as a machine comes back on its address. */
/** The index of the newest snapshot file in a raft directory (`snap-<index, 16 hex digits>.snap`), or 0. */
async function newestSnapshot (raftDir: string): Promise<number> {
  const indexes = (await fs.readdir(raftDir)).map((name) => /^snap-([0-9a-f]{16})\.snap$/.exec(name)?.[1])
  return Math.max(0, ...indexes.filter((hex) => hex !== undefined).map((hex) => Number.parseInt(hex, 16)))
}

const loopbackAddress = (m: Member): string =>
  m.node.net.getMultiaddrs().map(String).find((addr) => addr.startsWith('/ip4/127.0.0.1/'))!.replace(/\/p2p\/.*$/, '')

describe('quorum recovery', () => {
  it('should make the surviving voter the only one, keeping its log, and let the learner follow it', async () => {
    members = await startCluster(4)
    const [a, b, c, d] = members as [Member, Member, Member, Member]
    await a.consensus.propose({ kind: 'set-target', target: TARGET }, 'operator')
    await promoteAll(a, [b, c])
    // c and d must have met: c's promotion is the last change, and stopped right after it c and d could hold each
    // other's ids only, with a and b, who knew both addresses, gone (1 run in 3–5 on a loaded machine).
    await waitForMesh(members, 60_000)
    // a and b are gone for good; c (a voter) is stopped to run the recovery; d (a learner) keeps running. c comes
    // back on its address, the one d holds for it.
    const cAddress = loopbackAddress(c)
    for (const m of [a, b, c]) await m.node.stop()
    members = [d]

    const survivor = await startRecovery(c.dir, cAddress)
    const stop = await survivor.node.stopRequested
    expect(stop.exitCode).toBe(0)
    expect(stop.message).toContain('quorum recovered')
    const conf = survivor.consensus.node.configuration()
    expect(conf.voters).toEqual([c.node.nodeId])
    expect(conf.votersOutgoing).toEqual([])
    // The lost voters are removed from the cluster: out of the configuration, refused Raft from now on.
    expect(conf.learners).toEqual([d.node.nodeId])
    const shape = survivor.consensus.shapeMachine.shape
    expect(shape.wasRemoved(a.node.nodeId) && shape.wasRemoved(b.node.nodeId)).toBe(true)
    expect(shape.holders('etcd')).toEqual([c.node.nodeId])
    expect(shape.target).toEqual(TARGET) // committed before the loss: kept
    // The learner reaches what the recovered voter applied (it redials the voter's address, or the voter dials it).
    const recovered = survivor.consensus.node.appliedIndex()
    const follows = (): boolean => d.consensus.node.appliedIndex() >= recovered && d.consensus.node.leaderId() === c.node.nodeId
    await waitFor(follows, 120_000, 'the learner follows the recovered voter').catch(async (err: Error) => {
      const seen = (m: { consensus: ConsensusService }): string => JSON.stringify({ ...m.consensus.node.status(), confState: undefined, progress: undefined })
      const held = await d.node.net.peerStore.get(peerIdFromString(c.node.nodeId)).then((p) => p.addresses.map((x) => x.multiaddr.toString()), () => [])
      throw new Error(`${err.message}; recovered voter ${seen(survivor)} (connections: ${survivor.node.net.getConnections().length}); ` +
        `learner ${seen(d)} (its addresses for the voter: ${JSON.stringify(held)})`)
    })
    expect(d.consensus.shapeMachine.shapeCid()).toBe(survivor.consensus.shapeMachine.shapeCid())
    await survivor.node.stop()
    others.splice(others.indexOf(survivor.node), 1)

    // Started again as usual, it leads alone and commits.
    const again = await startMember(c.dir, { extra: { listen: [cAddress] } })
    members.push(again)
    await waitFor(() => again.consensus.node.isLeader(), 30_000, 'the recovered voter leads')
    const result = await again.consensus.propose({ kind: 'set-target', target: { ...TARGET, minWorkers: 3 } }, 'operator')
    expect(result.result.outcome).toEqual({ kind: 'applied' })
    await waitFor(() => d.consensus.shapeMachine.shape.target.minWorkers === 3, 60_000, 'the learner applies the new target')

    // The run ended with a snapshot that keeps no entry before it: the restarted voter's log begins after it
    // (quorum-recovery-run.ts). b, a voter stopped with the old configuration and started again with its data, is
    // told it was removed and stops.
    const endIndex = await newestSnapshot(path.join(c.dir, 'raft'))
    expect(endIndex).toBeGreaterThan(0)
    expect(again.consensus.node.status().firstIndex).toBe(endIndex + 1)
    const bAgain = await startMember(b.dir)
    others.push(bAgain.node)
    expect((await bAgain.node.stopRequested).exitCode).toBe(EXIT_CODE_REMOVED)
    expect(again.consensus.node.configuration().voters).toEqual([c.node.nodeId])

    // Its attestation chain still verifies offline, through the recovery, and ends with it the only voter. The
    // run's demotes are named as a quorum recovery's (protocol level 8), and the survivor seals alone after them:
    // without the re-anchor, the hand-over would want the lost voters' signatures for good (docs/CHAIN.md §4).
    const api = JSON.parse(await fs.readFile(path.join(c.dir, 'api.json'), 'utf8')) as { url: string, token: string }
    const exportReport = async (): Promise<VerifyReport> => {
      const exported = await fetch(`${api.url}/v1/chain/export`, { headers: { authorization: `Bearer ${api.token}` } })
      expect(exported.status).toBe(200)
      const chain = decodeChainExport(new Uint8Array(await exported.arrayBuffer()))
      expect(chain).not.toBeNull()
      return verifyChain(chain!, { verify: verifyWithCodec })
    }
    let report = await exportReport()
    expect(report.voters).toEqual([c.node.nodeId])
    expect(report.blocks).toBeGreaterThan(0)
    expect(report.recoveries.map((r) => ({ proposer: r.proposer, demoted: r.demoted }))).toEqual(expect.arrayContaining([
      { proposer: c.node.nodeId, demoted: a.node.nodeId }, { proposer: c.node.nodeId, demoted: b.node.nodeId }
    ]))
    const recoveredAt = Math.max(...report.recoveries.map((r) => r.height))
    await waitFor(async () => { report = await exportReport(); return report.sealedHeight > recoveredAt }, 60_000, 'a seal above the recovery')
  }, 240_000)

  it('should take etcd back when its log\'s tail demoted it, and forget the run once it ends', async () => {
    // Elections slow enough that the cut-off leader still takes a proposal before check-quorum steps it down.
    const extra = { raft: { tickMs: 50, electionTicks: 30, heartbeatTicks: 1, operationTimeoutMs: 30_000 } }
    const lost = new Set<string>()
    let cut = false
    const selves: string[] = []
    members = await startCluster(4, { extra, faults: (i) => ({ isBlocked: (peer) => cut && lost.has(peer) !== lost.has(selves[i] ?? '') }) })
    selves.push(...members.map((m) => m.node.nodeId))
    const [a, b, c, d] = members as [Member, Member, Member, Member]
    await promoteAll(a, [b, c])
    c.consensus.node.transferLeadership(c.node.nodeId)
    a.consensus.node.transferLeadership(c.node.nodeId)
    await waitFor(() => c.consensus.node.isLeader(), 30_000, 'c leads')
    // a and b are cut off; c, still leading, appends its own demotion, which cannot commit.
    lost.add(a.node.nodeId).add(b.node.nodeId)
    cut = true
    for (const x of [a, b]) for (const y of [c, d]) await x.node.net.hangUp(peerIdFromString(y.node.nodeId)).catch(() => {})
    const before = c.consensus.node.status().lastIndex
    void c.consensus.propose({ kind: 'demote', nodeId: c.node.nodeId, roles: ['etcd'] }, 'operator').catch(() => {})
    await waitFor(() => c.consensus.node.status().lastIndex > before, 10_000, 'c appended its demotion')
    expect(c.consensus.node.status().commit).toBeLessThan(c.consensus.node.status().lastIndex)
    const cAddress = loopbackAddress(c)
    for (const m of [a, b, c]) await m.node.stop()
    members = [d]

    const survivor = await startRecovery(c.dir, cAddress)
    const stop = await survivor.node.stopRequested
    expect(stop.message).toContain('quorum recovered')
    expect(stop.exitCode).toBe(0)
    // Its demotion committed, then its promotion back: it ends the only voter, the only etcd holder.
    const shape = survivor.consensus.shapeMachine.shape
    expect(survivor.consensus.node.configuration().voters).toEqual([c.node.nodeId])
    expect(shape.holders('etcd')).toEqual([c.node.nodeId])
    await expect(fs.access(path.join(c.dir, 'raft', QUORUM_RECOVERY_FILE_NAME))).rejects.toThrow(/ENOENT/)
  }, 240_000)

  it('should resume a run with the lost voters an earlier run recorded, counting a voter it did not', async () => {
    members = await startCluster(4)
    const [a, b, c, d] = members as [Member, Member, Member, Member]
    await promoteAll(a, [b, c, d])
    // c commits with d, a voter that is not lost: they must have met (see the first case).
    await waitForMesh(members, 60_000)
    // Four voters, two gone for good: no quorum. An earlier run (as if it gave up after the policy engine
    // promoted d) recorded a and b as lost; d, a live voter, must count, not be demoted as lost.
    const cAddress = loopbackAddress(c)
    for (const m of [a, b, c]) await m.node.stop()
    members = [d]
    await writeRecoveryRecord(path.join(c.dir, 'raft'), [a.node.nodeId, b.node.nodeId])

    const survivor = await startRecovery(c.dir, cAddress)
    const stop = await survivor.node.stopRequested
    expect(stop.message).toContain('quorum recovered')
    expect(survivor.consensus.node.configuration().voters.sort()).toEqual([c.node.nodeId, d.node.nodeId].sort())
    expect(survivor.consensus.shapeMachine.shape.holders('etcd').sort()).toEqual([c.node.nodeId, d.node.nodeId].sort())
    await expect(fs.access(path.join(c.dir, 'raft', QUORUM_RECOVERY_FILE_NAME))).rejects.toThrow(/ENOENT/)
    await survivor.node.stop()
    others.splice(others.indexOf(survivor.node), 1)

    // A record left behind (the run ended, its removal did not) goes at the next plain start: none of its
    // lost voters is a voter any more. One naming a voter stays, for recover-quorum to resume.
    const raftDir = path.join(c.dir, 'raft')
    const runEnd = await newestSnapshot(raftDir)
    expect(runEnd).toBeGreaterThan(0) // the run's own, at its end
    await writeRecoveryRecord(raftDir, [a.node.nodeId, d.node.nodeId])
    let again = await startMember(c.dir, { extra: { listen: [cAddress] } })
    expect(again.consensus.statusFields().quorumRecovery).toEqual({ lostVoters: [a.node.nodeId, d.node.nodeId].sort(), running: false })
    // It runs as usual meanwhile (c and d are a quorum): one more entry, so the next snapshot is a later one.
    await waitFor(() => again.consensus.node.leaderId() !== null, 60_000, 'c and d elect a leader')
    const changed = await again.consensus.propose({ kind: 'set-target', target: { ...TARGET, minWorkers: 4 } }, 'operator')
    expect(changed.result.outcome).toEqual({ kind: 'applied' })
    await again.node.stop()
    expect(await readRecoveryRecord(raftDir)).toEqual([a.node.nodeId, d.node.nodeId].sort())
    await writeRecoveryRecord(raftDir, [a.node.nodeId, b.node.nodeId])
    again = await startMember(c.dir, { extra: { listen: [cAddress] } })
    members.push(again)
    expect(await readRecoveryRecord(raftDir)).toBeUndefined()
    expect(again.consensus.statusFields().quorumRecovery).toBeUndefined()
    // That start took the snapshot a run ends with (the run may have stopped before its own): at its applied index.
    const startEnd = await newestSnapshot(raftDir)
    expect(startEnd).toBeGreaterThan(runEnd)
    expect(again.consensus.node.status().firstIndex).toBe(startEnd + 1)
  }, 240_000)

  it('should resume a run killed after its demotions with the removals alone, and keep its record until then', async () => {
    members = await startCluster(4)
    const [a, b, c, d] = members as [Member, Member, Member, Member]
    await promoteAll(a, [b, c])
    // The state a run leaves when it is killed between its demotions and its removals: c the only voter, a and b
    // demoted but still members, the record naming them.
    for (const m of [a, b]) {
      await c.consensus.propose({ kind: 'demote', nodeId: m.node.nodeId, roles: ['etcd'] }, 'operator')
      await waitFor(() => !c.consensus.node.configuration().voters.includes(m.node.nodeId) && c.consensus.node.configuration().votersOutgoing.length === 0, 60_000, 'a demoted')
    }
    expect(c.consensus.node.configuration().voters).toEqual([c.node.nodeId])
    const cAddress = loopbackAddress(c)
    for (const m of [a, b, c]) await m.node.stop()
    members = [d]
    const raftDir = path.join(c.dir, 'raft')
    await writeRecoveryRecord(raftDir, [a.node.nodeId, b.node.nodeId])

    // A plain start keeps the record (its lost voters are still members) and says the run has not ended.
    let again = await startMember(c.dir, { extra: { listen: [cAddress] } })
    expect(again.consensus.statusFields().quorumRecovery).toEqual({ lostVoters: [a.node.nodeId, b.node.nodeId].sort(), running: false })
    await again.node.stop()
    expect(await readRecoveryRecord(raftDir)).toEqual([a.node.nodeId, b.node.nodeId].sort())

    // recover-quorum resumes it: no leader to listen for (c, the only voter, elects itself), only the removals.
    const survivor = await startRecovery(c.dir, cAddress)
    const stop = await survivor.node.stopRequested
    expect(stop.message).toContain('quorum recovered')
    expect(stop.exitCode).toBe(0)
    const shape = survivor.consensus.shapeMachine.shape
    expect(shape.wasRemoved(a.node.nodeId) && shape.wasRemoved(b.node.nodeId)).toBe(true)
    expect(survivor.consensus.node.configuration().learners).toEqual([d.node.nodeId])
    expect(await readRecoveryRecord(raftDir)).toBeUndefined()
    await survivor.node.stop()
    others.splice(others.indexOf(survivor.node), 1)
    // A record that outlived its run (written again here, as a crash before its removal would leave it): a run
    // changes nothing, and says so rather than "quorum recovered".
    await writeRecoveryRecord(raftDir, [a.node.nodeId, b.node.nodeId])
    const stale = await startRecovery(c.dir, cAddress)
    const staleStop = await stale.node.stopRequested
    expect(staleStop.message).toContain('quorum recovery had already ended')
    expect(staleStop.message).not.toContain('quorum recovered')
    expect(staleStop.exitCode).toBe(0)
    expect(await readRecoveryRecord(raftDir)).toBeUndefined()
    await stale.node.stop()
    others.splice(others.indexOf(stale.node), 1)
    again = await startMember(c.dir, { extra: { listen: [cAddress] } })
    members.push(again)
    expect(again.consensus.statusFields().quorumRecovery).toBeUndefined()
  }, 240_000)

  it('should refuse to recover while the other voters answer, and leave the node a voter', async () => {
    members = await startCluster(3)
    const [a, b, c] = members as [Member, Member, Member]
    await promoteAll(a, [b, c])
    await c.node.stop()
    members = [a, b]
    await expect(startRecovery(c.dir)).rejects.toMatchObject({ name: 'QuorumRecoveryError', message: expect.stringContaining('the cluster has a leader') })
    const again = await startMember(c.dir)
    members.push(again)
    await waitFor(() => again.consensus.node.leaderId() !== null, 30_000, 'c follows the leader again')
    expect(again.consensus.node.configuration().voters).toHaveLength(3)
  }, 120_000)

  it('should refuse to recover a node that is not a voter, or a data dir without a log', async () => {
    members = await startCluster(2)
    const [a, b] = members as [Member, Member]
    await waitFor(() => b.consensus.node.appliedIndex() >= a.consensus.node.appliedIndex(), 30_000, 'the learner caught up')
    await b.node.stop()
    members = [a]
    await expect(startRecovery(b.dir)).rejects.toMatchObject({ name: 'QuorumRecoveryError', message: expect.stringContaining('is not a voter') })
    const empty = await tempDir()
    try {
      await expect(startRecovery(empty)).rejects.toMatchObject({ name: 'QuorumRecoveryError', message: expect.stringContaining('held no cluster') })
      await fs.rm(path.join(b.dir, 'raft'), { recursive: true })
      await expect(startRecovery(b.dir)).rejects.toMatchObject({ name: 'QuorumRecoveryError', message: expect.stringContaining('no raft log') })
    } finally {
      await fs.rm(empty, { recursive: true, force: true })
    }
  }, 120_000)
})
