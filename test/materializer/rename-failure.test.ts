/**
 * A manifest or state write whose rename fails leaves no temporary file behind. The temporary file sits in the
 * kubelet's manifest directory (or the state directory), and a reconcile retries the write at every change
 * and every tick: each failed rename left one more file of the manifest's size until the next start.
 * Method: a directory stands where the manifest (and then the state file) is renamed to, so the rename fails
 * (EISDIR); the write must reject with the rename's error, leave no temporary file, and log one line naming
 * the file.
 * Red before: the temporary file stayed, one per attempt, and nothing was logged.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ManifestDir } from '../../src/materializer/manifest-dir.js'
import { TEMP_PREFIX } from '../../src/materializer/constants.js'
import { capturingLogger, tempDir } from '../node/helpers.js'

const dirs: string[] = []

afterEach(async () => {
  for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true })
})

async function temps (dir: string): Promise<string[]> {
  return (await fs.readdir(dir)).filter((name) => name.startsWith(TEMP_PREFIX))
}

describe('materializer writes whose rename fails', () => {
  it('should remove the temporary file, log it and keep the rename\'s error, for a manifest and for the state file', async () => {
    const root = await tempDir('revoada-rename-')
    dirs.push(root)
    const manifests = path.join(root, 'manifests')
    const state = path.join(root, 'state')
    const { log, lines } = capturingLogger('warn')
    const dir = new ManifestDir(manifests, state, log)
    await dir.open()
    // A directory where the file goes: rename(2) of a file over it fails with EISDIR.
    await fs.mkdir(path.join(manifests, 'etcd.yaml', 'x'), { recursive: true })
    for (let attempt = 0; attempt < 3; attempt++) {
      await expect(dir.write('etcd.yaml', new TextEncoder().encode('kind: Pod\n'))).rejects.toHaveProperty('code', 'EISDIR')
    }
    expect(await temps(manifests)).toEqual([])
    const removed = lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('temporary file removed'))
    expect(removed.length).toBe(3)
    expect(removed[0]).toMatchObject({ file: path.join(manifests, 'etcd.yaml') })

    await fs.mkdir(path.join(state, 'state.json', 'x'), { recursive: true })
    await expect(dir.writeState({ files: {}, roles: [] })).rejects.toHaveProperty('code', 'EISDIR')
    expect(await temps(state)).toEqual([])
    expect(lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('temporary file removed')).length).toBe(4)
  })
})
