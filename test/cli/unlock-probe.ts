/**
 * Runs the `revoada` CLI (argv after the data dir) in this process with one probe added for
 * test/cli/start-cleanup-lock.test.ts: when the start's clean-up removes `<data-dir>/identity.key`, it first
 * tries to take the data dir's lock, as a second `revoada start` would at that moment, and prints whether it could
 * (`PROBE: lock free`) or not (`PROBE: DataDirInUseError`). Usage: node unlock-probe.js DATA_DIR start …
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { acquireDataDirLock } from '../../src/node/data-dir-lock.js'
import { IDENTITY_FILE_NAME } from '../../src/identity/constants.js'

const dataDir = path.resolve(process.argv[2] as string)
const watched = path.join(dataDir, IDENTITY_FILE_NAME)
const rm = fs.rm.bind(fs)
let probed = false
fs.rm = async (target, options) => {
  if (!probed && path.resolve(String(target)) === watched) {
    probed = true
    try {
      const lock = await acquireDataDirLock(dataDir)
      process.stdout.write('PROBE: lock free\n')
      await lock.release()
    } catch (err) {
      process.stdout.write(`PROBE: ${(err as Error).name}\n`)
    }
  }
  await rm(target, options)
}
process.argv = [process.argv[0] as string, 'revoada', ...process.argv.slice(3)]
await import('../../src/cli/main.js')
