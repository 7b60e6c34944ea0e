/**
 * @module faults/lab
 * A private network lab in Linux network namespaces for the fault suite (issue 10 item 6). Nothing touches
 * the host's own interfaces, routes or firewall: a "switch" namespace holds a bridge; each node namespace
 * and one client namespace get a veth pair created directly inside them (`ip -n`), whose other end sits on
 * that bridge. Faults are nftables rules inside the node namespaces (one `inet revoada_faults` table each).
 * `teardown()` deletes every namespace this lab created (taking veths and tables with them); stale labs
 * of dead runs are removed by `removeStaleLabs()`.
 */
import { execFileSync } from 'node:child_process'

/** Every namespace of a lab is named `rvdf<pid>-<role>`; the pid tells whether its run is still alive. */
const PREFIX = 'rvdf'
const SUBNET = '10.77.0'
const CLIENT_HOST = 100

function run (args: string[], input?: string): string {
  return execFileSync(args[0] as string, args.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input !== undefined ? { input } : {}) })
}

function namespaces (): string[] {
  return run(['ip', 'netns', 'list']).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(PREFIX))
}

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/** Deletes namespaces left by fault runs whose process is gone. */
export function removeStaleLabs (): void {
  for (const ns of namespaces()) {
    const pid = Number(/^rvdf(\d+)-/.exec(ns)?.[1])
    if (Number.isSafeInteger(pid) && !alive(pid)) run(['ip', 'netns', 'del', ns])
  }
}

/** Checks that this process may build a lab: root, `ip` and `nft`. Returns why not, or null. */
export function labUnavailable (): string | null {
  if (process.getuid?.() !== 0) return 'the fault suite needs root (network namespaces)'
  for (const tool of [['ip', '-V'], ['nft', '--version']]) {
    try { run(tool) } catch { return `${tool[0]} is missing (apt-get install iproute2 nftables)` }
  }
  return null
}

export class NetLab {
  readonly nodeNamespaces: string[] = []
  readonly clientNamespace: string
  private readonly switchNamespace: string
  private readonly created: string[] = []

  constructor (readonly nodeCount: number, private readonly tag = String(process.pid)) {
    this.switchNamespace = `${PREFIX}${tag}-sw`
    this.clientNamespace = `${PREFIX}${tag}-cl`
    for (let i = 0; i < nodeCount; i++) this.nodeNamespaces.push(`${PREFIX}${tag}-n${i}`)
  }

  /** The address of node `i` inside the lab. */
  nodeAddress (i: number): string {
    return `${SUBNET}.${i + 1}`
  }

  get clientAddress (): string {
    return `${SUBNET}.${CLIENT_HOST}`
  }

  setup (): void {
    this.addNamespace(this.switchNamespace)
    run(['ip', '-n', this.switchNamespace, 'link', 'add', 'br0', 'type', 'bridge'])
    run(['ip', '-n', this.switchNamespace, 'link', 'set', 'br0', 'up'])
    this.nodeNamespaces.forEach((ns, i) => { this.attach(ns, `v${i}`, this.nodeAddress(i)) })
    this.attach(this.clientNamespace, 'vcl', this.clientAddress)
    for (const ns of this.nodeNamespaces) {
      run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], [
        'table inet revoada_faults {',
        '  chain in { type filter hook input priority 0; policy accept; }',
        '  chain out { type filter hook output priority 0; policy accept; }',
        '}'
      ].join('\n'))
    }
  }

  private addNamespace (ns: string): void {
    run(['ip', 'netns', 'add', ns])
    this.created.push(ns)
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
  }

  /** A veth pair made inside `ns` (eth0) whose peer is moved onto the switch's bridge. */
  private attach (ns: string, peer: string, address: string): void {
    this.addNamespace(ns)
    run(['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', peer, 'netns', this.switchNamespace])
    run(['ip', '-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
    run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'])
    run(['ip', '-n', this.switchNamespace, 'link', 'set', peer, 'master', 'br0'])
    run(['ip', '-n', this.switchNamespace, 'link', 'set', peer, 'up'])
  }

  /** Node `from` no longer receives packets from, nor sends packets to, node `to` (one direction each). */
  private drop (node: number, rules: Array<{ chain: 'in' | 'out', peer: number }>): void {
    const lines = rules.map((r) => `add rule inet revoada_faults ${r.chain} ip ${r.chain === 'in' ? 'saddr' : 'daddr'} ${this.nodeAddress(r.peer)} drop`)
    run(['ip', 'netns', 'exec', this.nodeNamespaces[node] as string, 'nft', '-f', '-'], lines.join('\n') + '\n')
  }

  /** Cuts every link between group `a` and group `b`, both ways. */
  partition (a: number[], b: number[]): void {
    for (const x of a) this.drop(x, b.flatMap((y) => [{ chain: 'in' as const, peer: y }, { chain: 'out' as const, peer: y }]))
    for (const y of b) this.drop(y, a.flatMap((x) => [{ chain: 'in' as const, peer: x }, { chain: 'out' as const, peer: x }]))
  }

  /** Packets from `from` to `to` are lost; the other direction still works. */
  dropOneWay (from: number, to: number): void {
    this.drop(from, [{ chain: 'out', peer: to }])
    this.drop(to, [{ chain: 'in', peer: from }])
  }

  heal (): void {
    for (const ns of this.nodeNamespaces) {
      run(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], 'flush chain inet revoada_faults in\nflush chain inet revoada_faults out\n')
    }
  }

  /** Deletes every namespace this lab created; safe to call twice and after a partial setup. */
  teardown (): void {
    for (const ns of this.created.splice(0).reverse()) {
      try { run(['ip', 'netns', 'del', ns]) } catch { /* already gone */ }
    }
  }
}
