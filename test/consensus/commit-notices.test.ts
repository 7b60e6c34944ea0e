/**
 * Goal: a held commit notice (src/consensus/commit-notices.ts) is never lost and never overtaken: it is
 * dropped only for a message to the same follower that carries its commit index, kept past a heartbeat
 * that carries less, sent before anything else to that follower, and sent by the timer otherwise. Method: a CommitNotices with a recording
 * `deliver`; the timer's delivery is awaited as a condition.
 */
import { describe, expect, it } from 'vitest'
import { CommitNotices } from '../../src/consensus/commit-notices.js'
import { MessageType } from '../../src/consensus/core/index.js'
import type { Message } from '../../src/consensus/core/index.js'
import { waitUntil } from './driver/harness.js'

function message (type: MessageType, to: string, commit: number, extra: Partial<Message> = {}): Message {
  return { type, from: 'a', to, term: 2, index: 5, logTerm: 2, entries: [], commit, reject: false, rejectHint: 0, ...extra }
}
const notice = (to: string, commit: number): Message => message(MessageType.App, to, commit, { commitOnly: true })

describe('CommitNotices', () => {
  it('should drop a notice when an append or heartbeat to the same follower carries its commit', async () => {
    const delivered: Message[] = []
    const notices = new CommitNotices(20, (m) => delivered.push(m))
    notices.hold(notice('b', 7))
    notices.beforeSend(message(MessageType.App, 'b', 7, { entries: [{ index: 6, term: 2, type: 0, data: new Uint8Array() }] }))
    notices.hold(notice('c', 7))
    notices.beforeSend(message(MessageType.Heartbeat, 'c', 8))
    notices.hold(notice('d', 7)) // nothing else is held: the timer sends d's, and only d's
    await waitUntil(() => delivered.length > 0, 10_000, 'the timer sends what is held')
    expect(delivered.map((m) => m.to)).toEqual(['d'])
    expect(notices.replaced).toBe(2)
  })

  it('should send a notice before any message to its follower other than an append or heartbeat', () => {
    const delivered: Message[] = []
    const notices = new CommitNotices(60_000, (m) => delivered.push(m))
    notices.hold(notice('b', 7))
    notices.hold(notice('c', 7))
    notices.hold(notice('d', 7))
    notices.beforeSend(message(MessageType.ReadIndexResp, 'b', 0))
    expect(delivered.map((m) => `${m.to}:${m.commit}`)).toEqual(['b:7'])
    // A heartbeat to a follower that has not matched 7 yet, or an append queued earlier, tells it less; an
    // append of another term tells it nothing about this one: the notices stay held.
    notices.beforeSend(message(MessageType.Heartbeat, 'c', 6))
    notices.beforeSend(message(MessageType.App, 'c', 6))
    notices.beforeSend(message(MessageType.App, 'd', 7, { term: 3 }))
    expect(delivered).toHaveLength(1)
    notices.beforeSend(message(MessageType.ReadIndexResp, 'b', 0))
    notices.beforeSend(message(MessageType.VoteResp, 'c', 0))
    notices.beforeSend(message(MessageType.TimeoutNow, 'd', 0))
    expect(delivered.map((m) => `${m.to}:${m.commit}`)).toEqual(['b:7', 'c:7', 'd:7'])
    notices.stop()
  })

  it('should keep only the newest notice per follower and send it when the hold ends', async () => {
    const delivered: Message[] = []
    const notices = new CommitNotices(5, (m) => delivered.push(m))
    notices.hold(notice('b', 7))
    notices.hold(notice('b', 8))
    await waitUntil(() => delivered.length > 0, 10_000, 'the timer sends what is held')
    expect(delivered.map((m) => m.commit)).toEqual([8])
  })

  it('should hold each notice for its own time, not until the timer an earlier one started', async () => {
    let now = 0
    const delivered: Message[] = []
    const notices = new CommitNotices(5, (m) => delivered.push(m), () => now)
    notices.hold(notice('b', 7)) // due at 5
    now = 3
    notices.hold(notice('c', 7)) // due at 8
    notices.hold(notice('b', 8)) // replaces b's, keeps its due time
    now = 6
    await waitUntil(() => delivered.length > 0, 10_000, 'b\'s hold ends')
    expect(delivered.map((m) => `${m.to}:${m.commit}`)).toEqual(['b:8'])
    now = 9
    await waitUntil(() => delivered.length > 1, 10_000, 'c\'s hold ends')
    expect(delivered.map((m) => `${m.to}:${m.commit}`)).toEqual(['b:8', 'c:7'])
  })

  it('should send nothing once stopped', () => {
    const delivered: Message[] = []
    const notices = new CommitNotices(60_000, (m) => delivered.push(m))
    notices.hold(notice('b', 7))
    notices.stop()
    notices.beforeSend(message(MessageType.ReadIndexResp, 'b', 0))
    expect(delivered).toEqual([])
  })
})
