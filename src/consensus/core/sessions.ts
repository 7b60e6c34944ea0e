/**
 * @module consensus/core/sessions
 * Exactly-once proposals (issue 3): a pure, deterministic, bounded table of applied proposal ids and
 * their first results. Every replica applies the same entries in the same order, so every replica's
 * table (and its evictions) is identical and can travel inside the state-machine snapshot.
 *
 * Bounds: at most `maxSessionsPerOwner` clients per owner (the node named before the first `/` of a client
 * id; an owner over it loses its own least recently applied session, never another owner's), at most
 * `maxClients` clients in all (the least recently applied, by log index, is evicted) and at most
 * `maxSeqsPerClient` results per client (the lowest sequence is dropped and everything at or below it is
 * refused as `stale` from then on, so an old retry is never applied twice). Each eviction is decided by the
 * table's contents alone, and the per-owner order is the table's own order restricted to that owner, so a
 * table rebuilt from its encoding evicts exactly as the original.
 * NB: an evicted client is forgotten: a retry from it after eviction is applied again. Size maxClients
 * above the number of clients that can be active at once.
 */
import { assert } from '../../util/assert.js'
import { MAX_SESSION_CLIENTS_DEFAULT, MAX_SESSION_SEQS_PER_CLIENT_DEFAULT, MAX_SESSIONS_PER_OWNER_DEFAULT } from './constants.js'
import { SessionsDataInvalidError } from './errors.js'
import type { Entry, ProposalId } from './types.js'

/** One client's state as plain data (the encoded form). */
export interface ClientSessionData<R> {
  clientId: string
  /** Log index of the newest entry applied for this client (the eviction order). */
  lastIndex: number
  /** Sequences <= floorSeq without a stored result are refused as stale. */
  floorSeq: number
  /** [seq, result] pairs in ascending seq order. */
  results: [number, R][]
}

/** The serializable form of a ProposalSessions table; clients in least-recently-applied order. */
export interface ProposalSessionsData<R> {
  maxClients: number
  maxSeqsPerClient: number
  clients: ClientSessionData<R>[]
}

export type SessionLookup<R> =
  | { kind: 'new' }
  | { kind: 'duplicate', result: R }
  | { kind: 'stale' }

interface ClientSession<R> {
  lastIndex: number
  floorSeq: number
  results: Map<number, R>
}

// Shared answers (frozen): lookup runs at least twice per applied proposal.
const NEW: { kind: 'new' } = Object.freeze({ kind: 'new' })
const STALE: { kind: 'stale' } = Object.freeze({ kind: 'stale' })

/**
 * The node a client id belongs to: ids are `<NodeId>/<session>`. An id without a `/` (tests, a hostile
 * leader's entries) is its own owner.
 */
export function sessionOwner (clientId: string): string {
  const slash = clientId.indexOf('/')
  return slash > 0 ? clientId.slice(0, slash) : clientId
}

export class ProposalSessions<R = Uint8Array> {
  readonly maxClients: number
  readonly maxSeqsPerClient: number
  /** Not encoded: a bound of this build, like the defaults of the two above when a table is created. */
  readonly maxSessionsPerOwner: number
  /** Map order is the eviction order: least recently applied first. */
  private readonly clients = new Map<string, ClientSession<R>>()
  /**
   * Each owner's client ids in least-recently-applied order. Invariant: derived from `clients` (the same ids,
   * in `clients` order, grouped by sessionOwner); no empty set is kept.
   */
  private readonly owners = new Map<string, Set<string>>()

  constructor (maxClients = MAX_SESSION_CLIENTS_DEFAULT, maxSeqsPerClient = MAX_SESSION_SEQS_PER_CLIENT_DEFAULT,
    maxSessionsPerOwner = MAX_SESSIONS_PER_OWNER_DEFAULT) {
    assert(Number.isSafeInteger(maxClients) && maxClients > 0, () => `bad maxClients ${maxClients}`)
    assert(Number.isSafeInteger(maxSeqsPerClient) && maxSeqsPerClient > 0, 'bad maxSeqsPerClient')
    assert(Number.isSafeInteger(maxSessionsPerOwner) && maxSessionsPerOwner > 0, 'bad maxSessionsPerOwner')
    this.maxClients = maxClients
    this.maxSeqsPerClient = maxSeqsPerClient
    this.maxSessionsPerOwner = maxSessionsPerOwner
  }

  get size (): number {
    return this.clients.size
  }

  /** Whether `id` is new, was already applied (with its first result), or is too old to tell. */
  lookup (id: ProposalId): SessionLookup<R> {
    const client = this.clients.get(id.clientId)
    if (client === undefined) return NEW
    if (client.results.has(id.seq)) return { kind: 'duplicate', result: client.results.get(id.seq) as R }
    if (id.seq <= client.floorSeq) return STALE
    return NEW
  }

  /** Records the result of applying `id` at log `index`. Indexes must grow (apply order). */
  record (id: ProposalId, index: number, result: R): void {
    assert(this.lookup(id).kind === 'new', () => `proposal ${id.clientId}/${id.seq} recorded twice`)
    let client = this.clients.get(id.clientId)
    if (client === undefined) {
      client = { lastIndex: index, floorSeq: 0, results: new Map() }
    } else {
      assert(index > client.lastIndex, () => `apply index went back for ${id.clientId}`)
    }
    client.lastIndex = index
    client.results.set(id.seq, result)
    if (client.results.size > this.maxSeqsPerClient) {
      // A loop, not Math.min(...keys): the spread built an array of every stored seq per record (issue 16).
      let lowest = Infinity
      for (const seq of client.results.keys()) if (seq < lowest) lowest = seq
      client.results.delete(lowest)
      client.floorSeq = Math.max(client.floorSeq, lowest)
    }
    this.touch(id.clientId, client)
    // The owner's quota first: a flood of one owner's fresh sessions evicts that owner's own, and only
    // then the global bound (a loop: a table decoded from an older build's snapshot may hold more).
    const owned = this.owners.get(sessionOwner(id.clientId))
    assert(owned !== undefined && owned.has(id.clientId), 'recorded client missing from its owner')
    while (owned.size > this.maxSessionsPerOwner) this.evict(owned.values().next().value as string)
    if (this.clients.size > this.maxClients) this.evict(this.clients.keys().next().value as string)
    assert(this.clients.size <= this.maxClients, 'session table over its bound')
    assert(owned.size <= this.maxSessionsPerOwner, 'owner over its session quota')
    assert(this.clients.has(id.clientId), 'the recorded client was evicted')
  }

  /** Makes `clientId` the most recently applied client, in the table and in its owner's order. */
  private touch (clientId: string, client: ClientSession<R>): void {
    this.clients.delete(clientId)
    this.clients.set(clientId, client)
    const owner = sessionOwner(clientId)
    let owned = this.owners.get(owner)
    if (owned === undefined) {
      owned = new Set()
      this.owners.set(owner, owned)
    }
    owned.delete(clientId)
    owned.add(clientId)
  }

  private evict (clientId: string): void {
    assert(this.clients.delete(clientId), () => `evicting an unknown client ${clientId}`)
    const owner = sessionOwner(clientId)
    const owned = this.owners.get(owner)
    assert(owned?.delete(clientId) === true, () => `client ${clientId} missing from its owner`)
    if (owned.size === 0) this.owners.delete(owner)
  }

  /** Plain data for the snapshot (the caller encodes R). */
  encode (): ProposalSessionsData<R> {
    const clients: ClientSessionData<R>[] = []
    for (const [clientId, c] of this.clients) {
      const results = [...c.results.entries()].sort((a, b) => a[0] - b[0])
      clients.push({ clientId, lastIndex: c.lastIndex, floorSeq: c.floorSeq, results })
    }
    return { maxClients: this.maxClients, maxSeqsPerClient: this.maxSeqsPerClient, clients }
  }

  /**
   * Rebuilds a table from untrusted data (a snapshot from the network or disk); null when the data is
   * not a well-formed, in-bound table (see decode), so a bad snapshot is refused instead of crashing.
   */
  static tryDecode<R> (data: unknown, isResult?: (value: unknown) => value is R): ProposalSessions<R> | null {
    try {
      return ProposalSessions.decode(data, isResult)
    } catch (err) {
      if (err instanceof SessionsDataInvalidError) return null
      throw err
    }
  }

  /**
   * Rebuilds a table from encode() output that may come from anywhere: every field is checked (counts
   * are positive safe integers, client ids unique, results in strictly ascending seq order above the
   * client's floor, at most maxSeqsPerClient of them, each accepted by `isResult` when given), so a
   * table that decodes can be recorded into and encoded again.
   * The per-owner quota is this build's (`maxSessionsPerOwner`, not encoded); an owner the data holds more
   * sessions of is brought under it at its next record.
   * @throws SessionsDataInvalidError naming the first bad field.
   */
  static decode<R> (data: unknown, isResult?: (value: unknown) => value is R, maxSessionsPerOwner = MAX_SESSIONS_PER_OWNER_DEFAULT): ProposalSessions<R> {
    const d = sessionsRecord(data, 'session table')
    const maxClients = positiveCount(d.maxClients, 'maxClients')
    const maxSeqsPerClient = positiveCount(d.maxSeqsPerClient, 'maxSeqsPerClient')
    if (!Array.isArray(d.clients)) invalid('clients is not an array')
    const clients = d.clients as unknown[]
    if (clients.length > maxClients) invalid(`${clients.length} clients over maxClients ${maxClients}`)
    const sessions = new ProposalSessions<R>(maxClients, maxSeqsPerClient, maxSessionsPerOwner)
    for (const [i, raw] of clients.entries()) {
      const c = sessionsRecord(raw, `client ${i}`)
      if (typeof c.clientId !== 'string' || sessions.clients.has(c.clientId)) invalid(`client ${i}: clientId missing or repeated`)
      const client: ClientSession<R> = { lastIndex: count(c.lastIndex, `client ${i} lastIndex`), floorSeq: count(c.floorSeq, `client ${i} floorSeq`), results: new Map() }
      if (!Array.isArray(c.results) || c.results.length > maxSeqsPerClient) invalid(`client ${i}: results missing or over maxSeqsPerClient`)
      let previous = client.floorSeq
      for (const pair of c.results as unknown[]) {
        if (!Array.isArray(pair) || pair.length !== 2) invalid(`client ${i}: a result is not a [seq, value] pair`)
        const [seq, value] = pair as [unknown, unknown]
        if (count(seq, `client ${i} seq`) <= previous) invalid(`client ${i}: result seqs not ascending above floorSeq`)
        if (value === undefined || (isResult !== undefined && !isResult(value))) invalid(`client ${i}: result for seq ${String(seq)} is malformed`)
        client.results.set(seq as number, value as R)
        previous = seq as number
      }
      sessions.touch(c.clientId as string, client)
    }
    return sessions
  }
}

function invalid (reason: string): never {
  throw new SessionsDataInvalidError(`session table: ${reason}`)
}

function sessionsRecord (value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) invalid(`${what} is not a map`)
  return value as Record<string, unknown>
}

function count (value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) invalid(`${what} is not a non-negative safe integer`)
  return value as number
}

function positiveCount (value: unknown, what: string): number {
  if (count(value, what) === 0) invalid(`${what} is 0`)
  return value as number
}

/** What applyOnce did with an entry. */
export type ApplyOnceOutcome<R> =
  | { status: 'applied', result: R }
  | { status: 'duplicate', result: R }
  | { status: 'stale' }

/**
 * Applies `entry` unless its proposal id was already applied: then the first result is returned and
 * `apply` is not called. Entries without a proposal id are always applied (and not recorded).
 */
export function applyOnce<R> (sessions: ProposalSessions<R>, entry: Entry, apply: (entry: Entry) => R): ApplyOnceOutcome<R> {
  const id = entry.proposalId
  if (id === undefined) return { status: 'applied', result: apply(entry) }
  const seen = sessions.lookup(id)
  if (seen.kind === 'duplicate') return { status: 'duplicate', result: seen.result }
  if (seen.kind === 'stale') return { status: 'stale' }
  const result = apply(entry)
  sessions.record(id, entry.index, result)
  return { status: 'applied', result }
}
