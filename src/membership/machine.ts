/**
 * @module membership/machine
 * The capacity a node advertises, read from the machine (node:os, statfs on the data dir) unless the
 * config overrides it.
 */
import os from 'node:os'
import { statfsSync } from 'node:fs'
import type { Capacity } from './core/index.js'

/** Kubernetes' default pod limit per node. */
const DEFAULT_PODS = 110

/**
 * The CPU count, read once: `os.cpus()` reads /proc/stat, /proc/cpuinfo and every CPU's cpufreq file
 * (0.16 ms here), and every heartbeat (2 a second) advertised it (issue 16, idle work).
 */
let cpuCount: number | undefined

export function machineCapacity (dataDir: string, override: Partial<Capacity> = {}): Capacity {
  let storageBytes = 0
  try {
    const stats = statfsSync(dataDir)
    storageBytes = Number(stats.bavail) * Number(stats.bsize)
  } catch {
    storageBytes = 0
  }
  return {
    cpuMillis: (cpuCount ??= os.cpus().length) * 1000,
    memoryBytes: os.totalmem(),
    storageBytes,
    pods: DEFAULT_PODS,
    ...override
  }
}
