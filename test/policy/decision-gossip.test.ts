/**
 * The decisions topic's validator (src/policy/decision-gossip.ts), driven directly with signed messages: no
 * libp2p. Goal: what one member sends is bounded — a member that publishes records as fast as gossip carries
 * them gets only so many accepted (each is parsed, logged and written to disk on every node), and the rest are
 * ignored with a counted drop reason.
 */
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { Message } from '@libp2p/gossipsub'
import { afterEach, describe, expect, it } from 'vitest'
import { encodeCanonical } from '../../src/codec/index.js'
import { DecisionGossip } from '../../src/policy/decision-gossip.js'
import { DecisionLog } from '../../src/policy/decision-log.js'
import { DECISION_RECORDS_PER_SENDER_MAX, DECISION_SENDER_WINDOW_MS, DECISION_SENDERS_MAX, MAX_DECISIONS, decisionsTopic } from '../../src/policy/constants.js'
import { SenderBudget, toDecisionRecord } from '../../src/policy/core/index.js'
import type { Decision } from '../../src/policy/core/index.js'
import type { ServiceContext } from '../../src/node/service.js'
import { capturingLogger, tempDir } from '../node/helpers.js'

const decision: Decision = {
  atMs: 1_000_000, trigger: 'membership', leader: true, proposals: [],
  withheld: [{ policy: 'auto-replacement', what: 'demote 1 etcd', code: 'pinned', why: 'etcd has 4/3', retryOn: 'operator' }]
}

type Validate = (peer: unknown, message: Message) => TopicValidatorResult

function signed (from: string, seq: number, term = 1): Message {
  const data = encodeCanonical(toDecisionRecord(decision, { by: from, term, seq }))
  return { type: 'signed', from: { toString: () => from }, data, topic: decisionsTopic('c1'), sequenceNumber: BigInt(seq), signature: new Uint8Array(), key: {} } as unknown as Message
}

describe('decision gossip', () => {
  let dir = ''
  afterEach(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

  it('should accept at most DECISION_RECORDS_PER_SENDER_MAX records per window from one sender, ignore the rest, and keep the leader\'s', async () => {
    dir = await tempDir()
    const { log } = capturingLogger()
    const decisions = new DecisionLog(path.join(dir, 'policy', 'decisions.jsonl'), log)
    decisions.load()
    const validators = new Map<string, Validate>()
    const pubsub = { topicValidators: validators, subscribe: () => {}, unsubscribe: () => {} }
    const ctx = { cluster: { clusterId: 'c1' }, net: { services: { pubsub } }, log } as unknown as ServiceContext
    let nowMs = 5_000
    const gossip = new DecisionGossip(ctx, { isMember: () => true, onRecord: (record) => { decisions.add(record) }, nowMs: () => nowMs })
    gossip.start()
    const validate = validators.get(decisionsTopic('c1'))!
    // The leader's record, then a member floods: twice the log's size at once.
    expect(validate(undefined, signed('leader', 1))).toBe(TopicValidatorResult.Accept)
    const results = Array.from({ length: 2 * MAX_DECISIONS }, (_, i) => validate(undefined, signed('flooder', i + 1)))
    expect(results.filter((r) => r === TopicValidatorResult.Accept)).toHaveLength(DECISION_RECORDS_PER_SENDER_MAX)
    expect(results.filter((r) => r === TopicValidatorResult.Ignore)).toHaveLength(2 * MAX_DECISIONS - DECISION_RECORDS_PER_SENDER_MAX)
    expect(gossip.drops.get('rate')).toBe(2 * MAX_DECISIONS - DECISION_RECORDS_PER_SENDER_MAX)
    expect(decisions.last(MAX_DECISIONS).filter((r) => r.by === 'leader')).toHaveLength(1)
    // Another sender has its own budget, and the flooder's comes back with the next window.
    expect(validate(undefined, signed('leader', 2))).toBe(TopicValidatorResult.Accept)
    nowMs += DECISION_SENDER_WINDOW_MS
    expect(validate(undefined, signed('flooder', 2 * MAX_DECISIONS + 1))).toBe(TopicValidatorResult.Accept)
    gossip.stop()
  })

  it('should drop a non-member\'s record before it is budgeted or decoded, so made-up identities cannot push a flooding member out of the budget', async () => {
    // The budget tracks DECISION_SENDERS_MAX senders and forgets the least recently heard. Taken before the member
    // check, identities anyone with the cluster key can mint pushed a member's spent window out, and its flood went on.
    dir = await tempDir()
    const { log } = capturingLogger()
    const decisions = new DecisionLog(path.join(dir, 'policy', 'decisions.jsonl'), log)
    decisions.load()
    const validators = new Map<string, Validate>()
    const pubsub = { topicValidators: validators, subscribe: () => {}, unsubscribe: () => {} }
    const ctx = { cluster: { clusterId: 'c1' }, net: { services: { pubsub } }, log } as unknown as ServiceContext
    const gossip = new DecisionGossip(ctx, { isMember: (id) => id === 'flooder', onRecord: (record) => { decisions.add(record) }, nowMs: () => 5_000 })
    gossip.start()
    const validate = validators.get(decisionsTopic('c1'))!
    for (let seq = 1; seq <= DECISION_RECORDS_PER_SENDER_MAX; seq++) expect(validate(undefined, signed('flooder', seq))).toBe(TopicValidatorResult.Accept)
    for (let i = 0; i < DECISION_SENDERS_MAX; i++) expect(validate(undefined, signed(`made-up-${i}`, 1))).toBe(TopicValidatorResult.Ignore)
    expect(gossip.drops.get('not-member')).toBe(DECISION_SENDERS_MAX)
    expect(validate(undefined, signed('flooder', DECISION_RECORDS_PER_SENDER_MAX + 1))).toBe(TopicValidatorResult.Ignore)
    expect(gossip.drops.get('rate')).toBe(1)
    // Not decoded either: garbage from a non-member is not-member, not malformed.
    const garbage = { ...signed('made-up-x', 1), data: new Uint8Array([0xff, 0x00]) } as unknown as Message
    expect(validate(undefined, garbage)).toBe(TopicValidatorResult.Ignore)
    expect(gossip.drops.get('malformed')).toBeUndefined()
    expect(decisions.last(MAX_DECISIONS)).toHaveLength(DECISION_RECORDS_PER_SENDER_MAX)
    gossip.stop()
  })
})

describe('SenderBudget', () => {
  it('should track at most sendersMax senders, forgetting the least recently heard', () => {
    const budget = new SenderBudget({ recordsMax: 1, windowMs: 1_000, sendersMax: 8 })
    for (let i = 0; i < 100; i++) expect(budget.take(`s${i}`, 0)).toBe(true)
    expect(budget.senders).toBe(8)
    // s99 is tracked (spent); s0 was forgotten and starts afresh.
    expect(budget.take('s99', 1)).toBe(false)
    expect(budget.take('s0', 1)).toBe(true)
    expect(budget.take('s99', 1_000)).toBe(true)
  })
})
