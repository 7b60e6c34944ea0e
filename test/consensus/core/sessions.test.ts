/**
 * Exactly-once proposal sessions: dedup with the first result, bounded clients and sequences,
 * deterministic eviction, and a snapshot round trip.
 */
import { describe, expect, it } from 'vitest'
import { EntryType, ProposalSessions, applyOnce } from '../../../src/consensus/core/index.js'
import type { Entry } from '../../../src/consensus/core/index.js'
import { MAX_SESSION_CLIENTS_DEFAULT, MAX_SESSIONS_PER_OWNER_DEFAULT } from '../../../src/consensus/core/constants.js'

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

  it('should keep an honest client when one owner records more sessions than the whole table holds', () => {
    // A key holder forwarding proposals under fresh ids `<its NodeId>/<k>` flushed every honest client,
    // whose retry then applied twice (audit). Default bounds: 10,000 clients, 64 per owner.
    const sessions = new ProposalSessions<string>()
    sessions.record({ clientId: 'honest/s1', seq: 1 }, 1, 'promote')
    const flood = MAX_SESSION_CLIENTS_DEFAULT + 100
    for (let k = 0; k < flood; k++) sessions.record({ clientId: `evil/${k}`, seq: 1 }, 2 + k, 'x')
    expect(sessions.lookup({ clientId: 'honest/s1', seq: 1 })).toEqual({ kind: 'duplicate', result: 'promote' })
    expect(applyOnce(sessions, entry(flood + 2, 'honest/s1', 1), () => 'again')).toEqual({ status: 'duplicate', result: 'promote' })
    // The flooding owner keeps its most recent sessions only.
    expect(sessions.size).toBe(1 + MAX_SESSIONS_PER_OWNER_DEFAULT)
    expect(sessions.lookup({ clientId: `evil/${flood - 1}`, seq: 1 }).kind).toBe('duplicate')
    expect(sessions.lookup({ clientId: `evil/${flood - 1 - MAX_SESSIONS_PER_OWNER_DEFAULT}`, seq: 1 }).kind).toBe('new')
  })

  it('should evict an owner\'s least recently applied session, and evict the same from a decoded copy', () => {
    const sessions = new ProposalSessions<string>(100, 4, 2)
    sessions.record({ clientId: 'n1/a', seq: 1 }, 1, 'a')
    sessions.record({ clientId: 'n2/x', seq: 1 }, 2, 'x')
    sessions.record({ clientId: 'n1/b', seq: 1 }, 3, 'b')
    sessions.record({ clientId: 'n1/a', seq: 2 }, 4, 'a2') // n1/a is now n1's most recent
    const copy = ProposalSessions.decode<string>(JSON.parse(JSON.stringify(sessions.encode())), undefined, 2)
    for (const table of [sessions, copy]) table.record({ clientId: 'n1/c', seq: 1 }, 5, 'c')
    expect(copy.encode()).toEqual(sessions.encode())
    expect(sessions.lookup({ clientId: 'n1/b', seq: 1 }).kind).toBe('new')
    expect(sessions.lookup({ clientId: 'n1/a', seq: 2 }).kind).toBe('duplicate')
    expect(sessions.lookup({ clientId: 'n2/x', seq: 1 }).kind).toBe('duplicate')
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
