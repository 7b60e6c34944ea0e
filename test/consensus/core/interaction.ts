/**
 * Command handlers for the datadriven scenario files in testdata/ (STYLE §21, after etcd raft's
 * rafttest/ InteractionEnv): one handler per command, each returning the lines it prints.
 */
import { Cluster, bytes, conf } from './harness.js'
import { EntryType, MessageType } from '../../../src/consensus/core/index.js'
import type { ConfChangeStep } from '../../../src/consensus/core/index.js'

export interface Command {
  name: string
  positional: string[]
  keyed: Map<string, string>
}

export function parseCommand (line: string): Command {
  const [name = '', ...rest] = line.trim().split(/\s+/)
  const positional: string[] = []
  const keyed = new Map<string, string>()
  for (const token of rest) {
    const eq = token.indexOf('=')
    if (eq > 0) keyed.set(token.slice(0, eq), token.slice(eq + 1))
    else positional.push(token)
  }
  return { name, positional, keyed }
}

function list (value: string | undefined): string[] {
  return value === undefined || value === '' ? [] : value.split(',')
}

const decoder = new TextDecoder()

export class Interaction {
  private cluster: Cluster | undefined

  private get c (): Cluster {
    if (this.cluster === undefined) throw new Error('no cluster: run "cluster" first')
    return this.cluster
  }

  /** Runs one command; thrown operating errors print as `error: Name: message`. */
  run (cmd: Command): string[] {
    try {
      return this.dispatch(cmd)
    } catch (err) {
      const e = err as Error
      if (e.name === 'AssertionError' || !(e.name.endsWith('Error')) || e.name === 'Error') throw e
      return [`error: ${e.name}: ${e.message}`]
    }
  }

  private dispatch (cmd: Command): string[] {
    const [a = '', b = ''] = cmd.positional
    switch (cmd.name) {
      case 'cluster': return this.handleCluster(cmd)
      case 'campaign': this.c.get(a).node.campaign(); return []
      case 'tick': this.c.tick(a, Number(b === '' ? '1' : b)); return []
      case 'tick-all': this.c.tickAll(Number(a === '' ? '1' : a)); return []
      case 'tick-election': return this.handleTickElection(cmd)
      case 'stabilize': return this.handleStabilize(cmd)
      case 'deliver': return [`delivered ${this.c.deliver()}`]
      case 'process': for (const id of this.c.nodes.keys()) this.c.process(id); return []
      case 'propose': return this.handlePropose(cmd)
      case 'isolate': this.c.isolate(a); return []
      case 'cut': this.c.cut.add(`${a}->${b}`); this.c.cut.add(`${b}->${a}`); return []
      case 'heal': this.c.heal(); return []
      case 'connect': this.c.cut.delete(`${a}->${b}`); this.c.cut.delete(`${b}->${a}`); return []
      case 'resend-snapshot': return this.handleResendSnapshot(a, b)
      case 'inject': return this.handleInject(cmd)
      case 'status': return this.handleStatus(cmd)
      case 'state': return cmd.positional.map((id) => `${id}: [${this.c.get(id).state.join(' ')}]`)
      case 'compact': this.c.compact(a, Number(cmd.keyed.get('retain') ?? '0')); return []
      case 'add-node': this.c.addNode(a); return []
      case 'conf-change': return this.handleConfChange(cmd)
      case 'transfer': this.c.get(a).node.transferLeadership(b); return []
      case 'read-index': this.c.get(a).node.readIndex(bytes(b)); return []
      case 'read-states': return this.handleReadStates(a)
      case 'drop': return this.handleDrop(cmd)
      case 'dropped': return [`${a}: droppedMessages=${this.c.get(a).node.status().droppedMessages}`]
      default: throw new Error(`unknown command ${cmd.name}`)
    }
  }

  private handleCluster (cmd: Command): string[] {
    const chunk = cmd.keyed.get('chunk')
    const inflight = cmd.keyed.get('inflight')
    this.cluster = new Cluster({
      voters: list(cmd.keyed.get('voters')),
      learners: list(cmd.keyed.get('learners')),
      seed: Number(cmd.keyed.get('seed') ?? '1'),
      config: {
        preVote: cmd.keyed.get('prevote') !== 'false',
        checkQuorum: cmd.keyed.get('checkquorum') !== 'false',
        ...(chunk !== undefined ? { snapshotChunkBytes: Number(chunk) } : {}),
        ...(inflight !== undefined ? { maxInflightMsgs: Number(inflight) } : {})
      }
    })
    return []
  }

  /**
   * Ticks the named nodes (all when none named) once per round for a full maximum election timeout
   * (2 * electionTicks rounds), stabilizing the network after every round.
   */
  private handleTickElection (cmd: Command): string[] {
    const ids = cmd.positional.length > 0 ? cmd.positional : [...this.c.nodes.keys()]
    for (let i = 0; i < 20; i++) {
      for (const id of ids) this.c.tick(id)
      this.c.stabilize()
    }
    return []
  }

  private handlePropose (cmd: Command): string[] {
    const [id = '', data = ''] = cmd.positional
    const client = cmd.keyed.get('client')
    const seq = cmd.keyed.get('seq')
    const proposalId = client !== undefined ? { clientId: client, seq: Number(seq ?? '1') } : undefined
    const count = Number(cmd.keyed.get('count') ?? '1')
    for (let i = 0; i < count; i++) this.c.get(id).node.propose(bytes(count > 1 ? `${data}${i}` : data), proposalId)
    return []
  }

  private handleStatus (cmd: Command): string[] {
    const ids = cmd.positional.length > 0 ? cmd.positional : [...this.c.nodes.keys()]
    return ids.map((id) => {
      const s = this.c.get(id).node.status()
      const learners = s.confState.learners.length > 0 ? ` learners=${s.confState.learners.join(',')}` : ''
      const outgoing = s.confState.votersOutgoing.length > 0 ? ` outgoing=${s.confState.votersOutgoing.join(',')}` : ''
      return `${id}: ${s.role} term=${s.term} lead=${s.leader ?? '-'} commit=${s.commit} applied=${s.applied} ` +
        `first=${s.firstIndex} last=${s.lastIndex} voters=${s.confState.voters.join(',')}${outgoing}${learners}`
    })
  }

  private handleConfChange (cmd: Command): string[] {
    const steps: ConfChangeStep[] = []
    for (const id of list(cmd.keyed.get('add-voter'))) steps.push({ type: 'add-voter', nodeId: id })
    for (const id of list(cmd.keyed.get('add-learner'))) steps.push({ type: 'add-learner', nodeId: id })
    for (const id of list(cmd.keyed.get('remove'))) steps.push({ type: 'remove', nodeId: id })
    const transition = cmd.keyed.get('transition') === 'explicit' ? 'explicit' : 'auto'
    this.c.get(cmd.positional[0] ?? '').node.proposeConfChange({ steps, transition })
    return []
  }

  /** Removes queued messages matching every given key (type, from, to, offset) and prints how many. */
  private handleDrop (cmd: Command): string[] {
    return [`dropped ${this.dropMatching(cmd)}`]
  }

  private dropMatching (cmd: Command): number {
    const before = this.c.queue.length
    const want = (key: string, value: string | number | undefined): boolean =>
      !cmd.keyed.has(key) || cmd.keyed.get(key) === String(value)
    const minIndex = Number(cmd.keyed.get('min-index') ?? '0')
    this.c.queue = this.c.queue.filter((m) => !(want('type', m.type) && want('from', m.from) && want('to', m.to) &&
      want('offset', m.snapshotOffset) && m.index >= minIndex))
    return before - this.c.queue.length
  }

  /** Stabilizes; with filter keys (as for drop) it drops matching messages all along and prints how many. */
  private handleStabilize (cmd: Command): string[] {
    if (cmd.keyed.size === 0) { this.c.stabilize(); return [] }
    let dropped = 0
    for (let round = 0; round < 1000; round++) {
      let moved = false
      for (const id of this.c.nodes.keys()) if (this.c.process(id)) moved = true
      dropped += this.dropMatching(cmd)
      if (this.c.deliver() > 0) moved = true
      if (!moved) return [`dropped ${dropped}`]
    }
    throw new Error('not stable after 1000 rounds')
  }

  /**
   * Queues `from`'s newest snapshot for `to` as one Snap message of `from`'s current term, as a leader
   * may send at any time (a retried or preemptive snapshot): the follower's answer must be safe for any.
   */
  private handleResendSnapshot (from: string, to: string): string[] {
    const leader = this.c.get(from)
    const snapshot = leader.store.snapshot
    if (snapshot === undefined) throw new Error(`${from} holds no snapshot`)
    this.c.queue.push({
      type: MessageType.Snap, from, to, term: leader.node.status().term, index: snapshot.meta.index,
      logTerm: snapshot.meta.term, entries: [], commit: 0, reject: false, rejectHint: 0, snapshotMeta: snapshot.meta,
      snapshotChunk: snapshot.data, snapshotOffset: 0, snapshotDone: true
    })
    return [`queued snapshot index=${snapshot.meta.index} term=${snapshot.meta.term} ${from}->${to}`]
  }

  /**
   * Queues a hand-made message (what a buggy or hostile member could send): `type from to term index
   * logterm commit force context ents` where ents is `index:term,...` of entries holding `evil`.
   */
  private handleInject (cmd: Command): string[] {
    const num = (key: string): number => Number(cmd.keyed.get(key) ?? '0')
    const ents = list(cmd.keyed.get('ents')).map((pair) => {
      const [index = '0', term = '0'] = pair.split(':')
      return { index: Number(index), term: Number(term), type: EntryType.Normal, data: bytes('evil') }
    })
    const context = cmd.keyed.get('context')
    this.c.queue.push({
      type: (cmd.keyed.get('type') ?? '') as MessageType, from: cmd.keyed.get('from') ?? '', to: cmd.keyed.get('to') ?? '',
      term: num('term'), index: num('index'), logTerm: num('logterm'), entries: ents, commit: num('commit'),
      reject: false, rejectHint: 0, ...(cmd.keyed.get('force') === 'true' ? { force: true } : {}),
      ...(context !== undefined ? { context: bytes(context) } : {})
    })
    return []
  }

  private handleReadStates (id: string): string[] {
    const h = this.c.get(id)
    const lines = h.readStates.map((rs) => `${id}: read index=${rs.index} context=${decoder.decode(rs.context)}`)
    h.readStates = []
    return lines.length > 0 ? lines : [`${id}: no read states`]
  }
}

export { conf }
