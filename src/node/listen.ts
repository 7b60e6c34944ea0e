/**
 * @module node/listen
 * Chooses the listen addresses. The default `/ip4/0.0.0.0/tcp/4101` gives a stable address across restarts;
 * if that port is already taken (e.g. a second node on the same machine) and the operator did not choose
 * the address, we fall back to a free port instead of failing.
 */
import { createServer } from 'node:net'
import { configDefaults } from '../config/index.js'

/**
 * Whether `port` on `host` can be bound right now: 'free', 'in-use' (EADDRINUSE), or the bind's error code for
 * anything else (EADDRNOTAVAIL: no address of this host; ENOTFOUND: a host name that does not resolve; EACCES).
 */
export async function bindProbe (host: string, port: number): Promise<string> {
  return await new Promise<string>((resolve) => {
    const server = createServer()
    server.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code === 'EADDRINUSE' ? 'in-use' : err.code ?? err.message) })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve('free') }) })
  })
}

/** True when `port` on `host` can be bound right now. */
export async function portFree (host: string, port: number): Promise<boolean> {
  return await bindProbe(host, port) === 'free'
}

/** The configured listen addresses, or the default (with fallback); second value: fell back. */
export async function resolveListen (configured: string[] | undefined): Promise<{ listen: string[], fellBack: boolean }> {
  if (configured !== undefined && configured.length > 0) return { listen: configured, fellBack: false }
  if (await portFree('0.0.0.0', configDefaults.DEFAULT_LISTEN_PORT)) return { listen: [configDefaults.DEFAULT_LISTEN], fellBack: false }
  return { listen: ['/ip4/0.0.0.0/tcp/0'], fellBack: true }
}
