/**
 * @module test/fuzz/targets/decision-record
 * Decision records from both doors a peer or a disk opens (docs/POLICY.md, "The decision log survives a leader
 * change"): gossip messages through the real `DecisionGossip` validator (member check, size, budget,
 * decodeCanonical → parseDecisionRecord, sender = `by`) into a `DecisionLog`, and the log file read back on start
 * (`DecisionLog.load`: the tail reader, JSON.parse, parseDecisionRecord, the number and duplicate checks), its bytes
 * given through an in-memory `TailIo`. Byte 0 picks each message's sender (two members, one outsider) and whether
 * the last frame is the file; the other frames are `u16 length ‖ bytes`. Nothing may throw (both doors drop and
 * count). After each input: an accepted record came from a member and names its sender; every record the log holds
 * re-reads to itself from CBOR and from JSON, prints (`formatDecision`, as `revoada decisions` does), and the log
 * is bounded and numbered in increasing order; the tail reader, given the file in small chunks, returns the lines a
 * whole-file split gives.
 */
import path from 'node:path'
import { existsSync, rmSync } from 'node:fs'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import { decodeCanonical, encodeCanonical } from '../../../src/codec/index.js'
import { REASONS } from '../../../src/consensus/shape/core/types.js'
import { PRIORITIES, DECISION_ITEMS_MAX, DECISION_TIME_MS_MAX, parseDecisionRecord, toDecisionRecord } from '../../../src/policy/core/index.js'
import type { Command, Decision, DecisionRecord, Proposal, Withheld } from '../../../src/policy/core/index.js'
import { DecisionGossip } from '../../../src/policy/decision-gossip.js'
import { DecisionLog } from '../../../src/policy/decision-log.js'
import { DECISION_NUMBER_MAX, MAX_DECISIONS, decisionsTopic } from '../../../src/policy/constants.js'
import { formatDecision } from '../../../src/cli/policy-commands.js'
import { silentLogger } from '../../../src/log/index.js'
import type { ServiceContext } from '../../../src/node/service.js'
import { readTailLines } from '../../../src/util/tail-lines.js'
import type { TailIo } from '../../../src/util/tail-lines.js'
import { joinFrames, splitFrames } from '../frames.js'
import { scratchDir } from '../scratch.js'
import { damageValue, encodeValue } from '../values.js'
import type { FuzzRng } from '../rng.js'
import type { FuzzTarget } from '../target.js'
import { invariant } from '../target.js'

const CLUSTER = 'cluster-1'
/** Two members of the shape and one key holder that is not (its records are dropped before anything else). */
const SENDERS = ['12D3KooWmemberA', '12D3KooWmemberB', '12D3KooWoutsider'] as const
const MEMBERS = new Set<string>(SENDERS.slice(0, 2))
const FRAMES_MAX = 3
const ROLES = ['api-server', 'etcd', 'scheduler', 'controller-manager'] as const
const CODES = ['no-quorum', 'in-flight', 'damped-node', 'damped-cluster', 'unstable', 'no-candidate', 'one-voter-change', 'pinned', 'unknown-holder', 'lagging', 'rejected'] as const
const RETRY_ON = ['time', 'commit', 'membership', 'operator'] as const
const TIMES = [0, 1, 1_000_000, Date.UTC(2026, 11, 8), DECISION_TIME_MS_MAX - 1, DECISION_TIME_MS_MAX]

/** Counts of what the inputs reached (test/fuzz/decision-record-reach.test.ts): a target that never accepts checks little. */
export const DECISION_STATS = { gossipAccepted: 0, gossipRefused: 0, fileKept: 0, fileSkipped: 0 }

const sender = (header: number, frame: number): string => SENDERS[(header + frame) % SENDERS.length] as string

function command (rng: FuzzRng): Command {
  const nodeId = rng.pick(SENDERS)
  const roles = ROLES.filter(() => rng.chance(0.5))
  const some = roles.length > 0 ? [...roles] : ['etcd' as const]
  switch (rng.int(5)) {
    case 0: return { kind: 'promote', nodeId, roles: some, ...(rng.chance(0.5) ? { with: SENDERS.filter(() => rng.chance(0.5)) } : {}) } as Command
    case 1: return { kind: 'promote', nodeId, roles: some, replacing: rng.pick(SENDERS) } as Command
    case 2: return { kind: 'demote', nodeId, roles: some }
    case 3: return { kind: rng.pick(['quarantine', 'restore', 'add-member', 'remove-member', 'unpin'] as const), nodeId } as Command
    default: return { kind: 'promote', nodeId, roles: some }
  }
}

function decision (rng: FuzzRng): Decision {
  // Few items of short text mostly: the budget is CPU per input (docs/FUZZING.md), and the bounds are met now and then.
  const count = (): number => rng.chance(0.02) ? DECISION_ITEMS_MAX + 1 : rng.chance(0.7) ? rng.int(2) : rng.int(4)
  const text = (c: string): string => c.repeat(rng.chance(0.05) ? 513 : rng.int(24))
  const proposals: Proposal[] = Array.from({ length: count() }, () => ({
    policy: 'auto-replacement', command: command(rng), reason: rng.pick(REASONS), why: text('y'), priority: rng.pick(PRIORITIES)
  }))
  const withheld: Withheld[] = Array.from({ length: count() }, () => {
    const retryOn = rng.pick(RETRY_ON)
    return {
      policy: 'auto-replacement', what: `promote ${rng.pick(SENDERS)} etcd`, code: rng.pick(CODES), why: text('w'), retryOn,
      ...(rng.chance(0.5) ? { nodeId: rng.pick(SENDERS) } : {}), ...(retryOn === 'time' ? { retryAtMs: rng.pick(TIMES) } : {})
    }
  })
  return { atMs: rng.pick(TIMES), trigger: rng.pick(['membership', 'shape', 'audit', 'manual'] as const), leader: true, proposals, withheld }
}

/** Times no Date shows, and not whole: what a member could send and the printer must never be handed. */
const BAD_TIMES = [DECISION_TIME_MS_MAX + 1, Number.MAX_SAFE_INTEGER, -1, 1.5]

function record (rng: FuzzRng, by: string, seq: number): DecisionRecord {
  const made = toDecisionRecord(decision(rng), { by: rng.chance(0.85) ? by : rng.pick(SENDERS), term: rng.int(5), seq })
  // toDecisionRecord clamps its times: set some past the bound afterwards, as a peer's own encoder may.
  if (rng.chance(0.05)) made.atMs = rng.pick(BAD_TIMES)
  const timed = made.withheld.find((w) => w.retryAtMs !== undefined)
  if (timed !== undefined && rng.chance(0.1)) timed.retryAtMs = rng.pick(BAD_TIMES)
  return made
}

/** One gossip message: a record its sender made, whole or damaged. */
function message (rng: FuzzRng, by: string, seq: number): Uint8Array {
  const value = record(rng, by, seq)
  return rng.chance(0.5) ? encodeCanonical(value) : encodeValue(rng, damageValue(rng, value))
}

/** A log file: records numbered mostly in order, with the damage a disk or a crash leaves. */
function file (rng: FuzzRng): Uint8Array {
  const lines: string[] = []
  let n = rng.chance(0.9) ? 1 : rng.pick([0, -1, DECISION_NUMBER_MAX, DECISION_NUMBER_MAX + 1, Number.MAX_SAFE_INTEGER])
  for (let i = 0, count = rng.int(5); i < count; i++) {
    const value: Record<string, unknown> = { ...record(rng, rng.pick(SENDERS), rng.chance(0.8) ? i + 1 : 1), n }
    const damaged = rng.chance(0.3) ? damageValue(rng, value) : value
    // JSON has no BigInt: a damaged field's BigInt is written as the nearest double (2^64 → 18446744073709552000).
    let line = JSON.stringify(damaged, (_key, v: unknown) => typeof v === 'bigint' ? Number(v) : v) ?? 'null'
    if (rng.chance(0.1)) line = line.slice(0, rng.int(line.length))
    lines.push(line)
    if (rng.chance(0.1)) lines.push(rng.pick(['', '   ', '{}', '[', 'null', '"x"']))
    n = rng.chance(0.85) ? n + 1 + rng.int(3) : rng.pick([n, n - 1, 1.5, Number.MAX_SAFE_INTEGER])
  }
  return new TextEncoder().encode(lines.join('\n') + (rng.chance(0.7) ? '\n' : ''))
}

/** `bytes` as a file: what DecisionLog.load reads, without touching a disk. */
function memoryIo (bytes: Uint8Array): TailIo {
  return {
    openSync: () => 3,
    fstatSync: () => ({ size: bytes.length }),
    readSync: (_fd, buffer, offset, length, position) => {
      const part = bytes.subarray(position, position + length)
      buffer.set(part, offset)
      return part.length
    },
    closeSync: () => {}
  }
}

/** The checks every record the log holds must pass. */
function checkLogged (log: DecisionLog): void {
  const held = log.last(MAX_DECISIONS + 1)
  invariant(held.length <= MAX_DECISIONS, () => `the log holds ${held.length} records`)
  for (let i = 0; i < held.length; i++) {
    const r = held[i] as DecisionRecord & { n: number }
    invariant(Number.isSafeInteger(r.n) && r.n >= 1 && r.n <= log.lastN, () => `record number ${r.n} out of range (lastN ${log.lastN})`)
    if (i > 0) invariant(r.n > (held[i - 1] as { n: number }).n, 'record numbers do not increase')
    const { n: _n, ...plain } = r
    invariant(JSON.stringify(parseDecisionRecord(JSON.parse(JSON.stringify(plain)))) === JSON.stringify(plain), 'a held record does not re-read from JSON to itself')
    invariant(JSON.stringify(parseDecisionRecord(decodeCanonical(encodeCanonical(plain)))) === JSON.stringify(plain), 'a held record does not re-read from CBOR to itself')
    formatDecision(r)
  }
}

let scratch = ''
/**
 * Where the log appends what it takes: /dev/null, so 20,000 inputs write nothing; elsewhere a directory that does not
 * exist (each write fails and warns, which costs more: an error with its stack).
 */
let sink = ''
/** One logger for every input: making a pino logger costs more than the rest of an input. */
const LOG = silentLogger()

export const decisionRecordTarget: FuzzTarget = {
  name: 'decision-record',
  description: 'decision gossip messages → DecisionGossip validator → DecisionLog, and the log file → DecisionLog.load (never throws; accepted records re-read and print; log bounded and ordered)',
  typedErrors: [],
  setup: async () => {
    if (existsSync('/dev/null')) { sink = '/dev/null'; return }
    scratch = scratchDir('decisions')
    sink = path.join(scratch, 'missing', 'decisions.jsonl')
  },
  corpus: (rng) => [joinFrames([message(rng, SENDERS[0], 1), message(rng, SENDERS[1], 1), file(rng)], Uint8Array.of(1))],
  generate (rng) {
    const header = rng.int(256)
    const count = 1 + rng.int(FRAMES_MAX)
    const frames = Array.from({ length: count }, (_, i) => i === count - 1 && (header & 0x80) !== 0 ? file(rng) : message(rng, sender(header, i), i + 1))
    return joinFrames(frames, Uint8Array.of(header))
  },
  run (input) {
    const header = input[0] ?? 0
    const frames = splitFrames(input, 1, FRAMES_MAX)
    const fileBytes = (header & 0x80) !== 0 ? frames.pop() : undefined
    const log = new DecisionLog(sink, LOG, memoryIo(fileBytes ?? new Uint8Array(0)))
    log.load()
    if (fileBytes !== undefined) {
      const lines = log.last(MAX_DECISIONS).length
      DECISION_STATS.fileKept += lines
      DECISION_STATS.fileSkipped += new TextDecoder().decode(fileBytes).split('\n').filter((l) => l.trim() !== '').length - lines
      checkTail(fileBytes, header)
    }
    const pubsub = { topicValidators: new Map<string, (peer: unknown, message: unknown) => TopicValidatorResult>(), subscribe: () => {}, unsubscribe: () => {}, publish: async () => {} }
    const ctx = { cluster: { clusterId: CLUSTER }, net: { services: { pubsub } }, log: LOG } as unknown as ServiceContext
    const accepted: Array<{ record: DecisionRecord, from: string }> = []
    const gossip = new DecisionGossip(ctx, {
      isMember: (id) => MEMBERS.has(id), nowMs: () => 1_000_000,
      onRecord: (r, from) => { accepted.push({ record: r, from }); log.add(r) }
    })
    gossip.start()
    const validate = pubsub.topicValidators.get(decisionsTopic(CLUSTER))
    invariant(validate !== undefined, 'the gossip set no validator on its topic')
    frames.forEach((data, i) => {
      const from = sender(header, i)
      const before = accepted.length
      const verdict = validate(null, { type: 'signed', from: { toString: () => from }, data })
      invariant(Object.values(TopicValidatorResult).includes(verdict), () => `validator answered ${String(verdict)}`)
      const taken = accepted.length > before
      invariant(taken === (verdict === TopicValidatorResult.Accept), 'a record taken without Accept, or Accept without a record')
      if (taken) {
        DECISION_STATS.gossipAccepted++
        const { record: r } = accepted[before] as { record: DecisionRecord }
        invariant(MEMBERS.has(from), 'accepted a record from a non-member')
        invariant(r.by === from, () => `accepted a record naming ${r.by} from ${from}`)
      } else DECISION_STATS.gossipRefused++
    })
    gossip.stop()
    checkLogged(log)
  },
  close () {
    if (scratch !== '') rmSync(scratch, { recursive: true, force: true })
    scratch = ''
  }
}

/** The tail reader on the file in small chunks (header's low bits) against a whole-file split. */
function checkTail (bytes: Uint8Array, header: number): void {
  const linesMax = 1 + (header & 0x07)
  const lineBytesMax = 64 + (header & 0x70) * 8
  const tail = readTailLines('decisions.jsonl', { linesMax, lineBytesMax, bytesMax: 1 << 20, chunkBytes: 7 + (header & 0x1f) * 61 }, memoryIo(bytes))
  // Split on the bytes, as the reader does: a line's bound is in bytes, and bad UTF-8 grows when decoded.
  const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const all: Buffer[] = []
  for (let start = 0; start <= whole.length;) {
    const end = whole.indexOf(0x0a, start)
    all.push(whole.subarray(start, end < 0 ? whole.length : end))
    start = end < 0 ? whole.length + 1 : end + 1
  }
  const expected: string[] = []
  for (let i = all.length - 1; i >= 0 && expected.length < linesMax; i--) {
    const line = all[i] as Buffer
    const text = line.toString('utf8')
    if (line.length <= lineBytesMax && text.trim() !== '') expected.push(text)
  }
  expected.reverse()
  invariant(JSON.stringify(tail.lines) === JSON.stringify(expected), () => `tail lines differ from a whole read: ${tail.lines.length} vs ${expected.length}`)
}
