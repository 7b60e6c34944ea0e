/**
 * @module testbed/netns-mode
 * `revoada testbed up --netns`: every node in its own network namespace (src/netns), all on one bridge in
 * a private /24 that no address or route of the host overlaps. The host gets one veth onto that bridge
 * (`rvtb<id>`, address `.254`), so the admin API each node binds on its lab address is reachable from
 * the host CLI, `revoada dashboard` and a browser as printed, with no forwarding, NAT or host firewall
 * rule. Partitions are nftables drops inside the node namespaces.
 *
 * The plan is recorded in testbed.json before anything is created, so `down` removes all of it even
 * after a crash of the CLI half-way through `up`.
 */
import { randomBytes } from 'node:crypto'
import { NetLab, NetnsNoFreeSubnetError, hostIpv4Prefixes, pickFreeSubnet } from '../netns/index.js'
import type { LabPlan } from '../netns/index.js'
import { NETNS_ID_BYTES, NETNS_NAME_PREFIX, NETNS_SUBNET_BASE } from './constants.js'

/** Where a node runs: its bind host (API and libp2p) and, with --netns, its namespace. */
export interface NodePlacement {
  host: string
  namespace?: string
}

/**
 * A fresh plan for `count` nodes: a random testbed id and a free /24.
 * @throws NetnsNoFreeSubnetError, NetnsCommandError
 */
export function planTestbedLab (count: number): LabPlan {
  const id = randomBytes(NETNS_ID_BYTES).toString('hex')
  const subnet = pickFreeSubnet(hostIpv4Prefixes(), NETNS_SUBNET_BASE, parseInt(id.slice(0, 2), 16))
  if (subnet === null) throw new NetnsNoFreeSubnetError(NETNS_SUBNET_BASE)
  return { name: `${NETNS_NAME_PREFIX}${id}`, subnet, nodeCount: count, hostLink: true }
}

/** Node `index` (1-based) of a testbed: its namespace and lab address, or loopback without a lab. */
export function placementOf (lab: NetLab | undefined, index: number): NodePlacement {
  if (lab === undefined) return { host: '127.0.0.1' }
  return { host: lab.nodeAddress(index - 1), namespace: lab.nodeNamespaces[index - 1] as string }
}

/** The command that starts `argv` (node binary first) in `placement`: through `ip netns exec`, which execs, so the pid is the node's. */
export function commandIn (placement: NodePlacement, argv: string[]): [string, string[]] {
  if (placement.namespace === undefined) return [argv[0] as string, argv.slice(1)]
  return ['ip', ['netns', 'exec', placement.namespace, ...argv]]
}
