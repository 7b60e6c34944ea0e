/**
 * @module identity
 * The node's one ed25519 key (DESIGN §2): created on first start in `<data-dir>/identity.key` (mode 0600) and
 * reused after. Its libp2p PeerId string is the NodeId everywhere. A corrupt key or one others can read is a
 * typed error, never replaced: a silently new identity would make the node a stranger to its own cluster.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { DATA_DIR_MODE, GROUP_OTHER_BITS, IDENTITY_FILE_MODE, IDENTITY_FILE_NAME } from './constants.js'
import { IdentityCorruptError, IdentityPermissionsError } from './errors.js'
import { writeFileDurably } from '../util/durable-file.js'

export { IdentityCorruptError, IdentityPermissionsError } from './errors.js'
export { IDENTITY_FILE_NAME } from './constants.js'

/** A node's NodeId: its libp2p PeerId in string form (`12D3KooW…`). */
export type NodeId = string

/** The loaded identity. */
export interface Identity {
  privateKey: PrivateKey
  nodeId: NodeId
  /** True when this call created the key (first start). */
  created: boolean
}

/** Creates `dir` (mode 0700) if missing. */
export async function ensureDataDir (dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: DATA_DIR_MODE })
}

/**
 * Loads `<dataDir>/identity.key`, creating it on first start.
 *
 * @throws IdentityCorruptError when the file is not a valid ed25519 key
 * @throws IdentityPermissionsError when group or others have any access to the file
 */
export async function loadOrCreateIdentity (dataDir: string): Promise<Identity> {
  await ensureDataDir(dataDir)
  const file = path.join(dataDir, IDENTITY_FILE_NAME)
  const existing = await readIdentity(file)
  if (existing !== undefined) return { ...existing, created: false }
  const privateKey = await generateKeyPair('Ed25519')
  // Exclusive: fails if another process created the file meanwhile: we then read theirs instead of
  // overwriting. Durable (fsync of file and directory): a power cut must not forget who this node is.
  try {
    await writeFileDurably(file, privateKeyToProtobuf(privateKey), { mode: IDENTITY_FILE_MODE, exclusive: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
    const raced = await readIdentity(file)
    if (raced !== undefined) return { ...raced, created: false }
  }
  return { privateKey, nodeId: peerIdFromPrivateKey(privateKey).toString(), created: true }
}

/** Reads an existing identity file; undefined when there is none. */
export async function readIdentity (file: string): Promise<Omit<Identity, 'created'> | undefined> {
  let stat
  try {
    stat = await fs.stat(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const mode = stat.mode & 0o777
  if ((mode & GROUP_OTHER_BITS) !== 0) throw new IdentityPermissionsError(file, mode)
  const bytes = await fs.readFile(file)
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new IdentityCorruptError(file, err)
  }
  if (privateKey.type !== 'Ed25519') throw new IdentityCorruptError(file)
  return { privateKey, nodeId: peerIdFromPrivateKey(privateKey).toString() }
}
