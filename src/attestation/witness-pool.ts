/**
 * @module attestation/witness-pool
 * Witness signatures heard on gossip (and made here), grouped by the (height, head) they sign. Bounded:
 * at most WITNESS_POOL_HEIGHTS_MAX heights, the lowest forgotten first, and one signature per node per
 * group. The pool trusts nothing: its entries were verified by the topic validator, and the leader
 * checks a group's head against its own chain before sealing it.
 */
import type { Witness } from './core/index.js'
import { WITNESS_POOL_HEIGHTS_MAX } from './constants.js'

interface Group {
  height: number
  head: Uint8Array
  signatures: Map<string, Uint8Array>
}

const keyOf = (height: number, head: Uint8Array): string => `${height}:${Buffer.from(head).toString('base64')}`

export class WitnessPool {
  private readonly groups = new Map<string, Group>()

  add (height: number, head: Uint8Array, witness: Witness): void {
    const key = keyOf(height, head)
    let group = this.groups.get(key)
    if (group === undefined) {
      group = { height, head, signatures: new Map() }
      this.groups.set(key, group)
      this.evict()
    }
    if (!group.signatures.has(witness.nodeId)) group.signatures.set(witness.nodeId, witness.signature)
  }

  /** Forgets the lowest heights beyond the bound. */
  private evict (): void {
    const heights = [...new Set([...this.groups.values()].map((g) => g.height))].sort((a, b) => a - b)
    while (heights.length > WITNESS_POOL_HEIGHTS_MAX) {
      const lowest = heights.shift()!
      for (const [key, group] of this.groups) if (group.height === lowest) this.groups.delete(key)
    }
  }

  /** Witnesses of (height, head), sorted by node id. */
  witnesses (height: number, head: Uint8Array): Witness[] {
    const group = this.groups.get(keyOf(height, head))
    if (group === undefined) return []
    return [...group.signatures].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([nodeId, signature]) => ({ nodeId, signature }))
  }

  /** Groups from the highest height down. */
  groupsByHeight (): Array<{ height: number, head: Uint8Array, signers: string[] }> {
    return [...this.groups.values()].sort((a, b) => b.height - a.height).map((g) => ({ height: g.height, head: g.head, signers: [...g.signatures.keys()].sort() }))
  }

  /** Forgets groups at or below `height` (already sealed). */
  forgetUpTo (height: number): void {
    for (const [key, group] of this.groups) if (group.height <= height) this.groups.delete(key)
  }
}
