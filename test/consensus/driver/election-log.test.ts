/**
 * Goal: a node says why it campaigned or stepped down as leader (issue 16: at 50 nodes a run had two
 * elections with no leader killed, and no log line said why). Method: three drivers on the loopback
 * network, each with a logger that records its lines; the leader cut off from both followers, then a
 * leader that hands leadership over.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { Logger } from '../../../src/consensus/raft-node.js'
import type { NodeId } from '../../../src/consensus/core/index.js'
import { LoopbackNetwork, newStorage, startNode, startThreeVoters, waitUntil } from './harness.js'
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

describe('election log lines', () => {
  const nodes: TestNode[] = []
  afterEach(() => { for (const node of nodes.splice(0)) node.raft.stop() })

  it('should say that a cut-off leader stepped down for want of a quorum, and how long its leader was silent to the follower that campaigned', async () => {
    const network = new LoopbackNetwork()
    const { logger, lines } = recordingLoggers()
    const [a, b, c] = await startThreeVoters(network, nodes, undefined, { logger }) as [TestNode, TestNode, TestNode]
    const term = a.raft.status().term

    network.isolate('a', ['b', 'c'])
    await waitUntil(() => !a.raft.isLeader() && (b.raft.isLeader() || c.raft.isLeader()), 5000, 'a new leader')

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
    // No stall of these processes was seen, so none is reported.
    expect(first?.stalledMs).toBeUndefined()
  })

  it('should say that a leader stepped down for a higher term when it handed leadership over, and that the new one campaigned because of it', async () => {
    const network = new LoopbackNetwork()
    const { logger, lines } = recordingLoggers()
    const [a, b] = await startThreeVoters(network, nodes, undefined, { logger }) as [TestNode, TestNode, TestNode]
    const term = a.raft.status().term

    a.raft.transferLeadership('b')
    await waitUntil(() => b.raft.isLeader() && !a.raft.isLeader(), 5000, 'b leads')

    expect(lines('a').find((line) => line.msg === 'stepped down as leader')?.fields)
      .toMatchObject({ id: 'a', reason: 'a higher term', previousTerm: term, term: term + 1 })
    const campaign = lines('b').find((line) => line.msg === 'campaigning')?.fields
    expect(campaign).toMatchObject({ id: 'b', why: 'the leader handed leadership to this node', previousLeader: 'a' })
    // a was heartbeating b until the hand-over: well under an election timeout of silence.
    expect(campaign?.leaderSilentMs).toBeLessThan(ELECTION_TIMEOUT_MS)
    expect(lines('b').some((line) => line.msg === 'became leader')).toBe(true)
  })

  it('should say that a lone voter elected itself, not that a leader fell silent or handed over', async () => {
    const network = new LoopbackNetwork()
    const { logger, lines } = recordingLoggers()
    const a = startNode(network, 'a', newStorage(), { bootstrap: true, logger: logger('a') })
    nodes.push(a)
    await waitUntil(() => a.raft.isLeader(), 5000, 'a leads')
    expect(lines('a').find((line) => line.msg === 'campaigning')?.fields)
      .toMatchObject({ id: 'a', why: 'the only voter, with no leader', previousLeader: null, leaderSilentMs: null })
  })
})
