/**
 * @module net/known-peers
 * Remembers every cluster peer seen (its NodeId and the listen addresses identify reported) in
 * `<data-dir>/peers.json`, and on start feeds them back into the peer store and the redial loop. Without it a
 * node that restarts only knows its join addresses: the cluster's creator would know nobody, and peers
 * listening on a random port would be unreachable until they dialled in themselves. A member removed from the
 * cluster (Redialer.forget) leaves the file, and identify does not put it back while the redialer remembers it
 * (docs/MEMBERSHIP.md, "Removed members are not redialled").
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

/**
 * Loads known peers into the peer store and the redialer, then records peers as they identify and drops each
 * peer the redialer forgets. Returns a function that detaches the listeners and waits for the last write.
 */
export async function trackKnownPeers (net: NetNode, redialer: Redialer, dataDir: string, log: Logger): Promise<() => Promise<void>> {
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
  let writing: Promise<void> = Promise.resolve()
  const save = (): void => {
    const body = JSON.stringify(table, null, 2) + '\n'
    // Writes are chained so two changes never interleave on the same temp file; the last one holds the table.
    writing = writing.then(async () => {
      await fs.writeFile(`${file}.tmp`, body, { mode: CLUSTER_FILE_MODE })
      await fs.rename(`${file}.tmp`, file)
    }).catch((err: unknown) => { log.warn({ file, err: (err as Error).message }, 'could not save known peers') })
  }
  const onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const id = evt.detail.peerId.toString()
    // A removed member that connects again (it may not have stopped) stays out of the file.
    if (redialer.isForgotten(id)) return
    const addrs = evt.detail.listenAddrs.map((ma) => ma.toString()).slice(0, KNOWN_PEER_ADDRS_MAX)
    if (addrs.length === 0 || JSON.stringify(table[id]) === JSON.stringify(addrs)) return
    delete table[id]
    table[id] = addrs
    const ids = Object.keys(table)
    for (const old of ids.slice(0, Math.max(0, ids.length - KNOWN_PEERS_MAX))) delete table[old]
    save()
  }
  const onForget = (id: string): void => {
    if (!Object.hasOwn(table, id)) return
    delete table[id]
    save()
  }
  net.addEventListener('peer:identify', onIdentify)
  const unsubscribe = redialer.onForget(onForget)
  return async () => {
    net.removeEventListener('peer:identify', onIdentify)
    unsubscribe()
    await writing
  }
}
