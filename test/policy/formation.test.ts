import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MeshShape, TARGET_PRESETS, transition, CONTROL_PLANE_ROLES } from '../../src/consensus/shape/core/index.js'
import { applyGates, formation, phalanxMasters, STRATEGIES, strategy, DAMPER_DEFAULTS, EMPTY_GATE_STATE } from '../../src/policy/core/index.js'
import type { Health, MemberInfo, Proposal, StrategyName } from '../../src/policy/core/index.js'

const member = (nodeId: string, health: Health = 'alive'): MemberInfo => ({
  nodeId, health, labels: {}, capacity: { cpuMillis: 2000, memoryBytes: 2 ** 32, storageBytes: 1e10, pods: 110 }, uptimeMs: 1000
})

function formed (ids: string[]): MeshShape {
  let shape = MeshShape.empty()
  const step = (command: Parameters<typeof transition>[1]): void => {
    const r = transition(shape, command)
    if (r.kind !== 'applied') throw new Error(r.message)
    shape = r.shape
  }
  step({ kind: 'bootstrap', nodeId: ids[0]! })
  for (const id of ids.slice(1)) step({ kind: 'add-member', nodeId: id })
  step({ kind: 'set-target', target: TARGET_PRESETS.homelab })
  return shape
}

const masters = (shape: MeshShape): string[] => shape.memberIds().filter((id) => CONTROL_PLANE_ROLES.every((r) => shape.holds(id, r)))

/** evaluate → gates → apply until quiet; returns the shape, the rounds and every passed proposal. */
function converge (name: StrategyName, shape: MeshShape, view: MemberInfo[], maxRounds = 60): { shape: MeshShape, rounds: number, passed: Proposal[] } {
  const policy = formation({ strategy: name, stabilizationMs: 0 })
  const aliveSinceMs = new Map(view.filter((m) => m.health === 'alive').map((m) => [m.nodeId, 0]))
  const passed: Proposal[] = []
  for (let round = 0; round < maxRounds; round++) {
    const out = policy.evaluate({ view, shape, nowMs: 1e6, aliveSinceMs })
    const gated = applyGates({ proposals: out.proposals, shape, view, nowMs: 1e6 + round * 61_000, state: EMPTY_GATE_STATE, damper: DAMPER_DEFAULTS })
    if (gated.passed.length === 0) return { shape, rounds: round, passed }
    for (const p of gated.passed) {
      const r = transition(shape, p.command)
      if (r.kind === 'applied') shape = r.shape
      passed.push(p)
    }
  }
  return { shape, rounds: maxRounds, passed }
}

const ids = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, '0')}`)

describe('formation strategies', () => {
  it('should promote the two new masters of quorum-3m in one command: 1 voter to 3 without a 2-voter step', () => {
    // Issue 16: one voter, then two (every commit waiting on one new voter), then three stalled 25-node formations.
    const nodes = ids(5)
    const { shape, passed } = converge('quorum-3m', formed(nodes), nodes.map((id) => member(id)))
    const etcd = passed.filter((p) => p.command.kind === 'promote' && p.command.roles.includes('etcd'))
    expect(etcd.map((p) => p.command)).toEqual([{ kind: 'promote', nodeId: 'n01', roles: [...CONTROL_PLANE_ROLES], with: ['n02'] }])
    expect(shape.voters()).toEqual(['n00', 'n01', 'n02'])
  })

  it('should compute phalanx masters as ceil(2n/5)', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 10, 17, 20, 25].map(phalanxMasters)).toEqual([0, 1, 1, 2, 2, 2, 3, 3, 4, 7, 8, 10])
  })

  it('should form each strategy\'s shape from a bootstrapped cluster and then propose nothing', () => {
    const expected: Record<StrategyName, number> = { solo: 1, pair: 2, 'quorum-3m': 3, 'cluster-3m-nw': 3, 'mesh-all-peers': 6, phalanx: 3 }
    for (const name of STRATEGIES) {
      const list = ids(6)
      const { shape } = converge(name, formed(list), list.map((id) => member(id)))
      expect(masters(shape), name).toHaveLength(expected[name])
      expect(shape.voters(), name).toHaveLength(expected[name])
      const again = formation({ strategy: name, stabilizationMs: 0 }).evaluate({ view: list.map((id) => member(id)), shape, nowMs: 1e6, aliveSinceMs: new Map(list.map((id) => [id, 0])) })
      expect(again.proposals, `${name} steady state`).toEqual([])
    }
  })

  it('should choose as masters only members whose log has caught up with the leader', () => {
    const list = ids(4)
    const policy = formation({ strategy: 'quorum-3m', stabilizationMs: 0 })
    const input = { view: list.map((id) => member(id)), shape: formed(list), nowMs: 1e6, aliveSinceMs: new Map(list.map((id) => [id, 0])) }
    const out = policy.evaluate({ ...input, caughtUp: new Set(['n00', 'n03']) })
    expect(out.proposals.filter((p) => p.command.kind === 'promote').map((p) => 'nodeId' in p.command && p.command.nodeId).sort()).toEqual(['n03'])
    expect(out.withheld.map((w) => w.why).join()).toContain('not caught up')
  })

  // ⌈2n/5⌉ gives 8→7→6→5→4; the shape caps etcd holders (voters) at 7, so 20 nodes get 7.
  it('should shrink phalanx masters as nodes are lost in batches: 20→17→14→11→8 gives 7 (capped)→7→6→5→4', () => {
    const list = ids(20)
    let view = list.map((id) => member(id))
    let { shape } = converge('phalanx', formed(list), view)
    expect(masters(shape)).toHaveLength(7)
    for (const [lose, want] of [[3, 7], [3, 6], [3, 5], [3, 4]] as const) {
      const aliveIds = view.filter((m) => m.health === 'alive').map((m) => m.nodeId)
      // Lose the three best-known non-masters last-in-list first, keeping a voter majority alive.
      const victims = aliveIds.filter((id) => !masters(shape).includes(id)).slice(-lose)
      view = view.map((m) => victims.includes(m.nodeId) ? member(m.nodeId, 'dead') : m)
      shape = converge('phalanx', shape, view).shape
      expect(masters(shape)).toHaveLength(want)
    }
  })

  it('should re-admit a failed node that returns, and promote late joiners in mesh-all-peers', () => {
    const list = ids(4)
    let { shape } = converge('mesh-all-peers', formed(list), list.map((id) => member(id)))
    expect(masters(shape)).toHaveLength(4)
    // n03 dies: demoted; it returns: promoted again.
    shape = converge('mesh-all-peers', shape, list.map((id) => member(id, id === 'n03' ? 'dead' : 'alive'))).shape
    expect(masters(shape)).not.toContain('n03')
    shape = converge('mesh-all-peers', shape, list.map((id) => member(id))).shape
    expect(masters(shape)).toContain('n03')
    // A late joiner.
    const joined = transition(shape, { kind: 'add-member', nodeId: 'n04' })
    if (joined.kind !== 'applied') throw new Error(joined.message)
    shape = converge('mesh-all-peers', joined.shape, [...list, 'n04'].map((id) => member(id))).shape
    expect(masters(shape)).toContain('n04')
  })

  it('should move no role while a member is merely suspect: neither a suspect master nor a suspect worker', () => {
    // Suspicion alone never moves a role (POLICY.md): a loaded machine's late heartbeats make members
    // suspect for a moment. A suspect master must keep its place (no fourth voter promoted beside it),
    // and a suspect worker must not shrink phalanx's count (no alive master demoted).
    const steady = (name: StrategyName, n: number): { list: string[], shape: MeshShape } => {
      const list = ids(n)
      return { list, shape: converge(name, formed(list), list.map((id) => member(id))).shape }
    }
    const evaluate = (name: StrategyName, shape: MeshShape, view: MemberInfo[]): Proposal[] =>
      formation({ strategy: name, stabilizationMs: 0 }).evaluate({ view, shape, nowMs: 1e6, aliveSinceMs: new Map(view.map((m) => [m.nodeId, 0])) }).proposals
    const quorum = steady('quorum-3m', 5)
    const suspectMaster = masters(quorum.shape)[0]!
    expect(evaluate('quorum-3m', quorum.shape, quorum.list.map((id) => member(id, id === suspectMaster ? 'suspect' : 'alive')))).toEqual([])
    // 8 members: ⌈16/5⌉ = 4 masters; one worker suspect would make it 7 members, ⌈14/5⌉ = 3.
    const phalanx = steady('phalanx', 8)
    expect(masters(phalanx.shape)).toHaveLength(4)
    const suspectWorker = phalanx.list.find((id) => !masters(phalanx.shape).includes(id))!
    expect(evaluate('phalanx', phalanx.shape, phalanx.list.map((id) => member(id, id === suspectWorker ? 'suspect' : 'alive')))).toEqual([])
    const phalanxMaster = masters(phalanx.shape)[0]!
    expect(evaluate('phalanx', phalanx.shape, phalanx.list.map((id) => member(id, id === phalanxMaster ? 'suspect' : 'alive')))).toEqual([])
  })

  it('property: at least one voter, a lost node is never promoted, reactions are bounded, a minority never acts', () => {
    fc.assert(fc.property(fc.constantFrom(...STRATEGIES), fc.integer({ min: 1, max: 12 }), fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }), (name, n, lost) => {
      const list = ids(n)
      const s = strategy(name)
      if (n < s.minNodes) return true
      const healthy = converge(name, formed(list), list.map((id) => member(id))).shape
      const view = list.map((id, i) => member(id, lost[i] === true ? 'dead' : 'alive'))
      const losses = view.filter((m) => m.health === 'dead').length
      const { shape, passed } = converge(name, healthy, view)
      if (shape.voters().length < 1) return false
      for (const p of passed) {
        const c = p.command
        if (c.kind === 'promote' && view.find((m) => m.nodeId === c.nodeId)?.health !== 'alive') return false
      }
      if (passed.length > 2 * (losses + n)) return false
      const votersAlive = healthy.voters().filter((id) => view.find((m) => m.nodeId === id)?.health === 'alive').length
      if (votersAlive < Math.floor(healthy.voters().length / 2) + 1 && passed.length > 0) return false
      return true
    }), { numRuns: 200 })
  })
})
