/**
 * @module test/consensus/sim/simulator
 * The deterministic simulator (TigerBeetle VOPR style, STYLE rule 23): one seed picks the cluster shape,
 * the network's fault rates and every fault, and drives production `RawNode`s over `MemoryStorage` on a
 * virtual clock. A safety phase injects faults while clients propose and read; then a liveness phase heals
 * everything, restarts every crashed node and requires a leader and every pending operation to resolve
 * within LIVENESS_TICKS_MAX. Invariants run as every Ready is handled and after every tick; at the end the
 * recorded client history must be linearizable. In about a fifth of the seeds a majority of the voters is
 * lost for good and a survivor recovers the quorum (recovery.ts). A run returns a result, never throws.
 */
import type { RaftTestingBugs } from '../../../src/consensus/core/config.js'
import { MessageType, type ConfChange, type ConfState, type NodeId, type ProposalId,
  type Ready } from '../../../src/consensus/core/types.js'
import { CLIENTS_MAX, DEFAULT_STEPS, FAULT_INTERVAL_TICKS_MAX, FAULT_INTERVAL_TICKS_MIN, FAULT_STORM_INTERVAL_TICKS_MAX,
  FAULT_STORM_RATE, LEARNERS_MAX, LIVENESS_TICKS_MAX, NETWORK_DELAY_TICKS_MAX, QUORUM_LOSS_STREAM,
  READY_ROUNDS_PER_TICK_MAX, VOTER_COUNTS } from './constants.js'
import { FaultScheduler, type FaultTarget } from './faults.js'
import { ClusterInvariants, InvariantViolation } from './invariants.js'
import { checkHistory, type Verdict } from './linearizability.js'
import { SimNetwork, type NetworkOptions } from './network.js'
import { SimNode, type NodeHooks } from './node.js'
import { SimClients, type ClientPort } from './clients.js'
import { SimRandom } from './random.js'
import { chooseQuorumLoss, QuorumRecovery, recoveryMarks, type QuorumLossPlan } from './recovery.js'
import { Trace } from './trace.js'

export interface SimOptions {
  seed: number
  /** Safety-phase ticks. @default DEFAULT_STEPS */
  steps?: number
  bugs?: RaftTestingBugs
  /** Check Raft rules where they apply (vote durability at send, the commit rule); false leaves only the
   * end-to-end checks (election safety, log matching, completeness, linearizability). @default true */
  ruleChecks?: boolean
  /** Bugs planted in the harness itself, to prove the end-to-end checkers can fail. */
  harnessBugs?: HarnessBugs
  /** Print every trace event as it happens. @default false */
  verbose?: boolean
  /** Lose a quorum in every seed (the seed still picks when, and how the lost voters leave). @default false */
  forceQuorumLoss?: boolean
}

export interface HarnessBugs {
  /** Serve gets from the contacted node's state at once, without ReadIndex. */
  localReads?: boolean
  /** Apply every entry, bypassing the exactly-once session table. */
  skipSessions?: boolean
  /** Rule out a leader's undecided entries as soon as it stops leading (too early: a successor may commit them). */
  ruleOutOnStepDown?: boolean
  /** Lose the quorum at the seed's tick even when the survivor lacks committed entries (acknowledged writes lost). */
  lossAnyMoment?: boolean
}

/** The options the seed chose, printed with every failure. */
export interface SwarmConfig {
  voters: number
  learners: number
  clients: number
  network: NetworkOptions
  faultIntervalTicks: number
  midReadyCrashRate: number
  /** Crash rate for a Ready that carries a vote response (the moment a vote must already be durable). */
  voteCrashRate: number
  clientStartRate: number
  /** Chance that a new leader is cut off the moment it is elected (before its first appends land). */
  leaderChurnRate: number
  maxSizePerMsgBytes?: number
  maxInflightMsgs?: number
  /**
   * Asynchronous storage writes (as RaftNode over FileStorage): a Ready's writes are flushed at a random
   * later drain, with other input stepped in between; `flushRate` is the chance per drain.
   */
  asyncStorageWrites: boolean
  flushRate: number
  /** A majority of the voters lost for good, healed by quorum recovery (recovery.ts); absent in most seeds. */
  quorumLoss?: QuorumLossPlan
}

export interface SimResult {
  seed: number
  steps: number
  ok: boolean
  /** What failed, when !ok. */
  failure?: string
  swarm: SwarmConfig
  trace: string[]
  verdict?: Verdict
  stats: { operations: number, completed: number, retries: number, delivered: number, dropped: number,
    crashes: number, maxTerm: number, committed: number, checks: number, faults: string }
  /** Coverage marks: how often the rare paths ran in this seed. */
  marks: Record<string, number>
  /** The run was told to lose a quorum whatever the seed chose (the replay needs `--quorum-loss`). */
  forcedQuorumLoss: boolean
}

/** Draws the whole swarm configuration from the seed (printed on failure, so a run is self-describing). */
export function chooseSwarm (random: SimRandom): SwarmConfig {
  return {
    voters: random.pick(VOTER_COUNTS),
    learners: random.between(0, LEARNERS_MAX),
    clients: random.between(1, CLIENTS_MAX),
    network: {
      delayTicksMax: random.between(0, NETWORK_DELAY_TICKS_MAX),
      lossRate: random.pick([0, 0.01, 0.05, 0.15]),
      duplicateRate: random.pick([0, 0.01, 0.05]),
      spikeRate: random.pick([0, 0.01, 0.03])
    },
    faultIntervalTicks: random.chance(FAULT_STORM_RATE)
      ? random.between(FAULT_INTERVAL_TICKS_MIN, FAULT_STORM_INTERVAL_TICKS_MAX)
      : random.between(FAULT_STORM_INTERVAL_TICKS_MAX, FAULT_INTERVAL_TICKS_MAX),
    midReadyCrashRate: random.pick([0, 0.001, 0.005]),
    voteCrashRate: random.pick([0, 0.05, 0.2]),
    clientStartRate: random.pick([0.05, 0.2, 0.5]),
    leaderChurnRate: random.pick([0, 0, 0.2, 0.5]),
    // Tiny messages and windows split replication into many acknowledgements (Figure 8 needs a prefix ack).
    ...random.pick([{}, { maxSizePerMsgBytes: 1 }, { maxSizePerMsgBytes: 200, maxInflightMsgs: 2 }]),
    asyncStorageWrites: random.chance(0.5),
    flushRate: random.pick([0.2, 0.5, 0.9])
  }
}

export function describeSwarm (swarm: SwarmConfig): string {
  const n = swarm.network
  return `voters=${swarm.voters} learners=${swarm.learners} clients=${swarm.clients} delay<=${n.delayTicksMax} ` +
    `loss=${n.lossRate} dup=${n.duplicateRate} spikes=${n.spikeRate} faultEvery~${swarm.faultIntervalTicks} ` +
    `midReadyCrash=${swarm.midReadyCrashRate} voteCrash=${swarm.voteCrashRate} leaderChurn=${swarm.leaderChurnRate} clientRate=${swarm.clientStartRate} ` +
    `msgBytesMax=${swarm.maxSizePerMsgBytes ?? 'default'} inflightMax=${swarm.maxInflightMsgs ?? 'default'} ` +
    `asyncWrites=${swarm.asyncStorageWrites ? `flush@${swarm.flushRate}` : 'off'} ` +
    `quorumLoss=${swarm.quorumLoss === undefined ? 'off'
      : `@${swarm.quorumLoss.atTick}/${swarm.quorumLoss.exit}${swarm.quorumLoss.promoteFirst ? '+promote' : ''}`}`
}

/** The failure report: seed, what failed, the seed's options, a one-line replay command, the last events. */
export function formatFailure (result: SimResult, bug?: string, endToEndOnly = false): string[] {
  const bugFlag = (bug === undefined ? '' : ` --bug ${bug}`) + (endToEndOnly ? ' --end-to-end-only' : '') +
    (result.forcedQuorumLoss ? ' --quorum-loss' : '')
  return [
    `FAIL seed=${result.seed}: ${result.failure ?? '?'}`,
    `  swarm: ${describeSwarm(result.swarm)}`,
    `  replay: npm run sim -- --seed ${result.seed} --steps ${result.steps}${bugFlag}`,
    `  last ${result.trace.length} events:`,
    ...result.trace.map((line) => `    ${line}`)
  ]
}

/** Runs one seed to completion. */
export function runSeed (options: SimOptions): SimResult {
  const sim = new Simulation(options)
  return sim.run()
}

class Simulation {
  private readonly random: SimRandom
  private readonly swarm: SwarmConfig
  private readonly trace = new Trace()
  private readonly invariants = new ClusterInvariants()
  private readonly network: SimNetwork
  private readonly nodes = new Map<NodeId, SimNode>()
  private readonly clients: SimClients
  private readonly faults: FaultScheduler
  /** The quorum loss and its recovery, in the seeds that choose one. */
  private readonly recovery: QuorumRecovery | null
  private readonly steps: number
  private now = 0
  private midReadyCrashes = true
  private nextNodeNumber = 1
  /** Nodes that crashed mid-Ready, and the tick their supervisor restarts them. */
  private readonly restartAt = new Map<NodeId, number>()
  /**
   * The founding configuration. Joiners get it too: it is not in the log, so a joiner that catches up
   * by entries (not by snapshot) replays the conf changes on top of it (RawNode's bootstrap contract).
   */
  private readonly founding: ConfState

  constructor (private readonly options: SimOptions) {
    this.random = new SimRandom(options.seed)
    this.steps = options.steps ?? DEFAULT_STEPS
    // A stream of its own, so that seeds without a quorum loss draw exactly what they drew before it existed.
    const lossRandom = new SimRandom((options.seed ^ QUORUM_LOSS_STREAM) >>> 0)
    const quorumLoss = chooseQuorumLoss(lossRandom, this.steps, options.forceQuorumLoss === true)
    this.swarm = { ...chooseSwarm(this.random), ...(quorumLoss === undefined ? {} : { quorumLoss }) }
    this.trace.verbose = options.verbose ?? false
    this.network = new SimNetwork(this.random.fork(), this.swarm.network)
    const voters = Array.from({ length: this.swarm.voters }, () => this.newId())
    const learners = Array.from({ length: this.swarm.learners }, () => this.newId())
    const bootstrap: ConfState = { voters, votersOutgoing: [], learners, learnersNext: [], autoLeave: false }
    this.founding = bootstrap
    for (const id of [...voters, ...learners]) this.addNode(id, bootstrap)
    const clientIds = Array.from({ length: this.swarm.clients }, (_, i) => `c${i + 1}`)
    this.clients = new SimClients(clientIds, this.random.fork(), this.swarm.clientStartRate, this.trace)
    this.faults = new FaultScheduler(this.random.fork(), this.network, this.trace, this.swarm.faultIntervalTicks)
    this.recovery = quorumLoss === undefined ? null : new QuorumRecovery(quorumLoss, lossRandom, {
      nodes: this.nodes, network: this.network, invariants: this.invariants, trace: this.trace, hooks: this.hooks,
      leader: () => this.leaderId(),
      lossAnyMoment: options.harnessBugs?.lossAnyMoment === true,
      proposeConfChange: (change) => this.faultTarget().proposeConfChange(change),
      restartAt: (id, at) => { this.restartAt.set(id, at) }
    })
  }

  /** False for a node a quorum loss took for good, or one the operator keeps stopped meanwhile. */
  private mayRun (id: NodeId): boolean {
    return this.recovery?.mayRun(id) ?? true
  }

  private newId (): NodeId {
    return `n${this.nextNodeNumber++}`
  }

  private addNode (id: NodeId, bootstrap: ConfState): SimNode {
    const node = new SimNode({ id, random: this.random.fork(), bugs: this.options.bugs ?? {}, bootstrap,
      ruleChecks: this.options.ruleChecks ?? true,
      skipSessions: this.options.harnessBugs?.skipSessions === true,
      ruleOutOnStepDown: this.options.harnessBugs?.ruleOutOnStepDown === true,
      asyncStorageWrites: this.swarm.asyncStorageWrites,
      ...(this.swarm.maxSizePerMsgBytes === undefined ? {} : { maxSizePerMsgBytes: this.swarm.maxSizePerMsgBytes }),
      ...(this.swarm.maxInflightMsgs === undefined ? {} : { maxInflightMsgs: this.swarm.maxInflightMsgs }) })
    this.nodes.set(id, node)
    return node
  }

  run (): SimResult {
    let failure: string | undefined
    let verdict: Verdict | undefined
    try {
      this.trace.add(`swarm ${describeSwarm(this.swarm)}`)
      for (let i = 0; i < this.steps; i++) this.step(true)
      failure = this.liveness()
      if (failure === undefined) {
        const result = checkHistory(this.clients.history)
        verdict = result.verdict
        if (result.verdict === 'illegal') failure = `history not linearizable (key ${result.key ?? '?'})`
      }
    } catch (error) {
      failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    }
    return this.result(failure, verdict)
  }

  /** Heals everything, restarts crashed nodes, and waits (bounded) for a leader and every pending op. */
  private liveness (): string | undefined {
    this.trace.add('liveness phase: heal all, restart all, no new faults')
    this.faults.healAll()
    this.network.faulty = false
    this.midReadyCrashes = false
    for (const node of this.nodes.values()) if (!node.up && this.mayRun(node.id)) node.start()
    this.clients.issuing = false
    for (let i = 0; i < LIVENESS_TICKS_MAX; i++) {
      this.step(false)
      const recovered = this.recovery?.done() ?? true
      if (this.leaderId() !== null && this.clients.pendingCount() === 0 && recovered) return undefined
    }
    return `liveness: after ${LIVENESS_TICKS_MAX} ticks leader=${this.leaderId() ?? 'none'} ` +
      `pending=[${this.clients.describePending()}]` +
      (this.recovery === null ? '' : ` quorum loss: ${this.recovery.describe()}`)
  }

  /** One tick of virtual time: faults, message delivery, node ticks, clients, then checks. */
  private step (safety: boolean): void {
    this.now++
    this.trace.setTick(this.now)
    if (safety) this.faults.tick(this.now, this.faultTarget())
    this.restartDue()
    const touched = new Set<SimNode>()
    for (const message of this.network.due(this.now)) {
      const node = this.nodes.get(message.to)
      if (node?.raw == null) continue
      node.raw.step(message)
      touched.add(node)
    }
    for (const node of touched) this.drain(node)
    for (const node of this.nodes.values()) {
      if (node.raw === null) continue
      node.raw.tick()
      this.drain(node)
    }
    this.recovery?.tick(this.now)
    this.clients.tick(this.now, this.clientPort())
    for (const node of this.nodes.values()) this.drain(node)
    this.checkAfterTick()
  }

  private drain (node: SimNode): void {
    if (node.raw === null) return
    if (node.unflushed() > 0 && this.midReadyCrashes && this.random.chance(this.swarm.voteCrashRate / 4)) {
      // Asynchronous storage writes: the power goes while Readies wait for their flush (they are lost).
      this.trace.add(`${node.id} crash with ${node.unflushed()} unflushed Readies`)
      node.crash(this.random)
      this.restartAt.set(node.id, this.now + this.random.between(1, 4))
      return
    }
    if (node.unflushed() > 0 && this.random.chance(this.swarm.flushRate)) node.flush(this.hooks)
    const crashed = node.drain(this.hooks, READY_ROUNDS_PER_TICK_MAX, (ready) => this.crashMidReady(ready), this.random)
    // A supervisor restarts a process that died mid-write within a few ticks.
    if (crashed) this.restartAt.set(node.id, this.now + this.random.between(1, 4))
  }

  /** Buggify-style crash point: rare anywhere, likelier when the Ready carries a vote. */
  private crashMidReady (ready: Ready): boolean {
    if (!this.midReadyCrashes) return false
    const votes = [...ready.messages, ...ready.messagesAfterPersist]
      .some((m) => m.type === MessageType.VoteResp && !m.reject)
    return this.random.chance(votes ? this.swarm.voteCrashRate : this.swarm.midReadyCrashRate)
  }

  private restartDue (): void {
    for (const [id, at] of this.restartAt) {
      if (at > this.now) continue
      this.restartAt.delete(id)
      const node = this.nodes.get(id)
      if (node !== undefined && !node.up && this.mayRun(id)) {
        this.trace.add(`${id} restarts after its crash`)
        node.start()
      }
    }
  }

  private checkAfterTick (): void {
    for (const node of this.nodes.values()) {
      if (node.raw === null) continue
      node.raw.checkInvariants()
      const status = node.raw.status()
      if (status.role === 'leader') this.invariants.observeLeader(node.id, status.term)
    }
  }

  private readonly hooks: NodeHooks = {
    send: (message) => { this.network.send(message, this.now) },
    invariants: this.invariants,
    trace: this.trace,
    onApplied: (_node: NodeId, id: ProposalId) => { this.clients.onApplied(id, this.now) },
    onNewLeader: (node: NodeId) => {
      if (this.midReadyCrashes && this.random.chance(this.swarm.leaderChurnRate)) {
        this.faults.isolateAlone(node, [...this.nodes.keys()])
      }
    },
    onRead: (node, context, value) => { this.clients.onRead(context, value, this.now, node) },
    checkCommitDurable: (node, commit, term, conf, recovery) => {
      const holds = (id: NodeId): boolean => {
        const durable = this.nodes.get(id)?.storage.durableTermAt(commit)
        return durable === 'snapshot' || durable === term
      }
      // A leader recovering a lost quorum counts the lost voters out of its majorities and itself into every
      // half with voters, even one its log's tail took it out of (Raft.quorumConf): unsafe by design, so
      // durability is checked over the voters it counts.
      const counted = (all: NodeId[]): NodeId[] => recovery === undefined || all.length === 0
        ? all
        : [node, ...all.filter((id) => id !== node && !recovery.lostVoters.includes(id))]
      const majority = (all: NodeId[]): boolean => {
        const ids = counted(all)
        return ids.length === 0 || ids.filter(holds).length * 2 > ids.length
      }
      if (!majority(conf.voters) || !majority(conf.votersOutgoing)) {
        throw new InvariantViolation(`commit durability: leader ${node} committed ${commit} (term ${term}) held durably by ` +
          `${[...new Set([node, ...conf.voters, ...conf.votersOutgoing])].filter(holds).join(',') || 'no voter'} of ${conf.voters.join(',')}` +
          `${conf.votersOutgoing.length > 0 ? ` / ${conf.votersOutgoing.join(',')}` : ''}`)
      }
    }
  }

  /** The up node that believes it leads with the highest term, or null. */
  private leaderId (): NodeId | null {
    let best: { id: NodeId, term: number } | null = null
    for (const node of this.nodes.values()) {
      if (node.raw === null) continue
      const status = node.raw.status()
      if (status.role === 'leader' && (best === null || status.term > best.term)) best = { id: node.id, term: status.term }
    }
    return best?.id ?? null
  }

  private upIds (): NodeId[] {
    return [...this.nodes.values()].filter((n) => n.up).map((n) => n.id)
  }

  private clientPort (): ClientPort {
    return {
      nodesUp: () => this.upIds(),
      leaderGuess: () => this.leaderId(),
      propose: (id, data, proposalId) => this.tryCall(id, (raw) => {
        raw.propose(data, proposalId)
        this.nodes.get(id)?.noteAppended()
      }),
      readIndex: (id, context) => {
        const node = this.nodes.get(id)
        if (this.options.harnessBugs?.localReads === true && node?.up === true) {
          // Planted harness bug: serve the read from local state, skipping ReadIndex (stale reads).
          this.clients.onRead(context, (key) => node.kv.get(key), this.now, id)
          return true
        }
        return this.tryCall(id, (raw) => { raw.readIndex(new TextEncoder().encode(context)) })
      }
    }
  }

  /** Calls the node's API; an operating error (a typed refusal) means "refused", anything else fails the run. */
  private tryCall (id: NodeId, call: (raw: NonNullable<SimNode['raw']>) => void): boolean {
    const raw = this.nodes.get(id)?.raw
    if (raw == null) return false
    try {
      call(raw)
      return true
    } catch (error) {
      if (error instanceof Error && /(Dropped|Rejected)Error$/.test(error.name)) return false
      throw error
    }
  }

  private leaderConf (): ConfState | undefined {
    const leader = this.leaderId()
    return leader === null ? undefined : this.nodes.get(leader)?.raw?.status().confState
  }

  private faultTarget (): FaultTarget {
    return {
      allIds: () => [...this.nodes.keys()].filter((id) => this.mayRun(id)),
      upIds: () => this.upIds(),
      downIds: () => [...this.nodes.values()].filter((n) => !n.up && this.mayRun(n.id)).map((n) => n.id),
      leader: () => this.leaderId(),
      voters: () => this.leaderConf()?.voters ?? [],
      // A learner lost for good (a lost voter demoted) is never promoted: it would never answer.
      learners: () => (this.leaderConf()?.learners ?? []).filter((id) => this.mayRun(id)),
      crash: (id) => { this.nodes.get(id)?.crash(this.random) },
      restart: (id) => { this.nodes.get(id)?.start() },
      spawn: () => this.addNode(this.newId(), this.founding).id,
      proposeConfChange: (change: ConfChange) => {
        const leader = this.leaderId()
        return leader !== null && this.tryCall(leader, (raw) => { raw.proposeConfChange(change) })
      },
      transferLeadership: (to) => {
        const leader = this.leaderId()
        return leader !== null && this.tryCall(leader, (raw) => { raw.transferLeadership(to) })
      },
      keptVoter: () => this.recovery?.keptVoter() ?? null
    }
  }

  private result (failure: string | undefined, verdict: Verdict | undefined): SimResult {
    let maxTerm = 0
    let crashes = 0
    const marks: Record<string, number> = { nodes: this.nodes.size, reads: 0, puts: 0 }
    for (const node of this.nodes.values()) {
      for (const [name, count] of Object.entries(node.marks)) marks[name] = (marks[name] ?? 0) + count
      crashes += node.crashes
      if (node.raw !== null) maxTerm = Math.max(maxTerm, node.raw.status().term)
    }
    const history = this.clients.history
    for (const op of history) {
      if (op.return === undefined) continue
      if (op.input.kind === 'put') marks.puts = (marks.puts ?? 0) + 1
      else marks.reads = (marks.reads ?? 0) + 1
    }
    marks.crashes = crashes
    Object.assign(marks, this.recovery?.marks ?? recoveryMarks())
    const faults = [...this.faults.counts.entries()].map(([k, v]) => `${k}:${v}`).join(' ')
    return {
      seed: this.options.seed,
      steps: this.steps,
      ok: failure === undefined,
      ...(failure === undefined ? {} : { failure }),
      swarm: this.swarm,
      trace: this.trace.lines(),
      ...(verdict === undefined ? {} : { verdict }),
      stats: { operations: history.length, completed: history.filter((o) => o.return !== undefined).length,
        retries: this.clients.retries, delivered: this.network.delivered, dropped: this.network.dropped, crashes,
        maxTerm, committed: this.invariants.appliedAt.size, checks: this.invariants.checks, faults },
      marks,
      forcedQuorumLoss: this.options.forceQuorumLoss === true
    }
  }
}
