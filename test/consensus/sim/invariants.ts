/**
 * @module test/consensus/sim/invariants
 * Cluster-wide safety checks the simulator runs as every Ready is handled and after every tick (Raft
 * paper §5.2–5.4, Figure 3): election safety (one leader per term), leaders only append, log matching,
 * leader completeness, state machine safety (same entry applied at every index), and exactly-once
 * (a proposal id takes effect at one log index only). A violation throws `InvariantViolation`. A quorum
 * loss and its recovery (recovery.ts) change none of them: the recovery campaigns past every term a lost
 * leader used (RECOVERY_TERM_LEAP), so no term has two leaders and no (index, term) two entries.
 */
import type { Entry, NodeId } from '../../../src/consensus/core/types.js'
import { proposalKey } from './kv.js'

export class InvariantViolation extends Error {
  static override readonly name = 'InvariantViolation'
  constructor (message = 'invariant violated') {
    super(message)
    this.name = 'InvariantViolation'
  }
}

/** A short, stable fingerprint of an entry's content (term, type, proposal id and bytes). */
export function fingerprint (entry: Entry): string {
  let hash = 2166136261
  for (const byte of entry.data) hash = Math.imul(hash ^ byte, 16777619) >>> 0
  const id = entry.proposalId === undefined ? '-' : proposalKey(entry.proposalId)
  return `${entry.term}/${entry.type}/${id}/${hash.toString(16)}`
}

export class ClusterInvariants {
  private readonly leaderOfTerm = new Map<number, NodeId>()
  /** `${index}:${term}` → fingerprint + previous term: log matching says this never differs between logs. */
  private readonly entryAt = new Map<string, string>()
  /** index → fingerprint of the entry applied there (by anyone). */
  readonly appliedAt = new Map<number, string>()
  /** index → the entry a leader first committed there (fingerprint) and that leader's term (`observeCommit`). */
  private readonly committedIn = new Map<number, { print: string, term: number }>()
  /** proposal id → the index where it took effect. */
  private readonly effectAt = new Map<string, number>()
  /**
   * `${index}:${term}` → the node that ruled out the entry it appended there as leader (the lost-entry rule
   * of src/consensus/raft-node.ts, `resolveLeaderOnly`): no node may ever apply it.
   */
  private readonly ruledOut = new Map<string, NodeId>()
  checks = 0

  /** Election safety: at most one leader per term, over the whole run. */
  observeLeader (id: NodeId, term: number): void {
    this.checks++
    const known = this.leaderOfTerm.get(term)
    if (known === undefined) this.leaderOfTerm.set(term, id)
    else if (known !== id) throw new InvariantViolation(`election safety: ${known} and ${id} both leaders in term ${term}`)
  }

  /**
   * Log matching, checked on every append: an (index, term) pair identifies one entry and one previous
   * term, so two logs that share it agree on the whole prefix (by induction).
   */
  observeAppend (node: NodeId, entries: readonly Entry[], prevTerm: number): void {
    let previous = prevTerm
    for (const entry of entries) {
      this.checks++
      const key = `${entry.index}:${entry.term}`
      const value = `${fingerprint(entry)}<${previous}`
      const known = this.entryAt.get(key)
      if (known === undefined) this.entryAt.set(key, value)
      else if (known !== value) {
        throw new InvariantViolation(`log matching: ${node} holds ${value} at ${key}, another log holds ${known}`)
      }
      previous = entry.term
    }
  }

  /**
   * The lost-entry rule: `node` appended an entry at (index, term) as leader and has since applied index
   * `index` (another entry) or an entry of a later term, so it concludes the entry can never commit.
   */
  observeRuledOut (node: NodeId, index: number, term: number): void {
    this.checks++
    const applied = this.appliedAt.get(index)
    if (applied?.startsWith(`${term}/`) === true) {
      throw new InvariantViolation(`lost-entry rule: ${node} ruled out its entry at ${index}:${term}, which was applied (${applied})`)
    }
    this.ruledOut.set(`${index}:${term}`, node)
  }

  /** State machine safety and exactly-once, on every applied entry. */
  observeApply (node: NodeId, entry: Entry, fresh: boolean): void {
    this.checks++
    const ruledOutBy = this.ruledOut.get(`${entry.index}:${entry.term}`)
    if (ruledOutBy !== undefined) {
      throw new InvariantViolation(`lost-entry rule: ${node} applied ${entry.index}:${entry.term}, which ${ruledOutBy} had ruled out`)
    }
    const print = fingerprint(entry)
    const known = this.appliedAt.get(entry.index)
    if (known === undefined) this.appliedAt.set(entry.index, print)
    else if (known !== print) {
      throw new InvariantViolation(`state machine safety: ${node} applied ${print} at ${entry.index}, another node ${known}`)
    }
    if (entry.proposalId === undefined || !fresh) return
    const key = proposalKey(entry.proposalId)
    const at = this.effectAt.get(key)
    if (at === undefined) this.effectAt.set(key, entry.index)
    else if (at !== entry.index) {
      throw new InvariantViolation(`exactly-once: ${node} applied proposal ${key} at ${entry.index}, it took effect at ${at}`)
    }
  }

  /**
   * A leader of `term` advanced its commit index from `from` to `to`: the entries in (from, to] of its log
   * (`entryAtIndex`) were committed in `term`, unless an earlier leader committed the same entry first.
   */
  observeCommit (term: number, from: number, to: number, entryAtIndex: (index: number) => Entry | undefined): void {
    for (let index = from + 1; index <= to; index++) {
      const entry = entryAtIndex(index)
      if (entry === undefined) continue
      const print = fingerprint(entry)
      const known = this.committedIn.get(index)
      // Another entry at a known index: the first was committed only by a majority lost since (recovery.ts).
      if (known === undefined || known.print !== print) this.committedIn.set(index, { print, term })
    }
  }

  /**
   * Leader completeness (Raft §5.4, Figure 3): a leader's log holds every entry applied anywhere (above its
   * snapshot index) that was committed in a lower term. An entry committed in its term or a later one is not
   * owed: a candidate whose votes were granted before a leader of a higher term committed can still win — the
   * votes of a survivor the moment before recover-quorum (which leaps its term and commits alone) are such a
   * case — and such a leader cannot commit, since its quorum has moved past its term.
   * `entryAtIndex` reads the leader's log; undefined means the index is not in its log.
   */
  checkLeaderCompleteness (leader: NodeId, term: number, snapshotIndex: number,
    entryAtIndex: (index: number) => Entry | undefined): void {
    const index = this.firstAppliedMissing(snapshotIndex, entryAtIndex, term)
    if (index !== undefined) {
      throw new InvariantViolation(`leader completeness: leader ${leader} of term ${term} lacks committed ` +
        `${this.appliedAt.get(index) ?? '?'} at ${index}`)
    }
  }

  /**
   * The first index above `snapshotIndex` whose applied entry the log read by `entryAtIndex` lacks, or
   * undefined; with `beforeTerm`, only among entries not known to be committed in `beforeTerm` or later.
   */
  firstAppliedMissing (snapshotIndex: number, entryAtIndex: (index: number) => Entry | undefined, beforeTerm?: number): number | undefined {
    for (const [index, print] of this.appliedAt) {
      if (index <= snapshotIndex) continue
      if (beforeTerm !== undefined) {
        const committed = this.committedIn.get(index)
        if (committed !== undefined && committed.print === print && committed.term >= beforeTerm) continue
      }
      this.checks++
      const entry = entryAtIndex(index)
      if (entry === undefined || fingerprint(entry) !== print) return index
    }
    return undefined
  }
}
