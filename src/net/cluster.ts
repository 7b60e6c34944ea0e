/**
 * @module net/cluster
 * The closed cluster (DESIGN §2): `<data-dir>/cluster.json` holds the cluster id, the 256-bit pre-shared key
 * and seed addresses (mode 0600). First start creates a new cluster; `--join` stores the joined one instead.
 * The key is also rendered in the kubo swarm.key format that @libp2p/pnet expects.
 */
import { promises as fs } from 'node:fs'
import { randomBytes, createHash } from 'node:crypto'
import path from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import {
  CLUSTER_FILE_MODE, CLUSTER_FILE_NAME, CLUSTER_FILE_VERSION, CLUSTER_ID_BYTES, CLUSTER_KEY_BYTES, SEEDS_MAX
} from './constants.js'
import { ClusterFileError, ClusterMismatchError } from './errors.js'
import type { JoinInfo } from './join-string.js'
import { writeFileDurably } from '../util/durable-file.js'

/** A cluster as stored in the data dir. */
export interface Cluster {
  clusterId: string
  /** 32-byte pre-shared key. */
  key: Uint8Array
  /** Addresses to (re)dial: the join addresses, kept so a restarted node finds the cluster again. */
  seeds: string[]
}

interface ClusterFile {
  version: number
  clusterId: string
  key: string
  seeds: string[]
}

/** The swarm.key bytes @libp2p/pnet parses: `/key/swarm/psk/1.0.0/\n/base16/\n<hex>`. */
export function pnetKey (key: Uint8Array): Uint8Array {
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${Buffer.from(key).toString('hex')}`)
}

/** Short non-secret fingerprint of the key, logged at start so operators can compare two nodes. */
export function keyFingerprint (key: Uint8Array): string {
  return createHash('sha256').update('revoada cluster key fingerprint v1').update(key).digest('hex').slice(0, 16)
}

/** Creates a fresh cluster (random id and key). */
export function newCluster (): Cluster {
  return { clusterId: randomBytes(CLUSTER_ID_BYTES).toString('hex'), key: randomBytes(CLUSTER_KEY_BYTES), seeds: [] }
}

/**
 * Loads the stored cluster; when there is none, stores `join` (if given) or a new cluster.
 *
 * @throws ClusterFileError when the file is corrupt (a seed that is no multiaddr included) or readable by others
 * @throws ClusterMismatchError when `join` names a different cluster than the stored one
 */
export async function loadOrCreateCluster (dataDir: string, join?: JoinInfo): Promise<{ cluster: Cluster, created: boolean }> {
  const file = path.join(dataDir, CLUSTER_FILE_NAME)
  const stored = await readCluster(file)
  if (stored !== undefined) {
    if (join === undefined) return { cluster: stored, created: false }
    if (join.clusterId !== stored.clusterId) throw new ClusterMismatchError(stored.clusterId, join.clusterId)
    // Same cluster, new addresses: remember them so restarts can reach the cluster through them too.
    const seeds = [...new Set([...join.addresses, ...stored.seeds])].slice(0, SEEDS_MAX)
    const cluster = { ...stored, seeds }
    await writeCluster(file, cluster)
    return { cluster, created: false }
  }
  const cluster = join !== undefined
    ? { clusterId: join.clusterId, key: join.key, seeds: join.addresses.slice(0, SEEDS_MAX) }
    : newCluster()
  await writeCluster(file, cluster)
  return { cluster, created: true }
}

async function writeCluster (file: string, cluster: Cluster): Promise<void> {
  const body: ClusterFile = {
    version: CLUSTER_FILE_VERSION,
    clusterId: cluster.clusterId,
    key: Buffer.from(cluster.key).toString('hex'),
    seeds: cluster.seeds
  }
  // Temp file, fsync, rename, fsync of the directory: a crash or power cut never leaves a half-written key.
  await writeFileDurably(file, JSON.stringify(body, null, 2) + '\n', { mode: CLUSTER_FILE_MODE })
}

async function readCluster (file: string): Promise<Cluster | undefined> {
  let text: string
  try {
    const stat = await fs.stat(file)
    if (!stat.isFile()) throw new ClusterFileError(file, 'not a regular file')
    if ((stat.mode & 0o077) !== 0) {
      throw new ClusterFileError(file, `mode 0${(stat.mode & 0o777).toString(8)} lets others read the cluster key; chmod 600 it`)
    }
    text = await fs.readFile(file, 'utf8')
  } catch (err) {
    if (err instanceof ClusterFileError) throw err
    const code = (err as NodeJS.ErrnoException).code
    // NB: a symlink to nothing (a secret not mounted yet) stats as ENOENT too; read as "no cluster yet", a new
    // cluster with a new key was written over the link.
    if (code === 'ENOENT' && !await nameExists(file)) return undefined
    throw new ClusterFileError(file, `cannot read it (${code === 'ENOENT' ? 'a symlink to nothing' : code ?? (err as Error).message})`, err)
  }
  let body: Partial<ClusterFile>
  try {
    body = JSON.parse(text) as Partial<ClusterFile>
  } catch (err) {
    throw new ClusterFileError(file, 'not valid JSON', err)
  }
  if (body.version !== CLUSTER_FILE_VERSION) throw new ClusterFileError(file, `unsupported version ${String(body.version)}`)
  if (typeof body.clusterId !== 'string' || body.clusterId === '') throw new ClusterFileError(file, 'missing clusterId')
  if (typeof body.key !== 'string' || !/^[0-9a-f]{64}$/.test(body.key)) throw new ClusterFileError(file, 'key must be 64 hex chars')
  const seeds = Array.isArray(body.seeds) ? body.seeds.filter((s): s is string => typeof s === 'string') : []
  // Written here only from a checked join string; one edited by hand is checked before the redial loop parses it,
  // where it failed the start with the parser's error, naming neither this file nor the seed.
  for (const seed of seeds) if (!isMultiaddr(seed)) throw new ClusterFileError(file, `seed ${JSON.stringify(seed)} is no multiaddr`)
  return { clusterId: body.clusterId, key: Buffer.from(body.key, 'hex'), seeds }
}

function isMultiaddr (text: string): boolean {
  try {
    multiaddr(text)
    return true
  } catch {
    return false
  }
}

/** True when `file` names anything, a dangling symlink included (lstat does not follow it). */
async function nameExists (file: string): Promise<boolean> {
  return await fs.lstat(file).then(() => true, () => false)
}
