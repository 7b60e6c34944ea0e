/**
 * @module bench/etcd/load
 * Drives the etcd anchor the same way bench/consensus drives revoada: N concurrent clients each writing
 * 200-byte values in a closed loop for a fixed time, recording per-write latency; and a failover probe that
 * SIGKILLs the leader and times the first acknowledged write afterwards.
 */
import { randomBytes } from 'node:crypto'
import { Etcd3 } from 'etcd3'
import type { EtcdCluster, EtcdMember } from './cluster.js'

export interface LoadResult {
  concurrency: number
  commits: number
  seconds: number
  latenciesMs: number[]
}

/** Closed-loop writers: each of `concurrency` workers puts a fresh 200-byte value, then the next. */
export async function runEtcdLoad (cluster: EtcdCluster, concurrency: number, durationMs: number): Promise<LoadResult> {
  // One client per endpoint list, as a typical application would hold; gRPC multiplexes the calls.
  const client = new Etcd3({ hosts: cluster.endpoints() })
  const value = randomBytes(200)
  const latenciesMs: number[] = []
  try {
    await client.put('warmup').value(value)
    const end = performance.now() + durationMs
    const worker = async (id: number): Promise<void> => {
      let seq = 0
      while (performance.now() < end) {
        const start = performance.now()
        await client.put(`bench/${id}/${seq++ % 1000}`).value(value)
        latenciesMs.push(performance.now() - start)
      }
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)))
    const seconds = (performance.now() - started) / 1000
    return { concurrency, commits: latenciesMs.length, seconds, latenciesMs }
  } finally {
    client.close()
  }
}

/** Asks each live member who it thinks leads, and returns the member that is the leader. */
export async function findLeader (cluster: EtcdCluster): Promise<EtcdMember> {
  for (const member of cluster.members) {
    if (member.process === undefined) continue
    const client = new Etcd3({ hosts: [member.clientUrl] })
    try {
      const status = await client.maintenance.status()
      if (status.leader === status.header.member_id) return member
    } catch {
      // An unreachable member simply is not the leader we are looking for.
    } finally {
      client.close()
    }
  }
  throw new Error('no etcd leader found')
}

/**
 * SIGKILLs the leader `trials` times; each time measures the ms from the kill until a write through a
 * survivor is acknowledged, then restarts the killed member and waits for it to be healthy.
 */
export async function runEtcdFailover (cluster: EtcdCluster, trials: number): Promise<number[]> {
  const timesMs: number[] = []
  const value = randomBytes(200)
  for (let trial = 0; trial < trials; trial++) {
    const leader = await findLeader(cluster)
    const survivors = cluster.members.filter((m) => m !== leader).map((m) => m.clientUrl)
    const client = new Etcd3({ hosts: survivors, defaultCallOptions: () => ({ deadline: Date.now() + 500 }) })
    try {
      await client.put('failover/warm').value(value)
      const killedAt = performance.now()
      await cluster.kill(leader)
      for (;;) {
        try {
          await client.put(`failover/${trial}`).value(value)
          break
        } catch {
          // The survivors are electing; retry until a write is acknowledged.
        }
      }
      timesMs.push(performance.now() - killedAt)
    } finally {
      client.close()
    }
    await cluster.restart(leader)
  }
  return timesMs
}
