/**
 * @module consensus/removal-record
 * `<data-dir>/removed.json`, the record that this node left or was removed from its cluster (removal.ts says
 * how it gets there). Apart from the notices' protocol so that the CLI's `status` and `wait-ready` read it
 * without importing libp2p.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { NodeRemovedError } from './errors.js'

export const REMOVED_FILE_NAME = 'removed.json'

/** Contents of `removed.json` and of a removal notice. */
export interface RemovalRecord {
  clusterId: string
  nodeId: string
  /** `left`: the node left by itself; `removed`: another member removed it. */
  how: 'left' | 'removed'
  atMs: number
}

/** @throws NodeRemovedError when `dataDir` holds a removal record */
export async function assertNotRemoved (dataDir: string): Promise<void> {
  let text: string
  try {
    text = await fs.readFile(path.join(dataDir, REMOVED_FILE_NAME), 'utf8')
  } catch {
    return
  }
  let record: Partial<RemovalRecord> = {}
  try { record = JSON.parse(text) as Partial<RemovalRecord> } catch { /* any content means removed */ }
  const when = typeof record.atMs === 'number' ? ` at ${new Date(record.atMs).toISOString()}` : ''
  const detail = record.how === 'left' ? `left cluster ${String(record.clusterId)}${when}` : `was removed from cluster ${String(record.clusterId)}${when}`
  throw new NodeRemovedError(dataDir, detail)
}

export async function writeRemovalRecord (dataDir: string, record: RemovalRecord): Promise<void> {
  await fs.writeFile(path.join(dataDir, REMOVED_FILE_NAME), JSON.stringify(record) + '\n', { mode: 0o600 })
}

