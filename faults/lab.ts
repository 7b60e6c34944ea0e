/**
 * @module faults/lab
 * The fault suite's lab (issue 10 item 6), built with the shared namespace plumbing (src/netns): five node
 * namespaces and one client namespace on a bridge in 10.77.0.0/24, nftables partitions inside the node
 * namespaces, and nothing on the host's own interfaces, routes or firewall. Namespaces are named
 * `rvdf<pid>-*` after the suite's process, so labs left by dead runs are found and removed at the next start.
 */
import { NetLab, deleteNamespace, listNamespaces } from '../src/netns/index.js'

const PREFIX = 'rvdf'
const SUBNET = '10.77.0'
const CLIENT_HOST = 100

/** The lab of the run whose main process has pid `tag`; the same names from any process. */
export function faultLab (nodeCount: number, tag: string): NetLab {
  return new NetLab({ name: `${PREFIX}${tag}`, subnet: SUBNET, nodeCount, clientHost: CLIENT_HOST })
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/** Deletes namespaces left by fault runs whose process is gone. */
export function removeStaleLabs (): void {
  for (const ns of listNamespaces()) {
    const pid = Number(new RegExp(`^${PREFIX}(\\d+)-`).exec(ns)?.[1])
    if (Number.isSafeInteger(pid) && !alive(pid)) deleteNamespace(ns)
  }
}
