/**
 * @module bench/etcd/cluster
 * Starts the anchor for the consensus benchmarks: a 3-member etcd 3.4 cluster (Debian's `etcd-server`) on
 * 127.0.0.1 with fsync on (etcd's default), in temp dirs. Installs the package when it is missing and we are
 * root, so `npm run bench:consensus` works on a fresh machine of this kind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort, waitFor } from '../lib/ports.js'

export interface EtcdMember {
  name: string
  clientUrl: string
  peerUrl: string
  dataDir: string
  process?: ChildProcess
}

export interface EtcdCluster {
  members: EtcdMember[]
  endpoints(): string[]
  /** SIGKILLs one member. */
  kill(member: EtcdMember): Promise<void>
  /** Restarts a killed member on its data dir. */
  restart(member: EtcdMember): Promise<void>
  stop(): Promise<void>
}

/** Makes sure `etcd` is on PATH, installing Debian's etcd-server (3.4) if we can. */
export function ensureEtcdInstalled (): string {
  const found = spawnSync('sh', ['-c', 'command -v etcd'], { encoding: 'utf8' })
  if (found.status === 0) return found.stdout.trim()
  if (process.getuid?.() !== 0) throw new Error('etcd is not installed and we are not root: apt-get install etcd-server')
  console.error('installing etcd-server from Debian (anchor for the consensus benchmark)…')
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
  const install = spawnSync('apt-get', ['install', '-y', '-qq', 'etcd-server'], { stdio: 'inherit', env })
  if (install.status !== 0) throw new Error('apt-get install etcd-server failed')
  return ensureEtcdInstalled()
}

function startMember (binary: string, member: EtcdMember, initialCluster: string, state: 'new' | 'existing'): ChildProcess {
  const args = [
    '--name', member.name,
    '--data-dir', member.dataDir,
    '--listen-client-urls', member.clientUrl,
    '--advertise-client-urls', member.clientUrl,
    '--listen-peer-urls', member.peerUrl,
    '--initial-advertise-peer-urls', member.peerUrl,
    '--initial-cluster', initialCluster,
    '--initial-cluster-state', state,
    '--initial-cluster-token', 'revoada-bench',
    '--log-level', 'error',
    // Same timing class as revoada's defaults (100 ms heartbeat, election 1 s), etcd's own defaults.
    '--heartbeat-interval', '100',
    '--election-timeout', '1000'
  ]
  const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
  child.stderr?.on('data', () => {})
  return child
}

async function isHealthy (member: EtcdMember): Promise<boolean> {
  try {
    const response = await fetch(`${member.clientUrl}/health`)
    if (!response.ok) return false
    const body = await response.json() as { health?: string }
    return body.health === 'true'
  } catch {
    return false
  }
}

/** Starts three members and waits until all report healthy. */
export async function startEtcdCluster (size = 3): Promise<EtcdCluster> {
  const binary = ensureEtcdInstalled()
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'revoada-etcd-'))
  const members: EtcdMember[] = []
  for (let i = 0; i < size; i++) {
    members.push({
      name: `etcd${i}`,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: path.join(root, `etcd${i}`)
    })
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',')
  for (const member of members) member.process = startMember(binary, member, initialCluster, 'new')
  await waitFor(async () => (await Promise.all(members.map(isHealthy))).every(Boolean), 30_000, 'etcd healthy')

  const kill = async (member: EtcdMember): Promise<void> => {
    const child = member.process
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
    member.process = undefined
  }
  return {
    members,
    endpoints: () => members.map((m) => m.clientUrl),
    kill,
    restart: async (member) => {
      member.process = startMember(binary, member, initialCluster, 'existing')
      await waitFor(() => isHealthy(member), 30_000, `${member.name} healthy`)
    },
    stop: async () => {
      for (const member of members) await kill(member)
      fs.rmSync(root, { recursive: true, force: true })
    }
  }
}
