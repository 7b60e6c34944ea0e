/**
 * @module content/core/scheduler
 * Which chunk of a file to ask which provider for (swarming, docs/CONTENT.md §6). Pure and synchronous:
 * the fetch driver reports what happened and asks for the next request.
 *
 * - Every missing chunk is requested from one provider at a time; each provider has at most `windowPerProvider`
 *   requests outstanding and the fetch at most `inFlightMax` (memory bound), except that a provider with
 *   nothing outstanding always gets one: otherwise providers that never answer could hold every slot and
 *   stall the fetch until their requests time out. So at most `inFlightMax` + providers are outstanding.
 * - Chunks are handed out starting at `startIndex` and wrapping around, so fetchers that start at different
 *   places hold different chunks early and can serve each other while still fetching.
 * - A partial provider only gets chunks its bitmap says it holds. A 'none' answer puts the chunk in the
 *   provider's `lacks` set until its bitmap is next refreshed: one set, not one more closure around `holds`
 *   per answer, so a provider that answers 'none' to everything costs O(1) per chunk checked, not a chain as
 *   deep as its answers (that chain made a 4,096-chunk fetch spend minutes of CPU, and 16,384 overflow the
 *   stack). Once a provider lacks every missing chunk it is not holding, `next` answers at once.
 * - A provider that sent a bad chunk, or failed, is dropped from this fetch; its chunks go back to the pool.
 * - Endgame: once nothing is unassigned, an idle provider may duplicate a chunk another is still fetching
 *   (at most `endgameDuplicates` extra requests per chunk), so one slow provider cannot stall the tail.
 */
import { assert } from '../../util/assert.js'

export interface SchedulerInit {
  chunkCount: number
  /** Chunks already held (a resumed fetch). */
  present: (index: number) => boolean
  windowPerProvider: number
  inFlightMax: number
  endgameDuplicates: number
  startIndex: number
}

interface ProviderState {
  /** null: holds every chunk. Otherwise the bitmap of chunks it announced holding. */
  holds: ((index: number) => boolean) | null
  /**
   * Chunks it answered 'none' for since `holds` was last set. Invariant: lacks ⊆ missing and
   * lacks ∩ inFlight = ∅ (a lacked chunk is never handed to it; a chunk done is forgotten).
   */
  lacks: Set<number>
  inFlight: Set<number>
}

export class ChunkScheduler {
  /** Chunks not yet verified and stored, in hand-out order. Invariant: done ∩ missing = ∅. */
  private readonly missing = new Set<number>()
  /** chunk → providers it is requested from. Invariant: every key is in `missing`. */
  private readonly requested = new Map<number, Set<string>>()
  private readonly providers = new Map<string, ProviderState>()
  private readonly dropped = new Set<string>()
  private inFlightTotal = 0
  private doneCount = 0

  constructor (private readonly init: SchedulerInit) {
    assert(init.windowPerProvider > 0 && init.inFlightMax > 0, 'windows')
    const n = init.chunkCount
    for (let k = 0; k < n; k++) {
      const i = (init.startIndex + k) % n
      if (init.present(i)) this.doneCount++
      else this.missing.add(i)
    }
  }

  /** Adds or refreshes a provider; `holds` null means it has every chunk. A dropped provider stays out. */
  setProvider (peer: string, holds: ((index: number) => boolean) | null): void {
    if (this.dropped.has(peer)) return
    const state = this.providers.get(peer)
    if (state === undefined) {
      this.providers.set(peer, { holds, lacks: new Set(), inFlight: new Set() })
      return
    }
    // A refreshed bitmap (or a restarted worker) supersedes the 'none' answers given before it.
    state.holds = holds
    state.lacks.clear()
  }

  /** The next chunk to request from `peer`, marked in flight; undefined when there is none for it now. */
  next (peer: string): number | undefined {
    const state = this.providers.get(peer)
    if (state === undefined || state.inFlight.size >= this.init.windowPerProvider) return undefined
    if (this.inFlightTotal >= this.init.inFlightMax && state.inFlight.size > 0) return undefined
    // Both sets are disjoint subsets of `missing`: when they cover it, there is nothing to scan for.
    if (state.lacks.size + state.inFlight.size >= this.missing.size) return undefined
    let endgame: number | undefined
    for (const index of this.missing) {
      if (state.inFlight.has(index) || state.lacks.has(index) || (state.holds !== null && !state.holds(index))) continue
      const requesters = this.requested.get(index)
      if (requesters === undefined) return this.mark(peer, state, index)
      if (endgame === undefined && requesters.size <= this.init.endgameDuplicates) endgame = index
    }
    return endgame !== undefined && this.allAssigned() ? this.mark(peer, state, endgame) : undefined
  }

  private allAssigned (): boolean {
    return this.requested.size === this.missing.size
  }

  private mark (peer: string, state: ProviderState, index: number): number {
    state.inFlight.add(index)
    const requesters = this.requested.get(index) ?? new Set<string>()
    requesters.add(peer)
    this.requested.set(index, requesters)
    this.inFlightTotal++
    return index
  }

  private release (peer: string, index: number): void {
    const state = this.providers.get(peer)
    if (state?.inFlight.delete(index) === true) this.inFlightTotal--
    const requesters = this.requested.get(index)
    requesters?.delete(peer)
    if (requesters?.size === 0) this.requested.delete(index)
  }

  /** `peer` delivered chunk `index`, verified and stored. Returns false if it was already done (endgame). */
  onChunk (peer: string, index: number): boolean {
    this.release(peer, index)
    if (!this.missing.has(index)) return false
    this.missing.delete(index)
    for (const state of this.providers.values()) state.lacks.delete(index)
    for (const other of this.requested.get(index) ?? []) this.release(other, index)
    this.requested.delete(index)
    this.doneCount++
    return true
  }

  /** `peer` said it does not hold chunk `index`: it is not asked for it again until its bitmap is refreshed. */
  onMissing (peer: string, index: number): void {
    this.release(peer, index)
    const state = this.providers.get(peer)
    // A late answer for a chunk done meanwhile (endgame) must not break lacks ⊆ missing.
    if (state === undefined || !this.missing.has(index)) return
    state.lacks.add(index)
  }

  /** `peer` lied or failed: drop it from this fetch and give its chunks back. */
  dropProvider (peer: string): void {
    const state = this.providers.get(peer)
    if (state !== undefined) for (const index of [...state.inFlight]) this.release(peer, index)
    this.providers.delete(peer)
    this.dropped.add(peer)
  }

  /** Forgets that `peer` was dropped (a later fetch round may try it again after a failure). */
  readmit (peer: string): void {
    this.dropped.delete(peer)
  }

  inFlightOf (peer: string): number {
    return this.providers.get(peer)?.inFlight.size ?? 0
  }

  get done (): boolean {
    return this.missing.size === 0
  }

  get chunksDone (): number {
    return this.doneCount
  }

  get activeProviders (): string[] {
    return [...this.providers.keys()]
  }

  isDropped (peer: string): boolean {
    return this.dropped.has(peer)
  }

  /** Test hook (STYLE §12). */
  checkInvariants (): void {
    let total = 0
    for (const [peer, state] of this.providers) {
      assert(state.inFlight.size <= this.init.windowPerProvider, () => `${peer} over its window`)
      for (const i of state.inFlight) assert(this.requested.get(i)?.has(peer) === true, 'requested mirrors inFlight')
      for (const i of state.lacks) assert(this.missing.has(i) && !state.inFlight.has(i), () => `${peer} lacks ${i}: not missing or in flight`)
      total += state.inFlight.size
    }
    assert(total === this.inFlightTotal && total <= this.init.inFlightMax + this.providers.size, 'in-flight total')
    for (const i of this.requested.keys()) assert(this.missing.has(i), 'requested chunk is missing')
    assert(this.doneCount + this.missing.size === this.init.chunkCount, 'done + missing = count')
  }
}
