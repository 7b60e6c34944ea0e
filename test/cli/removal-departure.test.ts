/**
 * Goal: `remove-member` and `leave` say what the removal did about the attestation chain's hand-over
 * (docs/OPERATIONS.md, "Removal, leaving, and coming back"): removed after a seal covered the departure, or a
 * warning that the member was gone and the chain stays unsealed; an answer whose `departure` is no node's fails
 * as any malformed answer does. Method: a plain HTTP server on port 0 answering the route; the built CLI runs
 * against a temp data dir whose api.json names it (for `leave`, the server removes api.json as a stopping node does).
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promises as fs, rmSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { cliRun, scratchSpace } from './helpers.js'

const ID = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'
const { servers, newDir } = scratchSpace()

/** A data dir whose api.json names a server answering every request 200 with `body`; it removes api.json when `stops`. */
async function dataDirAnswering (body: unknown, stops = false): Promise<string> {
  const dir = await newDir()
  const server = createServer((req, res) => {
    req.resume()
    if (stops) rmSync(path.join(dir, 'api.json'), { force: true })
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(body))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  await fs.writeFile(path.join(dir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't' }))
  return dir
}

const APPLIED = { index: 7, term: 2, cid: 'c', duplicate: false, outcome: { kind: 'applied' } }

describe('remove-member and leave: the chain\'s hand-over', () => {
  it('should say a seal covered the departure, warn when the member was gone, and refuse a departure that is no node\'s', async () => {
    const covered = await cliRun(['remove-member', ID, '--data-dir', await dataDirAnswering({ ...APPLIED, departure: { seal: 'covered', waitedMs: 1500, sealedHeight: 12 } })], 60_000)
    expect(covered).toMatchObject({ code: 0 })
    expect(covered.stdout).toMatch(/removed after a seal covered its departure \(sealed to height 12, waited 1\.5 s\)/)
    const gone = await cliRun(['remove-member', ID, '--data-dir', await dataDirAnswering({ ...APPLIED, departure: { seal: 'member-gone' } })], 60_000)
    expect(gone).toMatchObject({ code: 0 })
    expect(gone.stdout).toMatch(/warning: the chain needed \S+ signature to seal again, and it is gone/)
    const plain = await cliRun(['remove-member', ID, '--data-dir', await dataDirAnswering(APPLIED)], 60_000)
    expect(plain.stdout).not.toMatch(/chain needed/)
    const left = await cliRun(['leave', '--data-dir', await dataDirAnswering({ ...APPLIED, departure: { seal: 'covered', waitedMs: 800, sealedHeight: 5 } }, true)], 60_000)
    expect(left).toMatchObject({ code: 0 })
    expect(left.stdout).toMatch(/the chain needed this node's signature: removed after a seal covered its departure/)
    const bad = await cliRun(['remove-member', ID, '--data-dir', await dataDirAnswering({ ...APPLIED, departure: 'covered' })], 60_000)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/without/)
  }, 180_000)
})
