/**
 * @module netns/commands
 * The `ip` and `nft` commands the lab runs, each as one synchronous call: the lab is set up and torn down
 * by short-lived tools (the testbed CLI, the fault runner) that do nothing else meanwhile, and a failed
 * command must stop the next one from running on a half-built network.
 */
import { execFileSync } from 'node:child_process'
import { NetnsCommandError, NetnsUnavailableError } from './errors.js'

/** Runs `args`; stdout back. @throws NetnsCommandError with the command's stderr */
export function run (args: string[], input?: string): string {
  try {
    return execFileSync(args[0] as string, args.slice(1), {
      encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], ...(input !== undefined ? { input } : {})
    })
  } catch (err) {
    const e = err as Error & { stderr?: string }
    throw new NetnsCommandError(args, typeof e.stderr === 'string' && e.stderr !== '' ? e.stderr : e.message)
  }
}

/** What `netnsUnavailableReason` looks at; tests pass their own. */
export interface NetnsProbe {
  uid: number | undefined
  hasTool: (tool: string) => boolean
}

const hostProbe: NetnsProbe = {
  uid: process.getuid?.(),
  hasTool: (tool) => {
    try {
      execFileSync(tool, tool === 'ip' ? ['-V'] : ['--version'], { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  }
}

/** Why this process cannot build a lab (root, `ip` from iproute2, `nft` from nftables), or null. */
export function netnsUnavailableReason (probe: NetnsProbe = hostProbe): string | null {
  if (probe.uid !== 0) return `creating network namespaces needs root (this process runs as uid ${probe.uid ?? 'unknown'})`
  if (!probe.hasTool('ip')) return '`ip` is missing (apt-get install iproute2)'
  if (!probe.hasTool('nft')) return '`nft` is missing (apt-get install nftables)'
  return null
}

/** @throws NetnsUnavailableError naming what is missing */
export function assertNetnsAvailable (probe?: NetnsProbe): void {
  const reason = netnsUnavailableReason(probe)
  if (reason !== null) throw new NetnsUnavailableError(reason)
}

/** Every named namespace of this host (`ip netns list`). */
export function listNamespaces (): string[] {
  return run(['ip', 'netns', 'list']).split('\n').map((line) => line.split(' ')[0] ?? '').filter((n) => n !== '')
}

/** Deletes namespace `ns` if it exists (its links and nftables tables go with it). */
export function deleteNamespace (ns: string): void {
  if (listNamespaces().includes(ns)) run(['ip', 'netns', 'del', ns])
}

/** Whether the host's own namespace has a link called `name`. */
export function hostLinkExists (name: string): boolean {
  try {
    run(['ip', 'link', 'show', 'dev', name])
    return true
  } catch {
    return false
  }
}

/** Deletes the host link `name` if it exists (a veth takes its peer with it). */
export function deleteHostLink (name: string): void {
  if (!hostLinkExists(name)) return
  try {
    run(['ip', 'link', 'del', 'dev', name])
  } catch (err) {
    if (hostLinkExists(name)) throw err // else it went away meanwhile (its namespace peer was cleaned up)
  }
}

/** The pids of every process in namespace `ns` (none when it does not exist). */
export function namespacePids (ns: string): number[] {
  if (!listNamespaces().includes(ns)) return []
  return run(['ip', 'netns', 'pids', ns]).split('\n').map(Number).filter((pid) => Number.isSafeInteger(pid) && pid > 0)
}

const IPV4_PREFIX = /^\d+\.\d+\.\d+\.\d+(\/\d+)?$/

/** Every IPv4 prefix the host uses: its addresses and the destinations of its routes (all tables). */
export function hostIpv4Prefixes (): string[] {
  const addresses = run(['ip', '-4', '-o', 'addr', 'show'])
    .split('\n').map((line) => /\binet (\S+)/.exec(line)?.[1]).filter((p): p is string => p !== undefined)
  const routes = run(['ip', '-4', 'route', 'show', 'table', 'all'])
    // A route line starts with its destination, or with its type (local, broadcast, blackhole…) and then it.
    .split('\n').map((line) => line.split(' ').slice(0, 2).find((word) => IPV4_PREFIX.test(word)))
    .filter((p): p is string => p !== undefined)
  return [...addresses, ...routes]
}
