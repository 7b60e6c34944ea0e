/**
 * Goal: `revoada chain verify` of an export file larger than one read can hold (2 GiB) fails with a typed
 * error that names the file, its size and the limit (exit 3, the operator's input), not Node's bare
 * RangeError from readFile (exit 1). Method: the built CLI on a sparse 3 GiB file in a temp dir (no 3 GB
 * write), as the file and as `--against`.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { encodeChainExport } from '../../src/attestation/core/index.js'
import { tempDir } from '../node/helpers.js'
import { standardChain } from '../attestation/helpers.js'
import { cliRun } from './helpers.js'

describe('chain verify of a large file', () => {
  it('should refuse an export file over 2 GiB with ExportFileTooLargeError when it is the file or --against', async () => {
    const dir = await tempDir('revoada-chain-large-')
    try {
      const big = path.join(dir, 'big.export')
      await fs.writeFile(big, '')
      await fs.truncate(big, 3 * 1024 ** 3)
      const small = path.join(dir, 'small.export')
      await fs.writeFile(small, encodeChainExport((await standardChain('cluster-a')).exp))
      const direct = await cliRun(['chain', 'verify', big])
      expect(direct.stderr).toContain('ExportFileTooLargeError')
      expect(direct.stderr).toContain(big)
      expect(direct.stderr).not.toContain('RangeError')
      expect(direct.code).toBe(3)
      const against = await cliRun(['chain', 'verify', small, '--against', big])
      expect(against.stderr).toContain('ExportFileTooLargeError')
      expect(against.stderr).not.toContain('RangeError')
      expect(against.code).toBe(3)
    } finally {
      await fs.rm(dir, { recursive: true, force: true })
    }
  })
})
