/**
 * @module test/fuzz/targets/raft-step
 * Raft frames from a cluster member, all the way in: decodeFrame (a MalformedFrameError closes only that
 * stream) → the transport's sender check → the driver's dispatch (a leader re-proposes forwarded
 * entries, as ForwardedProposals.stampForwarded does) → RawNode.step, then every Ready is handled as the driver
 * handles it, followed by 3 election timeouts of ticks so that effects of a frame (a term jump, a
 * forced vote, a transfer) play out.
 *
 * Checked after every step and advance: RawNode.checkInvariants(); every hard state and entry the node
 * asks to persist round-trips through the WAL record codec (a node must never write what its own
 * decoder rejects, issue 9 item 2); every message it sends round-trips through the frame codec (peers
 * must be able to read it). Input: byte 0 picks the node's starting state; then frames (u16 length ‖
 * frame bytes), at most 8.
 */
import { EntryType, MessageType, RawNode, createPrng, decodeConfChange, encodeConfChange } from '../../../src/consensus/core/index.js'
import type { ConfState, Entry, Message, Ready } from '../../../src/consensus/core/index.js'
import { encodeRecord, readRecord } from '../../../src/consensus/storage/record.js'
import type { WalRecord } from '../../../src/consensus/storage/record.js'
import { decodeFrame, encodeFrame } from '../../../src/consensus/transport/wire.js'
import { decodeEntryPayload, encodeEntryPayload } from '../../../src/consensus/entry-payload.js'
import { joinFrames, splitFrames } from '../frames.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'
import { damageValue, encodeValue } from '../values.js'
import { decode } from '@ipld/dag-cbor'

const SELF = 'a'
const PEERS = ['b', 'c']
const CONF: ConfState = { voters: ['a', 'b', 'c'], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false }
const ELECTION_TICKS = 5
const TYPED_PROPOSAL_ERRORS = ['ProposalDroppedError', 'ConfChangeRejectedError']
const SCENARIOS = ['follower', 'follower-with-leader', 'leader', 'candidate', 'compacted-follower'] as const

const enc = new TextEncoder()

function entry (index: number, term: number, type = EntryType.Normal, data: Uint8Array = enc.encode(`e${index}`)): Entry {
  return { index, term, type, data }
}

function sameRecord (a: WalRecord, b: WalRecord): boolean {
  return JSON.stringify(a, (_k, v: unknown) => v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v) ===
    JSON.stringify(b, (_k, v: unknown) => v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)
}

/** What a node persists must read back: encodeRecord → readRecord gives the same record. */
function checkPersistable (record: WalRecord): void {
  const read = readRecord(encodeRecord(record), 0)
  invariant(read.ok, () => `the node asked to persist a ${record.kind} record its WAL cannot read back (${read.ok ? '' : read.reason}): ${JSON.stringify(record, (_k, v: unknown) => v instanceof Uint8Array ? `<${v.length} bytes>` : v)}`)
  invariant(sameRecord(read.ok ? read.record : record, record), () => `${record.kind} record does not round-trip`)
}

function checkSendable (m: Message): void {
  let back: Message
  try {
    back = decodeFrame(encodeFrame(m))
  } catch (err) {
    throw new Error(`the node sent a ${m.type} to ${m.to} that peers cannot decode: ${(err as Error).message}`, { cause: err })
  }
  invariant(back.term === m.term && back.index === m.index, () => `${m.type} does not round-trip through the frame codec`)
}

/** Handles every Ready as the driver's PersistencePipeline.handleReady does (storage replaced by round-trip checks). */
function drain (node: RawNode): Message[] {
  const sent: Message[] = []
  for (let guard = 0; node.hasReady(); guard++) {
    invariant(guard < 1000, 'Ready loop did not settle in 1000 rounds')
    const rd: Ready = node.ready()
    for (const m of rd.messages) { checkSendable(m); sent.push(m) }
    if (rd.hardState !== undefined) checkPersistable({ kind: 'hard-state', hardState: rd.hardState })
    for (const e of rd.entries) checkPersistable({ kind: 'entry', entry: e })
    if (rd.snapshot !== undefined) checkPersistable({ kind: 'reset', index: rd.snapshot.meta.index, all: true })
    for (const m of rd.messagesAfterPersist) { checkSendable(m); sent.push(m) }
    for (const e of rd.committedEntries) {
      if (e.type !== EntryType.ConfChange) continue
      const cc = decodeConfChange(e.data)
      if (cc !== null) node.applyConfChange(cc)
    }
    node.advance()
    node.checkInvariants()
  }
  return sent
}

function reply (to: Message, type: MessageType, extra: Partial<Message> = {}): Message {
  return { type, from: to.to, to: SELF, term: to.term, index: 0, logTerm: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...extra }
}

/** A node in one of the starting states, its Ready drained. */
function startNode (scenario: typeof SCENARIOS[number]): RawNode {
  const compacted = scenario === 'compacted-follower'
  const initial = compacted
    ? { hardState: { term: 2, vote: null, commit: 6 }, snapshot: { meta: { index: 5, term: 1, confState: CONF }, data: new Uint8Array(0) }, entries: [entry(6, 2), entry(7, 2)] }
    : { hardState: { term: 1, vote: null, commit: 2 }, entries: [entry(1, 1), entry(2, 1), entry(3, 1)] }
  const node = new RawNode({ id: SELF, electionTicks: ELECTION_TICKS, heartbeatTicks: 1, random: createPrng(7) }, initial, CONF)
  drain(node)
  if (scenario === 'follower-with-leader') {
    node.step({ type: MessageType.Heartbeat, from: 'b', to: SELF, term: 2, index: 0, logTerm: 0, entries: [], commit: 2, reject: false, rejectHint: 0 })
    drain(node)
  }
  if (scenario === 'leader' || scenario === 'candidate') {
    node.campaign()
    for (let round = 0; round < 2; round++) {
      for (const m of drain(node)) {
        if (m.to !== 'b') continue
        if (m.type === MessageType.PreVote) node.step(reply(m, MessageType.PreVoteResp))
        if (m.type === MessageType.Vote && scenario === 'leader') node.step(reply(m, MessageType.VoteResp))
      }
    }
    drain(node)
  }
  return node
}

/** RaftNode.onMessage: a leader re-proposes forwarded entries; everything else is stepped. */
function dispatch (node: RawNode, m: Message): void {
  if (m.type !== MessageType.Prop || node.status().role !== 'leader') {
    node.step(m)
    return
  }
  for (const e of m.entries) {
    try {
      if (e.type === EntryType.ConfChange) {
        const cc = decodeConfChange(e.data)
        if (cc !== null) node.proposeConfChange(cc)
      } else if (e.type === EntryType.Normal) {
        const payload = decodeEntryPayload(e.data)
        if (payload !== null) node.propose(encodeEntryPayload({ command: payload.command, timeMs: 1 }), e.proposalId)
      }
    } catch (err) {
      if (!TYPED_PROPOSAL_ERRORS.includes((err as Error).name)) throw err
    }
  }
}

const TERMS = [0, 1, 2, 3, 4, 2 ** 32, 2 ** 48, Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER]

function number (rng: FuzzRng, small: number): number {
  return rng.chance(0.85) ? rng.int(small) : rng.pick(TERMS)
}

function entryData (rng: FuzzRng, type: EntryType): Uint8Array {
  if (type === EntryType.ConfChange) {
    const steps = [{ type: rng.pick(['add-voter', 'add-learner', 'remove'] as const), nodeId: rng.pick(['a', 'b', 'c', 'd']) }]
    const cc = { steps: rng.chance(0.2) ? [] : steps, transition: rng.pick(['auto', 'explicit'] as const), ...(rng.chance(0.5) ? { enterJoint: true } : {}) }
    return rng.chance(0.8) ? encodeConfChange(cc) : enc.encode(JSON.stringify(damageValue(rng, cc), (_k, v: unknown) => typeof v === 'bigint' ? Number(v) : v))
  }
  return type === EntryType.Normal && rng.chance(0.5) ? encodeEntryPayload({ command: rng.bytes(rng.int(16)), timeMs: 1 }) : rng.bytes(rng.int(8))
}

function message (rng: FuzzRng): Message {
  const types = Object.values(MessageType).filter((t) => t !== MessageType.Hup)
  const type = rng.pick(types)
  const index = number(rng, 10)
  const term = number(rng, 6)
  const entries: Entry[] = []
  for (let i = 0; i < rng.int(4); i++) {
    const t = rng.pick([EntryType.Normal, EntryType.ConfChange, EntryType.Empty])
    entries.push({ ...entry(type === MessageType.Prop ? 0 : index + 1 + i, rng.chance(0.9) ? Math.max(1, term) : number(rng, 6), t, entryData(rng, t)), ...(rng.chance(0.3) ? { proposalId: { clientId: rng.pick(PEERS), seq: number(rng, 5) } } : {}) })
  }
  const m: Message = {
    type, from: rng.chance(0.95) ? rng.pick(PEERS) : rng.pick(['a', 'x', 'd']), to: rng.chance(0.95) ? SELF : 'b', term, index,
    logTerm: number(rng, 6), entries, commit: number(rng, 10), reject: rng.chance(0.3), rejectHint: number(rng, 10)
  }
  if (type === MessageType.Snap || rng.chance(0.05)) {
    m.snapshotMeta = { index: number(rng, 12), term: number(rng, 6), confState: rng.chance(0.8) ? CONF : { ...CONF, voters: ['b', 'd'], learners: ['a'] } }
    m.snapshotChunk = rng.bytes(rng.int(16))
    m.snapshotOffset = rng.chance(0.8) ? 0 : number(rng, 32)
    m.snapshotDone = rng.chance(0.8)
  }
  if (rng.chance(0.3)) m.context = rng.bytes(1 + rng.int(8))
  if (rng.chance(0.2)) m.force = true
  if (type === MessageType.TransferLeader || rng.chance(0.05)) m.transferee = rng.pick(['a', 'b', 'c', 'd'])
  return m
}

function frame (rng: FuzzRng): Uint8Array {
  const bytes = encodeFrame(message(rng))
  return rng.chance(0.25) ? encodeValue(rng, damageValue(rng, decode(bytes))) : bytes
}

export const raftStepTarget: FuzzTarget = {
  name: 'raft-step',
  description: 'raft frames → decodeFrame → sender check → RawNode.step + Ready handling + ticks (core invariants, persistable state, sendable messages)',
  typedErrors: [],
  corpus: (rng) => SCENARIOS.map((_, i) => joinFrames([frame(rng), frame(rng)], Uint8Array.of(i))),
  generate: (rng) => joinFrames(Array.from({ length: 1 + rng.int(8) }, () => frame(rng)), Uint8Array.of(rng.int(SCENARIOS.length))),
  run (input) {
    const node = startNode(SCENARIOS[(input[0] ?? 0) % SCENARIOS.length] as typeof SCENARIOS[number])
    for (const bytes of splitFrames(input, 1, 8)) {
      let m: Message
      try {
        m = decodeFrame(bytes)
      } catch (err) {
        if ((err as Error).name === 'MalformedFrameError') continue
        throw err
      }
      if (!PEERS.includes(m.from)) continue // the transport refuses non-members and spoofed senders
      dispatch(node, m)
      node.checkInvariants()
      drain(node)
    }
    for (let i = 0; i < 3 * 2 * ELECTION_TICKS; i++) {
      node.tick()
      drain(node)
    }
  }
}

