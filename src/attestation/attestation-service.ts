/**
 * @module attestation/attestation-service
 * Layer D as a NodeService (`chain`): persists the chain in `<data-dir>/chain`, witnesses the head, and
 * on the leader commits seals. Witnessing: at every seal interval, when its head moved, a voter (of the
 * chain's voters at that height: the ones a seal counts) signs `revoada/v1/witness ‖ clusterId ‖
 * u64be(height) ‖ head CID` and gossips it on `revoada/<clusterId>/witness/1`; a voter also co-signs the
 * leader's witnessed height as soon as it has applied it, so that signatures meet at one height even while
 * the head moves fast. The leader proposes a seal entry once a majority of the voters at one height signed
 * it; the entry is judged and derived into the chain like any other. Learners do not sign (DESIGN.md: voters
 * witness): a seal never counted their signatures, and at 50 members their 47 signatures per block, each
 * delivered to and verified by all 49 others, were most of the machine's gossip after a leader kill
 * (docs/bench/scale.md, "After a leader kill at 50: what the survivors spend"). A node keeps a witness only
 * from a voter at its height, for a height a seal can still cover and not far above its own head, in a
 * bounded pool (witness-pool.ts); anything else is dropped and counted by reason, an older build's learner
 * signature included.
 */
import path from 'node:path'
import { mkdirSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import { createSigner, decodeCanonical, encodeCanonical, equalBytes, CID } from '../codec/index.js'
import type { Signer } from '../codec/index.js'
import type { NodeService, ServiceContext } from '../node/service.js'
import type { ConsensusService, DepartureSeal } from '../consensus/consensus-service.js'
import type { ShapeMachine } from '../consensus/shape/shape-machine.js'
import type { ApplyResult } from '../consensus/shape/core/index.js'
import type { ReplicatedStateMachine } from '../consensus/state-machine.js'
import { AttestedMachine } from './attested-machine.js'
import { ChainStore } from './store.js'
import { chooseSeal, judgeWitness, WitnessPool } from './witness-pool.js'
import type { WitnessDropReason } from './witness-pool.js'
import { signWitness, verifyWithCodec } from './signatures.js'
import { cidAt, departureNeedsWitness, encodeSealCommand, handoverVoters, votersAt, witnessSubject, SEAL_WINDOW_HEIGHTS } from './core/index.js'
import type { Seal, Witness } from './core/index.js'
import { SEAL_INTERVAL_MS_DEFAULT, WITNESS_MESSAGE_BYTES_MAX } from './constants.js'
import { registerChainRoutes } from './routes.js'
import { ChainReader } from './reader.js'
import { intervalTicker, type StopDuty } from '../util/ticker.js'

export interface AttestationServiceInit {
  /** Overrides `attestation.sealIntervalMs` from the config. @default SEAL_INTERVAL_MS_DEFAULT */
  sealIntervalMs?: number
}

export function witnessTopic (clusterId: string): string {
  return `revoada/${clusterId}/witness/1`
}

type DropReason = 'malformed' | 'too-large' | 'wrong-cluster' | 'wrong-sender' | 'bad-signature' | WitnessDropReason

export class AttestationService implements NodeService {
  readonly name = 'chain'
  private ctx!: ServiceContext
  private machine: AttestedMachine | undefined
  private store: ChainStore | undefined
  private consensus: ConsensusService | undefined
  private signer!: Signer
  private readonly pool = new WitnessPool()
  private readonly drops = new Map<DropReason, number>()
  private topic = ''
  private stopTimer: StopDuty | undefined
  private lastSignedHeight = 0
  private coSignTarget: { height: number, head: Uint8Array } | null = null
  private sealInFlight = false
  private sealsProposed = 0
  /** Seal proposals that failed (no leader any more, a timeout, the node stopping): revoada_server_proposals_failed_total. */
  private sealsFailed = 0
  private witnessesPublished = 0
  private stopBlockListener: (() => void) | undefined

  constructor (private readonly init: AttestationServiceInit = {}) {}

  /**
   * Called by the consensus layer before Raft starts (so that replayed entries are derived too): opens
   * the store and wraps the shape machine.
   */
  attach (shape: ShapeMachine, ctx: ServiceContext): ReplicatedStateMachine<ApplyResult> {
    if (ctx.config.attestation?.enabled === false) return shape
    const dir = path.join(ctx.config.dataDir, 'chain')
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const log = ctx.log.forComponent('chain')
    this.store = new ChainStore(dir, { warn: (obj, msg) => log.warn(obj, msg) })
    this.machine = new AttestedMachine({
      shape, clusterId: ctx.cluster.clusterId, store: this.store, verify: verifyWithCodec, warn: (obj, msg) => log.warn(obj, msg)
    })
    return this.machine
  }

  async start (ctx: ServiceContext): Promise<void> {
    this.ctx = ctx
    this.consensus = ctx.service<ConsensusService>('consensus')
    if (this.machine === undefined || this.consensus === undefined) {
      ctx.log.info('attestation is off (disabled in the config, or no consensus layer)')
      return
    }
    this.signer = createSigner(ctx.privateKey, ctx.nodeId)
    this.topic = witnessTopic(ctx.cluster.clusterId)
    const pubsub = ctx.net.services.pubsub
    pubsub.topicValidators.set(this.topic, (_peer, message) => this.validate(message))
    pubsub.subscribe(this.topic)
    this.stopBlockListener = this.machine.onBlock((derived) => {
      const target = this.coSignTarget
      if (target !== null && derived.block.height === target.height) setImmediate(() => { this.maybeCoSign() })
    })
    const intervalMs = this.init.sealIntervalMs ?? ctx.config.attestation?.sealIntervalMs ?? SEAL_INTERVAL_MS_DEFAULT
    this.stopTimer = (ctx.ticker ?? intervalTicker).every(intervalMs, () => { this.onInterval() })
    ctx.log.info({ topic: this.topic, height: this.machine.height }, 'attestation started')
  }

  async stop (): Promise<void> {
    this.stopTimer?.()
    this.stopBlockListener?.()
    if (this.ctx !== undefined && this.topic !== '') {
      const pubsub = this.ctx.net.services.pubsub
      pubsub.unsubscribe(this.topic)
      pubsub.topicValidators.delete(this.topic)
    }
    this.store?.close()
  }

  /** One seal interval: forget what no seal can cover; witness a moved head; on the leader, seal. */
  private onInterval (): void {
    const machine = this.machine!
    this.pool.forgetUpTo(Math.max(machine.view().sealedHeight, machine.height - SEAL_WINDOW_HEIGHTS))
    if (machine.height > this.lastSignedHeight && this.witnessesAt(machine.height)) this.witness(machine.height, machine.head)
    if (this.consensus?.node.isLeader() === true) this.maybeSeal()
  }

  /**
   * Whether this node signs `height`: it is one of the chain's voters there (the signatures a seal counts), or,
   * from level 8, a hand-over voter — a voter where the chain was last sealed, demoted since — until a seal covers
   * its departure. Without it, a cluster going from two voters to one could never seal again (the seal needs a
   * majority of both, and the one demoted would sign nothing).
   */
  private witnessesAt (height: number): boolean {
    const view = this.machine!.view()
    return votersAt(view, height).includes(this.ctx.nodeId) || handoverVoters(view).includes(this.ctx.nodeId)
  }

  /** Signs (height, head), keeps it and gossips it. */
  private witness (height: number, head: Uint8Array): void {
    const witness = signWitness(this.signer, this.ctx.cluster.clusterId, height, head)
    this.lastSignedHeight = Math.max(this.lastSignedHeight, height)
    this.pool.add(height, head, witness)
    const message = encodeCanonical({ cluster: this.ctx.cluster.clusterId, height, head, node: witness.nodeId, sig: witness.signature })
    this.ctx.net.services.pubsub.publish(this.topic, message).then(() => { this.witnessesPublished++ }, () => {
      // No subscribed peer yet (a lone node): nobody to tell.
    })
  }

  /** Co-signs the leader's witnessed height once this node has applied it (and agrees on its CID). */
  private maybeCoSign (): void {
    const target = this.coSignTarget
    const view = this.machine!.view()
    if (target === null || target.height > view.height) return
    this.coSignTarget = null
    const ours = cidAt(view, target.height)
    if (ours === null || !equalBytes(ours, target.head) || target.height <= this.lastSignedHeight || !this.witnessesAt(target.height)) return
    this.witness(target.height, target.head)
  }

  /** Leader: proposes a seal of the highest height a voter majority signed, if any block awaits one. */
  private maybeSeal (): void {
    const view = this.machine!.view()
    if (this.sealInFlight || view.lastProposalHeight <= view.sealedHeight) return
    const seal = chooseSeal(view, this.pool)
    if (seal !== null) this.proposeSeal(seal)
  }

  private proposeSeal (seal: Seal): void {
    // A witness message can arrive after the Raft node stopped (a crash, or stop order under test): no seal.
    if (this.consensus?.node.isRunning !== true) return
    this.sealInFlight = true
    this.sealsProposed++
    this.consensus!.node.propose(encodeSealCommand(this.ctx.cluster.clusterId, seal)).then((result) => {
      this.ctx.log.debug({ height: seal.height, index: result.index, outcome: result.result.outcome.kind }, 'seal committed')
    }, (err: unknown) => {
      this.sealsFailed++
      this.ctx.log.debug({ height: seal.height, err: (err as Error).message }, 'seal not committed; the next interval retries')
    }).finally(() => { this.sealInFlight = false })
  }

  /**
   * Topic validator: a witness message must be well formed, from its signer, for this cluster, and worth
   * keeping (`judgeWitness`: a voter's, for a height a seal can cover, not far ahead; checked before the
   * signature, so a flood costs no verification), and the pool must take it. Every drop is counted by
   * reason. Reject (gossipsub's verdict for an invalid message) for what an honest current node never
   * sends; Ignore where the signer may be honest and only this node's chain makes the witness useless (a
   * late copy, a node behind, a voter change this node has not applied yet), as the membership topics do.
   * NB: the witness topic has no gossipsub score parameters, so neither costs the forwarding peer score.
   */
  private validate (message: Message): TopicValidatorResult {
    const drop = (reason: DropReason, reject = true): TopicValidatorResult => {
      this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1)
      return reject ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
    }
    if (message.type !== 'signed') return drop('malformed')
    if (message.data.length > WITNESS_MESSAGE_BYTES_MAX) return drop('too-large')
    const parsed = parseWitnessMessage(message.data)
    if (parsed === null) return drop('malformed')
    if (parsed.cluster !== this.ctx.cluster.clusterId) return drop('wrong-cluster')
    if (parsed.witness.nodeId !== message.from.toString()) return drop('wrong-sender')
    const verdict = judgeWitness({ height: parsed.height, nodeId: parsed.witness.nodeId, chain: this.machine!.view() })
    if (!verdict.ok) return drop(verdict.reason, verdict.reject)
    const valid = verifyWithCodec({
      nodeId: parsed.witness.nodeId, purpose: 'witness', clusterId: parsed.cluster, subject: witnessSubject(parsed.height, parsed.head), signature: parsed.witness.signature
    })
    if (!valid) return drop('bad-signature')
    const added = this.pool.add(parsed.height, parsed.head, parsed.witness)
    if (added !== 'added') return drop(added, false)
    if (parsed.witness.nodeId === this.consensus?.node.leaderId() && parsed.height > this.lastSignedHeight) {
      this.coSignTarget = { height: parsed.height, head: parsed.head }
      this.maybeCoSign()
    }
    return TopicValidatorResult.Accept
  }

  /**
   * The chain's side of taking a member out (consensus member-removal.ts): whether the next seal needs the
   * member's signature (`departureNeedsWitness`), and a wait for a seal that covers its departure. Without a
   * chain (attestation disabled) nothing is needed.
   */
  departureSeal (): DepartureSeal {
    return {
      needed: (nodeId, live) => this.machine !== undefined && departureNeedsWitness(this.machine.view(), nodeId, live),
      covered: async (nodeId, timeoutMs) => await this.departureCovered(nodeId, timeoutMs),
      progress: () => ({ height: this.machine?.height ?? 0, sealedHeight: this.machine?.view().sealedHeight ?? 0 })
    }
  }

  /** True once `nodeId` is no hand-over voter (a seal, or a recovery's floor, moved past it); false after `timeoutMs`. */
  private async departureCovered (nodeId: string, timeoutMs: number): Promise<boolean> {
    const machine = this.machine
    const covered = (): boolean => machine === undefined || !handoverVoters(machine.view()).includes(nodeId)
    if (covered()) return true
    return await new Promise<boolean>((resolve) => {
      // Every change of the hand-over comes with a block (a seal, a recovery's demote): checked on each.
      const stopListening = machine!.onBlock(() => { if (covered()) finish(true) })
      const timer = setTimeout(() => { finish(false) }, timeoutMs)
      timer.unref()
      function finish (result: boolean): void {
        clearTimeout(timer)
        stopListening()
        resolve(result)
      }
    })
  }

  /** Reads over the store for routes and exports. */
  reader (): ChainReader {
    return new ChainReader(this.store!, this.machine!, this.pool)
  }

  get attached (): boolean {
    return this.machine !== undefined
  }

  /** Gauges read on every Prometheus scrape (src/metrics MetricsSource). */
  metricsReading (): { chainHeight?: number, chainSealedHeight?: number, sealProposalsFailed?: number } {
    if (this.machine === undefined) return {}
    const view = this.machine.view()
    return { chainHeight: view.height, chainSealedHeight: view.sealedHeight, sealProposalsFailed: this.sealsFailed }
  }

  status (): Record<string, unknown> {
    if (this.machine === undefined) return { attached: false }
    const view = this.machine.view()
    return {
      height: view.height,
      head: view.height > 0 ? CID.decode(view.head).toString() : '',
      sealedHeight: view.sealedHeight,
      sealsProposed: this.sealsProposed,
      sealsFailed: this.sealsFailed,
      witnessesPublished: this.witnessesPublished,
      // Blocks stay pending in memory meanwhile; the committed log re-derives them after a crash.
      ...(this.store?.writeError !== undefined ? { writeError: this.store.writeError.message } : {}),
      ...Object.fromEntries([...this.drops].map(([reason, n]) => [`dropped.${reason}`, n]))
    }
  }

  routes (app: FastifyInstance): void {
    registerChainRoutes(app, this)
  }
}

/**
 * Voters first (every one that signed), then any other signer, up to the per-seal bound. Only voters are
 * pooled, but one kept as a voter of the current set for a height above the head may have been demoted by
 * the time this node reaches that height: it rides along uncounted, as a learner's did before.
 */

function parseWitnessMessage (bytes: Uint8Array): { cluster: string, height: number, head: Uint8Array, witness: Witness } | null {
  try {
    const v = decodeCanonical<Record<string, unknown>>(bytes)
    if (typeof v !== 'object' || v === null || Object.keys(v).length !== 5) return null
    const { cluster, height, head, node, sig } = v
    if (typeof cluster !== 'string' || typeof node !== 'string' || !(head instanceof Uint8Array) || !(sig instanceof Uint8Array)) return null
    if (typeof height !== 'number' || !Number.isSafeInteger(height) || height < 1) return null
    return { cluster, height, head, witness: { nodeId: node, signature: sig } }
  } catch {
    return null
  }
}
