/**
 * @module node/listen
 * Chooses the listen addresses. The default `/ip4/0.0.0.0/tcp/4101` gives a stable address across restarts;
 * if that port is already taken (e.g. a second node on the same machine) and the operator did not choose
 * the address, we fall back to a free port instead of failing.
 */
import { createServer } from 'node:net'
import { configDefaults } from '../config/index.js'

/** True when `port` on `host` can be bound right now. */
export async function portFree (host: string, port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const server = createServer()
    server.once('error', () => { resolve(false) })
    server.listen({ host, port, exclusive: true }, () => { server.close(() => { resolve(true) }) })
  })
}

/** The configured listen addresses, or the default (with fallback); second value: fell back. */
export async function resolveListen (configured: string[] | undefined): Promise<{ listen: string[], fellBack: boolean }> {
  if (configured !== undefined && configured.length > 0) return { listen: configured, fellBack: false }
  if (await portFree('0.0.0.0', configDefaults.DEFAULT_LISTEN_PORT)) return { listen: [configDefaults.DEFAULT_LISTEN], fellBack: false }
  return { listen: ['/ip4/0.0.0.0/tcp/0'], fellBack: true }
}
