/**
 * @module api
 * The admin HTTP API's one door: the server (fastify, loopback, bearer token) and the CLI-side client.
 */
export { ApiServer, isLoopbackHost } from './server.js'
export type { ApiServerInit } from './server.js'
export { apiGet, apiRequest, assertNotRunning, readApiFile } from './client.js'
export type { ApiFile } from './client.js'
export { ApiBindRefusedError, ApiRequestError, NodeAlreadyRunningError, NodeNotRunningError } from './errors.js'
export { API_FILE_NAME, API_FILE_MODE, API_TOKEN_BYTES } from './constants.js'
