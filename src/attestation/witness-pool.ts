/**
 * @module attestation/witness-pool
 * Witness signatures heard on gossip (and made here), grouped by the (height, head) they sign, and the rule
 * for which ones a node keeps. Pure: the topic validator checks the message and the signature, asks
 * `judgeWitness`, then `add`s; nothing here does IO or reads a clock.
 *
 * A witness is kept only when it can help a seal here (docs/CHAIN.md §4): its height is above the last sealed
 * one and inside the seal window, at most WITNESS_HEIGHTS_AHEAD_MAX above this node's head, and its signer is
 * a voter at that height. Before, any key holder's witness at any height was pooled, and 64 far-future heights
 * made every honest group the lowest, evicted as soon as it was added: sealing stopped for good.
 *
 * Bounded whatever it is fed (the service feeds it voters only): one signature per signer per height, at most
 * WITNESS_HEADS_PER_HEIGHT_MAX heads per height, WITNESS_GROUPS_PER_SIGNER_MAX heights per signer (a signer's
 * own lowest goes first, so a flood displaces only the flooder's signatures) and WITNESS_POOL_SIGNERS_MAX
 * signers: at most signers × heights signatures, each in one group. An add is a few map operations plus, when
 * its signer is full, a scan of that signer's heights; nothing is sorted on the add path (sorting every group
 * on each add made 20,000 messages at one height cost 12 s of event loop). The pool trusts nothing: the
 * leader checks a group's head against its own chain before sealing it.
 */
import { equalBytes } from '../codec/index.js'
import { assert } from '../util/assert.js'
import { cidAt, handoverVoters, judgeHandover, majorityOf, MAX_WITNESSES_PER_SEAL, SEAL_WINDOW_HEIGHTS, votersAt } from './core/index.js'
import type { ChainState, Seal, Witness } from './core/index.js'
import { WITNESS_GROUPS_PER_SIGNER_MAX, WITNESS_HEADS_PER_HEIGHT_MAX, WITNESS_HEIGHTS_AHEAD_MAX, WITNESS_POOL_SIGNERS_MAX } from './constants.js'

/** Why a pool refuses a witness that `judgeWitness` let through. */
export type PoolRefusal =
  /** The signer already signed this (height, head). */
  | 'duplicate'
  /** The signer already signed another head at this height (an honest voter signs its one chain). */
  | 'second-head'
  /** The height already holds WITNESS_HEADS_PER_HEIGHT_MAX other heads. */
  | 'heads-full'
  /** The signer holds WITNESS_GROUPS_PER_SIGNER_MAX heights, all above this one. */
  | 'signer-full'

/** Why a witness is not kept (`dropped.<reason>` in the service's status). */
export type WitnessDropReason = 'stale' | 'too-far-ahead' | 'not-voter' | PoolRefusal

/**
 * `reject`: the signer must have known better (gossipsub Reject); otherwise it may be honest and only this
 * node's chain makes the witness useless here (Ignore). Both stop the message here.
 */
export type WitnessVerdict = { ok: true } | { ok: false, reason: WitnessDropReason, reject: boolean }

/**
 * Whether a witness of `height` by `nodeId` is worth keeping, judged against this node's chain:
 * - `stale`: at or below the last sealed height or outside the seal window; no seal can cover it here
 *   (a late copy, honest: ignored).
 * - `too-far-ahead`: more than WITNESS_HEIGHTS_AHEAD_MAX above this node's head; the signer may be honest
 *   and this node slow (ignored).
 * - `not-voter`: the signer is not a voter at `height`, nor a hand-over voter (level 8: a voter where the chain
 *   was last sealed, which signs on until a seal covers its departure). At a height this node has applied, the
 *   voter set there is replicated state every current node agrees on, so only a signer that signs while not a
 *   voter sends it (rejected) — unless it was a voter in the history this node keeps: a departed voter behind
 *   this node's last seal still signs as a hand-over voter (ignored). Above the head it is judged against the
 *   current voters, and a voter promoted by a block this node has not applied yet looks like a non-voter:
 *   ignored, not rejected.
 */
export function judgeWitness (input: { height: number, nodeId: string, chain: Readonly<ChainState> }): WitnessVerdict {
  const { height, nodeId, chain } = input
  assert(Number.isSafeInteger(height) && height >= 1, () => `witness height ${height}`)
  if (height <= Math.max(chain.sealedHeight, chain.height - SEAL_WINDOW_HEIGHTS)) return { ok: false, reason: 'stale', reject: false }
  if (height > chain.height + WITNESS_HEIGHTS_AHEAD_MAX) return { ok: false, reason: 'too-far-ahead', reject: false }
  // Above the head, votersAt gives the voters in force now (the last entry of the history). A hand-over voter
  // (level 8) signs until a seal covers its departure; one this node saw covered may not have seen it yet.
  if (votersAt(chain, height).includes(nodeId) || handoverVoters(chain).includes(nodeId)) return { ok: true }
  const wasVoter = chain.voterHistory.some((e) => e.voters.includes(nodeId))
  return { ok: false, reason: 'not-voter', reject: height <= chain.height && !wasVoter }
}

interface Group {
  height: number
  head: Uint8Array
  signatures: Map<string, Uint8Array>
}

/** One signer's signatures. Invariant: `newest` is the highest key of `groups`, which is never empty. */
interface SignerGroups {
  /** Height → the group it signed there (one per height). */
  groups: Map<number, Group>
  newest: number
}

const headKeyOf = (head: Uint8Array): string => Buffer.from(head).toString('base64')

export class WitnessPool {
  /** Height → head key → group. Invariant: no empty map and no group without a signature. */
  private readonly heights = new Map<number, Map<string, Group>>()
  /** Invariant: at most WITNESS_POOL_SIGNERS_MAX, each with at most WITNESS_GROUPS_PER_SIGNER_MAX groups. */
  private readonly signers = new Map<string, SignerGroups>()

  /** Keeps `witness` over (height, head), or says why not. Call it only for what `judgeWitness` accepts. */
  add (height: number, head: Uint8Array, witness: Witness): 'added' | PoolRefusal {
    assert(Number.isSafeInteger(height) && height >= 1, () => `witness height ${height}`)
    const key = headKeyOf(head)
    const signer = this.signers.get(witness.nodeId)
    const signed = signer?.groups.get(height)
    if (signed !== undefined) return equalBytes(signed.head, head) ? 'duplicate' : 'second-head'
    const atHeight = this.heights.get(height)
    if (atHeight !== undefined && !atHeight.has(key) && atHeight.size >= WITNESS_HEADS_PER_HEIGHT_MAX) return 'heads-full'
    if (signer !== undefined && signer.groups.size >= WITNESS_GROUPS_PER_SIGNER_MAX) {
      const lowest = lowestHeightOf(signer)
      if (height < lowest) return 'signer-full'
      this.forgetSignature(witness.nodeId, lowest)
    }
    if (!this.signers.has(witness.nodeId) && this.signers.size >= WITNESS_POOL_SIGNERS_MAX) this.forgetStalestSigner()
    const group = this.groupAt(height, head, key)
    group.signatures.set(witness.nodeId, witness.signature)
    const entry = this.signers.get(witness.nodeId) ?? { groups: new Map<number, Group>(), newest: height }
    entry.groups.set(height, group)
    entry.newest = Math.max(entry.newest, height)
    this.signers.set(witness.nodeId, entry)
    assert(entry.groups.size <= WITNESS_GROUPS_PER_SIGNER_MAX, 'a signer holds more heights than its bound')
    assert(this.signers.size <= WITNESS_POOL_SIGNERS_MAX, 'the pool holds more signers than its bound')
    return 'added'
  }

  /** The group of (height, head), made (empty) when absent. */
  private groupAt (height: number, head: Uint8Array, key: string): Group {
    let atHeight = this.heights.get(height)
    if (atHeight === undefined) {
      atHeight = new Map()
      this.heights.set(height, atHeight)
    }
    let group = atHeight.get(key)
    if (group === undefined) {
      group = { height, head, signatures: new Map() }
      atHeight.set(key, group)
    }
    assert(atHeight.size <= WITNESS_HEADS_PER_HEIGHT_MAX, 'a height holds more heads than its bound')
    return group
  }

  /** Removes `nodeId`'s signature at `height`, and the group, height and signer it leaves empty. */
  private forgetSignature (nodeId: string, height: number): void {
    const signer = this.signers.get(nodeId)
    const group = signer?.groups.get(height)
    assert(signer !== undefined && group !== undefined, 'forgetting a signature the pool does not hold')
    group.signatures.delete(nodeId)
    signer.groups.delete(height)
    if (signer.groups.size === 0) this.signers.delete(nodeId)
    if (group.signatures.size > 0) return
    const atHeight = this.heights.get(height)!
    atHeight.delete(headKeyOf(group.head))
    if (atHeight.size === 0) this.heights.delete(height)
  }

  /** Forgets every signature of the signer whose newest one is the lowest (it signed nothing for longest). */
  private forgetStalestSigner (): void {
    let stalest: [string, SignerGroups] | undefined
    for (const entry of this.signers) if (stalest === undefined || entry[1].newest < stalest[1].newest) stalest = entry
    assert(stalest !== undefined, 'no signer to forget')
    for (const height of [...stalest[1].groups.keys()]) this.forgetSignature(stalest[0], height)
  }

  /** Witnesses of (height, head), sorted by node id. */
  witnesses (height: number, head: Uint8Array): Witness[] {
    const group = this.heights.get(height)?.get(headKeyOf(head))
    if (group === undefined) return []
    return [...group.signatures].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([nodeId, signature]) => ({ nodeId, signature }))
  }

  /** Groups from the highest height down (read once per seal interval: the sort is bounded by the pool). */
  groupsByHeight (): Array<{ height: number, head: Uint8Array, signers: string[] }> {
    return [...this.heights.keys()].sort((a, b) => b - a).flatMap((height) =>
      [...this.heights.get(height)!.values()].map((g) => ({ height, head: g.head, signers: [...g.signatures.keys()].sort() })))
  }

  /** Forgets groups at or below `height` (already sealed, or out of the seal window). */
  forgetUpTo (height: number): void {
    for (const [at, groups] of [...this.heights]) {
      if (at > height) continue
      for (const group of [...groups.values()]) for (const nodeId of [...group.signatures.keys()]) this.forgetSignature(nodeId, at)
    }
  }

  /** Sizes: groups, signatures and signers held, and the most heads at one height. */
  sizes (): { groups: number, signatures: number, signers: number, headsAtOneHeightMax: number } {
    let groups = 0
    let signatures = 0
    let headsAtOneHeightMax = 0
    for (const atHeight of this.heights.values()) {
      groups += atHeight.size
      headsAtOneHeightMax = Math.max(headsAtOneHeightMax, atHeight.size)
      for (const group of atHeight.values()) signatures += group.signatures.size
    }
    return { groups, signatures, signers: this.signers.size, headsAtOneHeightMax }
  }

  /** Which invariant or bound the pool breaks, or null (run by tests after every step). */
  checkInvariants (): string | null {
    let indexed = 0
    for (const [nodeId, signer] of this.signers) {
      if (signer.groups.size === 0 || signer.groups.size > WITNESS_GROUPS_PER_SIGNER_MAX) return `signer ${nodeId} holds ${signer.groups.size} heights`
      if (signer.newest !== Math.max(...signer.groups.keys())) return `signer ${nodeId}: newest is not its highest height`
      for (const [height, group] of signer.groups) {
        if (group.height !== height || this.heights.get(height)?.get(headKeyOf(group.head)) !== group || !group.signatures.has(nodeId)) return `signer ${nodeId}: group at ${height} not indexed`
      }
      indexed += signer.groups.size
    }
    if (this.signers.size > WITNESS_POOL_SIGNERS_MAX) return `${this.signers.size} signers`
    const sizes = this.sizes()
    if (sizes.headsAtOneHeightMax > WITNESS_HEADS_PER_HEIGHT_MAX) return `${sizes.headsAtOneHeightMax} heads at one height`
    if (sizes.signatures !== indexed) return `${sizes.signatures} signatures, ${indexed} indexed by signer`
    for (const atHeight of this.heights.values()) {
      if (atHeight.size === 0) return 'an empty height'
      for (const group of atHeight.values()) if (group.signatures.size === 0) return `an empty group at ${group.height}`
    }
    return null
  }
}

/** The lowest height a signer holds a signature at (a scan of at most WITNESS_GROUPS_PER_SIGNER_MAX keys). */
function lowestHeightOf (signer: SignerGroups): number {
  let lowest = Number.MAX_SAFE_INTEGER
  for (const height of signer.groups.keys()) lowest = Math.min(lowest, height)
  return lowest
}

/**
 * The leader's seal: the highest height whose kept witnesses name this node's block there and count a majority
 * of the voters at that height and, from level 8, of the hand-over voters (chain.ts `judgeHandover`); null when
 * none does. The witnesses are each signer's verified signature; at most MAX_WITNESSES_PER_SEAL are carried,
 * the voters' and the hand-over voters' first, so a seal never drops a signature it needs.
 */
export function chooseSeal (view: Readonly<ChainState>, pool: Pick<WitnessPool, 'groupsByHeight' | 'witnesses'>): Seal | null {
  const handover = handoverVoters(view)
  for (const group of pool.groupsByHeight()) {
    const ours = cidAt(view, group.height)
    if (ours === null || !equalBytes(ours, group.head)) continue
    const voters = votersAt(view, group.height)
    const witnesses = pool.witnesses(group.height, group.head)
    if (witnesses.filter((w) => voters.includes(w.nodeId)).length < majorityOf(voters.length)) continue
    const picked = pickWitnesses(witnesses, [...voters, ...handover])
    if (judgeHandover(view, { witnesses: picked }).kind !== 'applied') continue
    return { height: group.height, head: group.head, witnesses: picked }
  }
  return null
}

/** `needed`'s signatures first, then others, at most MAX_WITNESSES_PER_SEAL, sorted by node id. */
function pickWitnesses (witnesses: Witness[], needed: readonly string[]): Witness[] {
  const chosen = [...witnesses.filter((w) => needed.includes(w.nodeId)), ...witnesses.filter((w) => !needed.includes(w.nodeId))]
  return chosen.slice(0, MAX_WITNESSES_PER_SEAL).sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0))
}
