/**
 * @module faults/client
 * The fault suite's client: several lanes, each proposing operator commands (promote or demote the
 * scheduler role, alternating, on a rotating node) through a rotating entry node, one at a time, for as
 * long as it runs. It records every acknowledgement (HTTP 200 with the entry's index and term) with the
 * node that gave it and when, which the checker then holds against every node's log.
 */
import type { FaultNode } from './nodes.js'

export interface Ack { entryNode: number, index: number, term: number, sentAtMs: number, atMs: number }

export class ProposalClient {
  readonly acks: Ack[] = []
  attempts = 0
  private running = false
  private lanes: Array<Promise<void>> = []

  constructor (private readonly nodes: FaultNode[], private readonly laneCount = 3) {}

  start (): void {
    if (this.running) return
    this.running = true
    for (let lane = 0; lane < this.laneCount; lane++) this.lanes.push(this.lane(lane))
  }

  async stop (): Promise<void> {
    this.running = false
    await Promise.all(this.lanes.splice(0))
  }

  private async lane (lane: number): Promise<void> {
    let step = lane
    while (this.running) {
      step += this.laneCount
      const entry = this.nodes[step % this.nodes.length] as FaultNode
      const target = this.nodes[(step + 1 + lane) % this.nodes.length] as FaultNode
      if (!entry.running || target.nodeId === '') { await pause(100); continue }
      const kind = Math.floor(step / this.nodes.length) % 2 === 0 ? 'promote' : 'demote'
      await this.propose(entry, { kind, nodeId: target.nodeId, roles: ['scheduler'], reason: 'operator' })
    }
  }

  /** One proposal; true when acknowledged. */
  async propose (entry: FaultNode, body: unknown): Promise<boolean> {
    this.attempts++
    const sentAtMs = Date.now()
    try {
      const res = await entry.request('POST', '/v1/proposals', body, 8000)
      if (res.status !== 200) { await pause(200); return false }
      const { index, term } = res.body as { index?: unknown, term?: unknown }
      if (typeof index !== 'number' || typeof term !== 'number') throw new Error(`ack without index/term: ${JSON.stringify(res.body)}`)
      this.acks.push({ entryNode: entry.index, index, term, sentAtMs, atMs: Date.now() })
      return true
    } catch (err) {
      if ((err as Error).message.startsWith('ack without')) throw err
      await pause(200) // refused, timed out or unreachable: not acknowledged
      return false
    }
  }
}

async function pause (ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms))
}
