/**
 * @module bench/lib/ports
 * Free loopback ports for child processes that need a fixed port up front (etcd's peer URLs).
 */
import net from 'node:net'

/** Asks the kernel for a free TCP port on 127.0.0.1 (port 0), then releases it. */
export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      if (address === null || typeof address === 'string') { reject(new Error('no port')); return }
      server.close(() => resolve(address.port))
    })
  })
}

/** Polls `condition` until it returns true or `deadlineMs` passes (then throws with `label`). */
export async function waitFor (condition: () => Promise<boolean> | boolean, deadlineMs: number, label: string): Promise<void> {
  const end = Date.now() + deadlineMs
  while (Date.now() < end) {
    if (await condition()) return
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  throw new Error(`timed out after ${deadlineMs} ms waiting for ${label}`)
}
