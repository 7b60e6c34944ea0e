/**
 * Goal: quorum recovery (`revoada recover-quorum`, recovery.ts) runs under the simulator's faults and keeps
 * every check, and the checks stay sharp in such seeds. Method: run seeds forced to lose a majority of their
 * voters and require that each recovered (coverage marks) with every invariant, liveness and a linearizable
 * history; then plant a harness bug (the loss strikes whenever the seed says, even when the survivor lacks an
 * acknowledged entry) and require a failure of the expected kind.
 */
import { describe, expect, it } from 'vitest'
import { EntryType } from '../../../src/consensus/core/types.js'
import type { Entry } from '../../../src/consensus/core/types.js'
import { ClusterInvariants } from './invariants.js'
import { formatFailure, runSeed } from './simulator.js'

const SEEDS = 12
const STEPS = 1_000
/** The harness bug must be caught within this many seeds (as planted-bugs.test.ts). */
const BUG_SEEDS_MAX = 200

describe('quorum recovery under simulation', () => {
  it('should recover the quorum and keep every check when seeds lose a majority of their voters', () => {
    const failures: string[] = []
    let completed = 0
    let started = 0
    let promoted = 0
    const exits = new Set<string>()
    for (let seed = 1; seed <= SEEDS; seed++) {
      const result = runSeed({ seed, steps: STEPS, forceQuorumLoss: true })
      if (!result.ok) failures.push(formatFailure(result).join('\n'))
      expect(result.verdict).toBe('ok')
      expect(result.marks.quorumLosses).toBe(1)
      completed += result.marks.recoveriesCompleted ?? 0
      started += result.marks.recoveriesStarted ?? 0
      promoted += result.marks.promotedWhileRecovering ?? 0
      exits.add(result.swarm.quorumLoss?.exit ?? '-')
    }
    expect(failures).toEqual([])
    // Every seed lost its quorum and got it back through at least one run of recover-quorum, by each kind of
    // configuration change, and at least once with a voter added meanwhile (it counts in the quorums).
    expect(completed).toBe(SEEDS)
    expect(started).toBeGreaterThanOrEqual(SEEDS)
    expect([...exits].sort()).toEqual(['demote-each', 'remove-all', 'remove-each'])
    expect(promoted).toBeGreaterThan(0)
  })

  it('should replay a seed with a quorum loss identically when it is run twice', () => {
    const first = runSeed({ seed: 3, steps: 600, forceQuorumLoss: true })
    const second = runSeed({ seed: 3, steps: 600, forceQuorumLoss: true })
    expect(first.marks.quorumLosses).toBe(1)
    expect(second.stats).toEqual(first.stats)
    expect(second.trace).toEqual(first.trace)
  })

  it('should print the flag that forces the loss in the replay command', () => {
    const result = runSeed({ seed: 1, steps: 400, forceQuorumLoss: true, bugs: { voteBeforePersist: true } })
    expect(result.ok).toBe(false)
    expect(formatFailure(result)).toContain('  replay: npm run sim -- --seed 1 --steps 400 --quorum-loss')
  })

  it('should report lost acknowledged writes when the quorum is lost while the survivor lacks some', () => {
    // Planted harness bug: the loss no longer waits for the survivor to hold every committed entry, so an
    // entry applied (and acknowledged) before the loss can be missing from the recovered log.
    let caught: string | null = null
    for (let seed = 1; seed <= BUG_SEEDS_MAX && caught === null; seed++) {
      const result = runSeed({ seed, steps: STEPS, forceQuorumLoss: true, harnessBugs: { lossAnyMoment: true } })
      if (!result.ok) caught = `seed ${seed}: ${result.failure ?? ''}`
    }
    console.log(`harness bug lossAnyMoment caught at ${caught ?? '-'}`)
    expect(caught).toMatch(/leader completeness|state machine safety|not linearizable/)
  }, 120_000)

  it('should accept a leader of a lower term elected after a survivor committed alone at a higher term, and still refuse one of a higher term that lacks it', () => {
    // Seed 375175 (3,000 steps): a partition heals, a candidate of term 1048606 is granted the survivor's vote,
    // and the survivor then runs recover-quorum (its term leaps to 2097182, it commits index 195 alone). The
    // candidate wins with the vote it already had: a leader of a lower term than the entry, which Raft's leader
    // completeness does not cover and which cannot commit (its quorum needs the survivor, now at a higher term).
    const result = runSeed({ seed: 375175, steps: 3_000, forceQuorumLoss: true })
    expect(result.failure ?? null).toBeNull()
    expect(result.verdict).toBe('ok')

    const entry: Entry = { index: 5, term: 9, type: EntryType.Normal, data: new Uint8Array([1, 2, 3]) }
    const lacking = (): undefined => undefined
    const invariants = new ClusterInvariants()
    invariants.observeApply('n1', entry, true)
    // Applied, but nobody saw the commit: owed by every leader, as before.
    expect(() => { invariants.checkLeaderCompleteness('n2', 7, 0, lacking) }).toThrow(/leader completeness/)
    invariants.observeCommit(9, 4, 5, (index) => index === 5 ? entry : undefined)
    expect(() => { invariants.checkLeaderCompleteness('n2', 7, 0, lacking) }).not.toThrow()
    expect(() => { invariants.checkLeaderCompleteness('n2', 10, 0, lacking) }).toThrow(/leader completeness: leader n2 of term 10 lacks committed 9\//)
    // A later leader committing the same entry again does not move the term it was committed in.
    invariants.observeCommit(11, 4, 5, (index) => index === 5 ? entry : undefined)
    expect(() => { invariants.checkLeaderCompleteness('n2', 10, 0, lacking) }).toThrow(/leader completeness/)
  })

  it('should not run recover-quorum again while live voters hold a configuration in which they can elect a leader without the survivor', () => {
    // Seed 377520 (3,000 steps): after a completed recovery the survivor n3 had applied voters n3,n6 while n2 and n6
    // had applied n3,n6,n2. Cut off and leaderless, n3 was run again counting both as lost (a quorum of its own view
    // needs n6) and committed alone; n6 then won a term with n2's vote and lacked those entries. The operator may
    // count live voters as lost only when no configuration a live voter holds has a quorum without the survivor.
    const result = runSeed({ seed: 377520, steps: 3_000, forceQuorumLoss: true })
    expect(result.failure ?? null).toBeNull()
    expect(result.verdict).toBe('ok')
    expect(result.marks.recoveriesCompleted).toBe(1)
  })

  it('should take down for good the live voters a run after an ended one counts as lost', () => {
    // Seed 500399 (6,000 steps): a run ended with voters n4,n6 (n6 a learner promoted during it, which had applied only
    // the configuration n4,n9,n6 of the run's demotions); partitioned from n6 and leaderless, n4 was run again counting
    // n6 lost and committed alone. The operator then started n9 (stopped for the first run) as usual, and n6 won a term
    // with its vote in that configuration, lacking what n4 had committed. OPERATIONS.md asks that voters a run counts
    // as lost never run again with their data: run again, the operator's model now takes such live voters down for good.
    const result = runSeed({ seed: 500399, steps: 6_000, forceQuorumLoss: true })
    expect(result.failure ?? null).toBeNull()
    expect(result.verdict).toBe('ok')
    expect(result.marks.votersLostAgain).toBeGreaterThan(0)
  })

  it('should keep a live node it counts as lost from learning the configurations the recovery passes through', () => {
    // Seed 401053 (3,000 steps): n7, a learner whose promotion was the survivor n3's uncommitted tail, kept running
    // (the operator stops voters; n7 was none). n3's recovery counted it lost (a voter of the tail), committed the
    // tail and removed the lost voters one by one, and n7 received those changes up to voters n3,n8,n6,n5,n7 before
    // n3 was cut off. Once the operator started n5 and n8 again, n7 won a term with their votes: a second history.
    // A recovering node now sends nothing to its lost voters and drops what they send (`Raft.cutOff`).
    const result = runSeed({ seed: 401053, steps: 3_000, forceQuorumLoss: true })
    expect(result.failure ?? null).toBeNull()
    expect(result.verdict).toBe('ok')
    expect(result.marks.recoveriesCompleted).toBe(1)
  })
})
