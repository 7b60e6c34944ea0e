/**
 * @module dashboard/page
 * The dashboard page: static HTML, one stylesheet and one script, served from memory (no build step, no CDN, works
 * offline). The script opens `/v1/events` and re-renders on every `state` event. Everything a peer can
 * influence (ids, labels, reasons) goes into the page through textContent only, never as markup.
 * The operator must never take an old state for a live one: while no state arrives (the node stopping or
 * unreachable, the session ended, the stream refused, or no push for STALE_AFTER_MS) the page dims it and
 * says why and as of when; the header sums up the leader and the quorum as this node sees them.
 */

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>revoada</title>
<link rel="stylesheet" href="/dashboard/app.css">
</head>
<body data-connected="false" data-conn="connecting">
<header>
  <h1>revoada</h1>
  <span>cluster <code id="cluster">…</code></span>
  <span>this node <code id="self">…</code></span>
  <span id="conn" class="down">connecting…</span>
  <span id="summary"></span>
  <span class="muted" id="updated"></span>
</header>
<div id="notice" hidden></div>
<main>
  <section>
    <h2>Members</h2>
    <table>
      <thead><tr><th>node</th><th>health</th><th>phi</th><th>roles</th><th>raft</th><th>generation</th><th>labels</th></tr></thead>
      <tbody id="members"></tbody>
    </table>
  </section>
  <section>
    <h2>Consensus</h2>
    <dl class="kv" id="raft"></dl>
  </section>
  <section>
    <h2>Timeline</h2>
    <ol id="timeline"></ol>
  </section>
  <section>
    <h2>Policy decisions</h2>
    <div id="decisions-note" class="placeholder"></div>
    <ol id="decisions"></ol>
  </section>
  <section>
    <h2>Attestation chain</h2>
    <dl class="kv" id="chain"></dl>
  </section>
  <section>
    <h2>Content</h2>
    <dl class="kv" id="content"></dl>
  </section>
</main>
<script src="/dashboard/app.js"></script>
</body>
</html>
`

// A file of its own, not a <style> block: the page's CSP then needs no 'unsafe-inline' (test/dashboard/headers.test.ts).
export const DASHBOARD_CSS = `  :root { font-family: system-ui, sans-serif; font-size: 14px; color: #1d2330; background: #f4f5f7; }
  body { margin: 0; }
  header { background: #1d2330; color: #fff; padding: 10px 18px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  header .muted { color: #aab; }
  main { display: grid; grid-template-columns: 2fr 1fr; gap: 14px; padding: 14px 18px; }
  section { background: #fff; border-radius: 6px; padding: 10px 14px; box-shadow: 0 1px 2px #0002; }
  section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: #556; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eee; font-variant-numeric: tabular-nums; }
  code, .id { font-family: ui-monospace, monospace; font-size: 12px; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; color: #fff; }
  .h-alive { background: #1f9d55; } .h-suspect { background: #e3a008; } .h-dead { background: #d64545; }
  .h-left, .h-unknown { background: #8890a0; }
  .role { display: inline-block; background: #e7ecf7; border-radius: 4px; padding: 0 5px; margin: 1px; font-size: 12px; }
  .kv { display: grid; grid-template-columns: max-content 1fr; gap: 3px 12px; }
  .kv dt { color: #667; } .kv dd { margin: 0; }
  ol { margin: 0; padding-left: 0; list-style: none; max-height: 360px; overflow: auto; }
  li { padding: 3px 0; border-bottom: 1px solid #f0f0f0; }
  .time { color: #889; font-size: 12px; margin-right: 6px; font-variant-numeric: tabular-nums; }
  .placeholder { color: #889; font-style: italic; }
  #conn.live { color: #6ee7a8; } #conn.down { color: #ff8a8a; }
  #summary.ok { color: #6ee7a8; } #summary.bad { color: #ff8a8a; font-weight: bold; } #summary.warn { color: #ffd27a; }
  #notice { background: #fde8e8; color: #7a1f1f; padding: 8px 18px; border-bottom: 1px solid #f5b5b5; }
  body:not([data-conn="live"]) main { opacity: .5; }
  .wide { grid-column: 1 / -1; }
`

// The script is ASCII (\u2026 for the ellipsis): a single character above U+00FF would make V8 keep the whole
// bundle chunk holding it as a two-byte string (scripts/bundle.mjs).
export const DASHBOARD_JS = String.raw`'use strict'
const $ = (id) => document.getElementById(id)
// Properties are an allow-list of attributes set as text: a property such as innerHTML or onclick, given a peer's
// string, would run it (test/dashboard/browser.test.ts).
const EL_ATTRIBUTES = new Set(['id', 'title'])
function el (tag, props, ...children) {
  const node = document.createElement(tag)
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') node.className = String(v)
    else if (k.startsWith('data-') || EL_ATTRIBUTES.has(k)) node.setAttribute(k, String(v))
    else throw new Error('el: property ' + k + ' is not allowed')
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)))
  return node
}
const short = (id) => id ? id.slice(0, 6) + '\u2026' + id.slice(-6) : '(none)'
const idCell = (id, self) => el('span', { class: 'id', title: id }, short(id), self ? ' (this node)' : '')
const clock = (ms) => new Date(ms).toLocaleTimeString()
function kv (target, pairs) {
  target.replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]))
}
function placeholder (target, text) {
  target.replaceChildren(el('dd', { class: 'placeholder' }, text))
}
function renderMembers (state) {
  $('members').replaceChildren(...state.members.map((m) => el('tr', { 'data-node-id': m.nodeId, 'data-health': m.health, 'data-roles': m.roles.join(','), 'data-leader': m.leader },
    el('td', {}, idCell(m.nodeId, m.self)),
    el('td', {}, el('span', { class: 'badge h-' + m.health }, m.health)),
    el('td', {}, m.phi === null ? '-' : m.phi.toFixed(1)),
    el('td', {}, ...(m.roles.length === 0 ? ['-'] : m.roles.map((r) => el('span', { class: 'role' }, r)))),
    el('td', {}, m.leader ? 'leader' : (m.voter ? 'voter' : '-')),
    el('td', {}, m.generation === null ? '-' : m.generation),
    el('td', {}, Object.entries(m.labels).map(([k, v]) => k + '=' + v).join(', ') || '-'))))
}
function renderRaft (state) {
  const r = state.raft
  if (r === null) return placeholder($('raft'), 'consensus is not running on this node')
  kv($('raft'), [
    ['leader', el('span', { id: 'leader', class: 'id', title: r.leader || '' }, short(r.leader))],
    ['term', el('span', { id: 'term' }, r.term)],
    ['this node', r.role],
    ['commit index', r.commitIndex],
    ['applied index', r.appliedIndex],
    ['voters', r.voters.length + ' (' + r.voters.map(short).join(', ') + ')'],
    ['learners', r.learners.length],
    ['target', Object.entries(r.target).map(([k, v]) => k + '=' + v).join(' ')],
    ['shape', el('code', { title: r.shapeCid }, r.shapeCid.slice(0, 16) + '\u2026')]
  ])
}
function renderTimeline (state) {
  $('timeline').replaceChildren(...state.timeline.map((e) => el('li', { 'data-kind': e.kind },
    el('span', { class: 'time' }, clock(e.atMs)), e.nodeId ? idCell(e.nodeId, false) : '', ' ', e.text)))
}
function renderDecisions (state) {
  const d = state.decisions
  $('decisions-note').textContent = d === null ? 'the policy engine is not running on this node'
    : (d.recordedHere ? '' : 'decisions are recorded by the leader; this node shows what it recorded while it led')
  const items = d === null ? [] : d.items
  $('decisions').replaceChildren(...items.map((x) => el('li', {},
    el('span', { class: 'time' }, clock(x.atMs)), x.trigger + ': ',
    ...x.proposals.map((p) => el('div', {}, 'proposed ' + p.command.kind + ' ' + short(p.command.nodeId || '') + ' (' + p.reason + '): ' + p.why)),
    ...x.withheld.map((w) => el('div', {}, 'withheld ' + w.what + ' [' + w.code + ']: ' + w.why)))))
}
function renderLayer (target, value, absent) {
  if (value === null) return placeholder(target, absent)
  kv(target, Object.entries(value).map(([k, v]) => [k, typeof v === 'object' ? JSON.stringify(v) : String(v)]))
}
// The quorum as this node sees it: a voter counts as up unless its health here says dead, left or unknown.
function renderSummary (state) {
  const r = state.raft
  const summary = $('summary')
  const show = (kind, level, text) => { summary.dataset.kind = kind; summary.className = level; summary.textContent = text }
  if (r === null) return show('no-consensus', 'warn', 'consensus is not running on this node')
  const up = state.members.filter((m) => m.voter && (m.self || m.health === 'alive' || m.health === 'suspect')).length
  const needed = Math.floor(r.voters.length / 2) + 1
  const voters = up + ' of ' + r.voters.length + ' voters up'
  if (up < needed) return show('quorum-lost', 'bad', 'quorum lost: ' + voters + ' as this node sees them, ' + needed + ' needed')
  if (r.leader === null) return show('no-leader', 'bad', 'no leader at term ' + r.term + ': an election is under way, or this node cannot reach the leader (' + voters + ')')
  show('ok', 'ok', 'leader ' + short(r.leader) + ', ' + voters)
}
function render (state) {
  $('cluster').textContent = state.clusterId
  $('self').textContent = short(state.self)
  $('updated').textContent = 'updated ' + clock(state.atMs)
  renderSummary(state)
  renderMembers(state)
  renderRaft(state)
  renderTimeline(state)
  renderDecisions(state)
  renderLayer($('chain'), state.chain, 'the attestation layer is not running on this node yet: chain head and seals appear here once it does')
  renderLayer($('content'), state.content, 'the content layer is not running on this node yet: blobs and bytes appear here once it does')
}
// The node pushes a state at least every 500 ms while a stream is open (each carries its own atMs).
const STALE_AFTER_MS = 5000
const RETRY_MS = 5000
let source = null
let conn = 'connecting'
let shownAtMs = null
let lastStateMs = 0
// Not live: the state shown stays, dimmed (CSS on data-conn), with why and as of when in the notice.
function setConn (next, why) {
  conn = next
  document.body.dataset.conn = next
  document.body.dataset.connected = String(next === 'live')
  $('conn').textContent = next === 'live' ? 'live' : next.replace('-', ' ')
  $('conn').className = next === 'live' ? 'live' : 'down'
  const notice = $('notice')
  notice.hidden = next === 'live'
  notice.textContent = next === 'live' ? '' : why + (shownAtMs === null ? '' : ' The state below is as of ' + clock(shownAtMs) + ', not live.')
}
function connect () {
  source = new EventSource('/v1/events')
  source.addEventListener('state', (event) => {
    try {
      const state = JSON.parse(event.data)
      render(state)
      shownAtMs = state.atMs
      lastStateMs = Date.now()
      setConn('live', '')
    } catch (err) {
      setConn('page-error', 'This page could not show the node\'s latest state (' + String(err) + ').')
    }
  })
  source.addEventListener('stopping', () => { setConn('stopping', 'The node is stopping.') })
  source.addEventListener('error', () => {
    // CLOSED: the answer was no stream (401, 429, 503), and EventSource gives up for good; find out which.
    if (source.readyState === EventSource.CLOSED) { source.close(); void diagnose(); return }
    if (conn === 'stopping' || conn === 'node-stopped') setConn('node-stopped', 'The node stopped; reconnecting\u2026')
    else setConn('reconnecting', 'The event stream broke; reconnecting\u2026')
  })
}
async function diagnose () {
  let status = 0
  let message = ''
  try {
    const probe = new AbortController()
    const res = await fetch('/v1/events', { signal: probe.signal, cache: 'no-store' })
    status = res.status
    if (status !== 200) message = String((await res.json().catch(() => ({}))).message || '')
    probe.abort()
  } catch {
    status = 0
  }
  if (status === 401) {
    return setConn('session-ended', 'This dashboard session has ended: the node restarted, or the session expired or gave way to newer ones. Run "revoada dashboard" for a new login link.')
  }
  // A stream that opens now after one that did not (a 503 that passed): reconnect, but never in a tight loop.
  if (status === 200) { setConn('reconnecting', 'The event stream was refused; reconnecting\u2026'); setTimeout(connect, RETRY_MS); return }
  setConn(status === 0 ? 'unreachable' : 'refused', (status === 0 ? 'The node does not answer.' : 'The node refused the event stream (' + status + (message ? ': ' + message : '') + ').') + ' Retrying every ' + RETRY_MS / 1000 + ' s.')
  setTimeout(() => { void diagnose() }, RETRY_MS)
}
setInterval(() => {
  if (conn === 'live' && Date.now() - lastStateMs > STALE_AFTER_MS) {
    setConn('stale', 'No update from the node for ' + Math.round((Date.now() - lastStateMs) / 1000) + ' s: it may be stalled or overloaded.')
  }
}, 1000)
connect()
`
