/**
 * @module testbed
 * A local multi-node testbed of real `revoada` processes (`revoada testbed …`).
 */
export {
  loadTestbed, testbedDown, testbedHeal, testbedKill, testbedPartition, testbedRestart, testbedStatus, testbedUp
} from './testbed.js'
export type { TestbedNode, TestbedNodeState, TestbedNodeStatus, TestbedState } from './testbed.js'
export {
  TestbedArgumentError, TestbedExistsError, TestbedInterruptedError, TestbedNodeStartError, TestbedNodeStopError, TestbedNotRunningError
} from './errors.js'
