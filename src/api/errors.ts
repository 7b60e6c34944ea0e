/**
 * @module api/errors
 * Operating errors of the admin API and its client; callers match on `name`.
 */

/** Config asks the API to bind a non-loopback host without `api.allowNonLoopback: true`. */
export class ApiBindRefusedError extends Error {
  static override readonly name = 'ApiBindRefusedError'
  constructor (host: string) {
    super(`refusing to bind the admin API to non-loopback host ${host}: it controls the node; ` +
      'set api.allowNonLoopback to true in the config file if you really mean it')
    this.name = 'ApiBindRefusedError'
  }
}

/** No `api.json` in the data dir, or it is unreadable: no node is running there. */
export class NodeNotRunningError extends Error {
  static override readonly name = 'NodeNotRunningError'
  constructor (dataDir: string, detail?: string) {
    super(`no running node found in ${dataDir}${detail !== undefined ? ` (${detail})` : ''}; ` +
      `start one with \`revoada start --data-dir ${dataDir}\``)
    this.name = 'NodeNotRunningError'
  }
}

/** The API answered with a non-2xx status. */
export class ApiRequestError extends Error {
  static override readonly name = 'ApiRequestError'
  readonly status: number
  /** The whole answer (the message shows its first 200 characters). */
  readonly body: string
  constructor (path: string, status: number, body: string) {
    super(`admin API ${path} answered ${status}: ${body.slice(0, 200)}`)
    this.name = 'ApiRequestError'
    this.status = status
    this.body = body
  }
}

/** `start` found another node answering on this data dir's `api.json`. */
export class NodeAlreadyRunningError extends Error {
  static override readonly name = 'NodeAlreadyRunningError'
  constructor (dataDir: string, url: string) {
    super(`a node is already running in ${dataDir} (admin API ${url}); stop it first or use another --data-dir`)
    this.name = 'NodeAlreadyRunningError'
  }
}
