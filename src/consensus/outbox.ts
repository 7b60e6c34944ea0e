/**
 * @module consensus/outbox
 * Every Raft message the driver sends leaves through here: none of a rejoining node's vote traffic, a held
 * commit notice before anything else to its follower (commit-notices.ts), and a Ready's appends without
 * entries only after the answers of the batch that made them (`sendAfterAnswers`). It also remembers, on a
 * leader, the followers whose forwarded proposals a commit notice must not keep waiting.
 */
import { MessageType } from './core/index.js'
import type { Message, NodeId } from './core/index.js'
import { CommitNotices } from './commit-notices.js'
import type { MessageTransport } from './raft-node-types.js'

/** Election messages: a rejoining node that lost its vote record must stay out of elections. */
export function isVoteTraffic (message: Message): boolean {
  return message.type === MessageType.Vote || message.type === MessageType.PreVote ||
    message.type === MessageType.VoteResp || message.type === MessageType.PreVoteResp
}

/** What the outbox needs of the driver. */
export interface OutboxDeps {
  transport: MessageTransport
  /** Leader: how long a commit-only append may wait to be replaced (commit-notices.ts); 0 holds none. */
  commitNoticeHoldMs: number
  /** Whether the driver runs: what waited for a later turn is not sent after stop(). */
  running: () => boolean
  /** Whether this node rejoins after losing its raft directory (RaftNodeInit.rejoinAsLearner). */
  rejoining: () => boolean
}

export class Outbox {
  private readonly commitNotices: CommitNotices | undefined
  /** Appends held until the answers of the batch that made them are out (sendAfterAnswers). */
  private answersFirstSends: Message[] = []
  /**
   * Leader: per follower, the last index appended for proposals it forwarded. That follower answers its
   * callers once it applies them, so the commit-only append that covers them goes at once, not held.
   */
  private readonly forwardedUpTo = new Map<NodeId, number>()

  constructor (private readonly deps: OutboxDeps) {
    const transport = deps.transport
    this.commitNotices = deps.commitNoticeHoldMs > 0
      ? new CommitNotices(deps.commitNoticeHoldMs, (message) => { if (deps.running()) transport.send(message) })
      : undefined
  }

  /** Whether commit notices are held (a hold time above 0): only then is `forwardedUpTo` of use. */
  get holdsNotices (): boolean {
    return this.commitNotices !== undefined
  }

  /** Commit-only appends held, and of those replaced by a later message (RaftNodeCounters). */
  get noticesHeld (): number {
    return this.commitNotices?.held ?? 0
  }

  get noticesReplaced (): number {
    return this.commitNotices?.replaced ?? 0
  }

  /** Sends unless this rejoining node would take part in an election it may already have voted in. */
  send (message: Message): void {
    if (this.deps.rejoining() && isVoteTraffic(message)) return
    this.commitNotices?.beforeSend(message)
    this.deps.transport.send(message)
  }

  /**
   * Sends `message` on the next turn of the event loop, after the microtasks that answer the proposals
   * this batch applied (their HTTP replies): the leader answers before it tells the followers the new
   * commit index (two encrypted frames and socket writes, each of which may wake a follower onto this
   * core), and the followers learn it one turn later. Only appends without entries go this way; FIFO
   * with the next batch, which runs on a later turn.
   */
  sendAfterAnswers (message: Message): void {
    if (this.commitNotices !== undefined && message.commitOnly === true && !this.coversForwarded(message)) {
      this.commitNotices.hold(message)
      return
    }
    this.answersFirstSends.push(message)
    if (this.answersFirstSends.length > 1) return
    setImmediate(() => {
      const messages = this.answersFirstSends
      this.answersFirstSends = []
      if (this.deps.running()) for (const queued of messages) this.send(queued)
    })
  }

  /** Leader: proposals follower `from` forwarded were appended up to `index` (a no-op unless notices are held). */
  noteForwarded (from: NodeId, index: number): void {
    if (this.commitNotices !== undefined) this.forwardedUpTo.set(from, index)
  }

  /** This node no longer leads: what followers forwarded to it is forgotten. */
  forgetForwarded (): void {
    this.forwardedUpTo.clear()
  }

  /** Stops holding commit notices (the driver stops). */
  stop (): void {
    this.commitNotices?.stop()
  }

  /** Whether commit-only `message` commits the last proposal its follower forwarded (then it is not held). */
  private coversForwarded (message: Message): boolean {
    const upTo = this.forwardedUpTo.get(message.to)
    if (upTo === undefined || message.commit < upTo) return false
    this.forwardedUpTo.delete(message.to)
    return true
  }
}
