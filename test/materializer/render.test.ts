/**
 * The default catalog renders into valid Kubernetes Pods (issue 15): every template of `catalog/` is rendered
 * for a node of an ha-three shape and validated against the Kubernetes OpenAPI schema (kubernetes-models'
 * Pod). The etcd member list is the shape's etcd holders; a promoted node joins the existing etcd cluster.
 * Rendering is strict (an unknown variable is an error) and structural (a value cannot add YAML keys).
 */
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { Pod } from 'kubernetes-models/v1'
import { MeshShape } from '../../src/consensus/shape/core/index.js'
import type { Role } from '../../src/consensus/shape/core/index.js'
import { buildView, renderTemplate } from '../../src/materializer/core/index.js'
import { loadDefaultCatalog } from '../../src/materializer/default-catalog.js'

const ids = ['12D3KooWAAA', '12D3KooWBBB', '12D3KooWCCC', '12D3KooWDDD']
const addresses: Record<string, string> = { '12D3KooWAAA': '10.0.0.1', '12D3KooWBBB': '10.0.0.2', '12D3KooWCCC': 'fd00::3', '12D3KooWDDD': '10.0.0.4' }

function haShape (): MeshShape {
  const roles: Array<[string, Role[]]> = [
    [ids[0]!, ['api-server', 'etcd', 'scheduler']], [ids[1]!, ['api-server', 'etcd', 'controller-manager']],
    [ids[2]!, ['api-server', 'etcd']], [ids[3]!, []]
  ]
  return MeshShape.fromData({ members: roles, target: { apiServers: 3, etcd: 3, schedulers: 1, controllerManagers: 1, minWorkers: 1 } })
}

const viewFor = (nodeId: string, shape = haShape()) => buildView({
  nodeId, shape, shapeCid: 'bafyshape', appliedIndex: 42, addressOf: (id) => addresses[id], kubernetesVersion: 'v1.31.4', etcdVersion: '3.5.16-0'
})

const command = (manifest: Record<string, unknown>): string[] => ((manifest.spec as { containers: Array<{ command: string[] }> }).containers[0]!.command)

describe('default catalog rendering', () => {
  it('should render every default template into a Pod that passes the Kubernetes schema', () => {
    const catalog = loadDefaultCatalog()
    expect([...catalog.keys()].sort()).toEqual(['api-server', 'controller-manager', 'etcd', 'scheduler'])
    const { view, missingAddresses } = viewFor(ids[1]!)
    expect(missingAddresses).toEqual([])
    for (const [role, templates] of catalog) {
      for (const template of templates) {
        const text = renderTemplate(new TextDecoder().decode(template.bytes), view, template.name)
        const object = parse(text) as Record<string, unknown>
        expect(object.kind, role).toBe('Pod')
        expect(() => new Pod(object as never).validate(), `${template.name} validates`).not.toThrow()
        expect(text).not.toContain('{{')
      }
    }
  })

  it('should fail validation when a rendered manifest is not a valid Pod (the schema check can fail)', () => {
    expect(() => new Pod({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: { containers: 'nope' } } as never).validate()).toThrow()
  })

  it('should give a promoted etcd member the existing cluster state and the shape\'s etcd holders as members', () => {
    const etcd = loadDefaultCatalog().get('etcd')![0]!
    const manifest = parse(renderTemplate(new TextDecoder().decode(etcd.bytes), viewFor(ids[2]!).view, 'etcd.yaml')) as Record<string, unknown>
    const flags = command(manifest)
    expect(flags).toContain('--initial-cluster-state=existing')
    expect(flags).toContain(`--initial-cluster=${ids[0]}=https://10.0.0.1:2380,${ids[1]}=https://10.0.0.2:2380,${ids[2]}=https://[fd00::3]:2380`)
    expect(flags).toContain(`--name=${ids[2]}`)
    expect(flags).toContain('--initial-advertise-peer-urls=https://[fd00::3]:2380')
  })

  it('should start a new etcd cluster only on the sole etcd holder', () => {
    const solo = MeshShape.fromData({ members: [[ids[0]!, ['api-server', 'etcd', 'scheduler', 'controller-manager']]], target: { apiServers: 1, etcd: 1, schedulers: 1, controllerManagers: 1, minWorkers: 1 } })
    const etcd = loadDefaultCatalog().get('etcd')![0]!
    const manifest = parse(renderTemplate(new TextDecoder().decode(etcd.bytes), viewFor(ids[0]!, solo).view, 'etcd.yaml')) as Record<string, unknown>
    expect(command(manifest)).toContain('--initial-cluster-state=new')
  })

  it('should point the api-server at every etcd holder', () => {
    const api = loadDefaultCatalog().get('api-server')![0]!
    const manifest = parse(renderTemplate(new TextDecoder().decode(api.bytes), viewFor(ids[0]!).view, 'kube-apiserver.yaml')) as Record<string, unknown>
    expect(command(manifest)).toContain('--etcd-servers=https://10.0.0.1:2379,https://10.0.0.2:2379,https://[fd00::3]:2379')
    expect(command(manifest)).toContain('--advertise-address=10.0.0.1')
  })

  it('should leave a holder whose address is unknown out of the member list and report it', () => {
    const result = buildView({ nodeId: ids[0]!, shape: haShape(), shapeCid: 'x', appliedIndex: 1, addressOf: (id) => id === ids[2] ? undefined : addresses[id], kubernetesVersion: 'v1', etcdVersion: '3' })
    expect(result.missingAddresses).toEqual([ids[2]])
    expect(String((result.view.etcd as Record<string, string>).initialCluster)).not.toContain(ids[2]!)
  })
})

describe('renderTemplate', () => {
  const view = { node: { address: '10.0.0.1' }, n: 3 }
  it('should refuse a variable the view does not define instead of rendering an empty string', () => {
    expect(() => renderTemplate('apiVersion: v1\nkind: Pod\nx: "--advertise-address={{node.adress}}"\n', view, 't')).toThrow(expect.objectContaining({ name: 'TemplateVariableError' }))
  })
  it('should refuse sections and partials', () => {
    expect(() => renderTemplate('apiVersion: v1\nkind: Pod\nx: "{{#node}}a{{/node}}"\n', view, 't')).toThrow(expect.objectContaining({ name: 'TemplateError' }))
  })
  it('should refuse a template that is not one YAML mapping with apiVersion and kind', () => {
    for (const text of ['- a\n- b\n', 'kind: Pod\n', 'apiVersion: v1\nkind: Pod\n---\napiVersion: v1\nkind: Pod\n', 'a: [\n']) {
      expect(() => renderTemplate(text, view, 't')).toThrow(expect.objectContaining({ name: 'TemplateError' }))
    }
  })
  it('should refuse an unquoted {{variable}}, which YAML reads as a mapping, and allow {{ in comments', () => {
    // Before, `name: {{nosuch.var}}` parsed as the mapping {'{ nosuch.var }': null}: no tag was found, so no
    // TemplateVariableError, and an invalid Pod was written.
    const pod = 'apiVersion: v1\nkind: Pod\nmetadata:\n'
    for (const text of [`${pod}  name: {{nosuch.var}}\n`, `${pod}  name: {{node.address}}\n`, `${pod}  labels:\n    - {{node.address}}\n`,
      `${pod}  "{{node.address}}": x\n`, `${pod}  name: "{{node.address}}"\n  other: {{node.address}}\n`]) {
      expect(() => renderTemplate(text, view, 't')).toThrow(expect.objectContaining({ name: 'TemplateError', message: expect.stringContaining('quote the value') }))
    }
    const commented = `# uses {{node.address}}\n${pod}  name: "{{node.address}}" # and {{n}}\n  x: |\n    # {{n}} here is text, rendered\n`
    expect(parse(renderTemplate(commented, view, 't'))).toEqual({ apiVersion: 'v1', kind: 'Pod', metadata: { name: '10.0.0.1', x: '# 3 here is text, rendered\n' } })
  })
  it('should keep a value inside its string: an address cannot add YAML keys', () => {
    const hostile = { node: { address: '10.0.0.1"\nspec:\n  hostPID: true\n#' } }
    const out = parse(renderTemplate('apiVersion: v1\nkind: Pod\nmetadata:\n  name: "{{node.address}}"\n', hostile, 't')) as Record<string, unknown>
    expect(Object.keys(out).sort()).toEqual(['apiVersion', 'kind', 'metadata'])
    expect((out.metadata as { name: string }).name).toBe(hostile.node.address)
  })
  it('should not HTML-escape values', () => {
    const out = parse(renderTemplate('apiVersion: v1\nkind: Pod\nx: "{{v}}"\n', { v: 'a=b&c<d>' }, 't')) as Record<string, string>
    expect(out.x).toBe('a=b&c<d>')
  })
})
