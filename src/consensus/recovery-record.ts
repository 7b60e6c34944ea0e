/**
 * @module consensus/recovery-record
 * The lost voters of a `revoada recover-quorum` run that has not ended, kept in the raft directory from just
 * before the node campaigns until it exits with "quorum recovered". A run after one that gave up or crashed
 * resumes that set: counting the voters of the configuration then would count a live voter the first run
 * added as lost, and could leave two histories (docs/SIMULATION.md, "Quorum recovery").
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { QuorumRecoveryError } from '../node/errors.js'
import { writeFileDurably, fsyncDirectory } from '../util/durable-file.js'
import type { NodeId } from './core/types.js'

/** Name of the record inside the raft directory. */
export const QUORUM_RECOVERY_FILE_NAME = 'quorum-recovery.json'
/** Far more lost voters than a configuration of this product holds: a larger list is not a record we wrote. */
const LOST_VOTERS_MAX = 1024
const NODE_ID_CHARS_MAX = 128

const recordPath = (raftDir: string): string => path.join(raftDir, QUORUM_RECOVERY_FILE_NAME)

/**
 * The lost voters of an unfinished recovery, or undefined when there is none.
 * @throws QuorumRecoveryError when the record cannot be read or is not one this build wrote
 */
export async function readRecoveryRecord (raftDir: string): Promise<NodeId[] | undefined> {
  let text: string
  try {
    text = await fs.readFile(recordPath(raftDir), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new QuorumRecoveryError(`cannot read ${recordPath(raftDir)}: ${(err as Error).message}`)
  }
  const lost = parseRecord(text)
  if (lost === undefined) {
    throw new QuorumRecoveryError(`${recordPath(raftDir)} is not a quorum recovery record (expected {"lostVoters": [node ids]})`)
  }
  return lost
}

function parseRecord (text: string): NodeId[] | undefined {
  let body: unknown
  try { body = JSON.parse(text) } catch { return undefined }
  if (typeof body !== 'object' || body === null) return undefined
  const lost = (body as { lostVoters?: unknown }).lostVoters
  if (!Array.isArray(lost) || lost.length > LOST_VOTERS_MAX) return undefined
  const valid = lost.every((id): id is string => typeof id === 'string' && id.length > 0 && id.length <= NODE_ID_CHARS_MAX)
  return valid ? [...new Set(lost as string[])].sort() : undefined
}

/** Writes the record durably (a power cut after the campaign must not forget it). */
export async function writeRecoveryRecord (raftDir: string, lostVoters: readonly NodeId[]): Promise<void> {
  await writeFileDurably(recordPath(raftDir), `${JSON.stringify({ lostVoters: [...lostVoters].sort() })}\n`, { mode: 0o600 })
}

/** Removes the record once the recovery has ended; no record is fine. */
export async function removeRecoveryRecord (raftDir: string): Promise<void> {
  try {
    await fs.rm(recordPath(raftDir))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  await fsyncDirectory(raftDir)
}
