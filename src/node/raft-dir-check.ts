/**
 * @module node/raft-dir-check
 * No second cluster from a lost directory (issue 10 item 4). A data dir whose `cluster.json` existed before
 * this start belongs to a running cluster. If its raft directory is empty or gone (an operator deleted a
 * damaged WAL, a disk was replaced), bootstrapping would start a brand-new single-voter cluster under the
 * same cluster id: two histories, one name. Instead the node rejoins through a known peer as a learner and
 * fetches the log, or refuses to start, unless the operator says `--force-new-cluster` (as etcd does).
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { KNOWN_PEERS_FILE_NAME } from '../net/constants.js'
import { QuorumRecoveryError, RaftStateLostError } from './errors.js'

/** Name of the consensus layer's directory inside the data dir. */
export const RAFT_DIR_NAME = 'raft'

/**
 * How the consensus layer starts:
 * - `normal`: the raft directory holds state, or the cluster is new in this start (create or join);
 * - `rejoin`: state was lost in an existing cluster; start empty, never bootstrap, never vote until this
 *   node has been made a learner, and ask the leader for that;
 * - `force-new`: state was lost and the operator asked for a new cluster from this node alone;
 * - `recover-quorum`: the log is here and the other voters are gone for good; this node becomes the only
 *   voter, keeping its log (`revoada recover-quorum`, docs/OPERATIONS.md "A majority of the voters lost for good").
 */
export type RaftStartMode = 'normal' | 'rejoin' | 'force-new' | 'recover-quorum'

/**
 * Why `--force-new-cluster` does nothing on this start, or undefined when it acts (or was not given). It only
 * bootstraps a node whose raft directory is empty: on a directory that holds a log it is ignored, so a flag
 * left in a service unit after a recovery never bootstraps a second time over the log it started.
 */
export function ignoredForceReason (init: { clusterCreated: boolean, forceNewCluster: boolean }, mode: RaftStartMode): string | undefined {
  if (!init.forceNewCluster || mode === 'force-new' || mode === 'recover-quorum') return undefined
  return init.clusterCreated
    ? '--force-new-cluster ignored: this start creates or joins the cluster'
    : '--force-new-cluster ignored: the raft directory holds this node\'s log, and the flag only bootstraps a node whose raft directory is empty (docs/OPERATIONS.md, "Lost raft directory"); remove it from the command line (to make this node the only voter, keeping its log: revoada recover-quorum)'
}

/** True when `dir` is missing or holds no WAL segment and no snapshot. */
export async function raftDirEmpty (dir: string): Promise<boolean> {
  let names: string[]
  try {
    names = await fs.readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true
    throw err
  }
  return !names.some((n) => n.startsWith('wal-') || n.endsWith('.snap'))
}

async function knownPeerCount (dataDir: string): Promise<number> {
  try {
    const body = JSON.parse(await fs.readFile(path.join(dataDir, KNOWN_PEERS_FILE_NAME), 'utf8')) as unknown
    return typeof body === 'object' && body !== null ? Object.keys(body).length : 0
  } catch {
    return 0
  }
}

/**
 * Decides how consensus starts on this data dir.
 * @throws RaftStateLostError when state was lost, no peer is known and `forceNewCluster` is false;
 *   QuorumRecoveryError when `recoverQuorum` finds no cluster or no log
 */
export async function checkRaftDirectory (init: {
  dataDir: string
  clusterId: string
  /** True when this start created or joined the cluster (cluster.json did not exist before). */
  clusterCreated: boolean
  /** Join addresses stored with the cluster. */
  seeds: string[]
  forceNewCluster: boolean
  /** `revoada recover-quorum`: make this node the only voter, keeping its log. */
  recoverQuorum?: boolean
}): Promise<RaftStartMode> {
  if (init.recoverQuorum === true) {
    if (init.clusterCreated) throw new QuorumRecoveryError(`data dir ${init.dataDir} held no cluster: there is nothing to recover`)
    if (await raftDirEmpty(path.join(init.dataDir, RAFT_DIR_NAME))) {
      throw new QuorumRecoveryError(`data dir ${init.dataDir} holds no raft log to recover from (docs/OPERATIONS.md, "Lost raft directory")`)
    }
    return 'recover-quorum'
  }
  if (init.clusterCreated) return 'normal'
  if (!await raftDirEmpty(path.join(init.dataDir, RAFT_DIR_NAME))) return 'normal'
  if (init.forceNewCluster) return 'force-new'
  if (init.seeds.length > 0 || await knownPeerCount(init.dataDir) > 0) return 'rejoin'
  throw new RaftStateLostError(init.dataDir, init.clusterId)
}
