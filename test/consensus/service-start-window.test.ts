/**
 * The consensus service between building its Raft driver and starting it. Its start awaits the transport and
 * the removal notices first, and meanwhile the services that started before it run: membership reads the
 * applied configuration on every tick (100 ms) and every heartbeat (`consensus.started ? node.configurationView()
 * : undefined`, src/node/services.ts), and the transport asks `mayTalk` for every inbound Raft stream. `started`
 * must not say yes before the driver can answer, or each of those reads throws a TypeError — out of a ticker duty,
 * an uncaught exception that ends the process. Method: the transport's start is held at a gate while the test reads.
 * And after the driver stopped (a halt stops it before the node does), a proposal fails as stopped, not as a bug.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { ConsensusService } from '../../src/consensus/consensus-service.js'
import { FileStorage } from '../../src/consensus/storage/file-storage.js'
import { RaftTransport } from '../../src/consensus/transport/raft-transport.js'
import { defaultServices } from '../../src/node/services.js'
import { tempDir, testConfig, waitFor } from '../node/helpers.js'

describe('consensus service start', () => {
  const nodes: Array<Promise<RevoadaNode>> = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async (n) => { await (await n).stop().catch(() => {}) }))
  })

  it('should not say it started, nor refuse by throwing, while its driver waits to start', async () => {
    let reached = false
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    let isMember: ((peer: string) => boolean) | undefined
    const consensus = new ConsensusService({
      openStorage: (dir) => new FileStorage(dir),
      createTransport: (ctx, mayTalk) => {
        isMember = mayTalk
        const transport = new RaftTransport({ libp2p: ctx.net, isMember: mayTalk, log: ctx.log })
        const start = transport.start.bind(transport)
        transport.start = async () => { reached = true; await gate; await start() }
        return transport
      }
    })
    // What membership reads (src/node/services.ts), on its tick and on each heartbeat.
    const configuration = (): unknown => consensus.started ? consensus.node.configurationView() : undefined
    const starting = startNode({ config: testConfig(await tempDir()), services: [consensus] })
    nodes.push(starting)
    try {
      await waitFor(() => reached, 30_000, 'the consensus start at its transport')
      expect(consensus.started).toBe(false)
      expect(configuration()).toBeUndefined()
      // An inbound Raft stream now is refused (nothing could take its messages), not failed with a TypeError.
      expect(isMember?.('12D3KooWRBQTbxEeqJE4mpoSkLPVNxVfhfWLNDDmMK2v11oQRX1u')).toBe(false)
    } finally {
      release()
    }
    await starting
    expect(consensus.started).toBe(true)
    expect(consensus.node.configurationView().voters).toHaveLength(1)
  }, 60_000)

  it('should fail a proposal or a read made once the driver stopped with ConsensusStoppedError, not a failed assertion', async () => {
    const services = defaultServices({ policy: false })
    const consensus = services.find((s) => s.name === 'consensus') as ConsensusService
    const starting = startNode({ config: testConfig(await tempDir()), services })
    nodes.push(starting)
    await starting
    await waitFor(() => consensus.node.isLeader(), 30_000, 'the creator leads')
    // What a halt does (raft-node.ts halt): the driver stops; the node's own stop comes later. Meanwhile the
    // admission and protocol loops, the policy engine and the API may still propose through the service.
    consensus.node.stop()
    await expect(consensus.propose({ kind: 'set-protocol', level: 1 }, 'operator')).rejects.toMatchObject({ name: 'ConsensusStoppedError' })
    // So does a linearizable read (`GET /v1/shape`): no leader can confirm it through a stopped driver.
    await expect(consensus.readShape()).rejects.toMatchObject({ name: 'ConsensusStoppedError' })
  }, 60_000)
})
