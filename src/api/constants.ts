/**
 * @module api/constants
 * Names and limits of the admin HTTP API.
 */

/** `<data-dir>/api.json` = `{"url", "token"}`: how CLI commands find the running node. */
export const API_FILE_NAME = 'api.json'
export const API_FILE_MODE = 0o600
/** Random bytes of the bearer token. */
export const API_TOKEN_BYTES = 32
/** Largest request body the API accepts. */
export const API_BODY_BYTES_MAX = 1024 * 1024
/** Keep-alive idle time of API connections. */
export const API_KEEP_ALIVE_TIMEOUT_MS = 65_000
/**
 * CLI request timeout. Generous on purpose: a linearizable read waits for a quorum round, which takes seconds
 * during an election or on a loaded machine; the node bounds its own consensus operations (504 Timeout).
 */
export const API_CLIENT_TIMEOUT_MS = 30_000
/**
 * The most of one answer the CLI reads (ApiAnswerTooLargeError past it). A node's largest answer, the content
 * list of up to OBJECTS_MAX (100,000) records of a few hundred bytes each, stays well below it; a program at a
 * stale api.json's port may stream without end.
 */
export const API_ANSWER_BYTES_MAX = 64 * 1024 * 1024
/**
 * The most of an error answer (non-2xx) the CLI reads. A node's `{error, message}` is at most a few KiB (a
 * configuration error lists its problems); only the message is printed, and an answer cut here is no JSON,
 * shown by its status and first characters.
 */
export const API_ERROR_BODY_BYTES_MAX = 64 * 1024
/** Random bytes of a one-time login code and of a session id. */
export const LOGIN_CODE_BYTES = 32
/** A login link works once, within this time. */
export const LOGIN_CODE_TTL_MS = 5 * 60_000
/** Unspent login codes kept; minting more drops the oldest. */
export const LOGIN_CODES_MAX = 16
/** A dashboard session lasts this long. */
export const SESSION_TTL_MS = 12 * 60 * 60_000
/** Live dashboard sessions kept; a new one past this ends the oldest. */
export const SESSIONS_MAX = 32
/** Session cookie name prefix; the API port follows, so nodes sharing a host keep separate sessions. */
export const SESSION_COOKIE_PREFIX = 'revoada_session_'
