/**
 * @module consensus/forwarded-proposals
 * What followers forward to the leader in Raft `Prop` messages, as the driver handles it: signed proposals,
 * checked against their sender, stamped with the leader's time and appended (with the configuration change
 * the leader derives itself), a retry skipped when its entry is already on its way; and requests (issue 16),
 * never appended, handed to the service's intake (`RaftNodeComponents.takeRequest`, which is
 * forwarded-request-intake.ts) and, refused for good, answered with a `prop-resp` (request-refusal.ts). On
 * a follower, it hears those answers and fails the request's callers.
 */
import { FORWARDED_PAYLOAD_ITEMS_MAX } from './constants.js'
import { EntryType, MessageType, isMemberOf } from './core/index.js'
import type { ConfState, Entry, Message, NodeId, ProposalId, ProposalSessions, RawNode } from './core/index.js'
import { decodeEntryPayload, encodeEntryPayload } from './entry-payload.js'
import type { AppliedRecord } from './node-snapshot.js'
import { ForwardedRequestRefusedError } from './errors.js'
import type { PerPeerLogLimiter } from './log-limiter.js'
import { decodeRefusal, encodeRefusal } from './request-refusal.js'
import { assert, rethrowBug } from '../util/assert.js'
import type { CommandRules, Logger, RaftNodeComponents, RaftNodeCounters } from './raft-node-types.js'
import { clientIdOwner, proposalKey, sameId } from './pending-proposal.js'
import type { ProposalExtra, ProposalTable } from './pending-proposal.js'
import type { Outbox } from './outbox.js'

/** Forwarded proposals remembered where this leader appended them, before the applied ones are pruned. */
const FORWARDED_APPENDED_MAX = 4_096

/** What the handling of forwarded proposals needs of the driver. */
export interface ForwardedProposalsDeps<R> {
  id: NodeId
  log: Logger
  /** Bad input from peers: one line per peer and kind per interval. */
  badInputLog: PerPeerLogLimiter
  /** The driver's counters (shared): refusals, answers and skipped retries. */
  counts: Pick<RaftNodeCounters, 'refusedForwarded' | 'refusedRequests' | 'refusalsAnswered' | 'requestsRefusedByLeader' | 'retriesSkipped'>
  rules: CommandRules | undefined
  takeRequest: RaftNodeComponents<R>['takeRequest']
  answerRefusals: RaftNodeComponents<R>['answerRefusals']
  /** Wall clock: the time the leader stamps on the entries it appends. */
  nowMs: () => number
  /** This node's pending proposals: a request the leader refused fails there. */
  proposals: ProposalTable<R>
  outbox: Pick<Outbox, 'send' | 'holdsNotices' | 'noteForwarded'>
  /** The core: created when the driver starts, so looked up when needed. */
  raw: () => Pick<RawNode, 'status' | 'term' | 'lastIndex' | 'leader' | 'matchOf' | 'proposeMany'>
  /** The session table (replaced when a snapshot is restored). */
  sessions: () => ProposalSessions<AppliedRecord<R>>
  /** The applied index. */
  applied: () => number
  /** Leader: stamps the time and appends `command`, inside the configuration change it requires. */
  proposeAtLeader: (command: Uint8Array, id: ProposalId) => void
}

export class ForwardedProposals<R> {
  /**
   * Leader: followers' forwarded proposals appended in this leader's log, by proposal key → (index, term). A
   * retry of one still there, not yet applied, is not appended again (`forwardedRetrySkippable`).
   */
  private readonly forwardedAppended = new Map<string, { index: number, term: number }>()

  constructor (private readonly deps: ForwardedProposalsDeps<R>) {}

  /** Whether `command` is a forwarded request (CommandRules.isRequest), never a signed proposal. */
  isRequest (command: Uint8Array): boolean {
    return this.deps.rules?.isRequest?.(command) === true
  }

  /**
   * The leader checks each forwarded proposal against its sender, then stamps its time and appends it
   * with the configuration change it derives itself.
   */
  stampForwarded (message: Message): void {
    const { counts, badInputLog, log } = this.deps
    const plain: Array<{ data: Uint8Array, proposalId: ProposalId }> = []
    const conf = this.deps.raw().status().confState
    if (!this.mayForward(message.from, conf)) {
      // Any key holder can open a stream (a joiner must, to be admitted); only members propose.
      counts.refusedForwarded += message.entries.length
      if (badInputLog.allow(message.from, 'forwarded-by-stranger')) {
        log.warn({ from: message.from, entries: message.entries.length }, 'refused proposals forwarded by a peer that is not a member (counted; logged once per interval)')
      }
      return
    }
    for (const entry of message.entries) {
      const request = entry.type === EntryType.Normal ? decodeEntryPayload(entry.data, FORWARDED_PAYLOAD_ITEMS_MAX) : null
      if (request !== null && this.isRequest(request.command)) {
        // Never appended: the leader's intake checks it all (id, sender, bounds, kinds) and its next
        // envelope carries the commands (issue 16).
        this.maybeTakeRequest(request.command, entry.proposalId, message.from)
        continue
      }
      const checked = this.checkForwarded(message.from, entry)
      if (typeof checked === 'string') {
        counts.refusedForwarded++
        if (badInputLog.allow(message.from, 'forwarded-proposal')) {
          log.warn({ from: message.from, reason: checked }, 'refused a forwarded proposal (counted; logged once per interval)')
        }
        continue
      }
      if (this.forwardedRetrySkippable(checked.id, message.from)) {
        counts.retriesSkipped++
        continue
      }
      try {
        if (this.deps.rules?.confChangeFor(checked.command, conf) == null) {
          plain.push({ data: encodeEntryPayload({ command: checked.command, timeMs: this.deps.nowMs() }), proposalId: checked.id })
        } else {
          this.deps.proposeAtLeader(checked.command, checked.id)
          this.noteForwardedAppended([checked.id])
        }
      } catch (err) {
        rethrowBug(err)
        // The follower's retry will bring it back.
        log.debug({ err: (err as Error).message, from: message.from }, 'forwarded proposal not accepted yet')
      }
    }
    // The commands that need no configuration change are appended together: one App per follower.
    if (plain.length === 0) return
    const raw = this.deps.raw()
    try {
      raw.proposeMany(plain)
      this.noteForwardedAppended(plain.map((p) => p.proposalId))
    } catch (err) {
      rethrowBug(err)
      log.debug({ err: (err as Error).message, from: message.from }, 'forwarded proposals not accepted yet')
    }
    if (this.deps.outbox.holdsNotices) this.deps.outbox.noteForwarded(message.from, raw.lastIndex())
  }

  /**
   * Leader: the followers whose forwarded requests ride in these just-appended commands are told of their
   * commit at once (their callers wait for it), as for a forwarded proposal (`Outbox.noteForwarded`).
   */
  noteRequestsAppended (appended: ProposalExtra[]): void {
    const { rules, outbox } = this.deps
    if (!outbox.holdsNotices || rules?.requestIds === undefined) return
    const lastIndex = this.deps.raw().lastIndex()
    for (const extra of appended) {
      for (const id of rules.requestIds(extra.command)) {
        const owner = clientIdOwner(id.clientId)
        if (owner !== this.deps.id && owner !== '') outbox.noteForwarded(owner, lastIndex)
      }
    }
  }

  /**
   * Hands a forwarded request to the leader's intake; false (counted, logged at most once per interval
   * per peer) when it is refused. `from` is the authenticated sender (this node for its own request).
   */
  maybeTakeRequest (command: Uint8Array, id: ProposalId | undefined, from: NodeId): boolean {
    const { counts, takeRequest } = this.deps
    // Only the sender's own request: one naming another node's id goes to the intake, which refuses and counts it.
    if (id !== undefined && from !== this.deps.id && clientIdOwner(id.clientId) === from && this.appliedAndHeldBy(id, from)) {
      counts.retriesSkipped++
      return true
    }
    const refusal = takeRequest === undefined
      ? new Error('this node takes no forwarded requests')
      : takeRequest(command, id, from)
    if (refusal === null) return true
    counts.refusedRequests++
    if (this.deps.badInputLog.allow(from, 'forwarded-request')) {
      this.deps.log.warn({ from, error: refusal.name, reason: refusal.message }, 'refused a forwarded request (counted; logged once per interval)')
    }
    // A refusal for good is answered, so the request's callers fail now rather than at their timeout; one a
    // retry may overcome (ForwardedRequestDeferredError, ConsensusBusyError) is not.
    if (refusal.name === 'ForwardedRequestInvalidError' && id !== undefined) {
      if (from === this.deps.id) {
        this.failRequest(id, refusal.message)
      } else if (this.deps.answerRefusals?.() === true) {
        // An id too long for the answer's bounded context (no request of the follower's has one) goes unanswered.
        const context = encodeRefusal({ id, reason: refusal.message })
        if (context === null) {
          this.deps.log.debug({ from, clientIdChars: id.clientId.length }, 'a refused forwarded request not answered: its id does not fit a refusal')
          return false
        }
        counts.refusalsAnswered++
        this.deps.outbox.send({
          type: MessageType.PropResp, from: this.deps.id, to: from, term: this.deps.raw().term(), index: 0, logTerm: 0, entries: [],
          commit: 0, reject: true, rejectHint: 0, context
        })
      }
    }
    return false
  }

  /**
   * Follower: the leader refused one of this node's forwarded requests (`prop-resp`). Trusted from the
   * leader this node knows only, and only for a request of its own still pending here; anything else is
   * dropped and counted.
   */
  onRequestRefused (m: Message): void {
    const refusal = decodeRefusal(m.context)
    if (m.from !== this.deps.raw().leader() || refusal === null) {
      this.deps.counts.refusedForwarded++
      if (this.deps.badInputLog.allow(m.from, 'request-refusal')) this.deps.log.warn({ from: m.from }, 'dropped a request refusal not from the leader, or malformed (counted; logged once per interval)')
      return
    }
    this.failRequest(refusal.id, `the leader ${m.from} refused it: ${refusal.reason}`)
  }

  /** Fails the callers of this node's pending forwarded request `id` (a request only, never a signed proposal). */
  private failRequest (id: ProposalId, reason: string): void {
    const proposals = this.deps.proposals
    const key = proposalKey(id)
    const pending = proposals.get(key)
    if (pending === undefined || !this.isRequest(pending.extra.command)) return
    this.deps.counts.requestsRefusedByLeader++
    pending.reject(new ForwardedRequestRefusedError(`request ${key}: ${reason}`))
    proposals.delete(key)
  }

  /**
   * Leader: whether request `id` of follower `from` has been applied here, in an entry `from`'s log already
   * holds (its match reaches the entry). That entry is committed, so `from` applies it and answers its
   * callers; queueing the request again would only commit a duplicate entry for every node to apply. A
   * follower retries every second until it has applied the entry, and a starved one (a 50-node fleet after a
   * leader kill) had most of its retries committed again: 86 entries for ~44 writes (docs/bench/scale.md). When
   * `from`'s log may lack it (its match is below, or unknown to a new leader) it goes again, as before;
   * a follower that a snapshot brings past the entry answers its callers from the snapshot's session table
   * (raft-node.ts, `settleCoveredBySnapshot`).
   */
  private appliedAndHeldBy (id: ProposalId, from: NodeId): boolean {
    const seen = this.deps.sessions().lookup(id)
    if (seen.kind !== 'duplicate') return false
    const match = this.deps.raw().matchOf(from)
    return match !== undefined && match >= seen.result.index
  }

  /** Leader: records where the forwarded proposals `ids` were just appended (the last `ids.length` entries). */
  private noteForwardedAppended (ids: ProposalId[]): void {
    const raw = this.deps.raw()
    const last = raw.lastIndex()
    const term = raw.term()
    const appended = this.forwardedAppended
    ids.forEach((id, k) => {
      const key = proposalKey(id)
      // Deleted first so the map stays in append order (set() would keep an older copy's place).
      appended.delete(key)
      appended.set(key, { index: last - ids.length + 1 + k, term })
    })
    // The oldest go first, each once (O(1) amortised per insert): the applied or earlier-term ones at the
    // front, which a retry would not skip anyway, then, over the bound, the oldest still pending (its retry
    // is appended again, a duplicate the sessions skip at apply). It rescanned the whole map per insert.
    const applied = this.deps.applied()
    for (const [key, at] of appended) {
      if (appended.size <= FORWARDED_APPENDED_MAX && at.index > applied && at.term === term) break
      appended.delete(key)
    }
    assert(appended.size <= FORWARDED_APPENDED_MAX, () => `forwardedAppended holds ${appended.size}`)
  }

  /**
   * Leader: whether a follower's forwarded proposal `id` is a retry that need not be appended: a copy this
   * leader appended in its current term and has not applied yet (a leader never removes its own entries, so
   * it commits there unless leadership moves, and then the follower hands it to the next leader), or one
   * applied here in an entry `from`'s log holds (`appliedAndHeldBy`). Otherwise it is appended again, and a
   * second copy applies as a duplicate (sessions), as before.
   */
  private forwardedRetrySkippable (id: ProposalId, from: NodeId): boolean {
    const key = proposalKey(id)
    const appended = this.forwardedAppended.get(key)
    if (appended !== undefined) {
      if (appended.term === this.deps.raw().term() && appended.index > this.deps.applied()) return true
      this.forwardedAppended.delete(key)
    }
    return this.appliedAndHeldBy(id, from)
  }

  /** Whether `from` may forward proposals and requests: a member of the configuration or of the machine. */
  private mayForward (from: NodeId, conf: ConfState): boolean {
    return isMemberOf(conf, from) || (this.deps.rules?.isMember?.(from) ?? true)
  }

  /** The command and id of a forwarded entry, or why it is refused. */
  private checkForwarded (from: NodeId, entry: Entry): { command: Uint8Array, id: ProposalId } | string {
    if (entry.type !== EntryType.Normal) return 'a configuration change from a peer: the leader derives it from the command'
    const id = entry.proposalId
    if (id === undefined) return 'no proposal id'
    if (clientIdOwner(id.clientId) !== from) return `proposal id ${id.clientId} does not belong to ${from}`
    const payload = decodeEntryPayload(entry.data, FORWARDED_PAYLOAD_ITEMS_MAX)
    if (payload === null) return `not an entry payload of at most ${FORWARDED_PAYLOAD_ITEMS_MAX} items`
    const rules = this.deps.rules
    if (rules !== undefined) {
      const identity = rules.identify(payload.command)
      if (identity === null) return 'not a signed command'
      if (identity.proposer !== from) return `command signed by ${identity.proposer}, forwarded by ${from}`
      if (!sameId(identity.id, id)) return 'proposal id differs from the signed command\'s'
      if (identity.leaderOnly !== undefined) return `a ${identity.leaderOnly} command is proposed by the leader only`
      const idProblem = rules.memberIdProblem?.(payload.command) ?? null
      if (idProblem !== null) return idProblem
      // A merged envelope (issue 16) records its groups' request ids as applied: forwarded by a member, it may
      // name that member's own requests only, or it could pre-empt (shadow) another node's next request.
      const foreign = rules.requestIds?.(payload.command).find((rid) => clientIdOwner(rid.clientId) !== from)
      if (foreign !== undefined) return `a merged envelope forwarded by ${from} carries request ${foreign.clientId}/${foreign.seq} of another node`
    }
    return { command: payload.command, id }
  }
}
