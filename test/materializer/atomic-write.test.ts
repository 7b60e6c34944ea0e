/**
 * A kill -9 in the middle of a manifest write leaves no partial file (issue 15): a child process rewrites a
 * 2 MiB manifest in a loop with writeFileAtomic, alternating two contents, and is SIGKILLed at varied moments.
 * After each kill the manifest is exactly one of the two contents, and opening the directory removes the
 * temporary file the kill may have left (kubelet ignores dot-files meanwhile). Uses the build in dist/.
 */
import { spawn } from 'node:child_process'
import { promises as fs, existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir, waitFor } from '../node/helpers.js'
import { ManifestDir } from '../../src/materializer/manifest-dir.js'
import { TEMP_PREFIX } from '../../src/materializer/constants.js'

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/src/materializer/manifest-dir.js')
const SIZE = 2 * 1024 * 1024
let root = ''
afterEach(async () => { if (root !== '') await fs.rm(root, { recursive: true, force: true }) })

describe('writeFileAtomic under kill -9', () => {
  it('should leave either the old or the new manifest, never a partial one, across repeated kills', async () => {
    if (!existsSync(DIST)) throw new Error(`${DIST} missing: npm test builds first`)
    root = await tempDir('revoada-atomic-')
    const manifests = path.join(root, 'manifests')
    await fs.mkdir(manifests)
    const file = path.join(manifests, 'etcd.yaml')
    const contents = ['a', 'b'].map((c) => Buffer.alloc(SIZE, c))
    const script = `
      import { writeFileAtomic } from ${JSON.stringify(DIST)}
      const contents = [Buffer.alloc(${SIZE}, 'a'), Buffer.alloc(${SIZE}, 'b')]
      for (let i = 0; ; i++) {
        await writeFileAtomic(${JSON.stringify(file)}, contents[i % 2])
        if (i === 0) process.stdout.write('first\\n')
      }`
    let sawTemp = 0
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d: Buffer) => { out += d.toString() })
      await waitFor(() => out.includes('first'), 20_000, 'the first complete write')
      // Kill at a varied point of a later write (no sleep as synchronisation: the writes themselves pace it).
      const before = (await fs.stat(file)).mtimeMs
      await waitFor(async () => (await fs.stat(file)).mtimeMs !== before || round % 2 === 0, 20_000, 'another write')
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGKILL')
      await exited
      const bytes = await fs.readFile(file)
      expect(bytes.length).toBe(SIZE)
      expect(bytes.equals(contents[0]!) || bytes.equals(contents[1]!)).toBe(true)
      sawTemp += (await fs.readdir(manifests)).filter((n) => n.startsWith(TEMP_PREFIX)).length
      const removed = await new ManifestDir(manifests, path.join(root, 'state')).open()
      expect((await fs.readdir(manifests)).filter((n) => n.startsWith(TEMP_PREFIX))).toEqual([])
      expect(removed.length).toBeLessThanOrEqual(1)
    }
    // Not asserted (timing-dependent), printed so a reader sees the kills did land mid-write.
    console.log(`kills that left a temporary file behind: ${sawTemp} of 6`)
  })
})
