/**
 * Goal: `revoada members` prints what peers advertise (labels are free text from their heartbeats) without
 * letting it drive the operator's terminal: control characters (C0, DEL, C1, ESC sequences) and bidi overrides
 * are printed escaped (`\x1b`, `\u202e`), a backslash as `\\`; `--json` keeps the exact strings. Method: the
 * built CLI against a stand-in admin API (an `api.json` in a temp data dir) that answers a member whose labels
 * carry a screen-clearing escape, a carriage return and a bidi override. The other human outputs that print
 * text from the API (template names, manifest events, content CIDs, error messages) are held to the same rule.
 */
import { promises as fs } from 'node:fs'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../node/helpers.js'
import { cliRun } from './helpers.js'

const TOKEN = 'members-text-test-token'
const NODE_ID = '12D3KooWFgpYFkCtCYz6N7T4JxgdMc1fY7iZ7PgNzgkxgLPLSimT'
const HOSTILE = { zone: 'a\u001b[2J\u001b]0;pwned\u0007', rack: 'r1\rOK\u009b31m', note: 'x\u202etxt.exe\\n' }
const servers: Server[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map(async (s) => { await new Promise((resolve) => s.close(resolve)) }))
})

const TEXT = 'a\u001b[2J\r\u009b31m\u202e\n'
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const TERMINAL_ACTS_ON = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

async function standInNode (): Promise<string> {
  const answers: Record<string, unknown> = {
    '/v1/members': { self: NODE_ID, members: [{ nodeId: NODE_ID, health: 'alive', generation: 1, roles: ['etcd'], labels: HOSTILE, phi: 0.5 }] },
    '/v1/status': { nodeId: NODE_ID, leader: NODE_ID },
    '/v1/catalog': { catalog: [{ role: 'scheduler', source: 'committed', templates: [{ name: `s${TEXT}.yaml`, cid: 'bafy' }] }] },
    '/v1/manifests': {
      manifestDir: '/m', roles: ['scheduler'], hooksPending: 0, lastReconcile: null,
      files: [{ name: `s${TEXT}.yaml`, role: 'scheduler', templateCid: 'bafy', manifestCid: 'bafz', writtenAtMs: 0 }],
      events: [{ atMs: 0, kind: 'error', name: 's.yaml', message: `could not render ${TEXT}` }]
    },
    '/v1/content': { objects: [{ cid: `bafy${TEXT}`, type: 'blob', size: 1, complete: true, pinned: false, lastUsedMs: 0 }], usedBytes: 1, quotaBytes: 2 }
  }
  const server = createServer((req, res) => {
    const answer = req.headers.authorization === `Bearer ${TOKEN}` ? answers[req.url ?? ''] : undefined
    res.writeHead(answer !== undefined ? 200 : 400, { 'content-type': 'application/json' })
    res.end(JSON.stringify(answer ?? { error: 'BadRequest', message: `no route ${TEXT}` }))
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const dataDir = await tempDir()
  await fs.writeFile(path.join(dataDir, 'api.json'), JSON.stringify({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, token: TOKEN }))
  return dataDir
}

describe('revoada members text output', () => {
  it('should print peer labels with control characters and bidi overrides escaped, and --json unchanged', async () => {
    const dataDir = await standInNode()
    const r = await cliRun(['members', '--data-dir', dataDir])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    // Nothing the terminal would act on reaches it.
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/)
    expect(r.stdout).toContain('zone=a\\x1b[2J\\x1b]0;pwned\\x07,rack=r1\\rOK\\x9b31m,note=x\\u202etxt.exe\\\\n')
    expect(r.stdout.split('\n')[1]).toMatch(new RegExp(`^${NODE_ID}  alive `))

    const json = await cliRun(['members', '--json', '--data-dir', dataDir])
    expect((JSON.parse(json.stdout) as { members: Array<{ labels: unknown }> }).members[0]?.labels).toEqual(HOSTILE)
  })

  it('should print API-supplied text escaped in every human output and error line', async () => {
    const dataDir = await standInNode()
    for (const command of [['catalog'], ['manifests'], ['content', 'ls']]) {
      const r = await cliRun([...command, '--data-dir', dataDir])
      expect({ command, code: r.code, stderr: r.stderr }).toEqual({ command, code: 0, stderr: '' })
      expect(r.stdout, command.join(' ')).not.toMatch(TERMINAL_ACTS_ON)
      expect(r.stdout, command.join(' ')).toContain('a\\x1b[2J\\r\\x9b31m\\u202e\\n')
    }
    // An error message from the API (here a route the stand-in does not know) reaches stderr escaped.
    const failed = await cliRun(['decisions', '--data-dir', dataDir])
    expect(failed.code).not.toBe(0)
    expect(failed.stderr).not.toMatch(TERMINAL_ACTS_ON)
    expect(failed.stderr).toContain('no route a\\x1b[2J')
  })
})
