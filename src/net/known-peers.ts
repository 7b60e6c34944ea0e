/**
 * @module net/known-peers
 * Remembers cluster peers (their NodeId and listen addresses) in `<data-dir>/peers.json`, and on start feeds them
 * back into the peer store and the redial loop. Without it a node that restarts only knows its join addresses: the
 * cluster's creator would know nobody, and peers listening on a random port would be unreachable until they
 * dialled in themselves. Two sources: identify (a peer this node connected to) and the addresses a member of this
 * node's Raft configuration announced in its own heartbeat (`KnownPeers.announced`, called by membership): Raft
 * followers need not connect to each other, and after a site-wide power cut that the leader does not come back
 * from, two followers that never met would hold each other's ids only (docs/MEMBERSHIP.md, "Where a node learns
 * other members' addresses"). A member removed from the cluster (Redialer.forget) leaves the file, and neither
 * source puts it back while the redialer remembers it (docs/MEMBERSHIP.md, "Removed members are not redialled").
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { IdentifyResult } from '@libp2p/interface'
import type { Logger } from '../log/index.js'
import type { NetNode } from './libp2p.js'
import type { Redialer } from './redial.js'
import { CLUSTER_FILE_MODE, KNOWN_PEER_ADDRS_MAX, KNOWN_PEERS_FILE_NAME, KNOWN_PEERS_MAX } from './constants.js'
import { writeFileDurably } from '../util/durable-file.js'

type PeerTable = Record<string, string[]>

async function readTable (file: string, log: Logger): Promise<PeerTable> {
  try {
    const body = JSON.parse(await fs.readFile(file, 'utf8')) as unknown
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object')
    const table: PeerTable = {}
    for (const [id, addrs] of Object.entries(body)) {
      if (Array.isArray(addrs)) table[id] = addrs.filter((a): a is string => typeof a === 'string').slice(0, KNOWN_PEER_ADDRS_MAX)
    }
    return table
  } catch (err) {
    // The file is only a cache of what the cluster already knows; a bad one is dropped, not fatal.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ file, err: (err as Error).message }, 'ignoring unreadable known-peers file')
    return {}
  }
}

/** What a member announced in its own heartbeat (membership's side of `KnownPeers.announced`). */
export interface Announcement {
  peer: string
  /** Its listen addresses as it sent them, without `/p2p/` (membership parsed them: membership/addresses.ts). */
  addresses: readonly string[]
  /** A voter of this node's applied configuration (kept first when the file is full). */
  voter: boolean
}

/** The running tracker `trackKnownPeers` returns. */
export interface KnownPeers {
  /**
   * Records the addresses a member of this node's Raft configuration announced in its own signed heartbeat, when
   * they differ from what the file holds: not for this node, a forgotten peer, or a peer identify reported in this
   * process (identify's word, from a connection, stands). When the file is full a voter takes the place of the
   * non-voter seen least recently and anyone else is left out: two members pushing each other out would write the
   * file at every heartbeat. Cheap when nothing changed (a comparison, and the entry moved last as seen): membership
   * calls it for every heartbeat.
   */
  announced: (announcement: Announcement) => void
  /** Detaches the listeners and waits for the last write. */
  stop: () => Promise<void>
}

/**
 * Loads known peers into the peer store and the redialer, then records peers as they identify or as membership
 * hears them announce (`KnownPeers.announced`) and drops each peer the redialer forgets.
 */
export async function trackKnownPeers (net: NetNode, redialer: Redialer, dataDir: string, log: Logger): Promise<KnownPeers> {
  const file = path.join(dataDir, KNOWN_PEERS_FILE_NAME)
  const table = await readTable(file, log)
  const self = net.peerId.toString()
  for (const [id, addrs] of Object.entries(table)) {
    if (id === self) continue
    try {
      await net.peerStore.merge(peerIdFromString(id), { multiaddrs: addrs.map((a) => multiaddr(a)) })
      redialer.addPeer(id)
    } catch (err) {
      log.warn({ peer: id, err: (err as Error).message }, 'ignoring bad known-peers entry')
    }
  }
  const tracker = new Tracker(table, file, self, redialer, log)
  const onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    tracker.identified(evt.detail.peerId.toString(), evt.detail.listenAddrs.map((ma) => ma.toString()))
  }
  net.addEventListener('peer:identify', onIdentify)
  const unsubscribe = redialer.onForget((id) => { tracker.forgotten(id) })
  let stopped = false
  return {
    announced: (announcement) => { if (!stopped) tracker.announced(announcement) },
    stop: async () => {
      stopped = true
      net.removeEventListener('peer:identify', onIdentify)
      unsubscribe()
      await tracker.writing
    }
  }
}

/** The table and its file: every change goes through `put` or `forgotten`, and each writes the whole file. */
class Tracker {
  /** The last write, chained so two changes never interleave on the same temp file; the last one holds the table. */
  writing: Promise<void> = Promise.resolve()
  /**
   * Peers whose entry identify wrote (or confirmed) in this process, and peers last announced as voters.
   * Invariant: both are subsets of the table's keys (`drop` removes from all three), so they are bounded as it
   * is. The file says nothing of where an entry came from: a loaded one may be replaced by an announcement.
   */
  private readonly fromIdentify = new Set<string>()
  private readonly voters = new Set<string>()

  constructor (
    private readonly table: PeerTable,
    private readonly file: string,
    private readonly self: string,
    private readonly redialer: Redialer,
    private readonly log: Logger
  ) {}

  identified (id: string, listenAddrs: string[]): void {
    // A removed member that connects again (it may not have stopped) stays out of the file.
    if (this.redialer.isForgotten(id)) return
    const addrs = listenAddrs.slice(0, KNOWN_PEER_ADDRS_MAX)
    if (addrs.length === 0) return
    if (!sameAddresses(this.table[id], addrs)) this.put(id, addrs)
    else this.touch(id)
    this.fromIdentify.add(id)
  }

  announced (announcement: Announcement): void {
    const id = announcement.peer
    if (id === this.self || this.redialer.isForgotten(id)) return
    const listed = Object.hasOwn(this.table, id)
    if (listed && announcement.voter) this.voters.add(id)
    else this.voters.delete(id)
    const addrs = announcement.addresses.slice(0, KNOWN_PEER_ADDRS_MAX)
    if (listed) this.touch(id)
    if (this.fromIdentify.has(id) || addrs.length === 0 || sameAddresses(this.table[id], addrs)) return
    if (!listed && !this.hasRoomFor(announcement.voter)) return
    if (announcement.voter) this.voters.add(id)
    this.put(id, addrs)
  }

  forgotten (id: string): void {
    if (!Object.hasOwn(this.table, id)) return
    this.drop(id)
    this.save()
  }

  /** Below KNOWN_PEERS_MAX anyone; at it a voter, if some entry is no voter's (`put` drops it). */
  private hasRoomFor (voter: boolean): boolean {
    const ids = Object.keys(this.table)
    if (ids.length < KNOWN_PEERS_MAX) return true
    return voter && ids.some((old) => !this.voters.has(old))
  }

  /**
   * Moves `id`'s entry last (the most recently seen) without writing: the table's order is recency, so `put` pushes
   * out the peer seen least recently. By insertion order, a long-lived peer still connecting or announcing with the
   * addresses the file holds went before a stale one recorded after it. The next write saves the order, so it
   * survives a restart as of that write (and the redialer loads the peers in it: net/redial.ts).
   */
  private touch (id: string): void {
    const addrs = this.table[id]
    if (addrs === undefined) return
    delete this.table[id]
    this.table[id] = addrs
  }

  /**
   * Puts `id` last (the most recently seen) with `addrs` and writes the file. Beyond KNOWN_PEERS_MAX the non-voters
   * seen least recently go first, then the voters seen least recently; never `id` itself.
   */
  private put (id: string, addrs: string[]): void {
    delete this.table[id]
    this.table[id] = addrs
    const ids = Object.keys(this.table)
    let excess = ids.length - KNOWN_PEERS_MAX
    for (const old of [...ids.filter((x) => !this.voters.has(x)), ...ids.filter((x) => this.voters.has(x))]) {
      if (excess <= 0) break
      if (old === id) continue
      this.drop(old)
      excess--
    }
    this.save()
  }

  private drop (id: string): void {
    delete this.table[id]
    this.fromIdentify.delete(id)
    this.voters.delete(id)
  }

  private save (): void {
    const body = JSON.stringify(this.table, null, 2) + '\n'
    const { file, log } = this
    // Durable (file and directory fsynced): a site's power cut is when a node needs it most, to find the voters
    // it never connected to (docs/MEMBERSHIP.md).
    this.writing = this.writing.then(async () => { await writeFileDurably(file, body, { mode: CLUSTER_FILE_MODE }) }).catch((err: unknown) => { log.warn({ file, err: (err as Error).message }, 'could not save known peers') })
  }
}

function sameAddresses (held: readonly string[] | undefined, addrs: readonly string[]): boolean {
  return held !== undefined && held.length === addrs.length && held.every((a, i) => a === addrs[i])
}
