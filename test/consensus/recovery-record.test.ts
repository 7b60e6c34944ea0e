/**
 * The record of an unfinished quorum recovery (src/consensus/recovery-record.ts): what a run writes a later
 * run reads back; a file this build did not write is refused with a typed error, never read as an empty set.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { QUORUM_RECOVERY_FILE_NAME, readRecoveryRecord, removeRecoveryRecord, writeRecoveryRecord } from '../../src/consensus/recovery-record.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []
afterEach(async () => { for (const dir of dirs.splice(0)) await fs.rm(dir, { recursive: true, force: true }) })
const newDir = async (): Promise<string> => { const dir = await tempDir(); dirs.push(dir); return dir }

describe('quorum recovery record', () => {
  it('should read back the lost voters written, and nothing once removed', async () => {
    const dir = await newDir()
    expect(await readRecoveryRecord(dir)).toBeUndefined()
    await writeRecoveryRecord(dir, ['b', 'a'])
    expect(await readRecoveryRecord(dir)).toEqual(['a', 'b'])
    await removeRecoveryRecord(dir)
    expect(await readRecoveryRecord(dir)).toBeUndefined()
    await removeRecoveryRecord(dir) // no record is fine
  })

  it.each([
    ['not JSON', '{"lostVoters": ['],
    ['no list', '{"lost": ["a"]}'],
    ['a list of non-ids', '{"lostVoters": [1, ""]}'],
    ['too long a list', JSON.stringify({ lostVoters: Array.from({ length: 2000 }, (_, i) => `n${i}`) })]
  ])('should refuse a record that is %s with QuorumRecoveryError', async (_, text) => {
    const dir = await newDir()
    await fs.writeFile(path.join(dir, QUORUM_RECOVERY_FILE_NAME), text)
    await expect(readRecoveryRecord(dir)).rejects.toMatchObject({ name: 'QuorumRecoveryError' })
  })
})
