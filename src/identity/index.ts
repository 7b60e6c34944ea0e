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
import { IdentityCorruptError, IdentityPermissionsError, IdentityUnreadableError } from './errors.js'
import { writeFileDurably } from '../util/durable-file.js'

export { IdentityCorruptError, IdentityPermissionsError, IdentityUnreadableError } from './errors.js'
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
 * @throws IdentityUnreadableError when the name holds no readable regular file (a directory, a symlink loop…)
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
    // NB: the name exists (link() said so) yet reads as missing: never run on a key that was not saved.
    throw new IdentityUnreadableError(file, 'it exists but leads to no file')
  }
  return { privateKey, nodeId: peerIdFromPrivateKey(privateKey).toString(), created: true }
}

/**
 * Reads an existing identity file; undefined when there is none.
 * @throws IdentityCorruptError, IdentityPermissionsError, IdentityUnreadableError as loadOrCreateIdentity
 */
export async function readIdentity (file: string): Promise<Omit<Identity, 'created'> | undefined> {
  let stat
  try {
    stat = await fs.stat(file)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    // A symlink to nothing stats as ENOENT too: only a name that is truly absent means "no key yet".
    if (code === 'ENOENT' && !await nameExists(file)) return undefined
    throw new IdentityUnreadableError(file, code === 'ENOENT' ? 'it is a symlink to nothing' : String(code ?? (err as Error).message), err)
  }
  if (!stat.isFile()) throw new IdentityUnreadableError(file, 'it is not a regular file')
  const mode = stat.mode & 0o777
  if ((mode & GROUP_OTHER_BITS) !== 0) throw new IdentityPermissionsError(file, mode)
  let bytes: Buffer
  try {
    bytes = await fs.readFile(file)
  } catch (err) {
    throw new IdentityUnreadableError(file, String((err as NodeJS.ErrnoException).code ?? (err as Error).message), err)
  }
  let privateKey: PrivateKey
  try {
    privateKey = privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new IdentityCorruptError(file, err)
  }
  if (privateKey.type !== 'Ed25519') throw new IdentityCorruptError(file)
  return { privateKey, nodeId: peerIdFromPrivateKey(privateKey).toString() }
}

/** True when `file` names anything, a dangling symlink included (lstat does not follow it). */
async function nameExists (file: string): Promise<boolean> {
  try {
    await fs.lstat(file)
    return true
  } catch {
    return false
  }
}
