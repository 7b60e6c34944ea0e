/**
 * The quiet joiner's pure decisions (core/joiner.ts): when it must listen after all, whom it dials, whom a member
 * dials, and that a joiner takes a digest from a sender its (empty) configuration cannot vouch for.
 */
import { describe, expect, it } from 'vitest'
import { joinerMustListen, joinerDialTargets, joinerAsksLeader, dialsHeardMember, judgeDigest, digestRecord, fullEntry } from '../../src/membership/core/index.js'
import type { NodeState, RaftMembers } from '../../src/membership/core/index.js'
import { doubledWaitMs } from '../../src/membership/core/address-lookup.js'

const state = (nodeId: string, roles: string[] = []): NodeState => ({
  nodeId, clusterId: 'c1', addresses: ['/ip4/127.0.0.1/tcp/1'], roles,
  capacity: { cpuMillis: 2000, memoryBytes: 1e9, storageBytes: 1e10, pods: 110 }, labels: {},
  version: '0.1.0', kubernetesVersion: 'v1.34.0', uptimeMs: 1, generation: 1, seq: 1, leaving: false, protocol: 1
})

describe('joinerMustListen', () => {
  it('should stay quiet while connected to nobody, however long', () => {
    expect(joinerMustListen({ connectedSinceMs: undefined, lastDigestMs: undefined, nowMs: 1_000_000, staleMs: 10_000 })).toBe(false)
  })

  it('should listen when connected and no digest came within the wait, counted from the connection', () => {
    expect(joinerMustListen({ connectedSinceMs: 5000, lastDigestMs: undefined, nowMs: 15_000, staleMs: 10_000 })).toBe(false)
    expect(joinerMustListen({ connectedSinceMs: 5000, lastDigestMs: undefined, nowMs: 15_001, staleMs: 10_000 })).toBe(true)
  })

  it('should stay quiet while digests are fresh and listen once they stop', () => {
    expect(joinerMustListen({ connectedSinceMs: 0, lastDigestMs: 20_000, nowMs: 29_000, staleMs: 10_000 })).toBe(false)
    expect(joinerMustListen({ connectedSinceMs: 0, lastDigestMs: 20_000, nowMs: 30_001, staleMs: 10_000 })).toBe(true)
  })
})

describe('joinerAsksLeader', () => {
  const ask = (over: Partial<Parameters<typeof joinerAsksLeader>[0]>): boolean =>
    joinerAsksLeader({ connectedSinceMs: 0, lastDigestMs: undefined, nowMs: 2000, afterMs: 2000, nextAskAtMs: 0, ...over })
  it('should ask once connected for the wait without a digest, and nobody while connected to nobody', () => {
    expect(ask({})).toBe(true)
    expect(ask({ nowMs: 1999 })).toBe(false)
    expect(ask({ connectedSinceMs: undefined, nowMs: 1_000_000 })).toBe(false)
  })

  it('should not ask while digests are fresh, nor before its backoff has passed', () => {
    expect(ask({ lastDigestMs: 1000, nowMs: 2500 })).toBe(false)
    expect(ask({ lastDigestMs: 1000, nowMs: 3000 })).toBe(true)
    expect(ask({ nextAskAtMs: 4000, nowMs: 3999 })).toBe(false)
    expect(ask({ nextAskAtMs: 4000, nowMs: 4000 })).toBe(true)
  })

  it('should wait twice as long before each new question, up to the maximum', () => {
    const waits: number[] = []
    let ms: number | undefined
    for (let i = 0; i < 6; i++) waits.push(ms = doubledWaitMs(ms, 2000, 16_000))
    expect(waits).toEqual([2000, 4000, 8000, 16_000, 16_000, 16_000])
  })
})

describe('joinerDialTargets', () => {
  it('should dial the leader a peer named, besides the seeds', () => {
    expect([...joinerDialTargets({ self: 'self', seeds: ['s1'], digestFrom: undefined, leaderHint: 'l', members: [] })].sort()).toEqual(['l', 's1'])
    expect([...joinerDialTargets({ self: 'self', seeds: ['s1'], digestFrom: undefined, leaderHint: 'self', members: [] })]).toEqual(['s1'])
  })

  it('should dial the seeds, the digest\'s sender and the etcd holders only, never itself', () => {
    const members = [state('v1', ['etcd']), state('v2', ['etcd', 'worker']), state('w1', ['worker']), state('j1'), state('self', ['etcd'])]
    const targets = joinerDialTargets({ self: 'self', seeds: ['s1'], digestFrom: 'v1', members })
    expect([...targets].sort()).toEqual(['s1', 'v1', 'v2'])
    expect([...joinerDialTargets({ self: 'self', seeds: ['s1'], digestFrom: undefined, members: [] })]).toEqual(['s1'])
    expect([...joinerDialTargets({ self: 'self', seeds: [], digestFrom: 'x', members: [] })]).toEqual(['x'])
  })
})

describe('dialsHeardMember', () => {
  it('should let a member dial only members and etcd holders, a joiner nobody this way, and a node before consensus everyone', () => {
    expect(dialsHeardMember({ hasConfiguration: true, selfListed: true, memberListed: true, memberHoldsEtcd: false })).toBe(true)
    expect(dialsHeardMember({ hasConfiguration: true, selfListed: true, memberListed: false, memberHoldsEtcd: false })).toBe(false)
    // A member whose configuration lags still dials a voter it does not know yet.
    expect(dialsHeardMember({ hasConfiguration: true, selfListed: true, memberListed: false, memberHoldsEtcd: true })).toBe(true)
    // A joiner, even listening after all: joinerDialTargets decides whom it dials.
    expect(dialsHeardMember({ hasConfiguration: true, selfListed: false, memberListed: true, memberHoldsEtcd: true })).toBe(false)
    expect(dialsHeardMember({ hasConfiguration: false, selfListed: false, memberListed: false, memberHoldsEtcd: false })).toBe(true)
  })
})

describe('judgeDigest for a joiner', () => {
  const conf: RaftMembers = { voters: [], votersOutgoing: [], learners: [], learnersNext: [] }
  const decoded = digestRecord({ clusterId: 'c1', from: 'v1', generation: 1, seq: 1, members: [fullEntry('alive', state('v1', ['etcd']))] })

  it('should take a well-formed digest from any signer of its cluster only when joining', () => {
    expect(judgeDigest({ decoded, sender: 'v1', clusterId: 'c1', conf, joining: true, lastFrom: undefined }).ok).toBe(true)
    expect(judgeDigest({ decoded, sender: 'v1', clusterId: 'c1', conf, lastFrom: undefined })).toEqual({ ok: false, reason: 'digest-not-voter', reject: false })
  })

  it('should still reject a joiner\'s digest that is misattributed, foreign or replayed', () => {
    expect(judgeDigest({ decoded, sender: 'other', clusterId: 'c1', conf, joining: true, lastFrom: undefined })).toMatchObject({ ok: false, reason: 'digest-sender-mismatch' })
    expect(judgeDigest({ decoded, sender: 'v1', clusterId: 'c2', conf, joining: true, lastFrom: undefined })).toMatchObject({ ok: false, reason: 'digest-wrong-cluster' })
    expect(judgeDigest({ decoded, sender: 'v1', clusterId: 'c1', conf, joining: true, lastFrom: { generation: 1, seq: 1 } })).toMatchObject({ ok: false, reason: 'digest-replay' })
  })
})
