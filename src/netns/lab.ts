/**
 * @module netns/lab
 * A private network lab in Linux network namespaces: a "switch" namespace holds a bridge; every node
 * namespace (and, when asked, one client namespace) gets a veth pair created directly inside it (`ip -n`),
 * whose other end sits on that bridge with an address on the lab's /24. Faults are nftables rules inside
 * the node namespaces (one `inet revoada_faults` table each): nothing touches the host's firewall, routes
 * or forwarding. The one optional exception is `hostLink`: a veth from the host's own namespace onto the
 * bridge with a host address on the lab's /24, so host processes reach the nodes directly (one connected
 * route, no forwarding, no NAT); it is deleted with the lab.
 *
 * Every name derives from the plan (`<name>-sw`; `<name>-n<i+1>` for node i, 0-based, whose address ends
 * in the same number; `<name>-cl`; host link `<name>`), so a lab can be steered or torn down from another
 * process, or after a crash, from its plan alone.
 */
import { assertNetnsAvailable, deleteHostLink, deleteNamespace, namespacePids, run } from './commands.js'
import {
  BRIDGE_NAME, FILTER_TABLE_NAME, HOST_LINK_HOST_OCTET, INTERFACE_NAME_BYTES_MAX, LAB_INTERFACE_NAME, LAB_NODES_MAX
} from './constants.js'

/** Everything that names a lab; JSON-safe, so it can be recorded before the lab is built. */
export interface LabPlan {
  /** Prefix of every namespace, and the host link's name; unique per lab. */
  name: string
  /** The first three octets of the lab's /24, e.g. `10.77.0`. */
  subnet: string
  nodeCount: number
  /** A client namespace `<name>-cl` on the bridge at `<subnet>.<clientHost>`. */
  clientHost?: number
  /** A veth `<name>` in the host's namespace, at `<subnet>.254`, whose peer is on the bridge. */
  hostLink?: boolean
}

interface Drop { chain: 'in' | 'out', peer: number }

export class NetLab {
  readonly nodeNamespaces: string[]
  readonly switchNamespace: string

  constructor (readonly plan: LabPlan) {
    if (!Number.isInteger(plan.nodeCount) || plan.nodeCount < 1 || plan.nodeCount > LAB_NODES_MAX) throw new RangeError(`nodeCount must be 1..${LAB_NODES_MAX}, got ${plan.nodeCount}`)
    if (!/^[a-z0-9]+$/.test(plan.name) || plan.name.length > INTERFACE_NAME_BYTES_MAX) throw new RangeError(`lab name must be [a-z0-9]{1,${INTERFACE_NAME_BYTES_MAX}}, got "${plan.name}"`)
    if (!/^\d+\.\d+\.\d+$/.test(plan.subnet)) throw new RangeError(`subnet must be three octets, got "${plan.subnet}"`)
    this.switchNamespace = `${plan.name}-sw`
    this.nodeNamespaces = Array.from({ length: plan.nodeCount }, (_, i) => `${plan.name}-n${i + 1}`)
  }

  /** Every namespace of this lab, switch first. */
  get namespaces (): string[] {
    return [this.switchNamespace, ...this.nodeNamespaces, ...(this.plan.clientHost !== undefined ? [this.clientNamespace] : [])]
  }

  get clientNamespace (): string {
    return `${this.plan.name}-cl`
  }

  get clientAddress (): string {
    return `${this.plan.subnet}.${this.plan.clientHost ?? 0}`
  }

  /** The host link's name (its address is `hostAddress`). */
  get hostLinkName (): string {
    return this.plan.name
  }

  get hostAddress (): string {
    return `${this.plan.subnet}.${HOST_LINK_HOST_OCTET}`
  }

  /** The address of node `i` (0-based) inside the lab. */
  nodeAddress (i: number): string {
    return `${this.plan.subnet}.${i + 1}`
  }

  /**
   * Builds the lab. On a failure part of it may exist: call `teardown()`.
   * @throws NetnsUnavailableError, NetnsCommandError
   */
  setup (): void {
    assertNetnsAvailable()
    this.addNamespace(this.switchNamespace)
    run(['ip', '-n', this.switchNamespace, 'link', 'add', BRIDGE_NAME, 'type', 'bridge'])
    run(['ip', '-n', this.switchNamespace, 'link', 'set', BRIDGE_NAME, 'up'])
    this.nodeNamespaces.forEach((ns, i) => { this.attach(ns, `v${i}`, this.nodeAddress(i)) })
    if (this.plan.clientHost !== undefined) this.attach(this.clientNamespace, 'vcl', this.clientAddress)
    if (this.plan.hostLink === true) this.attachHost()
    for (const ns of this.nodeNamespaces) {
      run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], [
        `table inet ${FILTER_TABLE_NAME} {`,
        '  chain in { type filter hook input priority 0; policy accept; }',
        '  chain out { type filter hook output priority 0; policy accept; }',
        '}'
      ].join('\n') + '\n')
    }
  }

  private addNamespace (ns: string): void {
    run(['ip', 'netns', 'add', ns])
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
  }

  /** A veth pair made inside `ns` (eth0) whose peer is moved onto the switch's bridge. */
  private attach (ns: string, peer: string, address: string): void {
    this.addNamespace(ns)
    run(['ip', '-n', ns, 'link', 'add', LAB_INTERFACE_NAME, 'type', 'veth', 'peer', 'name', peer, 'netns', this.switchNamespace])
    run(['ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', LAB_INTERFACE_NAME])
    run(['ip', '-n', ns, 'link', 'set', LAB_INTERFACE_NAME, 'up'])
    this.plugIntoBridge(peer)
  }

  /** The host's veth: made in the host namespace, its peer moved onto the bridge. */
  private attachHost (): void {
    run(['ip', 'link', 'add', this.hostLinkName, 'type', 'veth', 'peer', 'name', 'vhost', 'netns', this.switchNamespace])
    run(['ip', 'addr', 'add', `${this.hostAddress}/24`, 'dev', this.hostLinkName])
    run(['ip', 'link', 'set', this.hostLinkName, 'up'])
    this.plugIntoBridge('vhost')
  }

  private plugIntoBridge (link: string): void {
    run(['ip', '-n', this.switchNamespace, 'link', 'set', link, 'master', BRIDGE_NAME])
    run(['ip', '-n', this.switchNamespace, 'link', 'set', link, 'up'])
  }

  /** Adds drop rules in node `node`'s table: packets from (`in`) or to (`out`) each peer node. */
  private drop (node: number, rules: Drop[]): void {
    const lines = rules.map((r) => `add rule inet ${FILTER_TABLE_NAME} ${r.chain} ip ${r.chain === 'in' ? 'saddr' : 'daddr'} ${this.nodeAddress(r.peer)} drop`)
    run(['ip', 'netns', 'exec', this.nodeNamespaces[node] as string, 'nft', '-f', '-'], lines.join('\n') + '\n')
  }

  /** Cuts every link between group `a` and group `b` (0-based node indexes), both ways. */
  partition (a: number[], b: number[]): void {
    const both = (peers: number[]): Drop[] => peers.flatMap((peer) => [{ chain: 'in' as const, peer }, { chain: 'out' as const, peer }])
    for (const x of a) this.drop(x, both(b))
    for (const y of b) this.drop(y, both(a))
  }

  /** Packets from `from` to `to` are lost; the other direction still works. */
  dropOneWay (from: number, to: number): void {
    this.drop(from, [{ chain: 'out', peer: to }])
    this.drop(to, [{ chain: 'in', peer: from }])
  }

  /** Removes every drop rule. */
  heal (): void {
    for (const ns of this.nodeNamespaces) {
      run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], `flush chain inet ${FILTER_TABLE_NAME} in\nflush chain inet ${FILTER_TABLE_NAME} out\n`)
    }
  }

  /** The pids of every process inside this lab's namespaces. */
  pids (): number[] {
    return this.namespaces.flatMap((ns) => namespacePids(ns))
  }

  /**
   * Deletes every namespace of the plan and the host link, whichever exist: safe to call twice, after a
   * partial setup, and from another process. Processes still inside keep their (nameless) namespace alive:
   * stop them first (`pids()`).
   * @throws NetnsCommandError
   */
  teardown (): void {
    // NB: host link first. Deleting the switch namespace would take it along, but asynchronously (the
    // kernel cleans a namespace up in the background), so a later delete could race with it.
    if (this.plan.hostLink === true) deleteHostLink(this.hostLinkName)
    for (const ns of [...this.namespaces].reverse()) deleteNamespace(ns)
  }
}
