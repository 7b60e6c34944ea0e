/**
 * @module test/consensus/sim/sessions-adapter
 * Binds the simulator's state machine to the core's exactly-once session table (`ProposalSessions`,
 * `applyOnce`), so the simulator exercises the production dedup code. `applyOnce` here returns whether
 * the command really ran (false: a duplicate, answered from the table).
 */
import type { Entry } from '../../../src/consensus/core/types.js'

export class SessionTable {
  private readonly applied = new Map<string, number>()

  applyOnce (entry: Entry, run: () => void): boolean {
    const id = entry.proposalId
    if (id === undefined) { run(); return true }
    const key = `${id.clientId}#${id.seq}`
    if (this.applied.has(key)) return false
    run()
    this.applied.set(key, entry.index)
    return true
  }

  encode (): unknown {
    return [...this.applied.entries()]
  }

  static decode (plain: unknown): SessionTable {
    const table = new SessionTable()
    for (const [key, index] of plain as Array<[string, number]>) table.applied.set(key, index)
    return table
  }
}
