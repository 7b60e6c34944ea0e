/**
 * @module consensus/removal
 * What makes a removal stick (issue 11 item 4). A node removed from the shape (`remove-member`, or `leave`)
 * writes `<data-dir>/removed.json` when it applies its own removal, then stops; a later start refuses with
 * `NodeRemovedError` until the operator resets the data dir. A removed node that was down when it was removed
 * never applies that entry: when it connects again the leader sees its NodeId in the shape's `removed` list and
 * sends it a notice on `/revoada/removed/1.0.0` instead of admitting it; the node writes the same file and stops.
 *
 * Only the leader sends notices, so a node acts on one only from a voter of its own applied configuration
 * (`noticeRefusal`): any key holder can connect, and a notice stops a node for good (undoing it means resetting
 * the data dir). A node that leads refuses every notice, and a voter that follows a leader takes one only from
 * that leader: a node in a working configuration learns its removal from the committed log. What remains is
 * trusted, and docs/SECURITY.md says so: a lying voter can stop a learner, or a voter with no leader.
 */
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Connection, Stream } from '@libp2p/interface'
import type { NetNode } from '../net/index.js'
import type { Logger } from '../log/index.js'
import { steadyNowMs } from '../util/clock.js'
import { PerPeerLogLimiter } from './log-limiter.js'
import type { RemovalRecord } from './removal-record.js'
import { isVoterOf } from './core/quorum.js'
import type { ConfState } from './core/types.js'

export { REMOVED_FILE_NAME, assertNotRemoved, writeRemovalRecord } from './removal-record.js'
export type { RemovalRecord } from './removal-record.js'

export const REMOVAL_NOTICE_PROTOCOL = '/revoada/removed/1.0.0'
/** A notice is one small JSON frame. */
const NOTICE_BYTES_MAX = 1024
const NOTICE_TIMEOUT_MS = 5000

/** What this node's Raft says when a notice arrives. */
export interface NoticeContext {
  self: string
  /** This node's applied configuration. */
  conf: ConfState
  /** The leader this node follows in its current term, or null. */
  leader: string | null
}

/** Why a notice from `from` is not acted on, or undefined when it is (see the module comment). */
export function noticeRefusal (from: string, raft: NoticeContext): string | undefined {
  if (raft.leader === raft.self) return 'this node leads'
  if (!isVoterOf(raft.conf, from)) return 'the sender is not a voter of this node\'s configuration'
  if (isVoterOf(raft.conf, raft.self) && raft.leader !== null && raft.leader !== from) return 'this node follows another leader'
  return undefined
}

function isRemovalRecord (value: unknown): value is RemovalRecord {
  const r = value as Partial<RemovalRecord>
  return typeof r === 'object' && r !== null && typeof r.clusterId === 'string' && typeof r.nodeId === 'string' &&
    (r.how === 'left' || r.how === 'removed') && typeof r.atMs === 'number'
}

/** Notices received and dropped: malformed, or not about this node in this cluster. */
export interface RemovalNoticeCounters {
  ignored: number
}

/** Sends and receives removal notices over libp2p. */
export class RemovalNotices {
  private readonly counts: RemovalNoticeCounters = { ignored: 0 }
  /**
   * Any key holder may open the protocol, one stream after another: what it sends is counted every time and
   * logged once per peer and kind per interval, never a line per notice (a flood would fill the log).
   */
  private readonly badInputLog = new PerPeerLogLimiter(steadyNowMs)

  constructor (private readonly net: NetNode, private readonly self: { clusterId: string, nodeId: string }, private readonly log: Logger) {}

  counters (): RemovalNoticeCounters {
    return { ...this.counts }
  }

  /** Calls `onRemoved` for a well-formed notice about this node in this cluster; others are logged and dropped. */
  async start (onRemoved: (record: RemovalRecord, from: string) => void): Promise<void> {
    await this.net.handle(REMOVAL_NOTICE_PROTOCOL, (stream: Stream, connection: Connection) => {
      void this.receive(stream, connection.remotePeer.toString(), onRemoved)
    }, { maxInboundStreams: 2, maxOutboundStreams: 2 })
  }

  async stop (): Promise<void> {
    await this.net.unhandle(REMOVAL_NOTICE_PROTOCOL)
  }

  private async receive (stream: Stream, from: string, onRemoved: (record: RemovalRecord, from: string) => void): Promise<void> {
    try {
      const frame = await lpStream(stream, { maxDataLength: NOTICE_BYTES_MAX }).read({ signal: AbortSignal.timeout(NOTICE_TIMEOUT_MS) })
      const value = JSON.parse(new TextDecoder().decode(frame.subarray())) as unknown
      await stream.close()
      if (isRemovalRecord(value) && value.nodeId === this.self.nodeId && value.clusterId === this.self.clusterId) {
        onRemoved(value, from)
      } else {
        this.counts.ignored++
        if (this.badInputLog.allow(from, 'foreign')) this.log.warn({ from }, 'ignored a removal notice that is not about this node (counted; logged once per interval)')
      }
    } catch (err) {
      this.counts.ignored++
      if (this.badInputLog.allow(from, 'malformed')) this.log.warn({ from, err: (err as Error).message }, 'malformed removal notice (counted; logged once per interval)')
      stream.abort(err instanceof Error ? err : new Error('malformed removal notice'))
    }
  }

  /** Tells `peer` it was removed; failures are logged (the next round retries). */
  async notify (peer: string, record: RemovalRecord): Promise<void> {
    try {
      const stream = await this.net.dialProtocol(peerIdFromString(peer), REMOVAL_NOTICE_PROTOCOL, { signal: AbortSignal.timeout(NOTICE_TIMEOUT_MS) })
      await lpStream(stream, { maxDataLength: NOTICE_BYTES_MAX }).write(new TextEncoder().encode(JSON.stringify(record)))
      await stream.close()
    } catch (err) {
      this.log.debug({ peer, err: (err as Error).message }, 'removal notice not delivered')
    }
  }
}
