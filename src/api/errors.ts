/**
 * @module api/errors
 * Operating errors of the admin API and its client; callers match on `name`.
 *
 * Every non-2xx answer of the API has one JSON shape, `{error, message}`: `error` is one of `API_ERROR_CODES`
 * (a stable machine-readable code), `message` a sentence for a human. The CLI maps the code to its exit code
 * (`exitCodeFor`), so a script sees the same outcome whether the CLI or the server caught the mistake.
 */

/** The codes of `{error}` answers, their HTTP status, and the CLI exit code each maps to. */
export const API_ERROR_CODES = {
  /** The request is malformed or names something that cannot be (validation failed; nothing proposed). */
  BadRequest: { status: 400, exit: 3 },
  /** Missing or wrong bearer token. */
  Unauthorized: { status: 401, exit: 4 },
  /** No such route, or the request names a node that is not a member. */
  NotFound: { status: 404, exit: 5 },
  /** Refused by a safety check (e.g. a target below the live voters' fault tolerance without `force`). */
  Refused: { status: 409, exit: 2 },
  /** Too many of one kind of request open at once from this client (a session's event streams); close some. */
  TooManyRequests: { status: 429, exit: 1 },
  /** No leader reachable right now (election, partition); retry. */
  Unavailable: { status: 503, exit: 1 },
  /** The request was accepted but did not finish in time; it may still commit. */
  Timeout: { status: 504, exit: 1 },
  /** A bug or an unexpected operating error; the message and the node's log say more. */
  Internal: { status: 500, exit: 1 }
} as const
export type ApiErrorCode = keyof typeof API_ERROR_CODES

/** CLI exit codes besides the per-code ones above (documented in docs/OPERATIONS.md). */
export const EXIT_CODES = { ok: 0, error: 1, rejected: 2, invalidInput: 3, unauthorized: 4, notFound: 5 } as const

/** The body of every non-2xx API answer. */
export interface ApiErrorBody {
  error: ApiErrorCode
  message: string
}

export function isApiErrorCode (value: unknown): value is ApiErrorCode {
  return typeof value === 'string' && Object.hasOwn(API_ERROR_CODES, value)
}

/** Config asks the API to bind a non-loopback host without `api.allowNonLoopback: true`. */
export class ApiBindRefusedError extends Error {
  static override readonly name = 'ApiBindRefusedError'
  constructor (host: string) {
    super(`refusing to bind the admin API to non-loopback host ${host}: it controls the node; ` +
      'set api.allowNonLoopback to true in the config file if you really mean it')
    this.name = 'ApiBindRefusedError'
  }
}

/** The admin API's address is already taken by another process. */
export class ApiPortInUseError extends Error {
  static override readonly name = 'ApiPortInUseError'
  constructor (host: string, port: number) {
    super(`the admin API address ${host}:${port} is already in use; pick another --api HOST:PORT (port 0 = any free port)`)
    this.name = 'ApiPortInUseError'
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

/**
 * `wait-ready` found no node process left in the data dir: one it saw hold the data dir has exited, or its lock
 * names a process that is gone and no start took it since (CLI exit 8, EXIT_CODE_NODE_EXITED).
 */
export class NodeExitedError extends Error {
  static override readonly name = 'NodeExitedError'
  constructor (dataDir: string, detail: string) {
    super(`no node process in ${dataDir}: ${detail}; it will not become ready: see its log, then start it again`)
    this.name = 'NodeExitedError'
  }
}

/** CLI exit code of NodeExitedError: distinct from 1 (a timeout, any operating error) and 6 (removed). */
export const EXIT_CODE_NODE_EXITED = 8

/** The API answered with a non-2xx status; `code` is the `{error}` of its body. */
export class ApiRequestError extends Error {
  static override readonly name = 'ApiRequestError'
  readonly status: number
  /** The whole answer (the message shows its first 200 characters). */
  readonly body: string
  readonly code: ApiErrorCode
  constructor (path: string, status: number, body: string) {
    const parsed = parseErrorBody(body)
    super(parsed?.message ?? `admin API ${path} answered ${status}: ${body.slice(0, 200)}`)
    this.name = 'ApiRequestError'
    this.status = status
    this.body = body
    this.code = parsed?.error ?? codeForStatus(status)
  }
}

function parseErrorBody (body: string): ApiErrorBody | undefined {
  try {
    const value = JSON.parse(body) as Partial<ApiErrorBody>
    if (isApiErrorCode(value.error) && typeof value.message === 'string') return { error: value.error, message: value.message }
  } catch {
    // not our shape: the caller falls back to the status
  }
  return undefined
}

function codeForStatus (status: number): ApiErrorCode {
  const found = Object.entries(API_ERROR_CODES).find(([, v]) => v.status === status)
  return (found?.[0] as ApiErrorCode | undefined) ?? 'Internal'
}

/** An answer of the API is larger than the CLI reads (API_ANSWER_BYTES_MAX); the rest of it was not read. */
export class ApiAnswerTooLargeError extends Error {
  static override readonly name = 'ApiAnswerTooLargeError'
  constructor (url: string, bytesMax: number) {
    super(`${url} answered more than ${bytesMax} bytes, the most the CLI reads of an answer: is a revoada node there?`)
    this.name = 'ApiAnswerTooLargeError'
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
