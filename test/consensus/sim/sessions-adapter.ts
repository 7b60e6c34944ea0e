/**
 * @module test/consensus/sim/sessions-adapter
 * Binds the simulator's state machine to the core's exactly-once session table (`ProposalSessions`,
 * `applyOnce`), so the simulator exercises the production dedup code. The stored result of a put is the
 * log index where it took effect. `applyOnce` here returns whether the command really ran (false: a
 * duplicate answered from the table, or a stale retry refused).
 */
import { applyOnce, ProposalSessions, type ProposalSessionsData } from '../../../src/consensus/core/index.js'
import type { Entry } from '../../../src/consensus/core/types.js'

export class SessionTable {
  private sessions = new ProposalSessions<number>()

  applyOnce (entry: Entry, run: () => void): boolean {
    const outcome = applyOnce(this.sessions, entry, (e) => { run(); return e.index })
    return outcome.status === 'applied'
  }

  encode (): unknown {
    return this.sessions.encode()
  }

  static decode (plain: unknown): SessionTable {
    const table = new SessionTable()
    table.sessions = ProposalSessions.decode(plain as ProposalSessionsData<number>)
    return table
  }
}
