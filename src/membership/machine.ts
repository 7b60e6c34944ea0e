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

export function machineCapacity (dataDir: string, override: Partial<Capacity> = {}): Capacity {
  let storageBytes = 0
  try {
    const stats = statfsSync(dataDir)
    storageBytes = Number(stats.bavail) * Number(stats.bsize)
  } catch {
    storageBytes = 0
  }
  return {
    cpuMillis: os.cpus().length * 1000,
    memoryBytes: os.totalmem(),
    storageBytes,
    pods: DEFAULT_PODS,
    ...override
  }
}
