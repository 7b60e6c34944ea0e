/**
 * @module faults/acks
 * The check every scenario ends with, and the recover-quorum scenario's heal runs early: each acknowledged
 * (index, term) is the committed entry at that index on a node (`GET /v1/raft/terms`, Log Matching).
 */
import type { FaultNode } from './nodes.js'
import type { Ack } from './client.js'

/**
 * Every acknowledged (index, term) must be the committed entry at that index on every node. One below a node's
 * first log index (in its snapshot) passes only at or below `checkedBeforeSnapshot`, the index up to which the
 * heal checked the acknowledged entries against a whole log before a snapshot compacted them everywhere.
 */
export async function checkAcks (nodes: FaultNode[], acks: Ack[], checkedBeforeSnapshot = 0): Promise<string[]> {
  const problems: string[] = []
  for (let i = 0; i < acks.length; i += 500) {
    const batch = acks.slice(i, i + 500)
    for (const node of nodes) {
      const res = await node.request('GET', `/v1/raft/terms?indexes=${batch.map((a) => a.index).join(',')}`)
      const body = res.body as { commitIndex: number, firstIndex: number, terms: Array<number | null> }
      batch.forEach((ack, j) => {
        const term = body.terms[j]
        const inSnapshot = term === null && ack.index < body.firstIndex && ack.index <= checkedBeforeSnapshot
        if ((term !== ack.term && !inSnapshot) || body.commitIndex < ack.index) {
          problems.push(`acknowledged entry ${ack.index}@${ack.term} (via node ${ack.entryNode}) is ${term === null ? 'missing' : `term ${String(term)}`} on node ${node.index}`)
        }
      })
    }
  }
  return problems.slice(0, 5)
}
