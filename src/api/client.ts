/**
 * @module api/client
 * How CLI commands talk to the running node: read `<data-dir>/api.json` and call the API with its token.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { API_ANSWER_BYTES_MAX, API_CLIENT_TIMEOUT_MS, API_ERROR_BODY_BYTES_MAX, API_FILE_NAME } from './constants.js'
import { ApiAnswerTooLargeError, ApiRequestError, NodeAlreadyRunningError, NodeNotRunningError } from './errors.js'

/** Contents of `api.json`. */
export interface ApiFile {
  url: string
  token: string
}

/**
 * Reads `api.json` from the data dir.
 *
 * @throws NodeNotRunningError when it is missing or malformed
 */
export async function readApiFile (dataDir: string): Promise<ApiFile> {
  let text: string
  try {
    text = await fs.readFile(path.join(dataDir, API_FILE_NAME), 'utf8')
  } catch {
    throw new NodeNotRunningError(dataDir, `${API_FILE_NAME} not found`)
  }
  try {
    const body = JSON.parse(text) as Partial<ApiFile>
    if (typeof body.url === 'string' && typeof body.token === 'string') return { url: body.url, token: body.token }
  } catch {
    // fall through to the typed error
  }
  throw new NodeNotRunningError(dataDir, `${API_FILE_NAME} is malformed`)
}

/**
 * GETs `apiPath` from the node running in `dataDir` and returns the parsed JSON.
 *
 * @throws NodeNotRunningError when there is no api.json or the node does not answer
 * @throws ApiRequestError on a non-2xx answer
 */
export async function apiGet (dataDir: string, apiPath: string): Promise<unknown> {
  return await apiRequest(dataDir, 'GET', apiPath)
}

/**
 * Calls `apiPath` with `method` (and a JSON `body`) on the node running in `dataDir`.
 *
 * @throws NodeNotRunningError when there is no api.json or the node does not answer
 * @throws ApiRequestError on a non-2xx answer
 */
export async function apiRequest (dataDir: string, method: 'GET' | 'POST', apiPath: string, body?: unknown, timeoutMs = API_CLIENT_TIMEOUT_MS): Promise<unknown> {
  const api = await readApiFile(dataDir)
  let res: Response
  try {
    res = await fetch(new URL(apiPath, api.url), {
      method,
      headers: { authorization: `Bearer ${api.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs)
    })
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      throw new ApiRequestError(apiPath, 504, JSON.stringify({ error: 'Timeout', message: `${api.url}${apiPath} did not answer within ${timeoutMs / 1000} s` }))
    }
    throw new NodeNotRunningError(dataDir, `${api.url} did not answer: ${(err as Error).message}`)
  }
  if (!res.ok) throw new ApiRequestError(apiPath, res.status, await errorBodyText(res))
  const text = await answerText(res, `${api.url}${apiPath}`)
  try {
    return JSON.parse(text) as unknown
  } catch {
    // Every answer of the API is JSON: this is another server on the recorded port (a stale api.json).
    throw new NodeNotRunningError(dataDir, `${api.url} answered ${apiPath} with something that is no JSON: not a revoada node`)
  }
}

/**
 * The text of `res`'s body, at most API_ANSWER_BYTES_MAX bytes of it: read whole, an endless answer (a program
 * at a stale api.json's port) grew the CLI until V8's string limit or the request's timeout.
 * @throws ApiAnswerTooLargeError past that, the rest unread
 */
export async function answerText (res: Response, url: string): Promise<string> {
  const { text, whole } = await boundedText(res, API_ANSWER_BYTES_MAX)
  if (!whole) throw new ApiAnswerTooLargeError(url, API_ANSWER_BYTES_MAX)
  return text
}

/**
 * The body of a non-2xx answer, at most API_ERROR_BODY_BYTES_MAX bytes of it, the rest unread: the node's
 * `{error, message}` is far smaller, and a program at a stale api.json's port may answer an error without end.
 * A cut body is no JSON, so ApiRequestError falls back to the status and shows its first characters.
 */
export async function errorBodyText (res: Response): Promise<string> {
  return (await boundedText(res, API_ERROR_BODY_BYTES_MAX)).text
}

/** The first `bytesMax` bytes of `res`'s body as text, and whether that was all of it (the rest is cancelled). */
async function boundedText (res: Response, bytesMax: number): Promise<{ text: string, whole: boolean }> {
  const reader = res.body?.getReader()
  if (reader === undefined) return { text: '', whole: true }
  const chunks: Uint8Array[] = []
  let bytes = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (bytes + value.byteLength > bytesMax) {
      chunks.push(value.subarray(0, bytesMax - bytes))
      await reader.cancel().catch(() => {})
      return { text: Buffer.concat(chunks).toString('utf8'), whole: false }
    }
    bytes += value.byteLength
    chunks.push(value)
  }
  return { text: Buffer.concat(chunks).toString('utf8'), whole: true }
}

/**
 * The JSON type a field of an answer must have (`checkAnswer`): `strings` an array of strings, `string-map` and
 * `number-map` an object whose values are all strings or all numbers, `time` a number `new Date()` takes (ms
 * within ±8.64e15; a larger one made `toISOString()` throw a RangeError). A `?` after it also lets the field be
 * absent.
 */
export type AnswerType = 'string' | 'string-or-null' | 'number' | 'number-or-null' | 'time' | 'boolean' | 'array' | 'object' |
'strings' | 'string-map' | 'number-map'
/** An array whose every element is an object with `list`'s fields; `optional`: or absent. */
export interface AnswerList { readonly list: AnswerFields, readonly optional?: true }
/** An object with `record`'s fields; `nullable`: or null; `optional`: or absent. */
export interface AnswerRecord { readonly record: AnswerFields, readonly nullable?: true, readonly optional?: true }
export type AnswerField = AnswerType | `${AnswerType}?` | AnswerList | AnswerRecord
export type AnswerFields = Readonly<Record<string, AnswerField>>

/** The most a `time` may be from the epoch, either way (ECMAScript's Date range). */
const TIME_MS_MAX = 8.64e15

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

function hasType (value: unknown, type: AnswerType): boolean {
  switch (type) {
    case 'string-or-null': return value === null || typeof value === 'string'
    case 'number-or-null': return value === null || typeof value === 'number'
    case 'time': return typeof value === 'number' && Math.abs(value) <= TIME_MS_MAX
    case 'array': return Array.isArray(value)
    case 'object': return isObject(value)
    case 'strings': return Array.isArray(value) && value.every((v) => typeof v === 'string')
    case 'string-map': return isObject(value) && Object.values(value).every((v) => typeof v === 'string')
    case 'number-map': return isObject(value) && Object.values(value).every((v) => typeof v === 'number')
    default: return typeof value === type
  }
}

/**
 * Where `value` is not what `field` says, as a path below `at` with the type wanted (`members[2].roles
 * (strings)`), or undefined when it is.
 */
function fieldProblem (value: unknown, field: AnswerField, at: string): string | undefined {
  if (typeof field === 'string') {
    const optional = field.endsWith('?')
    if (optional && value === undefined) return undefined
    const type = (optional ? field.slice(0, -1) : field) as AnswerType
    return hasType(value, type) ? undefined : `${at} (${type})`
  }
  if (value === undefined && field.optional === true) return undefined
  if ('list' in field) {
    if (!Array.isArray(value)) return `${at} (array)`
    for (let i = 0; i < value.length; i++) {
      const problem = fieldsProblem(value[i], field.list, `${at}[${i}]`)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  if (value === null && field.nullable === true) return undefined
  return fieldsProblem(value, field.record, at)
}

/** The first field of `fields` that `value` lacks or has of another type (fieldProblem). */
function fieldsProblem (value: unknown, fields: AnswerFields, at: string): string | undefined {
  if (!isObject(value)) return `${at === '' ? 'an object' : `${at} (object)`}`
  for (const [key, field] of Object.entries(fields)) {
    const problem = fieldProblem(value[key], field, at === '' ? key : `${at}.${key}`)
    if (problem !== undefined) return problem
  }
  return undefined
}

/**
 * `answer` when it is a JSON object whose `fields` have the given types, nested lists and objects included, as
 * every node's answer at `apiPath` has. Another program on the port a crashed node recorded in api.json may
 * answer 200 with other JSON (`{}`, `[]`, `null`, or the right top level over wrong elements): read as the
 * node's, it made `wait-ready` succeed, `status` print empty fields, and `members`, `shape`, `chain` or
 * `decisions` end in a TypeError or a RangeError. Only the fields a command reads need be named.
 *
 * @throws NodeNotRunningError naming the first field that is not so
 */
export function checkAnswer (dataDir: string, apiPath: string, answer: unknown, fields: AnswerFields): Record<string, unknown> {
  const problem = fieldsProblem(answer, fields, '')
  if (problem === undefined) return answer as Record<string, unknown>
  throw new NodeNotRunningError(dataDir, `the API in ${API_FILE_NAME} answered ${apiPath.split('?')[0] ?? apiPath} without ${problem}: not a revoada node`)
}

/**
 * `items`, a list of the answer at `apiPath`, when each is a JSON object whose `fields` have the given types
 * (checkAnswer): the fields a command prints of each.
 *
 * @throws NodeNotRunningError when one is not
 */
export function checkItems<T> (dataDir: string, apiPath: string, items: readonly unknown[], fields: AnswerFields): T[] {
  for (const item of items) checkAnswer(dataDir, apiPath, item, fields)
  return items as T[]
}

/**
 * GETs `apiPath` like `apiGet` and checks the answer's `fields` (`checkAnswer`).
 *
 * @throws NodeNotRunningError when there is no api.json, the node does not answer, or the answer is no node's
 * @throws ApiRequestError on a non-2xx answer
 */
export async function apiGetChecked<T> (dataDir: string, apiPath: string, fields: AnswerFields, timeoutMs?: number): Promise<T> {
  return checkAnswer(dataDir, apiPath, await apiRequest(dataDir, 'GET', apiPath, undefined, timeoutMs), fields) as T
}

/**
 * Sends `apiPath` like `apiRequest` and checks the answer's `fields` (`checkAnswer`).
 *
 * @throws NodeNotRunningError when there is no api.json, the node does not answer, or the answer is no node's
 * @throws ApiRequestError on a non-2xx answer
 */
export async function apiRequestChecked<T> (dataDir: string, method: 'GET' | 'POST', apiPath: string, body: unknown, fields: AnswerFields, timeoutMs?: number): Promise<T> {
  return checkAnswer(dataDir, apiPath, await apiRequest(dataDir, method, apiPath, body, timeoutMs), fields) as T
}

/**
 * Refuses to start a second node on a data dir whose `api.json` belongs to a node that still answers. A stale
 * file (left by a crash) does not answer, or another program answers at its port, and is simply overwritten.
 *
 * @throws NodeAlreadyRunningError when the recorded API answers with a node's status
 */
export async function assertNotRunning (dataDir: string): Promise<void> {
  let api: ApiFile
  try {
    api = await readApiFile(dataDir)
  } catch {
    return
  }
  try {
    // A node's status, not any 200: another program on a crashed node's port answered `{}` and the node
    // refused to start until the operator deleted api.json (test/api/stale-api-file.test.ts).
    checkAnswer(dataDir, '/v1/status', await apiGet(dataDir, '/v1/status'), { nodeId: 'string' })
  } catch (err) {
    // No node's status is that large (API_ANSWER_BYTES_MAX): another program streams there.
    if ((err as Error).name === 'NodeNotRunningError' || (err as Error).name === 'ApiAnswerTooLargeError') return
    // The recorded port now belongs to another server (a port reused after a crash): one that refuses the
    // token (401) is not the node that wrote api.json, nor is one without /v1/status (404), which every node serves.
    const status = (err as { status?: number }).status
    if ((err as Error).name === 'ApiRequestError' && (status === 401 || status === 404)) return
  }
  throw new NodeAlreadyRunningError(dataDir, api.url)
}
