/**
 * @module test/consensus/sim/trace
 * A bounded ring of the most recent simulator events, printed when a seed fails so the failure can be read
 * without a debugger: `t=<tick> <event>`.
 */
import { TRACE_EVENTS_MAX } from './constants.js'

export class Trace {
  private readonly events: string[] = []
  private tickNow = 0
  /** Echo every event to stdout as it happens (for `--verbose` replays). */
  verbose = false

  setTick (tick: number): void {
    this.tickNow = tick
  }

  add (event: string): void {
    const line = `t=${this.tickNow} ${event}`
    if (this.verbose) console.log(line)
    this.events.push(line)
    if (this.events.length > TRACE_EVENTS_MAX) this.events.shift()
  }

  lines (): string[] {
    return [...this.events]
  }
}
