/**
 * Every layer's error answers have the API's one shape (docs/OPERATIONS.md "Errors: one shape"): `error` is
 * one of API_ERROR_CODES with that code's HTTP status, so the CLI prints the message and exits with the
 * code's exit code. Content, catalog, chain and event-stream routes once answered with their own error names.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { API_ERROR_CODES, isApiErrorCode } from '../../src/api/errors.js'
import { cidOfValue } from '../../src/codec/index.js'
import { startMember, stopAll, tempDir, waitFor } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'

/** A well-formed content root (BLAKE3 dag-cbor CIDv1) that no store holds. */
const UNKNOWN_CID = cidOfValue({ test: 'not stored anywhere' }).toString()

describe('error answers of every layer', () => {
  let member: Member | undefined
  afterAll(async () => { if (member !== undefined) await stopAll([member]) })

  it('should carry an API error code with its status, naming the layer\'s error in the message', async () => {
    member = await startMember(await tempDir())
    await waitFor(() => member!.consensus.node.isLeader(), 10_000, 'the node leads')
    const api = JSON.parse(await fs.readFile(path.join(member.dir, 'api.json'), 'utf8')) as { url: string, token: string }
    const call = async (method: string, route: string, body?: unknown): Promise<{ status: number, error: unknown, message: unknown }> => {
      const res = await fetch(`${api.url}${route}`, {
        method,
        headers: { authorization: `Bearer ${api.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {})
      })
      const json = await res.json() as { error?: unknown, message?: unknown }
      return { status: res.status, error: json.error, message: json.message }
    }
    const cases: Array<[string, string, unknown, string, RegExp]> = [
      ['GET', '/v1/content/not-a-cid', undefined, 'BadRequest', /InvalidCidError/],
      ['GET', `/v1/content/${UNKNOWN_CID}/data`, undefined, 'NotFound', /ContentNotFoundError/],
      ['GET', `/v1/content/${UNKNOWN_CID}/progress`, undefined, 'NotFound', /no fetch of this CID/],
      ['POST', '/v1/catalog', { role: 'etcd', templates: [{ name: 'etcd.yaml', text: 'x: "{{#node}}a{{/node}}"\n' }] }, 'BadRequest', /TemplateError/],
      ['GET', '/v1/chain/export?from=abc', undefined, 'BadRequest', /.+/]
    ]
    for (const [method, route, body, code, message] of cases) {
      const answer = await call(method, route, body)
      expect({ route, ...answer }).toMatchObject({ route, error: code, message: expect.stringMatching(message) })
      expect(isApiErrorCode(answer.error)).toBe(true)
      expect(answer.status).toBe(API_ERROR_CODES[code as keyof typeof API_ERROR_CODES].status)
    }
  }, 60_000)
})
