import { promises as fs } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import { readBlockedPeers } from '../../src/testbed/faults-file.js'

describe('a testbed node\'s faults file', () => {
  let dir: string | undefined
  afterEach(async () => { if (dir !== undefined) await fs.rm(dir, { recursive: true, force: true }); dir = undefined })

  it('should keep the peer ids it names and skip an entry that is no peer id, which the node would fail to hang up on', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-faults-'))
    const file = path.join(dir, 'testbed-faults.json')
    const peer = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    await fs.writeFile(file, JSON.stringify({ blocked: ['not-a-peer', 7, peer, 'QmNope'] }))
    const blocked = await readBlockedPeers(file)
    expect([...blocked.keys()]).toEqual([peer])
    expect(blocked.get(peer)?.toString()).toBe(peer)
  })

  it('should read a missing, unparsable or shapeless file as no blocked peer', async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'revoada-faults-'))
    const file = path.join(dir, 'testbed-faults.json')
    expect((await readBlockedPeers(file)).size).toBe(0)
    for (const body of ['{', 'null', '{"blocked":"x"}', '[]']) {
      await fs.writeFile(file, body)
      expect((await readBlockedPeers(file)).size).toBe(0)
    }
  })
})
