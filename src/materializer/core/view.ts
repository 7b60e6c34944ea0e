/**
 * @module materializer/core/view
 * The variables a manifest template sees on one node (catalog/README.md lists them). Pure: the committed
 * shape decides who holds etcd and api-server; the addresses come from the membership view (each node's own
 * signed heartbeat), and this node's own address may be pinned in config.
 */
import type { MeshShape } from '../../consensus/shape/core/index.js'
import type { TemplateView } from './render.js'

export interface ViewInput {
  nodeId: string
  shape: MeshShape
  shapeCid: string
  appliedIndex: number
  /** The address other machines reach `nodeId` at (an IP), or undefined when not known yet. */
  addressOf: (nodeId: string) => string | undefined
  kubernetesVersion: string
  etcdVersion: string
}

export interface ViewResult {
  view: TemplateView
  /** etcd or api-server holders whose address is not known: left out of the member lists for now. */
  missingAddresses: string[]
}

/** `host` as it goes into a URL: IPv6 in brackets. */
export function urlHost (address: string): string {
  return address.includes(':') ? `[${address}]` : address
}

/** Everything the view reads from the shape, besides its CID and the applied index. */
export interface ViewShapePart {
  /** The etcd holders (the Raft voters), sorted. */
  voters: string[]
  apiServers: string[]
}

/**
 * What buildView reads from the shape (it reads it through this function only): two shapes with equal parts
 * give views that differ at most in `shape.cid` and `shape.index`, which move with every applied entry.
 */
export function viewShapePart (shape: MeshShape): ViewShapePart {
  return { voters: shape.voters(), apiServers: shape.holders('api-server') }
}

/** The view's variables that change with every applied entry (`shape.cid`, `shape.index`). */
export function movesWithEveryEntry (variable: string): boolean {
  return variable === 'shape' || variable.startsWith('shape.')
}

/** Builds the template view for `nodeId`. */
export function buildView (input: ViewInput): ViewResult {
  const missing = new Set<string>()
  const known = (ids: string[]): Array<{ id: string, address: string }> => ids.flatMap((id) => {
    const address = input.addressOf(id)
    if (address === undefined) { missing.add(id); return [] }
    return [{ id, address }]
  })
  const { voters, apiServers: apiServerIds } = viewShapePart(input.shape)
  const etcdHolders = known(voters)
  const apiServers = known(apiServerIds)
  const self = input.addressOf(input.nodeId) ?? '127.0.0.1'
  if (input.addressOf(input.nodeId) === undefined) missing.add(input.nodeId)
  const view: TemplateView = {
    node: { id: input.nodeId, name: input.nodeId, address: self },
    kubernetesVersion: input.kubernetesVersion,
    etcdVersion: input.etcdVersion,
    shape: { cid: input.shapeCid, index: input.appliedIndex },
    etcd: {
      name: input.nodeId,
      clientUrl: `https://${urlHost(self)}:2379`,
      peerUrl: `https://${urlHost(self)}:2380`,
      clientUrls: etcdHolders.map((h) => `https://${urlHost(h.address)}:2379`).join(','),
      initialCluster: etcdHolders.map((h) => `${h.id}=https://${urlHost(h.address)}:2380`).join(','),
      // Only the cluster's sole etcd holder starts a new etcd cluster; a node promoted later joins the
      // existing one (etcd ignores this flag once its data dir exists).
      initialClusterState: voters.length === 1 && voters[0] === input.nodeId ? 'new' : 'existing'
    },
    apiServer: {
      endpoints: apiServers.map((h) => `https://${urlHost(h.address)}:6443`).join(','),
      count: apiServers.length
    }
  }
  return { view, missingAddresses: [...missing].sort() }
}
