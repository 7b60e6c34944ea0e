/**
 * @module testbed/constants
 * Names and limits of the local testbed.
 */

/** `<dir>/testbed.json`: the nodes of a running testbed. */
export const TESTBED_FILE_NAME = 'testbed.json'
/** `<node data dir>/testbed-faults.json` = `{ "blocked": [nodeId…] }`: peers this node cannot reach. */
export const FAULTS_FILE_NAME = 'testbed-faults.json'
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
