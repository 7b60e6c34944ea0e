/**
 * The policy engine's own bookkeeping (src/policy/engine.ts), driven through its public surface with fakes:
 * no libp2p, no Raft. A scripted policy says what to propose and records what the engine handed it; a fake
 * consensus service holds the shape, the leadership and each proposal until the test settles it; a fake
 * membership service delivers events; vitest's fake timers (Date and performance included) stand in for time.
 * What is checked: which proposals reach `propose`, what the gates withheld and why, when an evaluation runs,
 * and the flap and role-gain histories every node keeps.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { PolicyEngine } from '../../src/policy/engine.js'
import { MeshShape, TARGET_PRESETS } from '../../src/consensus/shape/core/index.js'
import type { ApplyResult, Command, Outcome } from '../../src/consensus/shape/core/index.js'
import type { Policy, PolicyInput, Proposal, Priority } from '../../src/policy/core/index.js'
import type { DamperOptions } from '../../src/policy/core/index.js'
import { REJECTED_RETRY_MS_MAX, REJECTED_RETRY_MS_MIN } from '../../src/policy/core/index.js'
import type { ServiceContext } from '../../src/node/service.js'
import type { Member, MembershipEvent, MembershipView } from '../../src/membership/core/index.js'
import type { ProposalResult } from '../../src/consensus/raft-node.js'
import { silentLogger } from '../../src/log/index.js'
import { formatDecision } from '../../src/cli/policy-commands.js'
import { tempDir } from '../node/helpers.js'

const T0 = 1_000_000
const DEBOUNCE_MS = 250
const MASTER = ['api-server', 'etcd', 'scheduler', 'controller-manager'] as const

/** L holds every control-plane role (the one voter), s the scheduler; a, b, c, d, e are workers, learners in Raft. */
function baseShape (): MeshShape {
  return MeshShape.fromData({
    members: [['L', [...MASTER]], ['a', []], ['b', []], ['c', []], ['d', []], ['e', []], ['s', ['scheduler']]],
    target: TARGET_PRESETS['ha-three'],
    protocol: 7
  })
}

/** `shape` with `id` holding `roles` on top of what it holds. */
function withRoles (shape: MeshShape, id: string, roles: string[]): MeshShape {
  const data = shape.toData()
  return MeshShape.fromData({ ...data, members: data.members.map(([m, r]) => [m, m === id ? [...r, ...roles] : r]) })
}

const member = (nodeId: string, health: Member['health'] = 'alive'): Member => ({
  nodeId,
  health,
  phi: 0,
  sinceMs: 0,
  lastHeartbeatMs: 0,
  state: {
    nodeId, labels: { zone: 'z' }, capacity: { cpuMillis: 2000, memoryBytes: 4 * 2 ** 30, storageBytes: 1e10, pods: 110 }, uptimeMs: 1000
  } as unknown as Member['state']
})

const promote = (nodeId: string, roles: string[], priority: Priority): Proposal => ({
  policy: 'scripted', command: { kind: 'promote', nodeId, roles } as Command, reason: 'scaling-up', why: `promote ${nodeId}`, priority
})

interface Pending { command: Command, options: unknown, atMs: number, settle: (outcome: Outcome) => void, fail: (err: Error) => void }
interface Evaluation { atMs: number, flappedAtMs: Map<string, number>, gainedAtMs: Map<string, number>, view: PolicyInput['view'] }

interface Harness {
  engine: PolicyEngine
  /** What the scripted policy proposes on its next evaluations. */
  script: { proposals: (input: PolicyInput) => Proposal[] }
  evaluations: Evaluation[]
  proposed: Pending[]
  /** When set, each proposal is settled with what it returns as soon as it is made (a state machine's verdict). */
  verdict: ((command: Command) => Outcome) | undefined
  members: Member[]
  /** Peers the leader has not heard from since it began leading (consensus `unheardPeers`). */
  unheard: Set<string> | undefined
  /** Raft learners (consensus `configuration().learners`). */
  learners: string[]
  /** The Raft term, and the term of the last entry this node applied (a new leader's lags until it applies one of its own). */
  term: number
  appliedTerm: number
  /** An entry of an earlier term is the next to apply (consensus `priorTermsApplied()` is false until it is). */
  earlierTermPending: boolean
  emit: (...events: MembershipEvent[]) => void
  applyShape: (shape: MeshShape, index: number) => void
  becomeLeader: () => void
  stepDown: () => void
}

const event = (kind: MembershipEvent['kind'], nodeId: string, atMs: number, generation = 1): MembershipEvent => ({ kind, nodeId, atMs, generation })

const engines: PolicyEngine[] = []

async function harness (options: { leader?: boolean, commit?: number, damper?: Partial<DamperOptions>, policyConfig?: Record<string, unknown> } = {}): Promise<Harness> {
  const dataDir = await tempDir('revoada-engine-')
  let shape = baseShape()
  let leader = options.leader ?? true
  const shapeListeners = new Set<(shape: MeshShape, result: ApplyResult) => void>()
  const stateListeners = new Set<(status: { role: string }) => void>()
  const viewListeners = new Set<(view: MembershipView, events: MembershipEvent[]) => void>()
  const view = (): MembershipView => ({ self: 'L', members: h.members, atMs: Date.now() })
  const h: Harness = {
    engine: undefined as unknown as PolicyEngine,
    script: { proposals: () => [] },
    evaluations: [],
    proposed: [],
    verdict: undefined,
    members: ['L', 'a', 'b', 'c', 'd', 'e', 's'].map((id) => member(id)),
    unheard: undefined,
    learners: ['a', 'b', 'c', 'd', 'e', 's'],
    term: 1,
    appliedTerm: 1,
    earlierTermPending: true,
    emit: (...events) => { for (const l of viewListeners) l(view(), events) },
    applyShape: (next, index) => {
      shape = next
      for (const l of shapeListeners) l(next, { index, term: 1, cid: '', outcome: { kind: 'applied' } } as ApplyResult)
    },
    becomeLeader: () => {
      leader = true
      for (const l of stateListeners) l({ role: 'leader' })
    },
    stepDown: () => {
      leader = false
      for (const l of stateListeners) l({ role: 'follower' })
    }
  }
  const policy: Policy = {
    name: 'scripted',
    evaluate: (input) => {
      h.evaluations.push({ atMs: input.nowMs, flappedAtMs: new Map(input.flappedAtMs), gainedAtMs: new Map(input.gainedAtMs), view: input.view })
      return { proposals: h.script.proposals(input), withheld: [] }
    }
  }
  let index = options.commit ?? 0
  const consensus = {
    operatorGuard: undefined,
    shapeMachine: {
      get shape () { return shape },
      onChange: (l: (shape: MeshShape, result: ApplyResult) => void) => { shapeListeners.add(l); return () => shapeListeners.delete(l) }
    },
    node: {
      isLeader: () => leader,
      status: () => ({ commit: options.commit ?? 0, term: h.term, leader: leader ? 'L' : undefined }),
      // The predecessor's entry of the test below is the next to apply until appliedTerm catches up.
      priorTermsApplied: () => h.appliedTerm === h.term || !h.earlierTermPending,
      onStateChange: (l: (status: { role: string }) => void) => { stateListeners.add(l); return () => stateListeners.delete(l) },
      configuration: () => ({ voters: ['L'], learners: h.learners })
    },
    caughtUpMembers: () => undefined,
    unheardPeers: () => h.unheard,
    propose: async (command: Command, _reason: string, options?: unknown): Promise<ProposalResult<ApplyResult>> => await new Promise((resolve, reject) => {
      const pending: Pending = {
        command,
        options,
        atMs: Date.now(),
        settle: (outcome) => { index++; resolve({ index, term: 1, duplicate: false, result: { index, term: 1, cid: '', outcome } as ApplyResult }) },
        fail: reject
      }
      h.proposed.push(pending)
      if (h.verdict !== undefined) pending.settle(h.verdict(command))
    })
  }
  const membership = {
    view,
    subscribe: (l: (view: MembershipView, events: MembershipEvent[]) => void) => { viewListeners.add(l); return () => viewListeners.delete(l) }
  }
  const pubsub = { topicValidators: new Map(), subscribe: () => {}, unsubscribe: () => {}, publish: async () => await Promise.reject(new Error('no peers')) }
  const ctx = {
    config: { dataDir, ...(options.policyConfig !== undefined ? { policy: options.policyConfig } : {}) },
    nodeId: 'L',
    cluster: { clusterId: 'c1' },
    net: { services: { pubsub } },
    // The audit never runs by itself here: each test ticks when it means to.
    ticker: { every: () => () => {} },
    log: silentLogger(),
    service: (name: string) => name === 'consensus' ? consensus : name === 'membership' ? membership : undefined
  } as unknown as ServiceContext
  h.engine = new PolicyEngine({ policies: [policy], debounceMs: DEBOUNCE_MS, nowMs: () => Date.now(), damper: options.damper ?? {} })
  engines.push(h.engine)
  await h.engine.start(ctx)
  return h
}

/** Lets settled proposals' callbacks run (promise reactions only; no timer moves). */
async function flush (): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

const codes = (withheld: ReadonlyArray<{ code: string, nodeId?: string }>): string[] => withheld.map((w) => `${w.code} ${w.nodeId ?? ''}`).sort()

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] })
  vi.setSystemTime(T0)
})

afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.stop()
  vi.useRealTimers()
})

describe('a joined promotion (promote a with [b]) or replacement (promote d replacing c)', () => {
  const replacement: Proposal = {
    policy: 'scripted', command: { kind: 'promote', nodeId: 'd', roles: ['etcd'], replacing: 'c' }, reason: 'replacing-failed', why: 'c died', priority: 'quorum'
  }
  it.each([
    // Two etcd promotions of one round: the gates join them into one command.
    ['promote a with [b]', { proposals: [promote('a', ['etcd'], 'voter'), promote('b', ['etcd'], 'voter')], command: { kind: 'promote', nodeId: 'a', roles: ['etcd'], with: ['b'] }, nodes: ['a', 'b'], other: 'c' }],
    ['promote d replacing c', { proposals: [replacement], command: replacement.command, nodes: ['c', 'd'], other: 'e' }]
  ] as const)('should keep every node in flight until it settles, then count each for both dampers: %s', async (_name, { proposals, command, nodes, other }) => {
    const h = await harness({ damper: { perNodeIntervalMs: 60_000, clusterMaxChanges: 2, clusterWindowMs: 60_000 } })
    h.script.proposals = () => [...proposals]
    const first = h.engine.tick('manual')
    expect(h.proposed.map((p) => p.command)).toEqual([command])
    expect(first?.proposals).toHaveLength(1)

    // Unsettled: nothing more for either node, not even a change that moves no voter.
    h.script.proposals = () => nodes.map((id) => promote(id, ['scheduler'], 'role'))
    const second = h.engine.tick('manual')
    expect(h.proposed).toHaveLength(1)
    expect(codes(second?.withheld ?? [])).toEqual(nodes.map((id) => `in-flight ${id}`))

    // Applied: each node changed now (the per-node damper), and two changes count in the window (limit 2).
    h.proposed[0]!.settle({ kind: 'applied' })
    await flush()
    h.script.proposals = () => [...nodes, other].map((id) => promote(id, ['scheduler'], 'role'))
    const third = h.engine.tick('manual')
    expect(h.proposed).toHaveLength(1)
    expect(codes(third?.withheld ?? [])).toEqual([`damped-cluster ${other}`, ...nodes.map((id) => `damped-node ${id}`)])
  })

  it.each(['failed', 'rejected'] as const)('should clear every in-flight mark and count nothing when the proposal does not apply: %s', async (how) => {
    const h = await harness({ damper: { perNodeIntervalMs: 60_000, clusterMaxChanges: 3, clusterWindowMs: 60_000 } })
    h.script.proposals = () => [promote('a', ['etcd'], 'voter'), promote('b', ['etcd'], 'voter')]
    h.engine.tick('manual')
    expect(h.proposed.map((p) => p.command)).toEqual([{ kind: 'promote', nodeId: 'a', roles: ['etcd'], with: ['b'] }])
    if (how === 'failed') h.proposed[0]!.fail(new Error('leadership lost'))
    else h.proposed[0]!.settle({ kind: 'rejected', code: 'role-already-held', message: 'no' })
    await flush()
    // Neither in flight nor damped, and the cluster window (3) not spent: all three pass at the evaluation the settled
    // proposal scheduled, a debounce later, when a rejected one's first backoff (REJECTED_RETRY_MS_MIN) is over too.
    h.script.proposals = () => [promote('a', ['scheduler'], 'role'), promote('b', ['scheduler'], 'role'), promote('c', ['scheduler'], 'role')]
    await vi.advanceTimersByTimeAsync(REJECTED_RETRY_MS_MIN)
    expect(h.evaluations).toHaveLength(2)
    expect(h.engine.decisions().at(-1)?.withheld).toEqual([])
    expect(h.proposed.slice(1).map((p) => p.command)).toEqual(['a', 'b', 'c'].map((id) => ({ kind: 'promote', nodeId: id, roles: ['scheduler'] })))
  })
})

/** When each evaluation ran, in ms since T0. */
const times = (h: Harness): number[] => h.evaluations.map((e) => e.atMs - T0)

describe('when the engine evaluates', () => {
  it('should never put off an evaluation already due: a burst of shape changes every 100 ms is evaluated a debounce after its first', async () => {
    const h = await harness()
    for (let i = 1; i <= 10; i++) {
      h.applyShape(baseShape(), i)
      await vi.advanceTimersByTimeAsync(100)
    }
    // Changes at 0..900: the one at 0 is due at 250 and the later ones join it; the next after it at 300 → 550…
    expect(times(h)).toEqual([250, 550, 850])
  })

  it('should evaluate at once when membership declares a control-plane holder dead or left, and after the debounce otherwise', async () => {
    const h = await harness()
    // A suspicion and a dead worker: debounced.
    h.emit(event('suspect', 'a', T0), event('dead', 'b', T0))
    await vi.advanceTimersByTimeAsync(249)
    expect(times(h)).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(times(h)).toEqual([250])
    // A join pending for its debounce, then the scheduler's holder dies: at once, and the join's wait is gone.
    await vi.advanceTimersByTimeAsync(750)
    h.emit(event('joined', 'f', Date.now()))
    await vi.advanceTimersByTimeAsync(100)
    h.emit(event('dead', 's', Date.now()))
    await vi.advanceTimersByTimeAsync(0)
    expect(times(h)).toEqual([250, 1100])
    await vi.advanceTimersByTimeAsync(1000)
    expect(times(h)).toEqual([250, 1100])
    // The voter's holder leaving: at once too.
    h.emit(event('left', 'L', Date.now()))
    await vi.advanceTimersByTimeAsync(0)
    expect(times(h)).toEqual([250, 1100, 2100])
  })

  it.each([
    ['an applied voter change, at once', { roles: ['etcd'], outcome: 'applied', after: 0 }],
    ['an applied change that moves no voter, after the debounce', { roles: ['scheduler'], outcome: 'applied', after: DEBOUNCE_MS }],
    ['a rejected voter change, after the debounce', { roles: ['etcd'], outcome: 'rejected', after: DEBOUNCE_MS }]
  ] as const)('should evaluate again at once after an applied voter change, and after the debounce after any other: %s', async (_what, { roles, outcome, after }) => {
    const h = await harness()
    let proposeOnce = true
    h.script.proposals = () => {
      if (!proposeOnce) return []
      proposeOnce = false
      return [promote('a', [...roles], roles[0] === 'etcd' ? 'voter' : 'role')]
    }
    h.engine.tick('manual')
    expect(h.proposed).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(100)
    h.proposed[0]!.settle(outcome === 'applied' ? { kind: 'applied' } : { kind: 'rejected', code: 'role-already-held', message: 'no' })
    await flush()
    if (after > 0) {
      await vi.advanceTimersByTimeAsync(after - 1)
      expect(times(h)).toEqual([0])
    }
    await vi.advanceTimersByTimeAsync(after > 0 ? 1 : 0)
    expect(times(h)).toEqual([0, 100 + after])
  })

  it('should evaluate at once when this node starts leading; as a follower it records and proposes nothing', async () => {
    const h = await harness({ leader: false })
    h.script.proposals = () => [promote('a', ['scheduler'], 'role')]
    expect(h.engine.tick('manual')).toBeNull()
    h.emit(event('dead', 's', T0), event('joined', 'f', T0))
    h.applyShape(withRoles(baseShape(), 'a', ['scheduler']), 1)
    await vi.advanceTimersByTimeAsync(1000)
    expect(times(h)).toEqual([])
    expect(h.proposed).toEqual([])
    expect(h.engine.decisions()).toEqual([])
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(0)
    expect(times(h)).toEqual([1000])
    expect(h.proposed.map((p) => p.command)).toEqual([{ kind: 'promote', nodeId: 'a', roles: ['scheduler'] }])
    expect(h.engine.decisions().map((d) => d.trigger)).toEqual(['audit'])
  })
})

describe('across a leader change', () => {
  it('should propose leader-only, so that a deposed leader\'s proposal is never forwarded to its successor', async () => {
    const h = await harness()
    h.script.proposals = () => [promote('a', ['scheduler'], 'role')]
    h.engine.tick('manual')
    // What the driver does with it: test/policy/deposed-leader-proposal.test.ts.
    expect(h.proposed.map((p) => p.options)).toEqual([{ leaderOnly: true }])
  })

  it('should record its first decision at a new leadership even when its last one as leader said the same', async () => {
    const h = await harness()
    h.script.proposals = () => [promote('a', ['scheduler'], 'role')]
    h.engine.tick('manual')
    // Deposed before it committed: lost. Another leader records meanwhile; this node leads again and decides the same.
    h.proposed[0]!.fail(Object.assign(new Error('lost'), { name: 'ProposalLostError' }))
    await flush()
    h.stepDown()
    h.term = 3
    h.becomeLeader()
    h.appliedTerm = 3
    await vi.advanceTimersByTimeAsync(0)
    expect(h.proposed.map((p) => p.command)).toEqual([promote('a', ['scheduler'], 'role').command, promote('a', ['scheduler'], 'role').command])
    expect(h.engine.decisions().map((d) => [d.term, d.proposals.length])).toEqual([[1, 1], [3, 1]])
    // Within one leadership the same content is still not recorded again.
    h.proposed[1]!.fail(new Error('lost'))
    await flush()
    h.engine.tick('manual')
    expect(h.proposed).toHaveLength(3)
    expect(h.engine.decisions()).toHaveLength(2)
  })

  it('should start a new leader\'s damper with no history (a deliberate reset) and its policies with the role gains every node records', async () => {
    const damper = { perNodeIntervalMs: 60_000, clusterMaxChanges: 10, clusterWindowMs: 60_000 }
    const promoted = withRoles(baseShape(), 'a', ['scheduler'])
    // The old leader promotes a; applied, a is damped there for the per-node interval.
    const old = await harness({ damper })
    old.script.proposals = () => [promote('a', ['scheduler'], 'role')]
    old.engine.tick('manual')
    old.proposed[0]!.settle({ kind: 'applied' })
    await flush()
    old.applyShape(promoted, 1)
    old.script.proposals = () => [promote('a', ['controller-manager'], 'role')]
    expect(codes(old.engine.tick('manual')?.withheld ?? [])).toEqual(['damped-node a'])
    // A follower applies the same entry; it leads next and its damper knows nothing of the change…
    const next = await harness({ leader: false, damper })
    next.applyShape(promoted, 1)
    await vi.advanceTimersByTimeAsync(1000)
    next.script.proposals = () => [promote('a', ['controller-manager'], 'role')]
    next.becomeLeader()
    await vi.advanceTimersByTimeAsync(0)
    expect(next.proposed.map((p) => p.command)).toEqual([promote('a', ['controller-manager'], 'role').command])
    // …but its policies see the gain (a scale-down keeps the node just promoted: JUST_PROMOTED_MS).
    expect([...next.evaluations.at(-1)!.gainedAtMs.keys()]).toEqual(['a scheduler'])
    // The old leader, leading again within the interval, still holds its own history.
    old.stepDown()
    old.becomeLeader()
    await vi.advanceTimersByTimeAsync(0)
    expect(old.proposed).toHaveLength(1)
    expect(codes(old.engine.decisions().at(-1)?.withheld ?? [])).toEqual(['damped-node a'])
  })
})

describe('the histories every node keeps', () => {
  it('should record as a flap a recovery after dead or left and a restart (higher generation), not a suspicion that clears', async () => {
    const h = await harness({ leader: false })
    const at = (ms: number): number => T0 + ms
    h.emit(...['a', 'b', 'c', 'd', 'e'].map((id) => event('joined', id, at(0))))
    h.emit(event('dead', 'a', at(1)), event('left', 'b', at(1)), event('suspect', 'c', at(1)), event('suspect', 'e', at(1)))
    h.emit(event('recovered', 'a', at(2)), event('recovered', 'b', at(2)), event('recovered', 'c', at(2)),
      event('joined', 'd', at(2), 2), event('recovered', 'e', at(2), 2))
    // Recorded as a follower; the leader it becomes decides with it.
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(0)
    expect(h.evaluations).toHaveLength(1)
    expect([...h.evaluations[0]!.flappedAtMs].sort()).toEqual([['a', at(2)], ['b', at(2)], ['d', at(2)], ['e', at(2)]])
  })

  it('should take a member\'s generation from its latest event: one planted higher by an unchecked digest hides no later restart', async () => {
    // A joiner's membership takes a digest from any signer (unchecked word, docs/SECURITY.md): a liar listed x at
    // generation 2^53−1, then x's own heartbeats (generation 3) replaced it. x goes silent and comes back restarted
    // (generation 4): a flap. Keeping the highest generation ever seen hid it (4 < 2^53−1) until x was removed.
    const h = await harness({ leader: false })
    const at = (ms: number): number => T0 + ms
    h.emit(event('joined', 'x', at(0), Number.MAX_SAFE_INTEGER))
    h.emit(event('suspect', 'x', at(1), 3))
    h.emit(event('recovered', 'x', at(2), 4))
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(0)
    expect(h.evaluations).toHaveLength(1)
    expect([...h.evaluations[0]!.flappedAtMs]).toEqual([['x', at(2)]])
  })

  it('should not count role gains from entries replayed up to the commit index known at start', async () => {
    const h = await harness({ commit: 10 })
    const replayed = withRoles(withRoles(baseShape(), 'a', ['scheduler']), 'c', ['scheduler'])
    h.applyShape(withRoles(baseShape(), 'a', ['scheduler']), 5)
    // The entry at the commit index itself was committed before the engine started.
    h.applyShape(replayed, 10)
    vi.advanceTimersByTime(10)
    h.applyShape(withRoles(replayed, 'b', ['scheduler']), 11)
    h.engine.tick('manual')
    expect([...h.evaluations[0]!.gainedAtMs]).toEqual([['b scheduler', T0 + 10]])
  })
})

describe('the damper\'s memory', () => {
  it('should stay bounded through a long run of joins and leaves: only members changed within the per-node interval', async () => {
    // 200 nodes each join, are changed by the policy and leave, one a second. Before, every node id the policy
    // ever changed stayed in the per-node damper's map (one entry each, read by nothing once it left).
    const h = await harness({ damper: { perNodeIntervalMs: 60_000, clusterMaxChanges: 1_000, clusterWindowMs: 60_000 } })
    const withMember = (id: string): MeshShape => {
      const data = baseShape().toData()
      return MeshShape.fromData({ ...data, members: [...data.members, [id, []]] })
    }
    let index = 0
    let current = ''
    h.script.proposals = (input) => current !== '' && input.shape.has(current) && !input.shape.holds(current, 'scheduler') ? [promote(current, ['scheduler'], 'role')] : []
    for (let i = 0; i < 200; i++) {
      current = `j${String(i).padStart(3, '0')}`
      h.applyShape(withMember(current), ++index)
      h.engine.tick('manual')
      for (const p of h.proposed.splice(0)) p.settle({ kind: 'applied' })
      await flush()
      await vi.advanceTimersByTimeAsync(1_000)
    }
    // Only the last joiner is a member still, and it changed within the interval.
    h.applyShape(baseShape(), ++index)
    h.engine.tick('manual')
    expect(h.engine.status().damperNodes).toBe(0)
    // A member's change is kept while it can hold anything back, and forgotten after the interval.
    current = 'a'
    h.engine.tick('manual')
    for (const p of h.proposed.splice(0)) p.settle({ kind: 'applied' })
    await flush()
    h.engine.tick('manual')
    expect(h.engine.status().damperNodes).toBe(1)
    await vi.advanceTimersByTimeAsync(60_000)
    h.engine.tick('manual')
    expect(h.engine.status().damperNodes).toBe(0)
  })
})

describe('a proposal the state machine rejects at apply', () => {
  // A rejection leaves the shape as it was: from the same inputs the policy proposes the same command again. It went
  // out every 250 ms (the debounce after each settled proposal), each time a Raft entry, a block and a record.
  const rejected: Outcome = { kind: 'rejected', code: 'limit-exceeded', message: 'at most 7 scheduler holders' }
  const sent = (h: Harness): number[] => h.proposed.map((p) => p.atMs - T0)

  it('should propose it again after 250, 500, 1000… ms up to REJECTED_RETRY_MS_MAX while its inputs stay, and log each wait with its retry time', async () => {
    const h = await harness()
    h.script.proposals = () => [promote('a', ['scheduler'], 'role')]
    h.verdict = () => rejected
    h.engine.tick('manual')
    await vi.advanceTimersByTimeAsync(91_800)
    // Waits of 250, 500, 1000, 2000, 4000, 8000, 16000 ms, then the cap twice.
    expect(REJECTED_RETRY_MS_MAX).toBe(30_000)
    expect(sent(h)).toEqual([0, 250, 750, 1_750, 3_750, 7_750, 15_750, 31_750, 61_750, 91_750])
    // The decision log says each wait: withheld as `rejected`, for node a, retried at the time the proposal went again.
    const waits = h.engine.decisions().flatMap((d) => d.withheld).filter((w) => w.code === 'rejected')
    expect(waits.map((w) => (w.retryAtMs ?? 0) - T0)).toEqual([750, 1_750, 3_750, 7_750, 15_750, 31_750, 61_750, 91_750])
    expect(waits[0]).toMatchObject({ what: 'promote a scheduler', nodeId: 'a', retryOn: 'time' })
    expect(waits[0]?.why).toContain('rejected at apply 2 time(s) in a row (limit-exceeded)')
    // As `revoada decisions` prints it: the gate, the node and the time it goes again.
    const printed = h.engine.decisions().filter((d) => d.withheld.some((w) => w.code === 'rejected')).map((d) => formatDecision({ ...d, n: 0 }).join('\n'))
    expect(printed[0]).toContain(`withheld promote a scheduler [gate rejected, node a, retry at ${new Date(T0 + 750).toISOString()}]`)
    expect(h.engine.status().rejectedBackoffs).toBe(1)
  })

  it('should propose it again at the next evaluation once its inputs change, and count its rejections from the start', async () => {
    const h = await harness()
    h.script.proposals = () => [promote('a', ['scheduler'], 'role')]
    h.verdict = () => rejected
    h.engine.tick('manual')
    await vi.advanceTimersByTimeAsync(7_750)
    expect(sent(h)).toEqual([0, 250, 750, 1_750, 3_750, 7_750])
    // Another node's health is none of a's inputs: a still waits (until 15,750).
    h.members = h.members.map((m) => m.nodeId === 'e' ? member('e', 'suspect') : m)
    h.emit(event('suspect', 'e', Date.now()))
    await vi.advanceTimersByTimeAsync(1_000)
    expect(sent(h)).toHaveLength(6)
    // Who holds the scheduler changes: proposed at the evaluation that change brings, a debounce later.
    h.applyShape(withRoles(baseShape(), 'b', ['scheduler']), 1)
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS)
    expect(sent(h).slice(6)).toEqual([9_000])
    // Rejected from the new inputs: the first wait again.
    await vi.advanceTimersByTimeAsync(REJECTED_RETRY_MS_MIN)
    expect(sent(h).slice(6)).toEqual([9_000, 9_250])
    // a's own health is one of its inputs too.
    await vi.advanceTimersByTimeAsync(500)
    expect(sent(h).slice(6)).toEqual([9_000, 9_250, 9_750])
    h.members = h.members.map((m) => m.nodeId === 'a' ? member('a', 'suspect') : m)
    h.emit(event('suspect', 'a', Date.now()))
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS)
    expect(sent(h).slice(6)).toEqual([9_000, 9_250, 9_750, 10_000])
  })

  it('should forget the wait when a proposal of it applies', async () => {
    const h = await harness({ damper: { perNodeIntervalMs: 1, clusterMaxChanges: 1_000, clusterWindowMs: 1 } })
    h.script.proposals = () => [promote('a', ['scheduler'], 'role')]
    h.verdict = () => rejected
    h.engine.tick('manual')
    await vi.advanceTimersByTimeAsync(3_750)
    expect(sent(h)).toEqual([0, 250, 750, 1_750, 3_750])
    // The fifth rejection's wait is 4 s; the next one applies.
    h.verdict = () => ({ kind: 'applied' })
    await vi.advanceTimersByTimeAsync(4_000)
    expect(sent(h).at(-1)).toBe(7_750)
    expect(h.engine.status().rejectedBackoffs).toBe(0)
    // Rejected again later: the first wait, not the sixth.
    h.verdict = () => rejected
    await vi.advanceTimersByTimeAsync(DEBOUNCE_MS + REJECTED_RETRY_MS_MIN)
    expect(sent(h).slice(5)).toEqual([7_750, 8_000, 8_250])
  })
})

describe('a new leader\'s settle wait', () => {
  const learners = ['a', 'b', 'c', 'd', 'e', 's']

  it('should wait while no live learner has answered, and evaluate once one has', async () => {
    const h = await harness({ leader: false })
    h.unheard = new Set(learners)
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(100)
    expect(times(h)).toEqual([])
    // An operator's evaluation does not wait.
    expect(h.engine.tick('manual')).not.toBeNull()
    expect(times(h)).toEqual([100])
    h.unheard.delete('c')
    await vi.advanceTimersByTimeAsync(50)
    expect(times(h)).toEqual([100, 150])
  })

  it('should wait at most NEW_LEADER_SETTLE_MS (2 s) for learners that do not answer', async () => {
    const h = await harness({ leader: false })
    h.unheard = new Set(learners)
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(1999)
    expect(times(h)).toEqual([])
    await vi.advanceTimersByTimeAsync(1)
    expect(times(h)).toEqual([2000])
  })

  it('should not evaluate before it has applied an entry of its own term, whose shape may lack its predecessor\'s last commits', async () => {
    // The old leader committed "promote a api-server" (term 1); the new leader (term 2) holds it in its log but
    // learns it is committed only with its own first entry. Evaluating before that saw api-server 1/3 and
    // promoted two more: four holders, and a scale-down to follow (an etcd promotion likewise: four voters).
    const h = await harness({ leader: false })
    h.script.proposals = (input) => input.shape.holds('a', 'api-server') ? [] : [promote('a', ['api-server'], 'role'), promote('b', ['api-server'], 'role')]
    h.term = 2
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(200)
    expect(h.engine.tick('manual')).toBeNull()
    expect(times(h)).toEqual([])
    expect(h.proposed).toEqual([])
    // Its first entry commits: the predecessor's entry applies (a shape change), then its own.
    h.applyShape(withRoles(baseShape(), 'a', ['api-server']), 10)
    h.appliedTerm = 2
    await vi.advanceTimersByTimeAsync(50)
    expect(times(h)).toEqual([250])
    expect(h.proposed).toEqual([])
  })

  it('should evaluate at once when the next entry to apply is already of its own term', async () => {
    // The usual election: the new leader had applied everything its predecessor committed; its own first entry
    // is not applied yet, and nothing of an earlier term waits for it.
    const h = await harness({ leader: false })
    h.term = 2
    h.earlierTermPending = false
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(0)
    expect(times(h)).toEqual([0])
  })

  it('should not wait for learners membership sees dead', async () => {
    const h = await harness({ leader: false })
    h.unheard = new Set(learners)
    h.members = h.members.map((m) => m.nodeId === 'L' ? m : member(m.nodeId, 'dead'))
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(0)
    expect(times(h)).toEqual([0])
  })
})

describe('members of the shape the membership view does not list', () => {
  /** Each evaluation's health of `id` (undefined: not in the view the policy was given), with its time. */
  const healthOf = (h: Harness, id: string): Array<[number, string | undefined]> =>
    h.evaluations.map((e) => [e.atMs - T0, e.view.find((m) => m.nodeId === id)?.health])

  it('should count a holder never listed as dead UNLISTED_DEAD_MS (60 s) after the leader first missed it, and look again then by itself', async () => {
    // s holds the scheduler and was never heard: it died while the whole cluster was down.
    const h = await harness()
    h.members = h.members.filter((m) => m.nodeId !== 's')
    h.engine.tick('manual')
    await vi.advanceTimersByTimeAsync(59_999)
    expect(healthOf(h, 's')).toEqual([[0, undefined]])
    // No event, no audit (the harness's ticker never fires): the engine's own timer evaluates at the due time.
    await vi.advanceTimersByTimeAsync(1)
    expect(healthOf(h, 's')).toEqual([[0, undefined], [60_000, 'dead']])
    // Heard again: listed as membership says, and missed again from scratch.
    h.members = [...h.members, member('s')]
    h.engine.tick('manual')
    h.members = h.members.filter((m) => m.nodeId !== 's')
    h.engine.tick('manual')
    expect(healthOf(h, 's').slice(2)).toEqual([[60_000, 'alive'], [60_000, undefined]])
  })

  it('should count a holder never listed as dead after the configured policy.unlistedDeadMs instead', async () => {
    const h = await harness({ policyConfig: { unlistedDeadMs: 5_000 } })
    h.members = h.members.filter((m) => m.nodeId !== 's')
    h.engine.tick('manual')
    await vi.advanceTimersByTimeAsync(4_999)
    expect(healthOf(h, 's')).toEqual([[0, undefined]])
    await vi.advanceTimersByTimeAsync(1)
    expect(healthOf(h, 's')).toEqual([[0, undefined], [5_000, 'dead']])
  })

  it('should start the grace again at each leadership: a member missed while following may be one it only now hears of', async () => {
    const h = await harness()
    h.members = h.members.filter((m) => m.nodeId !== 'a')
    h.engine.tick('manual')
    h.stepDown()
    await vi.advanceTimersByTimeAsync(30_000)
    h.becomeLeader()
    await vi.advanceTimersByTimeAsync(0)
    await vi.advanceTimersByTimeAsync(59_999)
    expect(healthOf(h, 'a').at(-1)?.[1]).toBeUndefined()
    await vi.advanceTimersByTimeAsync(1)
    expect(healthOf(h, 'a').at(-1)).toEqual([90_000, 'dead'])
  })

  it('should keep the verdict of a member membership removed while dead or left, at once, until it is heard again', async () => {
    const h = await harness()
    h.emit(event('dead', 's', T0), event('left', 'a', T0))
    h.emit(event('removed', 's', T0 + 1), event('removed', 'a', T0 + 1))
    h.members = h.members.filter((m) => m.nodeId !== 's' && m.nodeId !== 'a')
    h.engine.tick('manual')
    expect(healthOf(h, 's').at(-1)).toEqual([0, 'dead'])
    expect(healthOf(h, 'a').at(-1)).toEqual([0, 'left'])
    // Back (a new generation joins): no verdict kept once it is listed and missed again.
    h.emit(event('joined', 's', T0 + 2, 2))
    h.engine.tick('manual')
    expect(healthOf(h, 's').at(-1)).toEqual([0, undefined])
  })

  it('should keep verdicts of shape members only, on a follower too: made-up identities heard, dead and removed leave none', async () => {
    // A key holder signs heartbeats with identities it makes up, then falls silent with each: membership reports
    // joined, dead, removed for every one (its table forgets them). The verdicts were pruned only by a leader's
    // evaluation, so a follower kept one per identity for the life of the process.
    const h = await harness({ leader: false })
    for (let i = 0; i < 500; i++) {
      const id = `fake-${i}`
      h.emit(event('joined', id, T0 + i), event('dead', id, T0 + i))
      h.emit(event('removed', id, T0 + i))
    }
    expect(h.engine.status().removedVerdicts).toBe(0)
    // A shape member's verdict is kept (the policy replaces its roles: above), and goes with its leaving the shape.
    h.emit(event('dead', 's', T0), event('removed', 's', T0 + 1))
    expect(h.engine.status().removedVerdicts).toBe(1)
    const data = baseShape().toData()
    h.applyShape(MeshShape.fromData({ ...data, members: data.members.filter(([id]) => id !== 's') }), 1)
    expect(h.engine.status().removedVerdicts).toBe(0)
  })
})
