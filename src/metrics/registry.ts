/**
 * @module metrics/registry
 * One prom-client registry per node (never the global one: several nodes share a process in tests) and
 * the node's metric objects. Gauges that mirror state (term, indexes, member health, content, chain) are
 * filled on scrape by `collect`; counters and histograms are fed by hooks as things happen.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import * as C from './constants.js'

/** What the state gauges read when scraped; every field optional (a layer not running reports nothing). */
export interface StateReading {
  term?: number
  hasLeader?: boolean
  isLeader?: boolean
  commitIndex?: number
  appliedIndex?: number
  /** Member count per health state. */
  members?: Record<string, number>
  contentBytes?: number
  contentBlobs?: number
  chainHeight?: number
  chainSealedHeight?: number
  /** Seal proposals the attestation layer made that failed (it proposes them to Raft directly, not through the consensus service). */
  sealProposalsFailed?: number
  /** Cumulative counts kept by other layers (read, not counted, here). */
  gossipStreamsReopened?: number
  gossipStreamsOpenedLate?: number
  linkPings?: number
  linkAborts?: number
  votersReconnected?: number
  /** The consensus driver's campaigns by cause, step-downs by reason and long stalls (RaftNode.electionCounters). */
  campaigns?: Record<string, number>
  stepDowns?: Record<string, number>
  stalls?: number
}

/** The metric objects of one node. */
export class NodeMetrics {
  readonly registry = new Registry()
  readonly leaderChanges: Counter
  readonly proposalsFailed: Counter
  readonly shapeCommands: Counter<'outcome'>
  readonly policyDecisions: Counter<'kind'>
  readonly applyDuration: Histogram
  readonly fsyncDuration: Histogram
  private readonly labelValues = new Map<string, Set<string>>()
  private reader: () => StateReading = () => ({})
  /** The reading of the scrape under way: every state metric's collect() shares it. */
  private scrapeReading: StateReading | undefined

  constructor () {
    const registers = [this.registry]
    this.leaderChanges = new Counter({ name: C.LEADER_CHANGES, help: 'Leader changes seen by this node.', registers })
    // Commands through the consensus service are counted as they fail (metrics-service.ts); the attestation
    // layer's seals go to Raft directly, and its count of failed ones is caught up with on every scrape.
    let sealsExposed = 0
    const proposalsFailed: Counter = new Counter({
      name: C.PROPOSALS_FAILED,
      help: 'Proposals this node made that failed (timeout, no leader, stopped): commands through the consensus service and the attestation layer\'s seals.',
      registers,
      collect: () => {
        const seals = this.currentReading().sealProposalsFailed
        if (seals !== undefined && seals > sealsExposed) {
          proposalsFailed.inc(seals - sealsExposed)
          sealsExposed = seals
        }
      }
    })
    this.proposalsFailed = proposalsFailed
    this.shapeCommands = new Counter({ name: C.SHAPE_COMMANDS, help: 'Committed shape commands by outcome.', labelNames: ['outcome'], registers })
    this.policyDecisions = new Counter({ name: C.POLICY_DECISIONS, help: 'Policy engine outcomes by kind, counted on the leader.', labelNames: ['kind'], registers })
    this.applyDuration = new Histogram({ name: C.APPLY_DURATION, help: 'Time to apply one committed command.', buckets: C.APPLY_BUCKETS_SECONDS, registers })
    this.fsyncDuration = new Histogram({ name: C.FSYNC_DURATION, help: 'Time of one WAL fsync.', buckets: C.FSYNC_BUCKETS_SECONDS, registers })
    this.stateGauges(registers)
  }

  /** Sets the function the state gauges read on every scrape. */
  readState (reader: () => StateReading): void {
    this.reader = reader
  }

  /**
   * Prometheus text exposition of every metric. NB: the layers' state is read once here and shared by the
   * collect() of every metric that shows part of it; each read it again (18 reads of the Raft status, the
   * membership view and the content and chain readings per scrape, on the event loop).
   */
  async exposition (): Promise<string> {
    this.scrapeReading = this.reader()
    try {
      return await this.registry.metrics()
    } finally {
      this.scrapeReading = undefined
    }
  }

  get contentType (): string {
    return this.registry.contentType
  }

  /** Increments `counter{label=value}`, folding values past LABEL_VALUES_MAX into `other`. */
  countLabelled (counter: Counter<'outcome'> | Counter<'kind'>, label: 'outcome' | 'kind', value: string): void {
    const key = `${label}:${counter === this.shapeCommands ? 'shape' : 'policy'}`
    const seen = this.labelValues.get(key) ?? new Set<string>()
    this.labelValues.set(key, seen)
    if (!seen.has(value) && seen.size >= C.LABEL_VALUES_MAX) value = 'other'
    seen.add(value);
    (counter as Counter<string>).inc({ [label]: value })
  }

  /** The scrape's reading; outside exposition() (another caller of registry.metrics()), each collect reads for itself. */
  private currentReading (): StateReading {
    return this.scrapeReading ?? this.reader()
  }

  private stateGauges (registers: Registry[]): void {
    const reading = (): StateReading => this.currentReading()
    const scalar = (name: string, help: string, pick: (r: StateReading) => number | boolean | undefined): void => {
      // A layer that is not running leaves its gauge absent rather than reporting a made-up 0.
      const gauge: Gauge = new Gauge({
        name, help, registers,
        collect () {
          const value = pick(reading())
          gauge.reset()
          // NB: an unlabelled gauge reports 0 after reset(); remove() drops that sample entirely.
          if (value === undefined) gauge.remove()
          else gauge.set(typeof value === 'boolean' ? Number(value) : value)
        }
      })
    }
    scalar(C.TERM, 'Current Raft term.', (r) => r.term)
    scalar(C.HAS_LEADER, '1 when this node knows a leader.', (r) => r.hasLeader)
    scalar(C.IS_LEADER, '1 when this node is the leader.', (r) => r.isLeader)
    scalar(C.PROPOSALS_COMMITTED, 'Highest committed Raft index.', (r) => r.commitIndex)
    scalar(C.PROPOSALS_APPLIED, 'Highest applied Raft index.', (r) => r.appliedIndex)
    scalar(C.CONTENT_BYTES, 'Bytes of content blobs held locally.', (r) => r.contentBytes)
    scalar(C.CONTENT_BLOBS, 'Content blobs held locally.', (r) => r.contentBlobs)
    scalar(C.CHAIN_HEIGHT, 'Height of the attestation chain.', (r) => r.chainHeight)
    scalar(C.CHAIN_SEALED_HEIGHT, 'Highest chain height covered by an accepted witness seal.', (r) => r.chainSealedHeight)
    // A count another layer keeps: exposed as a counter that catches up with it on every scrape.
    const cumulative = (name: string, help: string, pick: (r: StateReading) => number | undefined): void => {
      let exposed = 0
      const counter: Counter = new Counter({
        name, help, registers,
        collect () {
          const value = pick(reading())
          if (value !== undefined && value > exposed) {
            counter.inc(value - exposed)
            exposed = value
          }
        }
      })
    }
    cumulative(C.GOSSIP_STREAMS_REOPENED, 'Gossipsub streams reopened to peers that stayed connected after they were lost.', (r) => r.gossipStreamsReopened)
    cumulative(C.GOSSIP_STREAMS_OPENED_LATE, 'Gossipsub streams opened by the node because gossipsub had not 3 s after the peer connected.', (r) => r.gossipStreamsOpenedLate)
    cumulative(C.LINK_PINGS, 'Quiet connections pinged by the link monitor (nothing received for half a round).', (r) => r.linkPings)
    cumulative(C.LINK_ABORTS, 'Connections the link monitor closed because their ping went unanswered (dead links).', (r) => r.linkAborts)
    cumulative(C.VOTERS_RECONNECTED, 'Reconnections to a connected voter missing from the heartbeat subscribers.', (r) => r.votersReconnected)
    cumulative(C.STALLS, 'Raft ticks that fired an election timeout or more late: this process ran nothing for that long.', (r) => r.stalls)
    // The same per label value; every value the layer reports is exposed, at 0 until it happens (so rate() has a series).
    const cumulativeLabelled = (name: string, help: string, label: string, pick: (r: StateReading) => Record<string, number> | undefined): void => {
      const exposed = new Map<string, number>()
      const counter: Counter<string> = new Counter({
        name, help, labelNames: [label], registers,
        collect () {
          for (const [value, count] of Object.entries(pick(reading()) ?? {})) {
            const before = exposed.get(value)
            if (before !== undefined && count <= before) continue
            counter.inc({ [label]: value }, count - (before ?? 0))
            exposed.set(value, count)
          }
        }
      })
    }
    cumulativeLabelled(C.CAMPAIGNS, 'Elections this node started, by why: election_timeout (no word from a leader), handed_over (the leader transferred leadership), only_voter.', 'why', (r) => r.campaigns)
    cumulativeLabelled(C.STEP_DOWNS, 'Times this node stopped leading, by reason: higher_term (a newer leader or candidate), no_quorum (no majority heard within an election timeout).', 'reason', (r) => r.stepDowns)
    const members: Gauge<'state'> = new Gauge({
      name: C.MEMBERS, help: 'Members of this node\'s membership view by health.', labelNames: ['state'], registers,
      collect () {
        members.reset()
        const byState = reading().members
        if (byState === undefined) return
        for (const state of ['alive', 'suspect', 'dead', 'left']) members.set({ state }, byState[state] ?? 0)
      }
    })
  }
}
