/**
 * @module membership/core/address-lookup
 * Which members' addresses a node must hold, and the strict reading of the address lookup's frames
 * (membership/address-lookup.ts; docs/MEMBERSHIP.md, "Where a node learns other members' addresses"). Pure.
 *
 * Raft configurations name node ids only; addresses travel in heartbeats and digests. A node admitted or
 * promoted just before its leader dies may hold the others' ids but none of their addresses, and they none
 * of its: the new leader cannot replicate to it, two new voters cannot elect. So a node asks a connected
 * member for the addresses it lacks as soon as its applied configuration names a member it may have to dial.
 */
import type { RaftMembers } from './tier.js'
import { isVoterIn } from './tier.js'
import { MAX_ADDRESSES } from './constants.js'

/** Node ids asked for in one request; more wait for the next one. */
export const LOOKUP_IDS_MAX = 64
/** Characters of one id or one address (a PeerId string is 52; a multiaddr with a DNS name stays far below). */
export const LOOKUP_STRING_CHARS_MAX = 256
/** Bytes of an answer frame: 64 ids × 16 addresses of at most 256 characters, with room. */
export const LOOKUP_FRAME_BYTES_MAX = 300 * 1024
/** Bytes of a request frame: 64 ids of at most 256 characters, with room (an answerer reads no more). */
export const LOOKUP_REQUEST_BYTES_MAX = 20 * 1024

/**
 * The members `self` may have to dial, per its applied configuration: a voter may lead or campaign, so it
 * needs everyone; anyone else needs the voters (its redial loop keeps them connected; the leader dials it).
 * Sorted, without `self`.
 */
export function membersToReach (conf: RaftMembers, self: string): string[] {
  const voters = [...conf.voters, ...conf.votersOutgoing]
  const wanted = isVoterIn(conf, self) ? [...voters, ...conf.learners, ...conf.learnersNext] : voters
  return [...new Set(wanted)].filter((id) => id !== self).sort()
}

/**
 * Whom to ask, in order: the leader (it connected to every member it admitted), then the other members of the
 * configuration this node is connected to. Only connected peers: a lookup must not wait on a dial.
 */
export function lookupAnswerers (input: { self: string, leader: string | null | undefined, conf: RaftMembers, connected: ReadonlySet<string> }): string[] {
  const { self, leader, conf, connected } = input
  const members = [...new Set([...conf.voters, ...conf.votersOutgoing, ...conf.learners, ...conf.learnersNext])].sort()
  const order = leader !== null && leader !== undefined ? [leader, ...members.filter((id) => id !== leader)] : members
  return order.filter((id) => id !== self && connected.has(id))
}

/**
 * A lookup request: the ids whose addresses the asker lacks, and whether it also asks who leads (a joiner that
 * hears no digest: its seed may be a follower; docs/MEMBERSHIP.md, "Quiet joiners"). Builds before the `leader`
 * field ignore it and answer the ids alone.
 */
export interface LookupRequest {
  ids: string[]
  leader: boolean
}

/** One member's addresses as the answerer holds them (without a `/p2p/` suffix). */
export interface LookupEntry {
  id: string
  addresses: string[]
}

/**
 * The answer: entries for the ids the answerer holds addresses of, in the order asked; when asked, the leader
 * the answerer knows of (possibly itself) with the addresses it holds for it, absent when it knows none.
 */
export interface LookupAnswer {
  peers: LookupEntry[]
  leader?: LookupEntry
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array)
const isShortString = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= LOOKUP_STRING_CHARS_MAX

/** A decoded request, checked; null when anything is off (too many ids, not strings, duplicates, a non-boolean `leader`). */
export function parseLookupRequest (v: unknown): LookupRequest | null {
  if (!isRecord(v) || !Array.isArray(v.ids) || v.ids.length > LOOKUP_IDS_MAX || !v.ids.every(isShortString)) return null
  if (v.leader !== undefined && typeof v.leader !== 'boolean') return null
  const ids = v.ids
  return new Set(ids).size === ids.length ? { ids, leader: v.leader === true } : null
}

/**
 * One entry of an answer, checked: more than MAX_ADDRESSES addresses, or an address naming another peer
 * (`/p2p/<other>`, or any `/p2p/` before its end) makes it null. Addresses come back without their suffix.
 */
function parseEntry (entry: unknown): LookupEntry | null {
  if (!isRecord(entry) || !isShortString(entry.id)) return null
  const addresses = entry.addresses
  if (!Array.isArray(addresses) || addresses.length > MAX_ADDRESSES || !addresses.every(isShortString)) return null
  const bare: string[] = []
  for (const address of addresses as string[]) {
    const suffix = /\/p2p\/([^/]+)$/.exec(address)
    if (suffix !== null && suffix[1] !== entry.id) return null
    const head = suffix === null ? address : address.slice(0, suffix.index)
    // A `/p2p/` inside the address would route the dial through another peer (a relay): not a member's own address.
    if (head.includes('/p2p/')) return null
    bare.push(head)
  }
  return { id: entry.id, addresses: bare }
}

/**
 * A decoded answer, checked against what was asked: an entry for an id not asked for, a repeated one, or an
 * entry parseEntry refuses (the leader's included, when it was asked for) makes the whole answer malformed
 * (null) — the answerer is confused or lying, and nothing of it is used. A leader nobody asked for is ignored.
 * Whether each address parses as a multiaddr is the caller's check.
 */
export function parseLookupAnswer (v: unknown, asked: readonly string[], leaderAsked = false): LookupAnswer | null {
  if (!isRecord(v) || !Array.isArray(v.peers) || v.peers.length > asked.length) return null
  const askedSet = new Set(asked)
  const seen = new Set<string>()
  const peers: LookupEntry[] = []
  for (const raw of v.peers as unknown[]) {
    const entry = parseEntry(raw)
    if (entry === null || !askedSet.has(entry.id) || seen.has(entry.id)) return null
    seen.add(entry.id)
    peers.push(entry)
  }
  if (!leaderAsked || v.leader === undefined) return { peers }
  const leader = parseEntry(v.leader)
  return leader === null ? null : { peers, leader }
}

/** Backoff before asking again for members nobody could tell this node about: doubles from 1 s up to 16 s. */
export const LOOKUP_RETRY_MIN_MS = 1000
export const LOOKUP_RETRY_MAX_MS = 16_000

export function nextLookupRetryMs (previousMs: number | undefined): number {
  return doubledWaitMs(previousMs, LOOKUP_RETRY_MIN_MS, LOOKUP_RETRY_MAX_MS)
}

/** A wait that starts at `minMs` and doubles on each call up to `maxMs` (lookups, a joiner's leader question). */
export function doubledWaitMs (previousMs: number | undefined, minMs: number, maxMs: number): number {
  return previousMs === undefined ? minMs : Math.min(maxMs, previousMs * 2)
}
