/**
 * @module consensus/voter-priority
 * A voter's event loop asks the OS for a larger share of the CPU (issue 16). Every commit, election,
 * admission and liveness digest waits on the voters' event loops, the leader's above all; on a host where
 * other processes want the CPU too (a control-plane machine that also runs workloads, or many nodes on one
 * host as in the testbed and `npm run bench:scale`) a voter that gets only a fair share of a busy CPU holds
 * the whole fleet back. Kubernetes gives its own control plane the same precedence over workloads
 * (`system-node-critical`).
 *
 * Only the thread that calls (the main thread: Node's event loop) is raised: Linux applies `setpriority` on
 * a process id to that one thread. A node that stops being a voter goes back to the priority it started
 * with. Raising needs CAP_SYS_NICE (root has it) or, per setrlimit(2), an RLIMIT_NICE of at least
 * 20 − voterNice; without either the node logs once and runs as it started. An operator who started the
 * process higher than `voterNice` keeps that priority; `raft.voterNice: 0` leaves a process started at the
 * usual nice 0 as it is (docs/OPERATIONS.md).
 *
 * One node per process: the CLI passes the real thread (`mainThreadPriority`); in-process clusters (tests)
 * pass none, since several nodes would share the one thread. A process the node starts (a materializer hook)
 * is put back to the node's starting priority (util/thread-priority.ts `childToStartPriority`).
 */
import type { Logger } from '../log/index.js'
import type { ThreadPriority } from '../util/thread-priority.js'

/** Nice value of a voter's event-loop thread (−20 highest … 19 lowest). */
export const VOTER_NICE_DEFAULT = -5

/**
 * The nice value this node's thread should have: a voter gets `voterNice` unless it started higher
 * (lower nice), anyone else the value it started with.
 */
export function wantedNice (isVoter: boolean, voterNice: number, startNice: number): number {
  return isVoter ? Math.min(voterNice, startNice) : startNice
}

export interface VoterPriorityStatus {
  /** The thread's nice value now (as set by this node; the operator's starting value otherwise). */
  nice: number
  /** The configured voter value. */
  voterNice: number
  /** Why raising was refused (EPERM/EACCES: no CAP_SYS_NICE); absent while it is allowed. */
  refused?: string
}

export class VoterPriority {
  private readonly startNice: number
  private current: number
  private refused: string | undefined

  /**
   * `refusalLevel`: how a refusal is logged — `warn` when the operator set `raft.voterNice`, `info` for the
   * default (a container without CAP_SYS_NICE is an ordinary place to run).
   */
  constructor (private readonly thread: ThreadPriority, private readonly voterNice: number, private readonly log: Logger,
    private readonly refusalLevel: 'warn' | 'info' = 'warn') {
    this.startNice = thread.get()
    this.current = this.startNice
  }

  /** Applies the priority for this role; idempotent, cheap when nothing changes. */
  update (isVoter: boolean): void {
    const wanted = wantedNice(isVoter, this.voterNice, this.startNice)
    // A refused raise is not retried: the process's capabilities do not change while it runs.
    if (wanted === this.current || (wanted < this.current && this.refused !== undefined)) return
    try {
      this.thread.set(wanted)
      this.log.info({ nice: wanted, voter: isVoter }, isVoter ? 'raised the event loop\'s CPU priority: this node is a voter' : 'CPU priority back to its start: this node is not a voter')
      this.current = wanted
    } catch (err) {
      // A SystemError carries the errno's name in `info.code` (its `code` is ERR_SYSTEM_ERROR).
      this.refused = (err as { info?: { code?: string } }).info?.code ?? (err as Error).message
      this.log[this.refusalLevel]({ nice: wanted, err: this.refused }, 'could not raise the event loop\'s CPU priority for a voter (needs CAP_SYS_NICE); running at its start priority')
    }
  }

  /** Back to the starting priority (the node stops; the process may go on). */
  reset (): void {
    if (this.current === this.startNice) return
    try {
      this.thread.set(this.startNice)
      this.current = this.startNice
    } catch {
      // Lowering one's own priority is always allowed; nothing else to do.
    }
  }

  status (): VoterPriorityStatus {
    return { nice: this.current, voterNice: this.voterNice, ...(this.refused !== undefined ? { refused: this.refused } : {}) }
  }
}
