/**
 * An in-memory, timer-free network of RawNodes for scenario tests (in the spirit of etcd raft's
 * InteractionEnv). Messages are delivered only when a test calls deliver()/stabilize(); links can be
 * cut; every node's Ready is handled exactly as a driver must (send, persist, send-after-persist,
 * apply, advance). After every processed Ready the harness asserts each node's invariants and the
 * cluster-wide properties: one leader per term and identical entries at every applied index.
 */
import { RawNode, createPrng, EntryType, decodeConfChange, applyOnce, ProposalSessions } from '../../../src/consensus/core/index.js'
import type {
  ConfState, Entry, HardState, Message, ProposalSessionsData, RaftConfig, ReadState, Snapshot
} from '../../../src/consensus/core/index.js'

export interface NodeStore {
  hardState: HardState
  entries: Entry[]
  snapshot?: Snapshot
}

export interface HarnessNode {
  id: string
  node: RawNode
  store: NodeStore
  /** The state machine: applied command payloads as text, in order. */
  state: string[]
  conf: ConfState
  appliedIndex: number
  readStates: ReadState[]
  sessions: ProposalSessions<string>
  /** Number of times an entry's command was really applied (exactly-once check). */
  applyCount: number
}

export interface ClusterOptions {
  voters: string[]
  learners?: string[]
  seed?: number
  electionTicks?: number
  heartbeatTicks?: number
  config?: Partial<RaftConfig>
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export function bytes (text: string): Uint8Array {
  return encoder.encode(text)
}

/** A normal entry at (`index`, `term`) whose one data byte is its index. */
export function entryAt (index: number, term: number): Entry {
  return { index, term, type: EntryType.Normal, data: new Uint8Array([index]) }
}

/** Hands out and acknowledges every Ready of `node` (nothing sent, nothing applied elsewhere). */
export function drainReady (node: RawNode): void {
  while (node.hasReady()) {
    node.ready()
    node.advance()
  }
}

/** Follower `a` of voters a, b, c at term 3 with entries 1..3 of term 1 (commit 2), its Ready handled. */
export function followerAtTerm3 (): RawNode {
  const node = new RawNode({ id: 'a', electionTicks: 10, heartbeatTicks: 1, random: createPrng(3) },
    { hardState: { term: 3, vote: null, commit: 2 }, entries: [entryAt(1, 1), entryAt(2, 1), entryAt(3, 1)] }, conf(['a', 'b', 'c']))
  drainReady(node)
  return node
}

export function conf (voters: string[], learners: string[] = []): ConfState {
  return { voters, votersOutgoing: [], learners, learnersNext: [], autoLeave: false }
}

export class Cluster {
  readonly nodes = new Map<string, HarnessNode>()
  /** Messages in flight, in send order. */
  queue: Message[] = []
  /** Blocked directed links "from->to". */
  readonly cut = new Set<string>()
  readonly leadersByTerm = new Map<number, string>()
  readonly appliedByIndex = new Map<number, { term: number, data: string }>()
  /** The genesis configuration every node (also one joining later) bootstraps from. */
  readonly genesis: ConfState
  private readonly options: ClusterOptions
  /** Highest commit index on any node when each read (by context) was requested. */
  readonly readFloor = new Map<string, number>()
  /** Optional event trace for debugging a failing seed. */
  trace: string[] | undefined
  private seed: number

  constructor (options: ClusterOptions) {
    this.options = options
    this.seed = options.seed ?? 1
    this.genesis = conf(options.voters, options.learners ?? [])
    for (const id of [...options.voters, ...(options.learners ?? [])]) this.addNode(id)
  }

  /**
   * Adds a node with empty storage. NB: a node joining later also bootstraps from the genesis
   * configuration: replaying the log's conf changes from index 1 brings it to the current one.
   */
  addNode (id: string, bootstrap: ConfState = this.genesis): HarnessNode {
    const store: NodeStore = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }
    const h: HarnessNode = {
      id, node: this.makeNode(id, store, bootstrap), store, state: [], conf: bootstrap,
      appliedIndex: 0, readStates: [], sessions: new ProposalSessions<string>(), applyCount: 0
    }
    this.nodes.set(id, h)
    return h
  }

  private makeNode (id: string, store: NodeStore, bootstrap?: ConfState): RawNode {
    return new RawNode({
      id,
      electionTicks: this.options.electionTicks ?? 10,
      heartbeatTicks: this.options.heartbeatTicks ?? 1,
      random: createPrng(this.seed++),
      ...this.options.config
    }, { hardState: { ...store.hardState }, entries: [...store.entries], ...(store.snapshot !== undefined ? { snapshot: store.snapshot } : {}) }, bootstrap)
  }

  get (id: string): HarnessNode {
    const h = this.nodes.get(id)
    if (h === undefined) throw new Error(`no node ${id}`)
    return h
  }

  /** Restarts a node from its durable store (a crash after the last processed Ready). */
  restart (id: string, bootstrap: ConfState): void {
    const h = this.get(id)
    this.trace?.push(`${id} restart`)
    h.node = this.makeNode(id, h.store, bootstrap)
    h.conf = h.store.snapshot?.meta.confState ?? bootstrap
    this.loadMachine(h, h.store.snapshot)
    h.appliedIndex = h.store.snapshot?.meta.index ?? 0
  }

  isolate (id: string): void {
    for (const other of this.nodes.keys()) {
      if (other === id) continue
      this.cut.add(`${id}->${other}`)
      this.cut.add(`${other}->${id}`)
    }
  }

  heal (): void {
    this.cut.clear()
  }

  tick (id: string, times = 1): void {
    for (let i = 0; i < times; i++) this.get(id).node.tick()
  }

  tickAll (times = 1): void {
    for (let i = 0; i < times; i++) for (const h of this.nodes.values()) h.node.tick()
  }

  /** Handles one node's Ready as a driver would; returns false when it had none. */
  process (id: string): boolean {
    const h = this.get(id)
    if (!h.node.hasReady()) return false
    const rd = h.node.ready()
    this.trace?.push(`${id} ready hs=${JSON.stringify(rd.hardState)} ents=${rd.entries.map((e) => `${e.index}/${e.term}`).join(',')}` +
      ` snap=${rd.snapshot?.meta.index ?? '-'} commit=${rd.committedEntries.map((e) => e.index).join(',')} ` +
      `msgs=${[...rd.messages, ...rd.messagesAfterPersist].map((m) => `${m.type}>${m.to}:t${m.term}i${m.index}n${m.entries.length}c${m.commit}${m.reject ? 'R' : ''}`).join(' ')}`)
    this.queue.push(...rd.messages)
    if (rd.hardState !== undefined) h.store.hardState = { ...rd.hardState }
    if (rd.snapshot !== undefined) this.installSnapshot(h, rd.snapshot)
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index
      const last = h.store.entries.at(-1)?.index ?? 0
      if (first === last + 1) h.store.entries.push(...rd.entries)
      else h.store.entries = h.store.entries.filter((e) => e.index < first).concat(rd.entries)
    }
    this.queue.push(...rd.messagesAfterPersist)
    for (const entry of rd.committedEntries) this.apply(h, entry)
    for (const rs of rd.readStates) this.checkRead(rs)
    h.readStates.push(...rd.readStates)
    h.node.advance()
    this.checkAll()
    return true
  }

  private installSnapshot (h: HarnessNode, snapshot: Snapshot): void {
    h.store.snapshot = snapshot
    h.store.entries = h.store.entries.filter((e) => e.index > snapshot.meta.index)
    this.loadMachine(h, snapshot)
    h.conf = snapshot.meta.confState
    h.appliedIndex = snapshot.meta.index
  }

  /** Restores the state machine (commands and dedup sessions) from a snapshot, or empties it. */
  private loadMachine (h: HarnessNode, snapshot: Snapshot | undefined): void {
    if (snapshot === undefined) {
      h.state = []
      h.sessions = new ProposalSessions<string>()
      return
    }
    const machine = JSON.parse(decoder.decode(snapshot.data)) as { state: string[], sessions: ProposalSessionsData<string> }
    h.state = machine.state
    h.sessions = ProposalSessions.decode(machine.sessions)
  }

  private apply (h: HarnessNode, entry: Entry): void {
    if (entry.index <= h.appliedIndex) throw new Error(`${h.id} re-applied ${entry.index}`)
    h.appliedIndex = entry.index
    const data = decoder.decode(entry.data)
    const seen = this.appliedByIndex.get(entry.index)
    if (seen !== undefined && (seen.term !== entry.term || seen.data !== data)) {
      throw new Error(`state machine safety: ${h.id} applied a different entry at ${entry.index}`)
    }
    this.appliedByIndex.set(entry.index, { term: entry.term, data })
    if (entry.type === EntryType.ConfChange) {
      const cc = decodeConfChange(entry.data)
      if (cc !== null) h.conf = h.node.applyConfChange(cc)
    } else if (entry.type === EntryType.Normal) {
      applyOnce(h.sessions, entry, (e) => {
        h.applyCount++
        h.state.push(decoder.decode(e.data))
        return `ok ${e.index}`
      })
    }
  }

  /**
   * Requests a ReadIndex read at `id`, remembering the highest commit index anywhere: a linearizable
   * read must be served at an index at least that high (thesis §6.4).
   */
  readIndex (id: string, context: string): void {
    this.get(id).node.readIndex(bytes(context))
    const floor = Math.max(...[...this.nodes.values()].map((h) => h.node.status().commit))
    this.readFloor.set(context, floor)
  }

  private checkRead (rs: ReadState): void {
    const context = decoder.decode(rs.context)
    const floor = this.readFloor.get(context)
    if (floor !== undefined && rs.index < floor) {
      throw new Error(`stale read ${context}: index ${rs.index} < commit ${floor} when requested`)
    }
  }

  /** Takes a snapshot of `id`'s state machine at its applied index and compacts its log. */
  compact (id: string, retainEntries = 0): void {
    const h = this.get(id)
    const status = h.node.status()
    const term = h.node.entries(status.applied, status.applied + 1)[0]?.term ?? h.store.snapshot?.meta.term ?? 0
    const snapshot: Snapshot = {
      meta: { index: status.applied, term, confState: h.conf },
      data: bytes(JSON.stringify({ state: h.state, sessions: h.sessions.encode() }))
    }
    h.store.snapshot = snapshot
    h.node.compact(snapshot, retainEntries)
  }

  /** Delivers every queued message once (messages produced meanwhile wait for the next call). */
  deliver (filter?: (m: Message) => boolean): number {
    const batch = this.queue
    this.queue = []
    let delivered = 0
    for (const m of batch) {
      if (this.cut.has(`${m.from}->${m.to}`)) continue
      if (filter !== undefined && !filter(m)) { this.queue.push(m); continue }
      const target = this.nodes.get(m.to)
      if (target === undefined) continue
      target.node.step(m)
      delivered++
    }
    return delivered
  }

  /**
   * Delivers queued messages in a random order, dropping or duplicating some (driven by `nextInt`);
   * undelivered ones stay queued.
   */
  deliverRandom (nextInt: (max: number) => number, dropPercent: number, dupPercent: number): void {
    const batch = this.queue
    this.queue = []
    for (let i = batch.length - 1; i > 0; i--) {
      const j = nextInt(i + 1)
      const tmp = batch[i]!; batch[i] = batch[j]!; batch[j] = tmp
    }
    for (const m of batch) {
      if (nextInt(100) < dropPercent || this.cut.has(`${m.from}->${m.to}`)) continue
      if (nextInt(100) < 30) { this.queue.push(m); continue }
      const target = this.nodes.get(m.to)
      if (target === undefined) continue
      this.trace?.push(`${m.to} <- ${m.type} from ${m.from} t${m.term} i${m.index} lt${m.logTerm} n${m.entries.length} c${m.commit}${m.reject ? ' reject' : ''}`)
      target.node.step(m)
      if (nextInt(100) < dupPercent) this.queue.push(m)
    }
  }

  /** Processes Readies and delivers messages until nothing moves (bounded by maxRounds). */
  stabilize (maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false
      for (const id of this.nodes.keys()) if (this.process(id)) moved = true
      if (this.deliver() > 0) moved = true
      if (!moved && this.queue.length === 0) return
    }
    throw new Error(`not stable after ${maxRounds} rounds`)
  }

  /** Ticks `id` until its election fires, then stabilizes. */
  elect (id: string): void {
    this.get(id).node.campaign()
    this.stabilize()
  }

  leaders (): string[] {
    return [...this.nodes.values()].filter((h) => h.node.status().role === 'leader').map((h) => h.id)
  }

  checkAll (): void {
    for (const h of this.nodes.values()) {
      h.node.checkInvariants()
      const s = h.node.status()
      if (s.role !== 'leader') continue
      const known = this.leadersByTerm.get(s.term)
      if (known !== undefined && known !== h.id) throw new Error(`two leaders in term ${s.term}: ${known}, ${h.id}`)
      this.leadersByTerm.set(s.term, h.id)
    }
  }
}
