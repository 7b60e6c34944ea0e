/**
 * @module metrics/errors
 * Operating errors of the metrics layer; callers match on `name`.
 */

/** The scrape-only listener's address (`metrics.listen`) is already taken by another process. */
export class MetricsListenInUseError extends Error {
  static override readonly name = 'MetricsListenInUseError'
  constructor (host: string, port: number) {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
    super(`the metrics listen address ${address} (metrics.listen) is already in use; pick another metrics.listen (port 0 = any free port)`)
    this.name = 'MetricsListenInUseError'
  }
}
