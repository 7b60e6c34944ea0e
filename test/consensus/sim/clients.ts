/**
 * @module test/consensus/sim/clients
 * Simulated clients: each keeps at most one operation outstanding, a put (a proposal with a proposal id;
 * a retry reuses the id, so it must take effect once) or a linearizable get (ReadIndex at some node; a
 * retry asks again, possibly elsewhere). Every operation is recorded with its call and return ticks for
 * the linearizability checker; one that never returns stays pending (it may or may not have taken effect).
 */
import type { NodeId, ProposalId } from '../../../src/consensus/core/types.js'
import { CLIENT_RETRY_TICKS, HISTORY_OPS_MAX, KEYS_COUNT } from './constants.js'
import type { Operation } from './linearizability.js'
import { encodePut, proposalKey } from './kv.js'
import type { SimRandom } from './random.js'
import type { Trace } from './trace.js'

/** What clients need from the cluster: a way to reach a node and a guess of the leader. */
export interface ClientPort {
  nodesUp: () => NodeId[]
  leaderGuess: () => NodeId | null
  /** Returns false when the node refused (e.g. ProposalDroppedError). */
  propose: (node: NodeId, data: Uint8Array, id: ProposalId) => boolean
  readIndex: (node: NodeId, context: string) => boolean
}

interface Outstanding {
  op: Operation
  proposalId?: ProposalId
  data?: Uint8Array
  readContext?: string
  sentAt: number
  attempts: number
}

export class SimClients {
  readonly history: Operation[] = []
  private readonly outstanding = new Map<string, Outstanding>()
  /** Proposal key → client, and read context → client, for routing completions. */
  private readonly byProposal = new Map<string, string>()
  private readonly byRead = new Map<string, string>()
  private readonly seqs = new Map<string, number>()
  private readSeq = 0
  /** When false, idle clients start nothing new (the liveness phase only finishes what is pending). */
  issuing = true
  retries = 0

  constructor (private readonly ids: readonly string[], private readonly random: SimRandom,
    private readonly startRate: number, private readonly trace: Trace) {}

  pendingCount (): number {
    return this.outstanding.size
  }

  describePending (): string {
    return [...this.outstanding.entries()].map(([c, o]) => `${c}:${o.op.input.kind}(${o.op.input.key})@${o.op.call}`).join(' ')
  }

  /** One tick: idle clients may start an operation; stuck ones retry. */
  tick (now: number, port: ClientPort): void {
    for (const clientId of this.ids) {
      const current = this.outstanding.get(clientId)
      if (current === undefined) {
        if (this.issuing && this.history.length < HISTORY_OPS_MAX && this.random.chance(this.startRate)) {
          this.start(clientId, now, port)
        }
      } else if (now - current.sentAt >= CLIENT_RETRY_TICKS) {
        this.retries++
        this.send(clientId, current, now, port)
      }
    }
  }

  private start (clientId: string, now: number, port: ClientPort): void {
    const key = `k${this.random.nextInt(KEYS_COUNT)}`
    if (this.random.chance(0.5)) {
      const seq = (this.seqs.get(clientId) ?? 0) + 1
      this.seqs.set(clientId, seq)
      const value = `${clientId}.${seq}`
      const proposalId = { clientId, seq }
      const op: Operation = { clientId, input: { kind: 'put', key, value }, call: now }
      this.history.push(op)
      const item: Outstanding = { op, proposalId, data: encodePut({ op: 'put', key, value }), sentAt: now, attempts: 0 }
      this.byProposal.set(proposalKey(proposalId), clientId)
      this.outstanding.set(clientId, item)
      this.send(clientId, item, now, port)
    } else {
      const op: Operation = { clientId, input: { kind: 'get', key }, call: now }
      this.history.push(op)
      const item: Outstanding = { op, sentAt: now, attempts: 0 }
      this.outstanding.set(clientId, item)
      this.send(clientId, item, now, port)
    }
  }

  /** Sends (or re-sends) an operation to the leader guess, or to any node that is up. */
  private send (clientId: string, item: Outstanding, now: number, port: ClientPort): void {
    item.sentAt = now
    item.attempts++
    const up = port.nodesUp()
    if (up.length === 0) return
    const leader = port.leaderGuess()
    const node = leader !== null && this.random.chance(0.8) ? leader : this.random.pick(up)
    if (item.proposalId !== undefined) {
      const accepted = port.propose(node, item.data as Uint8Array, item.proposalId)
      this.trace.add(`${clientId} put ${item.op.input.key}=${(item.op.input as { value: string }).value} ` +
        `id=${proposalKey(item.proposalId)} via ${node} try ${item.attempts}${accepted ? '' : ' (dropped)'}`)
      return
    }
    if (item.readContext !== undefined) this.byRead.delete(item.readContext)
    item.readContext = `${clientId}/r${++this.readSeq}`
    this.byRead.set(item.readContext, clientId)
    const accepted = port.readIndex(node, item.readContext)
    this.trace.add(`${clientId} get ${item.op.input.key} ctx=${item.readContext} via ${node}${accepted ? '' : ' (dropped)'}`)
  }

  /** A node applied proposal `id`: the put returns now (its effect is in the log at a single index). */
  onApplied (id: ProposalId, now: number): void {
    const clientId = this.byProposal.get(proposalKey(id))
    if (clientId === undefined) return
    const item = this.outstanding.get(clientId)
    if (item?.proposalId === undefined || proposalKey(item.proposalId) !== proposalKey(id)) return
    this.byProposal.delete(proposalKey(id))
    item.op.output = {}
    item.op.return = now
    this.outstanding.delete(clientId)
  }

  /** A node served read `context`: the get returns the node's current value. */
  onRead (context: string, value: (key: string) => string | null, now: number, node: NodeId): void {
    const clientId = this.byRead.get(context)
    if (clientId === undefined) return
    this.byRead.delete(context)
    const item = this.outstanding.get(clientId)
    if (item === undefined || item.readContext !== context) return
    item.op.output = { value: value(item.op.input.key) }
    item.op.return = now
    this.trace.add(`${clientId} get ${item.op.input.key} -> ${String(item.op.output.value)} from ${node}`)
    this.outstanding.delete(clientId)
  }
}
