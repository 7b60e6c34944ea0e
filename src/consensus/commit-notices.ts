/**
 * @module consensus/commit-notices
 * A leader tells each follower a new commit index with an append without entries, marked commit-only (not
 * answered). At one client the next append with entries follows a millisecond or two later and carries the
 * same commit index, so every commit paid for two more encrypted frames and socket writes on the leader, and
 * a wake-up, a read and a batch on each follower (issue 16). A notice now waits up to `holdMs`:
 * - an append or heartbeat of the same term to the same follower that carries its commit index replaces it;
 *   one that carries less leaves it held (a heartbeat carries no more than the follower's match, and an
 *   append without entries queued before the notice carries the older commit);
 * - any other message to that follower sends it first, so nothing overtakes it (a ReadIndex answer lets the
 *   follower serve a read once it has applied that far, which needs this commit index);
 * - the timer sends the notices still held.
 * A replaced notice is a lost message to Raft, which tolerates loss: the append or heartbeat that replaced it
 * carries the commit, and a lost one of those is followed by the next heartbeat (every tick).
 */
import { MessageType } from './core/index.js'
import type { Message, NodeId } from './core/index.js'

export class CommitNotices {
  /** Per follower, its newest notice and when it is due (the first notice's hold bounds how late it learns). */
  private readonly waiting = new Map<NodeId, { message: Message, dueMs: number }>()
  private timer: ReturnType<typeof setTimeout> | undefined
  /** Notices held, and of those replaced by a later notice or message (status: `proposals.commitNotices*`). */
  held = 0
  replaced = 0

  constructor (
    private readonly holdMs: number,
    private readonly deliver: (message: Message) => void,
    private readonly nowMs: () => number = () => performance.now()
  ) {}

  /** Keeps `message` (a commit-only append) until something replaces or flushes it; a newer one replaces an older. */
  hold (message: Message): void {
    this.held++
    const older = this.waiting.get(message.to)
    if (older !== undefined) this.replaced++
    this.waiting.set(message.to, { message, dueMs: older?.dueMs ?? this.nowMs() + this.holdMs })
    if (this.timer === undefined) this.arm()
  }

  /**
   * Call before `message` leaves: the notice held for its peer is dropped if `message` carries it, kept past an
   * append or heartbeat that does not, and sent first before anything else.
   */
  beforeSend (message: Message): void {
    const held = this.waiting.get(message.to)
    if (held === undefined) return
    if (carriesCommitOf(message, held.message)) {
      this.waiting.delete(message.to)
      this.replaced++
      if (this.waiting.size === 0) this.disarm()
    } else if (!isReplication(message)) {
      this.waiting.delete(message.to)
      if (this.waiting.size === 0) this.disarm()
      this.deliver(held.message)
    }
  }

  /** Drops what is held (the node stopped). */
  stop (): void {
    this.disarm()
    this.waiting.clear()
  }

  /** A timer for the earliest due notice. */
  private arm (): void {
    let dueMs = Infinity
    for (const { dueMs: due } of this.waiting.values()) dueMs = Math.min(dueMs, due)
    if (dueMs === Infinity) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.sendDue()
    }, Math.max(0, dueMs - this.nowMs()))
    this.timer.unref?.()
  }

  private disarm (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Sends the notices whose hold has ended; waits again for the others. */
  private sendDue (): void {
    const now = this.nowMs()
    const due: Message[] = []
    for (const [to, { message, dueMs }] of this.waiting) {
      if (dueMs > now) continue
      this.waiting.delete(to)
      due.push(message)
    }
    this.arm()
    for (const message of due) this.deliver(message)
  }
}

/** Appends and heartbeats: a notice needs no order with them (each only raises the follower's commit index). */
function isReplication (message: Message): boolean {
  return message.type === MessageType.App || message.type === MessageType.Heartbeat
}

/** Whether `message` tells its follower at least the commit index `notice` would. */
function carriesCommitOf (message: Message, notice: Message): boolean {
  return isReplication(message) && message.term === notice.term && message.commit >= notice.commit
}
