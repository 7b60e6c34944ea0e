/**
 * Pure pieces of the CLI's output: the decision list folds repeats, tables align under a header, the pretty log
 * line, and the exit code of each error.
 */
import { describe, expect, it } from 'vitest'
import { targetRequest } from '../../src/cli/shape-commands.js'
import { printable, table } from '../../src/cli/output.js'
import { electionsSummary, phiText, recoverySummary, statusRows } from '../../src/cli/node-commands.js'
import { formatLogLine } from '../../src/log/index.js'

describe('cli output', () => {
  it('should print an infinite phi (JSON null, a member silent for long) as ∞', () => {
    expect([phiText(null), phiText(0), phiText(12.345)]).toEqual(['∞', '0.0', '12.3'])
  })

  it('should align table columns under the header', () => {
    expect(table([['NODE', 'HEALTH'], ['abc', 'dead'], ['a', 'alive']])).toBe('NODE  HEALTH\nabc   dead\na     alive\n')
  })

  it('should escape what a terminal would act on in table cells, and leave other text alone', () => {
    expect(printable('zone-a é 😀 ∞')).toBe('zone-a é 😀 ∞')
    expect(printable('\u001b[31mred\u0007\u007f\u009b\r\n\t\\')).toBe('\\x1b[31mred\\x07\\x7f\\x9b\\r\\n\\t\\\\')
    expect(printable('a\u202eb\u2066c\u2028')).toBe('a\\u202eb\\u2066c\\u2028')
    // Columns align on the escaped text.
    expect(table([['L', 'X'], ['\u001b', 'y']])).toBe('L     X\n\\x1b  y\n')
  })

  it('should turn a pino JSON line into one readable line and pass other text through', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 12, 3, 4, 567), pid: 1, component: 'revoada:consensus', msg: 'removed', peer: 'x y', n: 3 })
    expect(formatLogLine(line)).toBe('12:03:04.567 WARN  consensus  removed peer="x y" n=3')
    expect(formatLogLine('not json')).toBe('not json')
  })

  it('should build target requests and force only with --yes', () => {
    expect(targetRequest('ha-three', {})).toEqual({ preset: 'ha-three' })
    expect(targetRequest(undefined, { etcd: '5', minWorkers: '0', yes: true })).toEqual({ target: { etcd: 5, minWorkers: 0 }, force: true })
    expect(targetRequest(undefined, { etcd: '4', yes: true })).toEqual({ target: { etcd: 4 }, force: true })
    expect(() => targetRequest(undefined, { etcd: '4' })).toThrow(/even/)
  })
})

describe('electionsSummary', () => {
  it('should count campaigns and step-downs with their causes, and stalls', () => {
    expect(electionsSummary({ campaigns: { election_timeout: 2, handed_over: 1, only_voter: 0 }, stepDowns: { higher_term: 0, no_quorum: 1 }, stalls: 3 }))
      .toBe('3 campaigns (election timeout 2, handed over 1), 1 step-down (no quorum 1), 3 stalls of an election timeout or more')
    expect(electionsSummary({ campaigns: { election_timeout: 0, handed_over: 0, only_voter: 1 }, stepDowns: { higher_term: 0, no_quorum: 0 }, stalls: 1 }))
      .toBe('1 campaign (only voter 1), 0 step-downs, 1 stall of an election timeout or more')
  })
})

describe('recoverySummary', () => {
  it('should tell a running quorum recovery from one to run again, with its lost voters', () => {
    expect(recoverySummary({ lostVoters: ['a', 'b'], running: true })).toBe('recover-quorum running, lost a b')
    expect(recoverySummary({ lostVoters: ['a'], running: false })).toBe('unfinished, lost a: run revoada recover-quorum again to resume it')
  })
})

describe('statusRows', () => {
  const base = {
    nodeId: 'n1', clusterId: 'c1', addresses: [], peers: [], pid: 1, dataDir: '/d', role: 'follower', term: 2, leader: 'n2',
    commitIndex: 5, appliedIndex: 5, roles: [], voters: ['n2'], learners: ['n1'], isLeader: false
  }
  const labels = (rows: Array<[string, string]>): string[] => rows.map(([k]) => k)

  // docs/OPERATIONS.md "When things fail": the disk-full and lost-raft-directory items tell the operator to look at
  // `revoada status`; without --json it showed neither (the fields were in the JSON only).
  it('should show a log the node cannot write and a rejoin under way, and neither when all is well', () => {
    expect(labels(statusRows({ ...base, storage: { writable: true } }))).not.toContain('Storage:')
    expect(labels(statusRows(base))).not.toContain('Rejoining:')
    const full = statusRows({ ...base, storage: { writable: false, error: 'no space left writing /d/raft/wal-1.log (write: ENOSPC)', sinceMs: Date.UTC(2026, 11, 7, 20) } })
    expect(full).toContainEqual(['Storage:', 'not writable since 2026-12-07T20:00:00.000Z: no space left writing /d/raft/wal-1.log (write: ENOSPC); proposals refused until the disk takes writes'])
    // A time no Date can hold is left out rather than thrown (toISOString's RangeError).
    expect(statusRows({ ...base, storage: { writable: false, error: 'EIO', sinceMs: 1e20 } })).toContainEqual(['Storage:', 'not writable: EIO; proposals refused until the disk takes writes'])
    expect(statusRows({ ...base, rejoining: true })).toContainEqual(['Rejoining:', 'raft directory lost: waiting to be re-admitted as a learner; it does not vote'])
  })

  // A node whose Raft driver stopped (a halt, or stopping) answers `stopped: true` (RaftNode.status).
  it('should say the Raft driver stopped rather than print its role', () => {
    expect(statusRows({ ...base, role: 'follower', leader: null, stopped: true })).toContainEqual(['Raft:', 'stopped (term 2): the node is stopping or halted, see its log'])
    expect(statusRows(base)).toContainEqual(['Raft:', 'follower, term 2'])
  })
})
