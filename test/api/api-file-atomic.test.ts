/**
 * api.json appears whole: the CLI (and scripts) read it as soon as it exists, so a node writes it to a
 * temporary name and renames it into place. Written in place, a reader that saw the name between the create
 * and the write read an empty file and failed with "api.json is malformed" (seen once in CI, in
 * test/net/leave-detection.test.ts).
 */
import { existsSync, readFileSync, watch } from 'node:fs'
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import { tempDir, testConfig } from '../node/helpers.js'

describe('api.json', () => {
  it('should never be seen by a reader of the data dir while it is incomplete', async () => {
    const dir = await tempDir()
    const seen: string[] = []
    // Every event that names api.json reads it at once, on this event loop, in the gaps of the node's own
    // start: between an in-place create and its write, that read finds an empty file.
    const watcher = watch(dir, (_event, name) => {
      if (name !== 'api.json' || !existsSync(path.join(dir, 'api.json'))) return
      try { seen.push(readFileSync(path.join(dir, 'api.json'), 'utf8')) } catch { /* removed meanwhile */ }
    })
    try {
      const node = await startNode({ config: testConfig(dir) })
      await node.stop()
    } finally {
      watcher.close()
      await fs.rm(dir, { recursive: true, force: true })
    }
    expect(seen.length).toBeGreaterThan(0)
    for (const text of seen) {
      const body = JSON.parse(text) as { url?: unknown, token?: unknown }
      expect(typeof body.url).toBe('string')
      expect(typeof body.token).toBe('string')
    }
  })
})
