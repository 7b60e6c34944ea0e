/**
 * Which witnesses a node keeps, and how much the pool can hold (docs/CHAIN.md §4, docs/SECURITY.md §2). An
 * audit found that any key holder's self-signed witness was pooled at any height: 64 far-future heights made
 * every honest group the lowest, evicted as soon as it was added (sealing stopped on every node, for good),
 * and every add sorted every group (20,000 messages at one height: 12 s of event loop).
 *
 * Method: the real AttestationService on a hand-built context — its topic validator fed signed witness
 * messages, its seal interval run by hand, the seal it proposes captured and committed on a real chain —
 * and the WitnessPool alone for the bounds. Counts and sizes are asserted, never time.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { encodeCanonical } from '../../src/codec/index.js'
import { silentLogger } from '../../src/log/index.js'
import type { ServiceContext } from '../../src/node/service.js'
import { ShapeMachine } from '../../src/consensus/shape/shape-machine.js'
import { AttestationService, witnessTopic } from '../../src/attestation/index.js'
import type { AttestedMachine } from '../../src/attestation/attested-machine.js'
import { signWitness } from '../../src/attestation/signatures.js'
import { WitnessPool } from '../../src/attestation/witness-pool.js'
import { cidAt, decodeSealCommand } from '../../src/attestation/core/index.js'
import {
  WITNESS_GROUPS_PER_SIGNER_MAX, WITNESS_HEADS_PER_HEIGHT_MAX, WITNESS_HEIGHTS_AHEAD_MAX, WITNESS_POOL_SIGNERS_MAX
} from '../../src/attestation/constants.js'
import { ChainBuilder, makeNodes } from './helpers.js'
import type { TestNode } from './helpers.js'

const CLUSTER = 'cluster-w'

/** A made-up head CID (36 bytes, like a real one) that no chain holds. */
const fakeHead = (n: number): Uint8Array => {
  const head = new Uint8Array(36)
  new DataView(head.buffer).setUint32(32, n)
  return head
}

/** The service of node `self`, having applied `builder`'s entries, as leader; its validator and interval by hand. */
interface Harness {
  service: AttestationService
  machine: AttestedMachine
  /** Feeds a witness of (height, head) signed by `by` to the topic validator. */
  deliver: (by: TestNode, height: number, head: Uint8Array) => TopicValidatorResult
  /** Runs one seal interval. */
  tick: () => void
  /** Seal commands the service proposed to Raft. */
  proposed: Uint8Array[]
  dropped: (reason: string) => number
}

const dirs: string[] = []
const services: AttestationService[] = []
afterEach(async () => {
  for (const service of services.splice(0)) await service.stop()
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

async function harness (builder: ChainBuilder, self: TestNode): Promise<Harness> {
  const dir = mkdtempSync(path.join(tmpdir(), 'revoada-witness-'))
  dirs.push(dir)
  const validators = new Map<string, (peer: unknown, message: Message) => TopicValidatorResult>()
  const pubsub = { topicValidators: validators, subscribe: () => {}, unsubscribe: () => {}, publish: async () => await Promise.reject(new Error('no peers')) }
  const proposed: Uint8Array[] = []
  const node = {
    isRunning: true,
    isLeader: () => true,
    leaderId: () => self.id,
    propose: async (bytes: Uint8Array) => { proposed.push(bytes); return await Promise.reject(new Error('not committed in this test')) }
  }
  let interval = (): void => {}
  const ctx = {
    config: { dataDir: dir, attestation: { sealIntervalMs: 1_000 } },
    nodeId: self.id,
    privateKey: self.key,
    cluster: { clusterId: CLUSTER },
    net: { services: { pubsub } },
    ticker: { every: (_periodMs: number, run: () => void) => { interval = run; return () => {} } },
    log: silentLogger(),
    service: (name: string) => name === 'consensus' ? { node } : undefined
  } as unknown as ServiceContext
  const service = new AttestationService()
  services.push(service)
  const machine = service.attach(new ShapeMachine(CLUSTER), ctx) as AttestedMachine
  for (const entry of builder.entries) machine.apply(entry.bytes, entry.context)
  await service.start(ctx)
  const validate = validators.get(witnessTopic(CLUSTER))!
  return {
    service,
    machine,
    deliver: (by, height, head) => {
      const witness = signWitness(by.signer, CLUSTER, height, head)
      const data = encodeCanonical({ cluster: CLUSTER, height, head, node: by.id, sig: witness.signature })
      return validate(undefined, { type: 'signed', from: peerIdFromString(by.id), topic: witnessTopic(CLUSTER), data } as unknown as Message)
    },
    tick: () => { interval() },
    proposed,
    dropped: (reason) => (service.status()[`dropped.${reason}`] as number | undefined) ?? 0
  }
}

/** n0 bootstraps and admits n1..n3; n1 and n2 become voters (voters n0, n1, n2; n3 a learner; n4 no member). */
async function threeVoters (): Promise<{ builder: ChainBuilder, nodes: [TestNode, TestNode, TestNode, TestNode, TestNode] }> {
  const nodes = await makeNodes(5) as [TestNode, TestNode, TestNode, TestNode, TestNode]
  const [n0, n1, n2, n3] = nodes
  const builder = new ChainBuilder(CLUSTER)
  builder.propose(n0, { kind: 'bootstrap', nodeId: n0.id })
  for (const n of [n1, n2, n3]) builder.propose(n0, { kind: 'add-member', nodeId: n.id })
  for (const n of [n1, n2]) expect(builder.propose(n0, { kind: 'promote', nodeId: n.id, roles: ['etcd'] }).outcome).toEqual({ kind: 'applied' })
  expect(builder.machine.view().voters).toEqual([n0.id, n1.id, n2.id].sort())
  return { builder, nodes }
}

describe('witness gossip', () => {
  it('should keep honest witnesses at the head and seal them when a voter floods heights far ahead and just ahead', async () => {
    const { builder, nodes: [n0, n1, n2] } = await threeVoters()
    const h = await harness(builder, n0)
    const height = h.machine.height
    const head = cidAt(h.machine.view(), height)!

    // A hostile voter: 70 heights beyond the window are ignored and counted, never pooled.
    for (let i = 1; i <= 70; i++) expect(h.deliver(n2, height + WITNESS_HEIGHTS_AHEAD_MAX + i, fakeHead(i))).toBe(TopicValidatorResult.Ignore)
    expect(h.dropped('too-far-ahead')).toBe(70)
    // 70 heights just above the head are inside the window (a slow node may be there): pooled, the
    // signer's own lowest forgotten beyond its bound. They were what evicted every honest group before.
    for (let i = 1; i <= 70; i++) expect(h.deliver(n2, height + i, fakeHead(1000 + i))).toBe(TopicValidatorResult.Accept)
    // A second head at a height it signed is refused by the pool: ignored, counted.
    expect(h.deliver(n2, height + 70, fakeHead(70))).toBe(TopicValidatorResult.Ignore)
    expect(h.dropped('second-head')).toBe(1)

    // An honest voter witnesses the head; the leader (n0) signs it at its interval and seals both.
    expect(h.deliver(n1, height, head)).toBe(TopicValidatorResult.Accept)
    expect(h.service.reader().summary().headWitnesses).toEqual([n1.id])
    h.tick()
    expect(h.proposed).toHaveLength(1)
    const seal = decodeSealCommand(h.proposed[0]!)
    expect(seal?.seal.height).toBe(height)
    expect(seal?.seal.witnesses.map((w) => w.nodeId)).toEqual([n0.id, n1.id].sort())
    expect(builder.applyRaw(h.proposed[0]!).outcome).toEqual({ kind: 'applied' })
    expect(builder.machine.view().sealedHeight).toBe(height)

    // Applied here too: a late copy at the sealed height can no longer help a seal (ignored, counted).
    h.machine.apply(builder.entries[builder.entries.length - 1]!.bytes, builder.entries[builder.entries.length - 1]!.context)
    expect(h.deliver(n2, height, head)).toBe(TopicValidatorResult.Ignore)
    expect(h.dropped('stale')).toBe(1)
  })

  it('should drop and count a non-voter\'s witness: rejected at a height this node applied, ignored above it', async () => {
    const { builder, nodes: [n0, n1, , n3, n4] } = await threeVoters()
    const h = await harness(builder, n0)
    const height = h.machine.height
    const head = cidAt(h.machine.view(), height)!

    // A learner and a key holder that is no member sign the head: the voter set there is replicated.
    expect(h.deliver(n3, height, head)).toBe(TopicValidatorResult.Reject)
    expect(h.deliver(n4, height, head)).toBe(TopicValidatorResult.Reject)
    expect(h.dropped('not-voter')).toBe(2)
    expect(h.deliver(n1, height, head)).toBe(TopicValidatorResult.Accept)
    expect(h.service.reader().summary().headWitnesses).toEqual([n1.id])

    // n3 is promoted at height + 1; this node has not applied it yet, so n3's honest witness of that height
    // looks like a non-voter's: ignored (no penalty), counted. Once applied, the same witness is kept.
    expect(builder.propose(n0, { kind: 'promote', nodeId: n3.id, roles: ['etcd'] }).outcome).toEqual({ kind: 'applied' })
    const promoted = cidAt(builder.machine.view(), height + 1)!
    expect(h.deliver(n3, height + 1, promoted)).toBe(TopicValidatorResult.Ignore)
    expect(h.dropped('not-voter')).toBe(3)
    const entry = builder.entries[builder.entries.length - 1]!
    h.machine.apply(entry.bytes, entry.context)
    expect(h.deliver(n3, height + 1, promoted)).toBe(TopicValidatorResult.Accept)
    expect(h.service.reader().summary().headWitnesses).toEqual([n3.id])
    expect(h.dropped('not-voter')).toBe(3)
  })
})

describe('WitnessPool', () => {
  it('should stay bounded under 20,000 witnesses at one height, from one signer and from many, sorting nothing per add', () => {
    const pool = new WitnessPool()
    const sig = new Uint8Array(64)
    // Sorts made inside `add` (the old pool sorted every group's height on each new group).
    const sort = vi.spyOn(Array.prototype, 'sort')
    let sortsInAdd = 0
    const results = new Map<string, number>()
    const add = (height: number, head: Uint8Array, nodeId: string): void => {
      const before = sort.mock.calls.length
      const result = pool.add(height, head, { nodeId, signature: sig })
      sortsInAdd += sort.mock.calls.length - before
      results.set(result, (results.get(result) ?? 0) + 1)
    }
    try {
      // 20,000 heads at one height, each from another signer: WITNESS_HEADS_PER_HEIGHT_MAX are kept.
      for (let i = 0; i < 20_000; i++) add(5, fakeHead(i), `signer-${i}`)
      expect(pool.sizes().headsAtOneHeightMax).toBe(WITNESS_HEADS_PER_HEIGHT_MAX)
      expect(pool.witnesses(5, fakeHead(0))).toHaveLength(1)
      expect(pool.witnesses(5, fakeHead(WITNESS_HEADS_PER_HEIGHT_MAX))).toHaveLength(0)
      // One signer, 20,000 heads at one height: one is kept (a signer signs one head per height).
      for (let i = 0; i < 20_000; i++) add(6, fakeHead(i), 'one-signer')
      expect(pool.groupsByHeight().filter((g) => g.height === 6)).toHaveLength(1)
      // 20,000 signers at 20,000 heights: WITNESS_POOL_SIGNERS_MAX signers are kept, the newest.
      for (let i = 0; i < 20_000; i++) add(100_000 + i, fakeHead(i), `another-${i}`)
      expect(pool.sizes().signers).toBe(WITNESS_POOL_SIGNERS_MAX)
      // One signer, 20,000 heights: its newest WITNESS_GROUPS_PER_SIGNER_MAX are kept.
      for (let i = 0; i < 20_000; i++) add(200_000 + i, fakeHead(i), 'flooder')
    } finally {
      sort.mockRestore()
    }
    expect(sortsInAdd).toBe(0)
    expect(results.get('heads-full')).toBe(20_000 - WITNESS_HEADS_PER_HEIGHT_MAX)
    expect(results.get('second-head')).toBe(20_000 - 1)
    expect(results.get('added')).toBe(WITNESS_HEADS_PER_HEIGHT_MAX + 1 + 20_000 + 20_000)
    expect(pool.checkInvariants()).toBeNull()
    const sizes = pool.sizes()
    expect(sizes.signers).toBe(WITNESS_POOL_SIGNERS_MAX)
    expect(sizes.signatures).toBe(WITNESS_POOL_SIGNERS_MAX - 1 + WITNESS_GROUPS_PER_SIGNER_MAX)
    expect(sizes.signatures).toBeLessThanOrEqual(WITNESS_POOL_SIGNERS_MAX * WITNESS_GROUPS_PER_SIGNER_MAX)
    const flooded = pool.groupsByHeight().filter((g) => g.signers.includes('flooder'))
    expect(flooded.map((g) => g.height)).toEqual(Array.from({ length: WITNESS_GROUPS_PER_SIGNER_MAX }, (_, i) => 200_000 + 20_000 - 1 - i))
  })

  it('should forget sealed heights and refuse a signer\'s height below all it holds', () => {
    const pool = new WitnessPool()
    const sig = new Uint8Array(64)
    for (let h = 1; h <= WITNESS_GROUPS_PER_SIGNER_MAX; h++) expect(pool.add(h + 100, fakeHead(h), { nodeId: 'a', signature: sig })).toBe('added')
    expect(pool.add(50, fakeHead(50), { nodeId: 'a', signature: sig })).toBe('signer-full')
    expect(pool.add(101, fakeHead(1), { nodeId: 'a', signature: sig })).toBe('duplicate')
    expect(pool.add(101, fakeHead(1), { nodeId: 'b', signature: sig })).toBe('added')
    pool.forgetUpTo(110)
    expect(pool.checkInvariants()).toBeNull()
    expect(pool.sizes()).toEqual({ groups: WITNESS_GROUPS_PER_SIGNER_MAX - 10, signatures: WITNESS_GROUPS_PER_SIGNER_MAX - 10, signers: 1, headsAtOneHeightMax: 1 })
    expect(pool.groupsByHeight()[0]?.height).toBe(100 + WITNESS_GROUPS_PER_SIGNER_MAX)
  })
})
