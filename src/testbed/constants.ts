/**
 * @module testbed/constants
 * Names and limits of the local testbed.
 */

/** `<dir>/testbed.json`: the nodes of a running testbed. */
export const TESTBED_FILE_NAME = 'testbed.json'
/** Node I's data dir is `<dir>/nI`: what `down` deletes besides testbed.json, and how a node process is known. */
export const NODE_DIR_NAME_PATTERN = /^n[1-9]\d*$/
/** `<node data dir>/testbed-faults.json` = `{ "blocked": [nodeId…] }`: peers this node cannot reach. */
export const FAULTS_FILE_NAME = 'testbed-faults.json'
/**
 * `<node data dir>/testbed-exit.json` = `{ "pid", "exitCode" }`: written by a node process as it exits on its own
 * (removed 6, left or stopped 0, failed 1…), so `status` tells those from a SIGKILL, which leaves none.
 */
export const EXIT_FILE_NAME = 'testbed-exit.json'
/** How often a testbed node re-reads its faults file. */
export const FAULTS_POLL_MS = 200
/** Largest testbed: every node is a process on this machine. */
export const TESTBED_NODES_MAX = 32
/** Time allowed for one node to answer on its API after spawning. */
export const NODE_START_TIMEOUT_MS = 60_000
/** Time allowed for a SIGTERMed node to exit before SIGKILL. */
export const NODE_STOP_TIMEOUT_MS = 10_000
/** Poll period while waiting for a node. */
export const POLL_MS = 100
/** `--netns`: every namespace of a testbed is `rvtb<id>-…` and its host link `rvtb<id>`. */
export const NETNS_NAME_PREFIX = 'rvtb'
/** `--netns`: random bytes of a testbed id (6 hex digits, so names stay within 15-byte interface names). */
export const NETNS_ID_BYTES = 3
/**
 * `--netns`: each testbed takes one free `10.213.X.0/24` (X chosen not to overlap any address or route of
 * the host): nodes at .1…, the host link at .254. 10/8 is private (RFC 1918); 10.213 is an arbitrary corner.
 */
export const NETNS_SUBNET_BASE = '10.213'
/**
 * Characters of a node's log end that the error of a failed start carries: the failed `up` deletes the data
 * dir, log included, so the error is the only place left to read why the node exited (its last line says).
 */
export const NODE_LOG_TAIL_CHARS_MAX = 2000
