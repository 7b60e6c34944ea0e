/**
 * Rolling upgrades at the operator's edge (docs/OPERATIONS.md, "Rolling upgrades"), with the built CLI:
 * (1) `revoada start` on a data dir whose committed log holds a protocol level above this build's — in a
 * WAL entry, or in the node's own latest snapshot (what a later build leaves behind when the node is rolled
 * back) — exits with code 7 and the upgrade message before it serves: no API, no api.json, no banner;
 * (2) a joiner whose level is below the cluster's is not admitted, and `start --join` says why when it
 * can tell (every member it hears advertises a higher level) before giving up after --join-timeout.
 * The data dirs are made by in-process nodes of this build: a `set-protocol` above the build's level (as
 * test/consensus/cluster/protocol-gate.test.ts does) or a snapshot file written with the storage API.
 */
import { existsSync, promises as fs } from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { FileStorage } from '../../src/consensus/storage/file-storage.js'
import { encodeNodeSnapshot } from '../../src/consensus/node-snapshot.js'
import { ProposalSessions } from '../../src/consensus/core/index.js'
import { PROTOCOL_LEVEL } from '../../src/consensus/shape/core/index.js'
import { encodeCanonical } from '../../src/codec/index.js'
import { levelAboveOwn } from '../../src/cli/start-command.js'
import { startMember, stopAll, waitFor } from '../consensus/cluster/helpers.js'
import type { Member } from '../consensus/cluster/helpers.js'
import { tempDir } from '../node/helpers.js'
import { cliRun } from './helpers.js'

const UPGRADE = new RegExp(`protocol level ${PROTOCOL_LEVEL + 1}; this build knows levels up to ${PROTOCOL_LEVEL}: upgrade revoada on this node`)
const start = async (dir: string, extra: string[] = []): ReturnType<typeof cliRun> =>
  await cliRun(['start', '--data-dir', dir, '--listen', '/ip4/127.0.0.1/tcp/0', '--log-level', 'error', ...extra], 90_000)

describe('revoada start and the protocol level', () => {
  /** `revoada start` on `dir` exits 7 with the upgrade message, before printing a join string or writing api.json. */
  async function expectHaltedStart (dir: string): Promise<void> {
    const r = await start(dir)
    expect(r.code).toBe(7)
    expect(r.stderr).toMatch(UPGRADE)
    expect(r.stdout).not.toContain('Join string')
    expect(existsSync(path.join(dir, 'api.json'))).toBe(false)
  }

  let members: Member[] = []
  afterEach(async () => { await stopAll(members); members = [] })

  it('should exit 7 with the upgrade message, serving nothing, when the WAL holds a level above the build\'s', async () => {
    const dir = await tempDir()
    const a = await startMember(dir)
    members = [a]
    await waitFor(() => a.consensus.node.isLeader(), 10_000, 'the creator leads')
    // What a later build's leader commits: this node halts on it, leaving it committed in its WAL.
    await expect(a.consensus.propose({ kind: 'set-protocol', level: PROTOCOL_LEVEL + 1 }, 'operator')).rejects.toThrow()
    await waitFor(() => a.consensus.node.halted !== undefined, 10_000, 'the node halted')
    await a.node.stop()
    members = []
    await expectHaltedStart(dir)
  }, 120_000)

  it('should exit 7 with the upgrade message, serving nothing, when its own snapshot holds a level above the build\'s', async () => {
    const dir = await tempDir()
    const a = await startMember(dir)
    members = [a]
    await waitFor(() => a.consensus.node.isLeader() && a.consensus.shapeMachine.shape.size === 1, 10_000, 'bootstrapped')
    const shape = a.consensus.shapeMachine.shape
    const confState = a.consensus.node.status().confState
    await a.node.stop()
    members = []
    // The snapshot a later build took of this shape once the cluster ran a level above this build's.
    const storage = new FileStorage(path.join(dir, 'raft'))
    const { hardState, entries } = storage.load()
    const term = entries.find((e) => e.index === hardState.commit)?.term as number
    const machine = encodeCanonical(shape.withProtocol(PROTOCOL_LEVEL + 1).toData())
    storage.saveSnapshot({ meta: { index: hardState.commit, term, confState }, data: encodeNodeSnapshot({ machine, sessions: new ProposalSessions().encode() }) })
    storage.close()
    await expectHaltedStart(dir)
  }, 120_000)

  it('should not admit a joiner below the cluster\'s level, and the joiner should name the levels when it gives up', async () => {
    const a = await startMember(await tempDir())
    members = [a]
    await waitFor(() => a.consensus.node.isLeader(), 10_000, 'the creator leads')
    const root = await tempDir()
    const config = path.join(root, 'old-build.json')
    // An older build: it advertises (and knows) one level less than the cluster runs at.
    await fs.writeFile(config, JSON.stringify({ protocolLevel: PROTOCOL_LEVEL - 1 }))
    const r = await start(path.join(root, 'joiner'), ['--config', config, '--join', a.node.joinString(), '--join-timeout', '6'])
    expect(r.code).toBe(1)
    const hint = `the cluster's members advertise protocol level ${PROTOCOL_LEVEL} or more, above this build's ${PROTOCOL_LEVEL - 1}`
    expect(r.stderr).toContain(`joining: ${hint}`)
    expect(r.stderr).toContain(`join failed: not admitted within 6 s of connecting: ${hint}`)
    expect(a.consensus.node.configuration().learners).toEqual([])
    expect(a.consensus.shapeMachine.shape.size).toBe(1)
  }, 120_000)

  it('should tell a joiner the cluster is probably above its level only when every peer it heard is', () => {
    expect(levelAboveOwn(4, [5, 6])).toBe(5)
    expect(levelAboveOwn(4, [5, 4])).toBeUndefined()
    expect(levelAboveOwn(5, [5])).toBeUndefined()
    expect(levelAboveOwn(4, [])).toBeUndefined()
  })
})
