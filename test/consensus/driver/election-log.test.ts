/**
 * Goal: a node says why it campaigned or stepped down as leader (issue 16: at 50 nodes a run had two
 * elections with no leader killed, and no log line said why). Method: three drivers on the loopback
 * network, each with a logger that records its lines; the leader cut off from both followers, then a
 * leader that hands leadership over.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { RaftNode } from '../../../src/consensus/raft-node.js'
import type { Logger } from '../../../src/consensus/raft-node.js'
import type { NodeId } from '../../../src/consensus/core/index.js'
import { ELECTION_LINES_KEPT } from '../../../src/consensus/constants.js'
import { KvMachine, LoopbackNetwork, newStorage, startNode, startThreeVoters, waitUntil } from './harness.js'
import type { TestNode } from './harness.js'

interface Line { fields: Record<string, unknown>, msg: string }

/** The harness's election timeout is 10 ticks of 10 ms; a little under it allows for timer rounding. */
const ELECTION_TIMEOUT_MS = 100
const SILENCE_FLOOR_MS = ELECTION_TIMEOUT_MS - 10

function recordingLoggers (): { logger: (id: NodeId) => Logger, lines: (id: NodeId) => Line[] } {
  const byNode = new Map<NodeId, Line[]>()
  const lines = (id: NodeId): Line[] => {
    let mine = byNode.get(id)
    if (mine === undefined) { mine = []; byNode.set(id, mine) }
    return mine
  }
  const logger = (id: NodeId): Logger => {
    const push = (obj: object | string, msg?: string): void => {
      if (typeof obj === 'object') lines(id).push({ fields: obj as Record<string, unknown>, msg: msg ?? '' })
    }
    return { info: push, warn: push, debug: () => {} }
  }
  return { logger, lines }
}

const hasLine = (lines: Line[], msg: string): boolean => lines.some((line) => line.msg === msg)

describe('election log lines', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  it('should say that a cut-off leader stepped down for want of a quorum, and how long its leader was silent to the follower that campaigned', async () => {
    const network = new LoopbackNetwork()
    const { logger, lines } = recordingLoggers()
    const [a, b, c] = await startThreeVoters(network, nodes, undefined, { logger }) as [TestNode, TestNode, TestNode]
    const term = a.raft.status().term
    const before = a.raft.electionCounters()

    network.isolate('a', ['b', 'c'])
    await waitUntil(() => !a.raft.isLeader() && (b.raft.isLeader() || c.raft.isLeader()), 5000, 'a new leader')
    // The lines are written after the batch that follows the change of role.
    await waitUntil(() => hasLine(lines('a'), 'stepped down as leader') && hasLine([...lines('b'), ...lines('c')], 'campaigning'), 5000, 'the lines')

    const stepDown = lines('a').find((line) => line.msg === 'stepped down as leader')
    expect(stepDown?.fields).toMatchObject({ id: 'a', reason: 'no quorum heard within an election timeout', previousTerm: term, term })
    const silentMs = stepDown?.fields.silentMs as Record<string, number>
    expect(silentMs.b).toBeGreaterThanOrEqual(SILENCE_FLOOR_MS)
    expect(silentMs.c).toBeGreaterThanOrEqual(SILENCE_FLOOR_MS)
    expect(Object.keys(silentMs).sort()).toEqual(['b', 'c'])

    const campaigns = [...lines('b'), ...lines('c')].filter((line) => line.msg === 'campaigning')
    expect(campaigns.length).toBeGreaterThan(0)
    const first = campaigns[0]?.fields
    expect(first).toMatchObject({ why: 'no word from a leader within the election timeout', previousLeader: 'a' })
    expect(first?.leaderSilentMs).toBeGreaterThanOrEqual(SILENCE_FLOOR_MS)

    // The counters behind the metrics say the same, for every event.
    const after = a.raft.electionCounters()
    expect(after.stepDowns.no_quorum - before.stepDowns.no_quorum).toBe(1)
    expect(after.stepDowns.higher_term).toBe(before.stepDowns.higher_term)
    const campaignsOf = (node: TestNode): number => node.raft.electionCounters().campaigns.election_timeout
    expect(campaignsOf(b) + campaignsOf(c)).toBeGreaterThanOrEqual(campaigns.length)
    expect(b.raft.electionCounters().campaigns.handed_over + c.raft.electionCounters().campaigns.handed_over).toBe(0)
  })

  it('should say that a leader stepped down for a higher term when it handed leadership over, and that the new one campaigned because of it', async () => {
    const network = new LoopbackNetwork()
    const { logger, lines } = recordingLoggers()
    const [a, b] = await startThreeVoters(network, nodes, undefined, { logger }) as [TestNode, TestNode, TestNode]
    const term = a.raft.status().term
    const [aBefore, bBefore] = [a.raft.electionCounters(), b.raft.electionCounters()]

    a.raft.transferLeadership('b')
    await waitUntil(() => b.raft.isLeader() && !a.raft.isLeader(), 5000, 'b leads')
    await waitUntil(() => hasLine(lines('a'), 'stepped down as leader') && hasLine(lines('b'), 'became leader'), 5000, 'the lines')

    expect(lines('a').find((line) => line.msg === 'stepped down as leader')?.fields)
      .toMatchObject({ id: 'a', reason: 'a higher term', previousTerm: term, term: term + 1 })
    const campaign = lines('b').find((line) => line.msg === 'campaigning')?.fields
    expect(campaign).toMatchObject({ id: 'b', why: 'the leader handed leadership to this node', previousLeader: 'a' })
    // The hand-over message itself came from a: no silence to speak of.
    expect(campaign?.leaderSilentMs).toBeLessThan(ELECTION_TIMEOUT_MS)
    expect(lines('b').some((line) => line.msg === 'became leader')).toBe(true)
    expect(a.raft.electionCounters().stepDowns.higher_term - aBefore.stepDowns.higher_term).toBe(1)
    expect(b.raft.electionCounters().campaigns.handed_over - bBefore.campaigns.handed_over).toBe(1)
  })

  it('should say that a lone voter elected itself, not that a leader fell silent or handed over', async () => {
    const network = new LoopbackNetwork()
    const { logger, lines } = recordingLoggers()
    const a = startNode(network, 'a', newStorage(), { bootstrap: true, logger: logger('a') })
    nodes.push(a)
    await waitUntil(() => hasLine(lines('a'), 'campaigning'), 5000, 'the line')
    expect(lines('a').find((line) => line.msg === 'campaigning')?.fields)
      .toMatchObject({ id: 'a', why: 'the only voter, with no leader', previousLeader: null, leaderSilentMs: null })
    expect(a.raft.electionCounters()).toMatchObject({ campaigns: { election_timeout: 0, handed_over: 0, only_voter: 1 }, stepDowns: { higher_term: 0, no_quorum: 0 } })
  })

  it('should log a stall of a voter as long as an election timeout, not a shorter one nor one of a non-voter, and name a recent one on the campaign line', async () => {
    const { logger, lines } = recordingLoggers()
    let now = 0
    const tickMs = 100
    const started: RaftNode<unknown>[] = []
    // The test is the only clock (as in late-tick.test.ts): the driver's timer callback is called directly.
    const manualNode = (id: NodeId, bootstrap: boolean): { node: RaftNode<unknown>, fire: () => Promise<void> } => {
      const node = new RaftNode<unknown>({
        id, tickMs, electionTicks: 5, heartbeatTicks: 1, bootstrap, retryIntervalMs: 50, operationTimeoutMs: 5_000
      }, {
        storage: newStorage(),
        transport: { send: () => {}, setHandler: () => {} },
        stateMachine: new KvMachine(),
        logger: logger(id),
        monotonicMs: () => now,
        ticker: { every: () => () => {} }
      })
      node.start()
      started.push(node)
      const fire = async (): Promise<void> => {
        (node as unknown as { onTick: () => void }).onTick()
        await new Promise((resolve) => setImmediate(resolve))
      }
      return { node, fire }
    }
    const stalls = (id: NodeId): Array<Record<string, unknown>> => lines(id).filter((line) => line.msg.startsWith('this process stalled')).map((line) => line.fields)
    try {
      const { node: a, fire } = manualNode('a', true)
      now += tickMs; await fire()
      now += 3_000; await fire()
      expect(stalls('a')).toEqual([{ id: 'a', role: 'follower', term: 1, gapMs: 3_000, linesSkipped: 0 }])
      // Within the line's interval (10 s) a second long stall is counted, not logged.
      now += 600; await fire()
      expect(stalls('a')).toHaveLength(1)
      // The count behind the metrics takes every one.
      expect(a.electionCounters().stalls).toBe(2)

      // A lone voter campaigns after its election timeout (5 to 9 ticks), within two timeouts of the last
      // stall; the stall line skipped is not counted against the campaign lines.
      for (let i = 0; i < 20 && !hasLine(lines('a'), 'campaigning'); i++) { now += tickMs; await fire() }
      expect(lines('a').find((line) => line.msg === 'campaigning')?.fields).toMatchObject({ stalledMs: 600, linesSkipped: 0 })

      now += tickMs + 300; await fire()
      expect(stalls('a')).toHaveLength(1)
      // Past the interval, the next long stall is logged with the count of those skipped.
      now += 11_000; await fire()
      expect(stalls('a')).toHaveLength(2)
      expect(stalls('a')[1]).toMatchObject({ role: 'leader', gapMs: 11_000, linesSkipped: 1 })
      now += 11_000; await fire()
      expect(stalls('a')[2]).toMatchObject({ gapMs: 11_000, linesSkipped: 0 })
      expect(a.electionCounters().stalls).toBe(4)
      // The lines logged are kept for readers that start later (the dashboard), as logged, the newest last.
      expect(a.recentElectionLines().filter((line) => line.kind === 'stall').map((line) => line.fields.gapMs)).toEqual([3_000, 11_000, 11_000])
      expect(a.recentElectionLines().map((line) => line.kind)).toContain('campaign')
      // …and heard as they are logged; at most ELECTION_LINES_KEPT are kept.
      const heard: number[] = []
      a.onElectionLine((line) => { heard.push(line.fields.gapMs as number) })
      for (let i = 0; i < ELECTION_LINES_KEPT; i++) { now += 11_000 + i; await fire() }
      expect(heard).toEqual(Array.from({ length: ELECTION_LINES_KEPT }, (_, i) => 11_000 + i))
      expect(a.recentElectionLines().map((line) => line.fields.gapMs)).toEqual(heard)

      // A node not (yet) in any configuration, as a joiner before its admission: its stall moves no election.
      const joiner = manualNode('j', false)
      await joiner.fire()
      now += 3_000; await joiner.fire()
      expect(stalls('j')).toEqual([])
      // Counted though not logged: a stall that long on any node is worth an alert.
      expect(joiner.node.electionCounters().stalls).toBe(1)
      expect((joiner.node as unknown as { elections: { lastStall?: { gapMs: number } } }).elections.lastStall?.gapMs).toBe(3_000)
    } finally {
      for (const node of started) node.stop()
    }
  })
})
