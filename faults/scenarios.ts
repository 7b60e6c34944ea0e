/**
 * @module faults/scenarios
 * The fault scenarios: each injects one real fault into the running processes (nftables partitions in the
 * lab namespaces, SIGKILL, a full tmpfs, a stepped wall clock), holds it, heals it, and says which nodes
 * must not acknowledge anything while it lasts (the minority side). The runner does the checking.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import type { NetLab } from '../src/netns/index.js'
import type { FaultNode } from './nodes.js'
import type { Ack } from './client.js'
import { checkAcks } from './acks.js'
import { waitFor } from './nodes.js'

export interface ScenarioContext {
  lab: NetLab
  nodes: FaultNode[]
  /** Index of the node whose data dir lives on a small tmpfs. */
  tmpfsNode: number
  /** How long a fault is held, in ms. */
  holdMs: number
  kills: number
  random: () => number
  log: (line: string) => void
  /** Every entry the client has seen acknowledged so far (this scenario's and the earlier ones'). */
  acked: () => readonly Ack[]
}

export interface Injected {
  /** Nodes that must acknowledge nothing sent in [fromMs, until heal). */
  mustNotAck: number[]
  fromMs: number
  /** Something the scenario itself found wrong. */
  problems: string[]
}

/** What a heal may report. */
export interface Healed {
  /**
   * Acknowledged entries up to this index were checked against a node's whole log before a snapshot
   * compacted them away on every node (a quorum recovery's end): the check afterwards accepts them as
   * covered by that snapshot on a node whose log begins after them.
   */
  checkedBeforeSnapshot: number
}

export interface Scenario {
  name: string
  inject: (ctx: ScenarioContext) => Promise<Injected>
  heal: (ctx: ScenarioContext, injected: Injected) => Promise<Healed | void>
}

export async function leaderIndex (ctx: ScenarioContext): Promise<number> {
  let found = -1
  await waitFor(async () => {
    for (const node of ctx.nodes) {
      if (!node.running) continue
      const status = await node.status().catch(() => undefined)
      if (status?.role === 'leader') { found = node.index; return true }
    }
    return false
  }, 60_000, 'a leader')
  return found
}

const hold = async (ctx: ScenarioContext): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ctx.holdMs)) }
const others = (ctx: ScenarioContext, exclude: number[]): number[] => ctx.nodes.map((n) => n.index).filter((i) => !exclude.includes(i))

function partitionScenario (name: string, pickMinority: (leader: number, ctx: ScenarioContext) => number[]): Scenario {
  return {
    name,
    inject: async (ctx) => {
      const minority = pickMinority(await leaderIndex(ctx), ctx)
      ctx.lab.partition(minority, others(ctx, minority))
      const fromMs = Date.now()
      await hold(ctx)
      return { mustNotAck: minority, fromMs, problems: [] }
    },
    heal: async (ctx) => { ctx.lab.heal() }
  }
}

const nonLeaders = (leader: number, ctx: ScenarioContext): number[] => others(ctx, [leader])

export const SCENARIOS: Scenario[] = [
  partitionScenario('partition 2|3, leader in minority', (leader, ctx) => [leader, nonLeaders(leader, ctx)[0] as number]),
  partitionScenario('partition 2|3, leader in majority', (leader, ctx) => nonLeaders(leader, ctx).slice(0, 2)),
  partitionScenario('isolated follower', (leader, ctx) => [nonLeaders(leader, ctx)[1] as number]),
  {
    name: 'one-way drop leader→follower',
    inject: async (ctx) => {
      const leader = await leaderIndex(ctx)
      ctx.lab.dropOneWay(leader, nonLeaders(leader, ctx)[0] as number)
      const fromMs = Date.now()
      await hold(ctx)
      return { mustNotAck: [], fromMs, problems: [] }
    },
    heal: async (ctx) => { ctx.lab.heal() }
  },
  {
    name: 'kill -9 random nodes',
    inject: async (ctx) => {
      const fromMs = Date.now()
      for (let k = 0; k < ctx.kills; k++) {
        const victim = ctx.nodes[Math.floor(ctx.random() * ctx.nodes.length)] as FaultNode
        await victim.kill()
        await new Promise((resolve) => setTimeout(resolve, 200 + Math.floor(ctx.random() * 1300)))
        await victim.start()
        ctx.log(`  kill ${k + 1}/${ctx.kills}: node ${victim.index} killed and restarted`)
      }
      return { mustNotAck: [], fromMs, problems: [] }
    },
    heal: async () => {}
  },
  {
    name: 'data dir on a full tmpfs',
    inject: async (ctx) => {
      const node = ctx.nodes[ctx.tmpfsNode] as FaultNode
      await fillDisk(path.dirname(node.spec.dataDir))
      const problems: string[] = []
      let fromMs = Date.now()
      try {
        // The node first uses up the zeros its WAL wrote ahead of its last record (up to 1 MiB, issue 16:
        // docs/CONSENSUS.md "Pre-written space"), which the filler cannot take: that can take a while.
        await waitFor(async () => (await node.status().catch(() => undefined))?.storage?.writable === false, 180_000, `node ${node.index} reports its disk full`)
        fromMs = Date.now()
        ctx.log(`  node ${node.index}: ${(await node.status()).storage?.error ?? ''}`)
      } catch (err) {
        problems.push((err as Error).message)
      }
      await hold(ctx)
      return { mustNotAck: [ctx.tmpfsNode], fromMs, problems }
    },
    heal: async (ctx) => {
      const node = ctx.nodes[ctx.tmpfsNode] as FaultNode
      await fs.rm(fillerFile(path.dirname(node.spec.dataDir)), { force: true })
      await waitFor(async () => (await node.status().catch(() => undefined))?.storage?.writable === true, 60_000, `node ${node.index} writable again`)
    }
  },
  {
    name: 'wall-clock steps (+1 h, -1 h, +90 s)',
    inject: async (ctx) => {
      const leader = await leaderIndex(ctx)
      const [f1, f2] = nonLeaders(leader, ctx) as [number, number]
      await (ctx.nodes[leader] as FaultNode).setClockOffset(3_600_000)
      await (ctx.nodes[f1] as FaultNode).setClockOffset(-3_600_000)
      await (ctx.nodes[f2] as FaultNode).setClockOffset(90_000)
      const fromMs = Date.now()
      await hold(ctx)
      return { mustNotAck: [], fromMs, problems: [] }
    },
    heal: async (ctx) => { for (const node of ctx.nodes) await node.setClockOffset(0) }
  },
  // Last: it leaves one voter (the recovered one), and the scenarios above need five.
  {
    name: 'majority of voters lost for good, recover-quorum',
    inject: async (ctx) => {
      const leaderAt = await leaderIndex(ctx)
      const leader = ctx.nodes[leaderAt] as FaultNode
      const [f1, f2] = nonLeaders(leaderAt, ctx) as [number, number]
      // Two followers first: every later commit then needs both survivors, so once one commits, the survivors
      // hold every acknowledged entry (an entry acknowledged by the three lost nodes alone would be gone with them).
      await (ctx.nodes[f1] as FaultNode).kill()
      await (ctx.nodes[f2] as FaultNode).kill()
      const commit = (await leader.status()).commitIndex
      await waitFor(async () => (await leader.status().catch(() => undefined))?.commitIndex !== commit, 60_000, 'a commit with both survivors')
      await leader.kill()
      const fromMs = Date.now()
      ctx.log(`  nodes ${f1}, ${f2} and the leader ${leaderAt} killed for good`)
      await hold(ctx)
      return { mustNotAck: ctx.nodes.map((n) => n.index), fromMs, problems: [] }
    },
    heal: async (ctx) => {
      // The most up-to-date log (last term, then last index), as docs/OPERATIONS.md says: not the commit index.
      const survivors = await Promise.all(ctx.nodes.filter((n) => n.running).map(async (n) => ({ n, status: await n.status() })))
      const chosen = survivors.sort((a, b) => (b.status.lastTerm - a.status.lastTerm) || (b.status.lastIndex - a.status.lastIndex))[0]?.n as FaultNode
      // Every other voter counts as lost and is removed by the run: the other survivors are stopped first and
      // come back wiped, as the killed ones (docs/OPERATIONS.md).
      const lost = ctx.nodes.filter((n) => n !== chosen)
      // The recovery ends with a snapshot that keeps no entry before it (docs/CONSENSUS.md), so after it no
      // node's log holds the entries acknowledged so far: check them now against the survivor's whole log.
      const acked = [...ctx.acked()]
      const wrong = await checkAcks([chosen], acked)
      if (wrong.length > 0) throw new Error(`before the recovery: ${wrong.join('; ')}`)
      const checkedBeforeSnapshot = Math.max(0, ...acked.map((a) => a.index))
      for (const node of ctx.nodes) if (node.running) await node.kill()
      const { code, stderr } = await chosen.recoverQuorum()
      if (code !== 0) throw new Error(`recover-quorum on node ${chosen.index} exited ${String(code)}: ${stderr.slice(-600)}`)
      ctx.log(`  node ${chosen.index}: ${/quorum recovered[^\n"]*/.exec(stderr)?.[0] ?? stderr.slice(-200)}`)
      await chosen.start()
      const join = ((await chosen.request('GET', '/v1/join-string')).body as { joinString: string }).joinString
      // The lost machines and the other survivors come back empty, as new members (the run removed their ids).
      for (const node of lost) {
        await node.wipe()
        await node.start(join)
      }
      await waitFor(async () => {
        const s = await chosen.status().catch(() => undefined)
        return s !== undefined && lost.every((n) => s.learners.includes(n.nodeId)) && s.voters.length === 1
      }, 120_000, 'the wiped nodes admitted as learners of the one voter')
      return { checkedBeforeSnapshot }
    }
  }
]

const fillerFile = (dir: string): string => path.join(dir, 'filler.bin')

/** Writes a filler file until the file system says ENOSPC. */
async function fillDisk (dir: string): Promise<void> {
  const handle = await fs.open(fillerFile(dir), 'w')
  const chunk = Buffer.alloc(256 * 1024, 0x5a)
  try {
    for (let i = 0; i < 100_000; i++) await handle.write(chunk)
    throw new Error(`${dir} never filled up`)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
    // Fill the last partial chunk too, byte-exact enough for the WAL's next record.
    for (const size of [65536, 4096, 512, 64, 1]) {
      try { for (;;) await handle.write(Buffer.alloc(size, 0x5a)) } catch { /* next smaller size */ }
    }
  } finally {
    await handle.close()
  }
}
