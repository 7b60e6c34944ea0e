/**
 * A real in-process creator node with a materializer (all four roles, the policy engine off, a reconcile only on
 * changes), for tests that stop and start it on its data dir.
 */
import { startNode } from '../../src/node/index.js'
import type { RevoadaNode } from '../../src/node/index.js'
import { defaultServices } from '../../src/node/services.js'
import { MaterializerService } from '../../src/materializer/index.js'
import type { ConsensusService } from '../../src/consensus/consensus-service.js'
import type { ConfigInput } from '../../src/config/index.js'
import { testConfig, waitFor } from '../node/helpers.js'

export interface StartedCreator { node: RevoadaNode, consensus: ConsensusService, materializer: MaterializerService }

/**
 * Starts the node of `dataDir` and waits until it leads; `track` gets it as soon as it runs (to stop it after the
 * test, also when the wait fails). `manifestDir` undefined: the default `<data-dir>/manifests`.
 */
export async function startCreator (dataDir: string, track: (s: StartedCreator) => void, options: { manifestDir?: string, hooks?: ConfigInput['hooks'] } = {}): Promise<StartedCreator> {
  const materializer = new MaterializerService({ addressOf: () => '10.0.0.1' })
  const services = [...defaultServices({ policy: false, materializer: false }), materializer]
  const config: ConfigInput = {
    raft: { tickMs: 50, electionTicks: 10, heartbeatTicks: 2 },
    membership: { heartbeatIntervalMs: 200 },
    materializer: { reconcileIntervalMs: 3_600_000, ...(options.manifestDir !== undefined ? { manifestDir: options.manifestDir } : {}) },
    ...(options.hooks !== undefined ? { hooks: options.hooks } : {})
  }
  const node = await startNode({ config: testConfig(dataDir, config), services })
  const s = { node, consensus: services.find((x) => x.name === 'consensus') as ConsensusService, materializer }
  track(s)
  await waitFor(() => s.consensus.node.isLeader(), 20_000, 'the creator leads')
  return s
}
