/**
 * @module policy/decision-gossip
 * Carries the leader's decisions to every node (issue 12 item 4): the leader publishes each new record on
 * the cluster's decisions topic (gossipsub, strict signing); a topic validator on every node accepts a
 * record only if it decodes to exactly one bounded record (`parseDecisionRecord`), its sender is the node
 * named in `by` (a member can speak only for itself) and that node is a member of the committed shape;
 * accepted records go into the node's decision log. At most DECISION_RECORDS_PER_SENDER_MAX records per
 * sender per DECISION_SENDER_WINDOW_MS are taken (SenderBudget); more are ignored unread. Delivery is best
 * effort: a node that is down or cut off while a decision is made misses it (and logs what it hears afterwards).
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import { decodeCanonical, encodeCanonical } from '../codec/index.js'
import type { ServiceContext } from '../node/service.js'
import { parseDecisionRecord, SenderBudget } from './core/index.js'
import type { DecisionRecord } from './core/index.js'
import { DECISION_MESSAGE_BYTES_MAX, DECISION_RECORDS_PER_SENDER_MAX, DECISION_SENDER_WINDOW_MS, DECISION_SENDERS_MAX, decisionsTopic } from './constants.js'
import { steadyNowMs } from '../util/clock.js'

export type DecisionDropReason = 'unsigned' | 'too-large' | 'rate' | 'malformed' | 'not-sender' | 'not-member'

export class DecisionGossip {
  private readonly topic: string
  private readonly budget = new SenderBudget({ recordsMax: DECISION_RECORDS_PER_SENDER_MAX, windowMs: DECISION_SENDER_WINDOW_MS, sendersMax: DECISION_SENDERS_MAX })
  private readonly nowMs: () => number
  readonly drops = new Map<DecisionDropReason, number>()
  published = 0

  constructor (private readonly ctx: ServiceContext, private readonly hooks: {
    isMember: (nodeId: string) => boolean
    onRecord: (record: DecisionRecord, from: string) => void
    /** The clock of the per-sender windows. @default steadyNowMs */
    nowMs?: () => number
  }) {
    this.topic = decisionsTopic(ctx.cluster.clusterId)
    this.nowMs = hooks.nowMs ?? steadyNowMs
  }

  start (): void {
    const pubsub = this.ctx.net.services.pubsub
    pubsub.topicValidators.set(this.topic, (_peer, message) => this.validate(message))
    pubsub.subscribe(this.topic)
  }

  stop (): void {
    const pubsub = this.ctx.net.services.pubsub
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
  }

  async publish (record: DecisionRecord): Promise<void> {
    try {
      await this.ctx.net.services.pubsub.publish(this.topic, encodeCanonical(record))
      this.published++
    } catch {
      // No subscribed peer yet (a lone node): nobody else to tell; the record is in this node's log.
    }
  }

  private validate (message: Message): TopicValidatorResult {
    const drop = (reason: DecisionDropReason): TopicValidatorResult => {
      this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1)
      this.ctx.log.debug({ reason }, 'decision record dropped')
      // Beyond its budget a sender (a leader in a burst too) is not punished: its record is just not taken.
      return reason === 'not-member' || reason === 'rate' ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject
    }
    if (message.type !== 'signed') return drop('unsigned')
    const from = message.from.toString()
    // Before the budget: identities anyone with the cluster key can mint would otherwise fill the budget's bounded
    // table and push a flooding member's spent window out of it (the shape's members fit: MAX_MEMBERS).
    if (!this.hooks.isMember(from)) return drop('not-member')
    if (message.data.length > DECISION_MESSAGE_BYTES_MAX) return drop('too-large')
    // Before the decode: each record taken is parsed, logged and appended to the file on every node, and one
    // member publishing as fast as gossip carries cost every node that much per message, without a bound.
    if (!this.budget.take(from, this.nowMs())) return drop('rate')
    let record: DecisionRecord | null
    try {
      record = parseDecisionRecord(decodeCanonical<unknown>(message.data))
    } catch {
      record = null
    }
    if (record === null) return drop('malformed')
    if (record.by !== from) return drop('not-sender')
    this.hooks.onRecord(record, from)
    return TopicValidatorResult.Accept
  }
}
