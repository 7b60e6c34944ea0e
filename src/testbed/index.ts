/**
 * @module testbed
 * A local multi-node testbed of real `revoada` processes (`revoada testbed …`).
 */
export {
  loadTestbed, testbedDown, testbedHeal, testbedKill, testbedPartition, testbedRestart, testbedStatus, testbedUp
} from './testbed.js'
export type { TestbedNode, TestbedNodeStatus, TestbedState } from './testbed.js'
export {
  TestbedArgumentError, TestbedExistsError, TestbedInterruptedError, TestbedNodeStartError, TestbedNotRunningError
} from './errors.js'
