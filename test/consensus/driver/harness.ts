/**
 * @module test/consensus/driver/harness
 * An in-process cluster of RaftNode drivers for driver tests: a loopback transport with cuttable links,
 * in-memory storage that survives a node's restart, and a small KV state machine.
 */
import { decode, encode } from '@ipld/dag-cbor'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { MessageTransport, Logger } from '../../../src/consensus/raft-node.js'
import type { ApplyOutcome, ReplicatedStateMachine } from '../../../src/consensus/state-machine.js'
import type { Message, NodeId } from '../../../src/consensus/core/index.js'
import { MemoryStorage } from '../../consensus/sim/memory-storage-shim.js'

export const silentLogger: Logger = { info: () => {}, warn: () => {}, debug: () => {} }

/** A map from key to value; a command sets one key and returns the previous value. */
export class KvMachine implements ReplicatedStateMachine<{ previous: string | null }> {
  map = new Map<string, string>()
  apply (command: Uint8Array): ApplyOutcome<{ previous: string | null }> {
    const { k, v } = decode(command) as { k: string, v: string }
    const previous = this.map.get(k) ?? null
    this.map.set(k, v)
    return { result: { previous }, accepted: true }
  }

  snapshot (): Uint8Array {
    return encode(Object.fromEntries([...this.map.entries()].sort()))
  }

  restore (data: Uint8Array): void {
    this.map = KvMachine.decodeMap(data)
  }

  canRestore (data: Uint8Array): boolean {
    try {
      KvMachine.decodeMap(data)
      return true
    } catch {
      return false
    }
  }

  private static decodeMap (data: Uint8Array): Map<string, string> {
    const value = decode(data) as unknown
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a map')
    return new Map(Object.entries(value as Record<string, string>))
  }
}

export const put = (k: string, v: string): Uint8Array => encode({ k, v })

/** Delivers messages asynchronously between registered nodes unless their link is cut. */
export class LoopbackNetwork {
  private readonly handlers = new Map<NodeId, (message: Message) => void>()
  private readonly cut = new Set<string>()

  transport (id: NodeId): MessageTransport {
    return {
      send: (message) => {
        if (this.cut.has(`${message.from}>${message.to}`)) return
        setImmediate(() => {
          if (this.cut.has(`${message.from}>${message.to}`)) return
          this.handlers.get(message.to)?.(structuredClone(message))
        })
      },
      setHandler: (handler) => { this.handlers.set(id, handler) }
    }
  }

  isolate (id: NodeId, others: NodeId[]): void {
    for (const other of others) { this.cut.add(`${id}>${other}`); this.cut.add(`${other}>${id}`) }
  }

  /** Cuts one direction only: messages from `from` to `to` are dropped. */
  cutOneWay (from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`)
  }

  heal (): void {
    this.cut.clear()
  }

  remove (id: NodeId): void {
    this.handlers.delete(id)
  }
}

/** A loopback network that also records every message node `a` sends (the leader in these tests). */
export class TappedNetwork extends LoopbackNetwork {
  readonly sentByA: Message[] = []

  override transport (id: NodeId): MessageTransport {
    const inner = super.transport(id)
    return {
      send: (message) => {
        if (id === 'a') this.sentByA.push(message)
        inner.send(message)
      },
      setHandler: (handler) => { inner.setHandler(handler) }
    }
  }
}

export interface TestNode {
  id: NodeId
  raft: RaftNode<{ previous: string | null }>
  machine: KvMachine
  storage: MemoryStorage
}

export function startNode (network: LoopbackNetwork, id: NodeId, storage: MemoryStorage, options: { bootstrap?: boolean, snapshotEveryEntries?: number, retryIntervalMs?: number, operationTimeoutMs?: number, commitNoticeHoldMs?: number, logger?: Logger } = {}): TestNode {
  const machine = new KvMachine()
  const raft = new RaftNode({
    id, tickMs: 10, electionTicks: 10, heartbeatTicks: 1, retryIntervalMs: options.retryIntervalMs ?? 200, operationTimeoutMs: options.operationTimeoutMs ?? 10_000,
    bootstrap: options.bootstrap ?? false, snapshotEveryEntries: options.snapshotEveryEntries ?? 10_000, retainEntries: 5,
    ...(options.commitNoticeHoldMs !== undefined ? { commitNoticeHoldMs: options.commitNoticeHoldMs } : {})
  }, { storage, transport: network.transport(id), stateMachine: machine, logger: options.logger ?? silentLogger })
  raft.start()
  return { id, raft, machine, storage }
}

/** Polls `condition` every 5 ms until it holds or the deadline passes. */
export async function waitUntil (condition: () => boolean, deadlineMs: number, label: string): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${label}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

export function newStorage (): MemoryStorage {
  return new MemoryStorage()
}

/** Starts `a` (bootstrapping, on `leaderStorage`) and adds `b` and `c` as voters; each node is pushed to `into`. */
export async function startThreeVoters (network: LoopbackNetwork, into: TestNode[], leaderStorage: MemoryStorage = newStorage(),
  options: { commitNoticeHoldMs?: number, logger?: (id: NodeId) => Logger } = {}): Promise<TestNode[]> {
  const { logger, ...rest } = options
  const a = startNode(network, 'a', leaderStorage, { bootstrap: true, ...rest, logger: logger?.('a') })
  into.push(a)
  await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
  for (const id of ['b', 'c']) {
    into.push(startNode(network, id, newStorage(), { ...rest, logger: logger?.(id) }))
    a.raft.proposeConfChange({ steps: [{ type: 'add-voter', nodeId: id }], transition: 'auto', enterJoint: true })
    await waitUntil(() => a.raft.configuration().voters.includes(id) && a.raft.configuration().votersOutgoing.length === 0, 5000, `${id} voter`)
  }
  return into.slice(-3)
}
