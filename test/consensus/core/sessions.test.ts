/**
 * Exactly-once proposal sessions: dedup with the first result, bounded clients and sequences,
 * deterministic eviction, and a snapshot round trip.
 */
import { describe, expect, it } from 'vitest'
import { EntryType, ProposalSessions, applyOnce } from '../../../src/consensus/core/index.js'
import type { Entry } from '../../../src/consensus/core/index.js'

function entry (index: number, clientId: string, seq: number): Entry {
  return { index, term: 1, type: EntryType.Normal, data: new Uint8Array([index]), proposalId: { clientId, seq } }
}

describe('ProposalSessions', () => {
  it('should apply once and return the first result when a proposal id repeats', () => {
    const sessions = new ProposalSessions<string>()
    let calls = 0
    const apply = (e: Entry): string => { calls++; return `r${e.index}` }
    expect(applyOnce(sessions, entry(1, 'c', 1), apply)).toEqual({ status: 'applied', result: 'r1' })
    expect(applyOnce(sessions, entry(2, 'c', 1), apply)).toEqual({ status: 'duplicate', result: 'r1' })
    expect(calls).toBe(1)
  })

  it('should always apply when an entry has no proposal id', () => {
    const sessions = new ProposalSessions<string>()
    const plain: Entry = { index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array() }
    expect(applyOnce(sessions, plain, () => 'x').status).toBe('applied')
    expect(applyOnce(sessions, { ...plain, index: 2 }, () => 'x').status).toBe('applied')
    expect(sessions.size).toBe(0)
  })

  it('should evict the least recently applied client when the table is full', () => {
    const sessions = new ProposalSessions<string>(2)
    sessions.record({ clientId: 'a', seq: 1 }, 1, 'a1')
    sessions.record({ clientId: 'b', seq: 1 }, 2, 'b1')
    sessions.record({ clientId: 'a', seq: 2 }, 3, 'a2')
    sessions.record({ clientId: 'c', seq: 1 }, 4, 'c1')
    expect(sessions.size).toBe(2)
    expect(sessions.lookup({ clientId: 'b', seq: 1 })).toEqual({ kind: 'new' })
    expect(sessions.lookup({ clientId: 'a', seq: 2 })).toEqual({ kind: 'duplicate', result: 'a2' })
  })

  it('should refuse an old sequence as stale when its result was dropped from the window', () => {
    const sessions = new ProposalSessions<string>(10, 2)
    sessions.record({ clientId: 'a', seq: 1 }, 1, 'x')
    sessions.record({ clientId: 'a', seq: 2 }, 2, 'y')
    sessions.record({ clientId: 'a', seq: 3 }, 3, 'z')
    expect(sessions.lookup({ clientId: 'a', seq: 1 })).toEqual({ kind: 'stale' })
    expect(applyOnce(sessions, entry(4, 'a', 1), () => 'again')).toEqual({ status: 'stale' })
  })

  it('should behave identically when decoded from its encoding', () => {
    const sessions = new ProposalSessions<string>(3, 4)
    for (let i = 1; i <= 10; i++) sessions.record({ clientId: `c${i % 4}`, seq: i }, i, `r${i}`)
    const copy = ProposalSessions.decode(JSON.parse(JSON.stringify(sessions.encode())))
    expect(copy.encode()).toEqual(sessions.encode())
    copy.record({ clientId: 'new', seq: 1 }, 11, 'n')
    sessions.record({ clientId: 'new', seq: 1 }, 11, 'n')
    expect(copy.encode()).toEqual(sessions.encode())
  })

  it('should refuse every malformed table with SessionsDataInvalidError, and tryDecode with null', () => {
    const good = { maxClients: 4, maxSeqsPerClient: 2, clients: [{ clientId: 'c', lastIndex: 3, floorSeq: 1, results: [[2, 'r2'], [3, 'r3']] }] }
    const client = good.clients[0]!
    const bad: unknown[] = [
      null, new Uint8Array(3), [], { ...good, maxClients: 0 }, { ...good, maxSeqsPerClient: -1 },
      { ...good, maxSeqsPerClient: 2n }, { ...good, maxClients: 1.5 }, { ...good, clients: undefined },
      { ...good, maxClients: 1, clients: [client, { ...client, clientId: 'd' }] },
      { ...good, clients: [client, client] }, { ...good, clients: [{ ...client, clientId: 7 }] },
      { ...good, clients: [{ ...client, lastIndex: -1 }] }, { ...good, clients: [{ ...client, floorSeq: '1' }] },
      { ...good, clients: [{ ...client, results: [[]] }] }, { ...good, clients: [{ ...client, results: [[2, 'a'], [2, 'b']] }] },
      { ...good, clients: [{ ...client, results: [[3, 'a'], [2, 'b']] }] }, { ...good, clients: [{ ...client, results: [[1, 'a']] }] },
      { ...good, clients: [{ ...client, results: [[2, 'a'], [3, 'b'], [4, 'c']] }] },
      { ...good, clients: [{ ...client, results: [[2, undefined]] }] }
    ]
    expect(ProposalSessions.decode(good).encode()).toEqual(good)
    for (const data of bad) {
      expect(() => ProposalSessions.decode(data), String(data)).toThrow(expect.objectContaining({ name: 'SessionsDataInvalidError' }))
      expect(ProposalSessions.tryDecode(data)).toBeNull()
    }
    const isString = (v: unknown): v is string => typeof v === 'string'
    expect(() => ProposalSessions.decode({ ...good, clients: [{ ...client, results: [[2, 5]] }] }, isString))
      .toThrow(expect.objectContaining({ name: 'SessionsDataInvalidError' }))
  })
})
