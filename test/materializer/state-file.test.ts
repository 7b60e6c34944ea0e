/**
 * The materializer's state file (`<data-dir>/materializer/state.json`) is what tells this node's manifests from
 * anyone else's. One that a hand edit left unreadable (not JSON, `null`, an array) is not taken as empty: the
 * node's manifests would turn into strangers' files, never updated or removed. The start fails instead, with a
 * typed error naming the file and what to do; the fields of a readable state are still taken leniently.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { ManifestDir } from '../../src/materializer/manifest-dir.js'
import { tempDir, testConfig } from '../node/helpers.js'

const dirs: string[] = []

afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true })
})

async function withState (text: string): Promise<{ dataDir: string, file: string }> {
  const dataDir = await tempDir('revoada-matstate-')
  dirs.push(dataDir)
  await fs.mkdir(path.join(dataDir, 'materializer'), { recursive: true })
  const file = path.join(dataDir, 'materializer', 'state.json')
  await fs.writeFile(file, text)
  return { dataDir, file }
}

describe('the materializer state file', () => {
  for (const [what, text] of [['not JSON', '{"files": {"etcd.yaml": '], ['null', 'null\n'], ['an array', '[]\n'], ['a number', '7\n']] as const) {
    it(`should refuse a state that is ${what} with MaterializerStateError naming the file and the fix`, async () => {
      const { dataDir, file } = await withState(text)
      const dir = new ManifestDir(path.join(dataDir, 'manifests'), path.join(dataDir, 'materializer'))
      await dir.open()
      const refused = dir.loadState(() => true)
      await expect(refused).rejects.toHaveProperty('name', 'MaterializerStateError')
      await expect(refused).rejects.toThrow(file)
      await expect(refused).rejects.toThrow(/restore|fix/)
      // Left as it is, for the operator.
      expect(await fs.readFile(file, 'utf8')).toBe(text)
    })
  }

  it('should still take a readable state leniently: unknown or malformed fields dropped', async () => {
    const { dataDir } = await withState('{"files": {"a.yaml": {"role": "etcd", "templateCid": "x"}, "../b": {"role": "etcd", "templateCid": "x"}, "c.yaml": 3}, "roles": ["etcd", 4]}\n')
    const dir = new ManifestDir(path.join(dataDir, 'manifests'), path.join(dataDir, 'materializer'))
    expect(await dir.readState()).toEqual({ files: { 'a.yaml': { role: 'etcd', templateCid: 'x' } }, roles: ['etcd'] })
  })

  it('should fail the node\'s start with MaterializerStateError for a state of null', async () => {
    const { dataDir, file } = await withState('null\n')
    const started = await startNode({ config: testConfig(dataDir), services: defaultServices({ policy: false }) }).then(async (node) => {
      await node.stop()
      return new Error('the node started')
    }, (err: unknown) => err as Error)
    expect(started.name).toBe('MaterializerStateError')
    expect(started.message).toContain(file)
  }, 60_000)
})
