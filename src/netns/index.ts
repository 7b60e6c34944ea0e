/**
 * @module netns
 * Linux network-namespace plumbing shared by the local testbed (`revoada testbed up --netns`) and the
 * fault suite (`npm run faults`): a lab of namespaces on a bridge, nftables partitions inside them, and the
 * checks that refuse to start without root, `ip` or `nft`.
 */
export { NetLab } from './lab.js'
export type { LabPlan } from './lab.js'
export {
  assertNetnsAvailable, deleteNamespace, hostIpv4Prefixes, listNamespaces, netnsUnavailableReason
} from './commands.js'
export type { NetnsProbe } from './commands.js'
export { pickFreeSubnet, prefixesOverlap } from './subnet.js'
export { NetnsCommandError, NetnsNoFreeSubnetError, NetnsUnavailableError } from './errors.js'
