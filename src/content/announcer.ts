/**
 * @module content/announcer
 * `have` / `want` on the cluster's content topic `revoada/<clusterId>/content/1` (docs/CONTENT.md §4).
 * Gossipsub's strict signing authenticates the author; the topic validator accepts a message only from a
 * cluster member (`isMember`), within its rate (token bucket per author), below the size bound, and well
 * formed. Rejected messages are not forwarded. Accepted `have`s feed the provider table; a `want` for
 * something this node holds is answered with a `have` (at most once per WANT_ANSWER_INTERVAL_MS per CID).
 * What this node sends goes through its `AnnouncePacer` (core/announce-pacer.ts), inside half the receivers'
 * rate: a burst of `have`s is packed and spread, not dropped by the receivers' limit. This file holds the
 * pacer's timer: it publishes what the pacer lets go, and wakes when the pacer says more may go.
 */
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import type { CID } from 'multiformats/cid'
import { contentTopic } from '../net/index.js'
import type { NetNode } from '../net/index.js'
import type { Logger } from '../log/index.js'
import {
  AnnouncePacer, GOSSIP_MESSAGE_BYTES_MAX, WANT_ANSWER_INTERVAL_MS, PeerRateLimiter, assertHaveItem, decodeAnnouncement,
  encodeAnnouncement
} from './core/index.js'
import type { HaveItem, ProviderTable } from './core/index.js'

export { contentTopic }

export type AnnounceDrop = 'not-signed' | 'too-large' | 'malformed' | 'not-member' | 'rate-limited' | 'self'

export interface AnnouncerInit {
  net: NetNode
  clusterId: string
  nodeId: string
  table: ProviderTable
  isMember: (peer: string) => boolean
  /** What this node holds of `cid` (to answer a want), or undefined. */
  holding: (cid: string) => HaveItem | undefined
  /** Called after a `have` was recorded (a waiting fetch may start). */
  onHave?: (peer: string, items: HaveItem[]) => void
  /**
   * Called when a peer subscribes to the topic. Gossipsub keeps no history, so a peer that joins (or a
   * mesh that forms after an announcement) learns what we hold only if we announce again.
   */
  onPeerSubscribed?: (peer: string) => void
  log: Logger
  nowMs: () => number
}

export class Announcer {
  readonly topic: string
  private readonly limiter = new PeerRateLimiter()
  private readonly pacer = new AnnouncePacer()
  private flushTimer: NodeJS.Timeout | undefined
  /** Publishes one after another, so two messages naming one CID arrive in the order they were sent. */
  private sending: Promise<void> = Promise.resolve()
  private stopped = false
  private readonly answeredAtMs = new Map<string, number>()
  private readonly drops = new Map<AnnounceDrop, number>()
  private published = 0
  private accepted = 0

  constructor (private readonly init: AnnouncerInit) {
    this.topic = contentTopic(init.clusterId)
  }

  private readonly onSubscriptionChange = (event: CustomEvent<{ peerId: { toString(): string }, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
    if (event.detail.subscriptions.some((s) => s.topic === this.topic && s.subscribe)) this.init.onPeerSubscribed?.(event.detail.peerId.toString())
  }

  /** Validates the topic's messages and, unless `subscribe` is false, subscribes to it (see `subscribe`). */
  start (options: { subscribe?: boolean } = {}): void {
    const pubsub = this.init.net.services.pubsub
    pubsub.topicValidators.set(this.topic, (_peer, message) => this.validate(message))
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    if (options.subscribe !== false) this.subscribe()
  }

  /** Subscribes to the topic: messages reach this node from now on, and its peers re-announce what they hold. */
  subscribe (): void {
    if (this.stopped) return
    this.init.net.services.pubsub.subscribe(this.topic)
  }

  stop (): void {
    this.stopped = true
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    const pubsub = this.init.net.services.pubsub
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.unsubscribe(this.topic)
    pubsub.topicValidators.delete(this.topic)
  }

  /**
   * Announces held items: at once while the pacer has budget (awaited), otherwise queued, packed with others
   * and sent as its budget refills (not awaited: a fetch announcing its progress does not wait for the pace).
   * @throws AssertionError for an item no receiver would accept (its size), before anything is queued
   */
  async have (items: HaveItem[]): Promise<void> {
    for (const item of items) assertHaveItem(item)
    this.pacer.have(items)
    await this.flush()
  }

  /** Asks who holds `cid`: at once while the pacer has budget, else before any waiting `have`. */
  async want (cid: CID): Promise<void> {
    this.pacer.want(cid)
    await this.flush()
  }

  /** Publishes what the pacer lets go now, and sets the timer for when it lets more go. */
  private async flush (): Promise<void> {
    if (this.stopped) return
    const nowMs = this.init.nowMs()
    for (const message of this.pacer.take(nowMs)) {
      const bytes = encodeAnnouncement(message)
      this.sending = this.sending.then(async () => { await this.publish(bytes) })
    }
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    const nextAtMs = this.pacer.nextAtMs(nowMs)
    if (nextAtMs !== undefined) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined
        this.flush().catch((err: unknown) => { this.init.log.error({ err: (err as Error).message }, 'content announcement not sent') })
      }, Math.max(1, nextAtMs - nowMs))
    }
    await this.sending
  }

  private async publish (bytes: Uint8Array): Promise<void> {
    try {
      await this.init.net.services.pubsub.publish(this.topic, bytes)
      this.published++
    } catch {
      // NoPeersSubscribedToTopic until a peer's subscription is known: a lone node has nobody to tell.
    }
  }

  private drop (reason: AnnounceDrop, reject: boolean): TopicValidatorResult {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1)
    return reject ? TopicValidatorResult.Reject : TopicValidatorResult.Ignore
  }

  private validate (message: Message): TopicValidatorResult {
    if (message.type !== 'signed') return this.drop('not-signed', true)
    const author = message.from.toString()
    if (author === this.init.nodeId) return this.drop('self', false)
    if (!this.init.isMember(author)) return this.drop('not-member', true)
    if (message.data.length > GOSSIP_MESSAGE_BYTES_MAX) return this.drop('too-large', true)
    const nowMs = this.init.nowMs()
    if (!this.limiter.take(author, nowMs)) return this.drop('rate-limited', false)
    let announcement
    try {
      announcement = decodeAnnouncement(message.data)
    } catch (err) {
      this.init.log.debug({ peer: author, err: (err as Error).message }, 'malformed content announcement')
      return this.drop('malformed', true)
    }
    this.accepted++
    if (announcement.type === 'have') {
      for (const item of announcement.items) this.init.table.have(author, item.cid.toString(), item.size, item.partial, nowMs)
      this.init.onHave?.(author, announcement.items)
    } else {
      this.answerWant(announcement.cid.toString(), nowMs)
    }
    return TopicValidatorResult.Accept
  }

  private answerWant (cid: string, nowMs: number): void {
    const item = this.init.holding(cid)
    if (item === undefined) return
    const last = this.answeredAtMs.get(cid)
    if (last !== undefined && nowMs - last < WANT_ANSWER_INTERVAL_MS) return
    if (this.answeredAtMs.size >= 4096) this.answeredAtMs.clear()
    this.answeredAtMs.set(cid, nowMs)
    void this.have([item])
  }

  counters (): Record<string, number> {
    return {
      published: this.published,
      accepted: this.accepted,
      ...Object.fromEntries([...this.drops].map(([r, n]) => [`dropped.${r}`, n])),
      ...this.pacer.counters()
    }
  }
}
