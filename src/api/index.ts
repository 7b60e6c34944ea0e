/**
 * @module api
 * The admin HTTP API's one door: the server (fastify, loopback, bearer token) and the CLI-side client.
 */
export { ApiServer, SESSION_ROUTE, isLoopbackHost, sendApiError, sessionIdOf, sessionLiveness } from './server.js'
export type { ApiServerInit } from './server.js'
export { answerText, apiGet, apiGetChecked, apiRequest, apiRequestChecked, assertNotRunning, checkAnswer, checkItems, errorBodyText, readApiFile } from './client.js'
export type { AnswerField, AnswerFields, ApiFile } from './client.js'
export { API_ERROR_CODES, EXIT_CODES, ApiBindRefusedError, ApiPortInUseError, ApiRequestError, NodeAlreadyRunningError, NodeNotRunningError, isApiErrorCode } from './errors.js'
export type { ApiErrorBody, ApiErrorCode } from './errors.js'
export { API_FILE_NAME, API_FILE_MODE, API_TOKEN_BYTES } from './constants.js'
