/**
 * @module consensus/commit-notices
 * A leader tells each follower a new commit index with an append without entries, marked commit-only (not
 * answered). At one client the next append with entries follows a millisecond or two later and carries the
 * same commit index, so every commit paid for two more encrypted frames and socket writes on the leader, and
 * a wake-up, a read and a batch on each follower (issue 16). A notice now waits up to `holdMs`:
 * - an append or heartbeat of the same term to the same follower that carries its commit index replaces it;
 * - any other message to that follower sends it first, so nothing overtakes it (a ReadIndex answer lets the
 *   follower serve a read once it has applied that far, which needs this commit index);
 * - the timer sends the notices still held.
 * A replaced notice is a lost message to Raft, which tolerates loss: the append or heartbeat that replaced it
 * carries the commit, and a lost one of those is followed by the next heartbeat (every tick).
 */
import { MessageType } from './core/index.js'
import type { Message, NodeId } from './core/index.js'

export class CommitNotices {
  private readonly held = new Map<NodeId, Message>()
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Notices replaced by a later append or heartbeat (for tests and status). */
  replaced = 0

  constructor (private readonly holdMs: number, private readonly deliver: (message: Message) => void) {}

  /** Keeps `message` (a commit-only append) until something replaces or flushes it; a newer one replaces an older. */
  hold (message: Message): void {
    this.held.set(message.to, message)
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.flushAll()
    }, this.holdMs)
    this.timer.unref?.()
  }

  /** Call before `message` leaves: the notice held for its peer is dropped if `message` carries it, else sent first. */
  beforeSend (message: Message): void {
    const held = this.held.get(message.to)
    if (held === undefined) return
    this.held.delete(message.to)
    if (carriesCommitOf(message, held)) this.replaced++
    else this.deliver(held)
  }

  /** Sends every held notice now. */
  flushAll (): void {
    const notices = [...this.held.values()]
    this.held.clear()
    for (const notice of notices) this.deliver(notice)
  }

  /** Drops what is held (the node stopped). */
  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.held.clear()
  }
}

/** Whether `message` tells its follower at least the commit index `notice` would. */
function carriesCommitOf (message: Message, notice: Message): boolean {
  return (message.type === MessageType.App || message.type === MessageType.Heartbeat) &&
    message.term === notice.term && message.commit >= notice.commit
}
