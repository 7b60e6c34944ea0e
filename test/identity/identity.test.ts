/**
 * Identity persistence: created once with mode 0600, reused after, and never replaced when corrupt or exposed.
 */
import { promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { IDENTITY_FILE_NAME, loadOrCreateIdentity } from '../../src/identity/index.js'
import { tempDir } from '../node/helpers.js'

const dirs: string[] = []
async function dir (): Promise<string> {
  const d = await tempDir()
  dirs.push(d)
  return d
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(async (d) => { await fs.rm(d, { recursive: true, force: true }) }))
})

describe('identity', () => {
  it('should create an ed25519 key with mode 0600 when the data dir is new', async () => {
    const d = await dir()
    const id = await loadOrCreateIdentity(path.join(d, 'nested'))
    expect(id.created).toBe(true)
    expect(id.privateKey.type).toBe('Ed25519')
    expect(id.nodeId).toMatch(/^12D3KooW/)
    const stat = await fs.stat(path.join(d, 'nested', IDENTITY_FILE_NAME))
    expect(stat.mode & 0o777).toBe(0o600)
  })

  it('should reuse the same NodeId when started again', async () => {
    const d = await dir()
    const first = await loadOrCreateIdentity(d)
    const second = await loadOrCreateIdentity(d)
    expect(second.created).toBe(false)
    expect(second.nodeId).toBe(first.nodeId)
  })

  it('should refuse and keep a corrupt key file when it cannot be parsed', async () => {
    const d = await dir()
    const file = path.join(d, IDENTITY_FILE_NAME)
    await fs.writeFile(file, 'not a key', { mode: 0o600 })
    await expect(loadOrCreateIdentity(d)).rejects.toHaveProperty('name', 'IdentityCorruptError')
    expect(await fs.readFile(file, 'utf8')).toBe('not a key')
  })

  it('should refuse a key file when group or others can read it', async () => {
    const d = await dir()
    const { nodeId } = await loadOrCreateIdentity(d)
    const file = path.join(d, IDENTITY_FILE_NAME)
    await fs.chmod(file, 0o644)
    await expect(loadOrCreateIdentity(d)).rejects.toHaveProperty('name', 'IdentityPermissionsError')
    await fs.chmod(file, 0o600)
    expect((await loadOrCreateIdentity(d)).nodeId).toBe(nodeId)
  })
})

/**
 * Goal: an `identity.key` that cannot be read as a file (a directory, a symlink loop, a symlink to nothing) stops
 * the start with the identity module's typed error naming the path, never a bare fs error (`EISDIR: illegal
 * operation on a directory, read`, no path) nor a fresh key that was never saved.
 * Method: each shape made in a temp data dir, then loaded.
 */
describe('identity key that is not a readable file', () => {
  it('should refuse a directory at the key path with IdentityUnreadableError naming it', async () => {
    // 0700 gave a bare EISDIR; 0755 an IdentityPermissionsError telling to chmod a directory.
    for (const mode of [0o700, 0o755]) {
      const d = await dir()
      const file = path.join(d, IDENTITY_FILE_NAME)
      await fs.mkdir(file)
      await fs.chmod(file, mode)
      const err = await loadOrCreateIdentity(d).then(() => undefined, (e: unknown) => e as Error)
      expect({ mode, name: err?.name }).toEqual({ mode, name: 'IdentityUnreadableError' })
      expect(err?.message).toContain(file)
      expect((await fs.stat(file)).isDirectory()).toBe(true)
    }
  })

  it('should refuse a symlink loop at the key path with IdentityUnreadableError naming it', async () => {
    const d = await dir()
    const file = path.join(d, IDENTITY_FILE_NAME)
    await fs.symlink(file, file)
    const err = await loadOrCreateIdentity(d).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.name).toBe('IdentityUnreadableError')
    expect(err?.message).toContain(file)
  })

  it('should refuse a dangling symlink at the key path instead of running on a key it never saved', async () => {
    const d = await dir()
    const file = path.join(d, IDENTITY_FILE_NAME)
    await fs.symlink(path.join(d, 'moved-away.key'), file)
    const err = await loadOrCreateIdentity(d).then(() => undefined, (e: unknown) => e as Error)
    expect(err?.name).toBe('IdentityUnreadableError')
    expect(err?.message).toContain(file)
    await expect(fs.stat(path.join(d, 'moved-away.key'))).rejects.toHaveProperty('code', 'ENOENT')
  })
})
