/**
 * @module materializer/default-catalog
 * The default role catalog shipped with the build in `catalog/` (issue 15): one kubeadm-style static-pod
 * template per control-plane role. A role the committed catalog does not name renders from these. Their
 * CIDs are the same on every node running the same build, and `revoada catalog` shows them.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { cidOfBytes } from '../codec/index.js'
import type { ControlPlaneRole } from '../consensus/shape/core/index.js'

export interface Template {
  name: string
  cid: string
  bytes: Uint8Array
}

/** The default template file of each role. */
export const DEFAULT_TEMPLATE_FILES: Readonly<Record<ControlPlaneRole, string>> = {
  'api-server': 'kube-apiserver.yaml',
  etcd: 'etcd.yaml',
  scheduler: 'kube-scheduler.yaml',
  'controller-manager': 'kube-controller-manager.yaml'
}

/** The `catalog/` folder of this build: found upward from this module (src/ under vitest, dist/src/ built). */
export function defaultCatalogDir (): string {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  for (let depth = 0; depth < 6; depth++) {
    const candidate = path.join(dir, 'catalog')
    if (existsSync(path.join(candidate, DEFAULT_TEMPLATE_FILES.etcd))) return candidate
    dir = path.dirname(dir)
  }
  throw new Error('the default catalog/ folder is missing from this build')
}

/** Reads the default templates (once per process). */
export function loadDefaultCatalog (dir = defaultCatalogDir()): Map<ControlPlaneRole, Template[]> {
  const catalog = new Map<ControlPlaneRole, Template[]>()
  for (const [role, name] of Object.entries(DEFAULT_TEMPLATE_FILES) as Array<[ControlPlaneRole, string]>) {
    const bytes = new Uint8Array(readFileSync(path.join(dir, name)))
    catalog.set(role, [{ name, cid: cidOfBytes(bytes).toString(), bytes }])
  }
  return catalog
}
