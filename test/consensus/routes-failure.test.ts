/**
 * Goal: a proposal's failure is answered with the API error its cause means, never `Internal` for a refusal the
 * consensus layer names: a member id that is no canonical peer id and no member (InvalidMemberIdError) is an
 * unknown member, as the API's own check says when it sees it first.
 */
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { consensusFailure } from '../../src/consensus/routes.js'
import { InvalidMemberIdError, UnknownMemberError } from '../../src/consensus/errors.js'

async function answerTo (err: Error): Promise<{ status: number, body: { error: string, message: string } }> {
  const app = Fastify()
  app.get('/', async (_request, reply) => consensusFailure(reply, err))
  try {
    const res = await app.inject({ method: 'GET', url: '/' })
    return { status: res.statusCode, body: res.json() }
  } finally {
    await app.close()
  }
}

describe('consensus failures on the API', () => {
  it('should answer a member id refused at the source as an unknown member, not an internal error', async () => {
    const invalid = await answerTo(new InvalidMemberIdError('peer-x: not base58btc text'))
    const unknown = await answerTo(new UnknownMemberError('peer-x'))
    expect(invalid.body.error).toBe('NotFound')
    expect(invalid.status).toBe(unknown.status)
    expect(invalid.body.message).toContain('peer-x')
  })
})
