/**
 * Goal: the leader admits a fleet that connects at once without waiting one timer round per peer, and
 * with two commits per wave instead of one per peer (issue 16), while keeping Raft's one pending configuration change, the signed add-member command of
 * every new member (issue 9: only the leader derives configuration changes), and the refusal of removed
 * members. A fake Raft applies each proposal a moment later and refuses a second concurrent change.
 * Rolling upgrades: above protocol level 1 a peer is admitted only once it advertised at least the
 * cluster's level (a joiner below it would halt or diverge); one not heard yet waits for its heartbeat.
 */
import { describe, expect, it } from 'vitest'
import { AdmissionLoop } from '../../src/consensus/admission-loop.js'
import type { AdmissionDeps } from '../../src/consensus/admission-loop.js'
import { ADMISSION_BATCH_MAX, ADMISSION_RETRY_MS } from '../../src/consensus/admission.js'
import { LOG_INTERVAL_MS_PER_PEER } from '../../src/consensus/constants.js'
import { PROTOCOL_LEVEL } from '../../src/consensus/shape/core/index.js'
import type { ConfChange, ConfState } from '../../src/consensus/core/types.js'
import type { Outcome } from '../../src/consensus/shape/core/index.js'
import { silentLogger } from '../../src/log/index.js'
import { peerIdTextProblem } from '../../src/codec/index.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { capturingLogger, waitFor } from '../node/helpers.js'

const LEADER = 'leader'

/** A leader's Raft and shape in miniature: one pending configuration change at a time, applied async. */
class FakeLeader {
  conf: ConfState = { voters: [LEADER], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
  readonly members = new Set([LEADER])
  readonly removed = new Set<string>()
  connected: string[] = []
  leader = true
  nowMs = 1_000
  pending = false
  /** add-member outcome per peer; default applied. */
  readonly refuse = new Map<string, 'error' | 'rejected'>()
  readonly addMember: string[] = []
  /** The batches of add-member commands, each one entry. */
  readonly batches: string[][] = []
  readonly confChanges: ConfChange[] = []
  readonly told: string[] = []
  concurrentChanges = 0
  /** The cluster's protocol level (a fresh cluster's: the build's). */
  protocol = PROTOCOL_LEVEL
  /** Advertised level per peer; a connected peer not listed advertised the build's level. */
  readonly levels = new Map<string, number>()
  /** Peers whose heartbeat the leader has not heard yet. */
  readonly unheard = new Set<string>()

  async proposeAddMember (nodeId: string): Promise<Outcome> {
    if (this.pending) this.concurrentChanges++
    this.pending = true
    this.addMember.push(nodeId)
    // Committed and applied a moment later (a macrotask, like a real commit).
    await new Promise((resolve) => setTimeout(resolve, 1))
    this.pending = false
    const refusal = this.refuse.get(nodeId)
    if (refusal === 'error') throw new Error('ConsensusTimeoutError')
    if (refusal === 'rejected') return { kind: 'rejected', code: 'already-member', message: 'refused' }
    this.conf.learners = [...this.conf.learners, nodeId]
    this.members.add(nodeId)
    return { kind: 'applied' }
  }

  /** A batch of add-member commands: one entry without a configuration change; members, not yet learners. */
  async proposeAddMembers (nodeIds: string[]): Promise<Outcome[]> {
    if (this.pending) this.concurrentChanges++
    this.pending = true
    this.batches.push([...nodeIds])
    await new Promise((resolve) => setTimeout(resolve, 1))
    this.pending = false
    if (nodeIds.some((id) => this.refuse.get(id) === 'error')) throw new Error('ConsensusTimeoutError')
    return nodeIds.map((id) => {
      if (this.refuse.get(id) === 'rejected') return { kind: 'rejected', code: 'already-member', message: 'refused' }
      this.members.add(id)
      return { kind: 'applied' }
    })
  }

  proposeConfChange (change: ConfChange): void {
    if (this.pending) throw new Error('ConfChangeRejectedError: pending')
    this.confChanges.push(change)
    for (const step of change.steps) {
      this.conf.learners = this.conf.learners.filter((id) => id !== step.nodeId)
      if (step.type === 'add-learner') this.conf.learners.push(step.nodeId)
    }
  }

  deps (): AdmissionDeps {
    return {
      self: LEADER,
      isLeader: () => this.leader,
      configuration: () => this.conf,
      shape: () => ({ has: (id) => this.members.has(id), wasRemoved: (id) => this.removed.has(id), protocol: this.protocol }),
      connectedPeers: () => this.connected,
      advertisedLevels: () => new Map(this.connected.filter((id) => !this.unheard.has(id)).map((id) => [id, this.levels.get(id) ?? PROTOCOL_LEVEL])),
      proposeAddMember: async (id) => await this.proposeAddMember(id),
      proposeAddMembers: async (ids) => await this.proposeAddMembers(ids),
      proposeConfChange: (change) => { this.proposeConfChange(change) },
      notifyRemoved: (id) => { this.told.push(id) },
      nowMs: () => this.nowMs,
      log: silentLogger()
    }
  }
}

const peers = (n: number, prefix = 'peer'): string[] => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`)

describe('admission loop', () => {
  it('should admit K peers waiting at once after one timer round with one batch and one configuration change', async () => {
    const k = 24
    const raft = new FakeLeader()
    raft.connected = peers(k)
    const loop = new AdmissionLoop(raft.deps())
    // The one and only "timer tick": the learner steps must come from the batch settling.
    loop.round()
    await waitFor(() => raft.conf.learners.length === k, 5_000, `${k} learners after one round`)
    expect([...raft.conf.learners].sort()).toEqual(peers(k))
    // Two commits for the whole wave: every add-member command in one batch, every learner step in one change.
    expect(raft.batches).toEqual([peers(k)])
    expect(raft.addMember).toEqual([])
    expect(raft.confChanges).toEqual([{ steps: peers(k).map((nodeId) => ({ type: 'add-learner', nodeId })), transition: 'auto' }])
    expect(raft.concurrentChanges).toBe(0)
    loop.stop()
  })

  it('should admit a wave one peer at a time, each with its own add-member command, below the batch protocol level', async () => {
    const k = 3
    const raft = new FakeLeader()
    raft.connected = peers(k)
    const loop = new AdmissionLoop({ ...raft.deps(), batchAdmission: () => false })
    loop.round()
    await waitFor(() => raft.conf.learners.length === k, 5_000, `${k} learners`)
    expect(raft.batches).toEqual([])
    expect(raft.addMember).toEqual(peers(k))
    loop.stop()
  })

  it('should admit a wave larger than ADMISSION_BATCH_MAX in several batches, chained without the timer', async () => {
    const k = ADMISSION_BATCH_MAX + 5
    const raft = new FakeLeader()
    raft.connected = peers(k)
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    await waitFor(() => raft.conf.learners.length === ADMISSION_BATCH_MAX, 5_000, 'the first wave as learners')
    expect(raft.batches).toEqual([peers(k).slice(0, ADMISSION_BATCH_MAX)])
    // The remaining 5 wait for a later round (a newly connected peer is picked up by the timer).
    loop.round()
    await waitFor(() => raft.conf.learners.length === k, 5_000, 'every peer a learner')
    expect(raft.batches).toEqual([peers(k).slice(0, ADMISSION_BATCH_MAX), peers(k).slice(ADMISSION_BATCH_MAX)])
    expect(raft.concurrentChanges).toBe(0)
    loop.stop()
  })

  it('should admit a lone new peer with its own add-member command and learner step (one commit)', async () => {
    const raft = new FakeLeader()
    raft.connected = ['solo']
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    await waitFor(() => raft.conf.learners.includes('solo'), 5_000, 'solo admitted')
    expect(raft.addMember).toEqual(['solo'])
    expect(raft.batches).toEqual([])
    expect(raft.confChanges).toEqual([])
    loop.stop()
  })

  it('should add every known member missing from the configuration in one change of several learner steps', () => {
    const raft = new FakeLeader()
    for (const id of ['b', 'c', 'd']) raft.members.add(id)
    raft.connected = ['b', 'c', 'd', 'new']
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    expect(raft.confChanges).toEqual([{ steps: ['b', 'c', 'd'].map((nodeId) => ({ type: 'add-learner', nodeId })), transition: 'auto' }])
    // The new peer waits for a later round: one configuration change at a time.
    expect(raft.addMember).toEqual([])
    loop.round()
    expect(raft.addMember).toEqual(['new'])
    loop.stop()
  })

  it('should propose no learner step while the voters move in a joint configuration, and admit new peers into the shape meanwhile', async () => {
    const raft = new FakeLeader()
    raft.members.add('b')
    raft.connected = ['b', 'new-1', 'new-2']
    raft.conf = { voters: [LEADER, 'x'], votersOutgoing: [LEADER], learners: [], learnersNext: [], autoLeave: true }
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    expect(raft.confChanges).toEqual([])
    expect(raft.addMember).toEqual([])
    // A batch of add-member commands is no configuration change: the new peers join the shape now (issue 16:
    // a 50-node fleet's joiners waited 18–76 s behind the policy's promotions for this).
    expect(raft.batches).toEqual([['new-1', 'new-2']])
    await waitFor(() => raft.members.has('new-2'), 5_000, 'the new peers in the shape')
    // Once the configuration is left, one change makes every waiting member a learner.
    raft.conf = { voters: [LEADER, 'x'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
    loop.round()
    expect(raft.confChanges).toEqual([{ steps: ['b', 'new-1', 'new-2'].map((nodeId) => ({ type: 'add-learner', nodeId })), transition: 'auto' }])
    expect(raft.addMember).toEqual([])
    loop.stop()
  })

  it('should admit a lone new peer into the shape by batch, without a learner step, while the voters move', () => {
    const raft = new FakeLeader()
    raft.connected = ['new']
    raft.conf = { voters: [LEADER, 'x'], votersOutgoing: [LEADER], learners: [], learnersNext: [], autoLeave: true }
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    // Its own add-member would carry a learner step, which cannot go while the voters move.
    expect(raft.addMember).toEqual([])
    expect(raft.batches).toEqual([['new']])
    loop.stop()
  })

  it('should keep new peers waiting while the voters move below the batch protocol level', () => {
    const raft = new FakeLeader()
    raft.members.add('b')
    raft.connected = ['b', 'new']
    raft.conf = { voters: [LEADER, 'x'], votersOutgoing: [LEADER], learners: [], learnersNext: [], autoLeave: true }
    const loop = new AdmissionLoop({ ...raft.deps(), batchAdmission: () => false })
    loop.round()
    expect(raft.confChanges).toEqual([])
    expect(raft.addMember).toEqual([])
    expect(raft.batches).toEqual([])
    loop.stop()
  })

  it('should tell a removed member, never admit it, and take removed learners out of the configuration', () => {
    const raft = new FakeLeader()
    raft.removed.add('gone')
    raft.connected = ['gone']
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    loop.round()
    expect(raft.told).toEqual(['gone'])
    raft.nowMs += ADMISSION_RETRY_MS
    loop.round()
    expect(raft.told).toEqual(['gone', 'gone'])
    expect(raft.addMember).toEqual([])
    raft.removed.add('stale')
    raft.conf.learners = ['stale']
    loop.round()
    expect(raft.confChanges).toEqual([{ steps: [{ type: 'remove', nodeId: 'stale' }], transition: 'auto' }])
    loop.stop()
  })

  it('should retry a failed or refused admission only after ADMISSION_RETRY_MS, admitting the others meanwhile', async () => {
    const raft = new FakeLeader()
    raft.connected = ['a-fails']
    raft.refuse.set('a-fails', 'error')
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    await waitFor(() => !loop.admitting, 5_000, 'the failed admission to settle')
    raft.connected = ['a-fails', 'b-refused', 'c-ok']
    raft.refuse.set('b-refused', 'rejected')
    loop.round() // a-fails waits out its retry; the two others go together
    await waitFor(() => raft.conf.learners.includes('c-ok'), 5_000, 'c-ok admitted')
    for (let i = 0; i < 3; i++) loop.round()
    await waitFor(() => !loop.admitting, 5_000, 'no admission in flight')
    expect(raft.addMember).toEqual(['a-fails'])
    expect(raft.batches).toEqual([['b-refused', 'c-ok']])
    raft.refuse.clear()
    raft.nowMs += ADMISSION_RETRY_MS
    loop.round()
    await waitFor(() => raft.conf.learners.length === 3, 5_000, 'both retried and admitted')
    expect(raft.batches).toEqual([['b-refused', 'c-ok'], ['a-fails', 'b-refused']])
    loop.stop()
  })

  it('should retry every peer of a failed batch only after ADMISSION_RETRY_MS', async () => {
    const raft = new FakeLeader()
    raft.connected = ['a', 'b-fails']
    raft.refuse.set('b-fails', 'error')
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    await waitFor(() => !loop.admitting, 5_000, 'the failed batch to settle')
    loop.round() // no hot loop after a failure
    expect(raft.batches).toEqual([['a', 'b-fails']])
    raft.refuse.clear()
    raft.nowMs += ADMISSION_RETRY_MS
    loop.round()
    await waitFor(() => raft.conf.learners.length === 2, 5_000, 'both admitted on the retry')
    expect(raft.batches).toEqual([['a', 'b-fails'], ['a', 'b-fails']])
    loop.stop()
  })

  it('should not admit a peer below the cluster\'s protocol level, warn once per interval naming both levels, and admit it once it advertises enough', async () => {
    const raft = new FakeLeader()
    raft.protocol = 4
    raft.connected = ['old', 'new']
    raft.levels.set('old', 3)
    const { log, lines } = capturingLogger('warn')
    const loop = new AdmissionLoop({ ...raft.deps(), log })
    loop.round()
    await waitFor(() => raft.conf.learners.includes('new'), 5_000, 'the up-to-date peer admitted')
    for (let i = 0; i < 5; i++) loop.round()
    await waitFor(() => !loop.admitting, 5_000, 'no admission in flight')
    expect(raft.addMember).toEqual(['new'])
    expect(raft.batches).toEqual([])
    expect(raft.conf.learners).not.toContain('old')
    expect(loop.withheld).toEqual({ belowLevel: 1, levelUnheard: 0 })
    // One warning for six rounds: which node, both levels, what to do.
    const warned = lines.filter((l) => l.peer === 'old')
    expect(warned).toHaveLength(1)
    expect(warned[0]).toMatchObject({ level: 40, advertised: 3, cluster: 4, msg: expect.stringMatching(/protocol level 3, below the cluster's 4; upgrade revoada on that node/) })
    raft.nowMs += LOG_INTERVAL_MS_PER_PEER
    loop.round()
    expect(lines.filter((l) => l.peer === 'old')).toHaveLength(2)
    // Upgraded and restarted: it advertises the cluster's level and the next round admits it.
    raft.levels.set('old', 4)
    loop.round()
    await waitFor(() => raft.conf.learners.includes('old'), 5_000, 'the upgraded peer admitted')
    expect(raft.addMember).toEqual(['new', 'old'])
    expect(loop.withheld).toEqual({ belowLevel: 0, levelUnheard: 0 })
    loop.stop()
  })

  it('should keep a peer below the level out of a wave and out of the learner steps of known members', async () => {
    const raft = new FakeLeader()
    raft.protocol = 2
    raft.members.add('known-old')
    raft.connected = ['a', 'b', 'c-old', 'known-old']
    raft.levels.set('c-old', 1)
    raft.levels.set('known-old', 1)
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    // known-old is a shape member the configuration lacks (a rejoin): not re-added either.
    expect(raft.confChanges).toEqual([])
    await waitFor(() => raft.conf.learners.length === 2, 5_000, 'a and b learners')
    expect(raft.batches).toEqual([['a', 'b']])
    expect([...raft.conf.learners].sort()).toEqual(['a', 'b'])
    expect(loop.withheld).toEqual({ belowLevel: 2, levelUnheard: 0 })
    loop.stop()
  })

  it('should wait for the first heartbeat of a peer whose level it has not heard, above level 1 only', async () => {
    const raft = new FakeLeader()
    raft.connected = ['quiet']
    raft.unheard.add('quiet')
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    loop.round()
    expect(raft.addMember).toEqual([])
    expect(loop.withheld).toEqual({ belowLevel: 0, levelUnheard: 1 })
    raft.unheard.clear()
    loop.round()
    await waitFor(() => raft.conf.learners.includes('quiet'), 5_000, 'admitted once heard')
    // At level 1 every build applies the log (v1 envelopes only): no level is needed, heard or not.
    const old = new FakeLeader()
    old.protocol = 1
    old.connected = ['quiet', 'ancient']
    old.unheard.add('quiet')
    old.levels.set('ancient', 1)
    const loopAtOne = new AdmissionLoop(old.deps())
    loopAtOne.round()
    await waitFor(() => old.conf.learners.length === 2, 5_000, 'both admitted at level 1')
    expect(loopAtOne.withheld).toEqual({ belowLevel: 0, levelUnheard: 0 })
    loop.stop()
    loopAtOne.stop()
  })

  it('should admit a connected peer at its first heartbeat, without waiting for a timer round, on the leader only', async () => {
    const raft = new FakeLeader()
    raft.connected = ['joiner']
    raft.unheard.add('joiner')
    let heard: (() => void) | undefined
    let subscribed = 0
    const loop = new AdmissionLoop({ ...raft.deps(), onPeerHeard: (listener) => { heard = listener; subscribed++; return () => { subscribed-- } } })
    // A timer that never fires: only the first-heard trigger can run a round after this one.
    loop.start(500, { every: () => () => {} })
    expect(subscribed).toBe(1)
    loop.round()
    expect(raft.addMember).toEqual([])
    expect(loop.withheld).toEqual({ belowLevel: 0, levelUnheard: 1 })
    // Its first heartbeat arrives: membership tells the loop, which admits it on the next turn.
    raft.unheard.clear()
    heard?.()
    await waitFor(() => raft.conf.learners.includes('joiner'), 5_000, 'admitted at its first heartbeat')
    expect(raft.addMember).toEqual(['joiner'])
    // A follower hears peers too, and admits nobody.
    raft.leader = false
    raft.connected = ['joiner', 'late']
    heard?.()
    await new Promise((resolve) => setImmediate(resolve))
    expect(raft.addMember).toEqual(['joiner'])
    loop.stop()
    expect(subscribed).toBe(0)
  })

  it('should do nothing on a follower', () => {
    const raft = new FakeLeader()
    raft.leader = false
    raft.connected = peers(3)
    const loop = new AdmissionLoop(raft.deps())
    loop.round()
    expect(raft.addMember).toEqual([])
    loop.stop()
  })

  it('should leave out a connected peer whose id is no canonical ed25519 peer id, warn once per interval, and admit the others', async () => {
    const raft = new FakeLeader()
    const [good1, good2] = await Promise.all([edPeer(), edPeer()])
    // A key holder whose libp2p key is secp256k1 (16Uiu…): it can sign no proposal and no heartbeat.
    const secp = peerIdFromPrivateKey(await generateKeyPair('secp256k1')).toString()
    raft.connected = [secp, good1, good2]
    // As the node's RaftNode does (InvalidMemberIdError): one such id in a batch fails the whole batch.
    raft.refuse.set(secp, 'error')
    const { log, lines } = capturingLogger('warn')
    const loop = new AdmissionLoop({ ...raft.deps(), log, memberIdProblem: peerIdTextProblem })
    loop.round()
    await waitFor(() => raft.members.has(good1) && raft.members.has(good2), 5_000, 'the two ed25519 peers admitted')
    for (let i = 0; i < 3; i++) loop.round()
    await waitFor(() => !loop.admitting, 5_000, 'no admission in flight')
    expect(raft.members.has(secp)).toBe(false)
    expect(raft.batches.flat()).not.toContain(secp)
    expect(raft.addMember).not.toContain(secp)
    expect(lines.filter((l) => l.peer === secp)).toHaveLength(1)
    loop.stop()
  })
})

const edPeer = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
