/**
 * @module testbed/faults-file
 * Reads a testbed node's faults file (`{ "blocked": [nodeId…] }`). Only peer ids are kept: the node hangs up on
 * each blocked peer by its parsed id, and one entry that is no peer id (the file is hand-editable) made that parse
 * throw inside a timer's promise, which ended the node process as an unhandled rejection.
 */
import { promises as fs } from 'node:fs'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'

/** The blocked peers named in `file`, by id text; none when the file is missing or unreadable. */
export async function readBlockedPeers (file: string): Promise<Map<string, PeerId>> {
  let body: { blocked?: unknown }
  try {
    body = JSON.parse(await fs.readFile(file, 'utf8')) as { blocked?: unknown }
  } catch {
    return new Map()
  }
  const blocked = new Map<string, PeerId>()
  for (const text of Array.isArray(body?.blocked) ? body.blocked : []) {
    if (typeof text !== 'string') continue
    try {
      blocked.set(text, peerIdFromString(text))
    } catch {
      // Not a peer id: no connection can be to it.
    }
  }
  return blocked
}
