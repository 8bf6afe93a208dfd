// The workmesh dashboard page: plain JavaScript, no build step. Every value
// from the server is put in the page as text (textContent), never as HTML:
// errors are written by nodes, which the page must not trust.
'use strict';

const params = new URLSearchParams(location.search);
const REFRESH_MS = Math.max(250, Number(params.get('refresh')) || 5000);
/** Rows per page; `?pageSize=N` overrides each view's own. */
const pageSize = (own) => Math.min(200, Number(params.get('pageSize')) || own);
const state = { config: null, timer: null, chart: null, chartKey: '', generation: 0 };

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const num = (n) => (n === null || n === undefined ? '-' : Number(n).toLocaleString('en-US'));
const time = (ms) => (ms === null || ms === undefined ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19));
function age(ms) {
  if (ms === null || ms === undefined) return '-';
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}
const duration = (ms) => (ms === null || ms === undefined ? '-' : ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);
const cell = (value, field, extra) =>
  h('td', { class: typeof value === 'number' ? 'num' : extra, 'data-field': field }, typeof value === 'number' ? num(value) : value);
const healthBadge = (health) =>
  h(
    'span',
    { class: `health ${health.state}`, 'data-health': health.state, title: health.lastError || '' },
    health.state === 'backoff' ? `back-off until ${time(health.nextTryAt)}` : health.state,
  );

function message(text, kind) {
  const el = document.getElementById('message');
  el.className = text ? kind || 'info' : '';
  el.textContent = text || '';
}

async function api(path) {
  const response = await fetch(path, { headers: { accept: 'application/json' } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
  return body;
}

async function action(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-workmesh-token': sessionStorage.getItem('workmesh-token') || '' },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
}

function hashRoute() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const parts = (path || 'overview').split('/').map(decodeURIComponent);
  return { view: parts[0], arg: parts[1], query: new URLSearchParams(query || '') };
}

function go(view, query) {
  const text = query ? new URLSearchParams(Object.entries(query).filter(([, v]) => v !== undefined && v !== '')).toString() : '';
  location.hash = `#/${view}${text ? `?${text}` : ''}`;
}

function chart(container, series, key) {
  const data = [series.minutes, series.pushed, series.pulled];
  // The same chart is moved into the refreshed view and given the new data: no flicker, no new canvas.
  if (state.chart && state.chartKey === key) {
    container.append(state.chart.root);
    state.chart.setData(data);
    return;
  }
  state.chart?.destroy();
  state.chartKey = key;
  state.chart = new uPlot(
    {
      title: 'Records per minute',
      width: Math.min(1200, Math.max(480, document.getElementById('view').clientWidth - 40)),
      height: 220,
      series: [{}, { label: 'pushed', stroke: '#2f5bd3', width: 2 }, { label: 'pulled', stroke: '#1f8a4c', width: 2 }],
      axes: [{}, { label: 'records' }],
      scales: { y: { range: (u, min, max) => [0, Math.max(5, max * 1.1)] } },
    },
    data,
    container,
  );
}

function pager(page, onPage) {
  const last = Math.max(0, Math.ceil(page.total / page.limit) - 1);
  const at = Math.floor(page.offset / page.limit);
  return h(
    'div',
    { class: 'pager' },
    h('button', { type: 'button', disabled: at === 0, onclick: () => onPage(Math.max(0, page.offset - page.limit)) }, '‹ previous'),
    h('span', { 'data-field': 'page' }, `page ${at + 1} of ${last + 1} (${num(page.total)})`),
    h('button', { type: 'button', disabled: at >= last, onclick: () => onPage(page.offset + page.limit) }, 'next ›'),
  );
}

const views = {
  async overview(root) {
    const o = await api('/api/overview');
    const chartBox = h('div', { class: 'chart', id: 'throughput' });
    root.replaceChildren(
      h('h2', {}, 'Services'),
      h(
        'table',
        { id: 'services' },
        h(
          'tr',
          {},
          ['service', 'nodes', 'entities', 'unassigned', 'pending', 'failed', 'processed', 'lag'].map((c) => h('th', {}, c)),
        ),
        o.services.map((s) =>
          h(
            'tr',
            { 'data-service': s.service },
            h('td', {}, s.service),
            ['nodes', 'entities', 'unassigned', 'pending', 'failed', 'processed'].map((f) => cell(s[f], f)),
            h('td', { class: 'num', 'data-field': 'lag' }, age(s.lagMs)),
          ),
        ),
      ),
      h('h2', {}, 'Nodes'),
      h(
        'table',
        { id: 'nodes' },
        h(
          'tr',
          {},
          ['node', 'health', 'entities', 'pending', 'failed', 'processed', 'lag', 'last success', 'last error'].map((c) => h('th', {}, c)),
        ),
        o.nodes.map((n) =>
          h(
            'tr',
            { 'data-node': n.name },
            h('td', {}, h('a', { href: `#/node/${encodeURIComponent(n.name)}` }, n.name)),
            h('td', { 'data-field': 'health' }, healthBadge(n.health)),
            ['entities', 'pending', 'failed', 'processed'].map((f) => cell(n[f], f)),
            h('td', { class: 'num', 'data-field': 'lag' }, age(n.lagMs)),
            h('td', { 'data-field': 'last-success' }, time(n.lastSuccessAt)),
            h('td', { class: 'error', 'data-field': 'last-error' }, n.health.lastError || ''),
          ),
        ),
      ),
      h('h2', {}, 'Throughput, last 3 hours'),
      chartBox,
    );
    return () => chart(chartBox, o.throughput, 'overview');
  },

  async node(root, name) {
    const query = hashRoute().query;
    const n = await api(`/api/nodes/${encodeURIComponent(name)}?offset=${Number(query.get('offset')) || 0}&limit=${pageSize(25)}`);
    const chartBox = h('div', { class: 'chart' });
    const activity = (a) => (a ? `${time(a.lastSuccessAt)}` : '-');
    root.replaceChildren(
      h('h2', {}, `Node ${n.name} `, healthBadge(n.health)),
      h(
        'div',
        { class: 'cards' },
        h(
          'div',
          { class: 'card' },
          h('div', { class: 'muted' }, 'failures in a row'),
          h('div', { class: 'value', 'data-field': 'failures' }, num(n.health.failures)),
        ),
        h(
          'div',
          { class: 'card' },
          h('div', { class: 'muted' }, 'failing since'),
          h('div', { class: 'value' }, time(n.health.failingSince)),
        ),
        h('div', { class: 'card' }, h('div', { class: 'muted' }, 'next try'), h('div', { class: 'value' }, time(n.health.nextTryAt))),
        h(
          'div',
          { class: 'card' },
          h('div', { class: 'muted' }, 'last success'),
          h('div', { class: 'value' }, time(n.health.lastSuccessAt ?? n.lastSuccessAt)),
        ),
      ),
      h('p', { class: 'error' }, n.health.lastError ? `last error: ${n.health.lastError}` : ''),
      h('h2', {}, 'Streams'),
      h(
        'table',
        { id: 'streams' },
        h(
          'tr',
          {},
          [
            'service',
            'protocol',
            'pending',
            'failed',
            'processed',
            'lag',
            'last push ok',
            'last push error',
            'last pull ok',
            'last pull error',
          ].map((c) => h('th', {}, c)),
        ),
        n.streams.map((s) =>
          h(
            'tr',
            {},
            h('td', {}, s.service),
            h('td', {}, s.protocol),
            ['pending', 'failed', 'processed'].map((f) => cell(s[f], f)),
            h('td', { class: 'num' }, age(s.lagMs)),
            h('td', {}, activity(s.push)),
            h('td', { class: 'error' }, s.push?.lastError || ''),
            h('td', {}, activity(s.pull)),
            h('td', { class: 'error' }, s.pull?.lastError || ''),
          ),
        ),
      ),
      h('h2', {}, 'Throughput'),
      chartBox,
      h('h2', {}, 'Last runs'),
      h(
        'table',
        { id: 'node-runs' },
        h(
          'tr',
          {},
          ['finished', 'stage', 'service', 'protocol', 'records', 'failed', 'duration', 'error'].map((c) => h('th', {}, c)),
        ),
        n.lastRuns.map((r) =>
          h(
            'tr',
            {},
            h('td', {}, time(r.finishedAt)),
            h('td', {}, r.stage),
            h('td', {}, r.service),
            h('td', {}, r.protocol),
            cell(r.records),
            cell(r.failed),
            h('td', { class: 'num' }, duration(r.finishedAt - r.startedAt)),
            h('td', { class: 'error' }, r.error || ''),
          ),
        ),
      ),
      h('h2', {}, 'Entities'),
      h(
        'table',
        { id: 'entities' },
        h(
          'tr',
          {},
          ['service', 'entity', 'weight'].map((c) => h('th', {}, c)),
        ),
        n.entities.entities.map((e) =>
          h(
            'tr',
            {},
            h('td', {}, e.service),
            h('td', {}, h('a', { href: `#/entity?${new URLSearchParams({ service: e.service, entity: String(e.id) })}` }, String(e.id))),
            cell(e.weight),
          ),
        ),
      ),
      pager(n.entities, (offset) => go(`node/${encodeURIComponent(name)}`, { offset })),
    );
    return () => chart(chartBox, n.throughput, `node:${name}`);
  },

  async failed(root) {
    const query = hashRoute().query;
    const filter = {
      service: query.get('service') || '',
      protocol: query.get('protocol') || '',
      node: query.get('node') || '',
      state: query.get('state') || '',
    };
    const offset = Number(query.get('offset')) || 0;
    const page = await api(`/api/failed?${new URLSearchParams({ ...filter, offset, limit: pageSize(50) })}`);
    const protocols = [...new Set(state.config.services.flatMap((s) => s.protocols))];
    const select = (name, options) =>
      h(
        'label',
        {},
        name,
        h(
          'select',
          { name, id: `filter-${name}` },
          h('option', { value: '' }, 'all'),
          options.map((o) => h('option', { value: o, selected: filter[name] === o }, o)),
        ),
      );
    const form = h(
      'form',
      {
        class: 'filters',
        id: 'failed-filter',
        onsubmit: (e) => (e.preventDefault(), go('failed', Object.fromEntries(new FormData(form)))),
      },
      select(
        'service',
        state.config.services.map((s) => s.name),
      ),
      select('protocol', protocols),
      select('node', state.config.nodes),
      select('state', ['failed', 'dead']),
      h('button', { type: 'submit' }, 'Filter'),
    );
    const retry = async (body, what) => {
      try {
        const answer = await action('/api/retry', body);
        message(`${what}: ${answer.revived} record${answer.revived === 1 ? '' : 's'} pending again`, 'info');
        await render();
      } catch (error) {
        message(`${what} refused: ${error.message}`, 'error');
      }
    };
    const selected = () =>
      [...document.querySelectorAll('#failed input[data-record]:checked')].map((box) => JSON.parse(box.dataset.record));
    const retrySelected = () => {
      const picked = selected();
      if (picked.length === 0) return message('select dead records first', 'error');
      // The engine retries one protocol at a time: group the selection.
      const groups = new Map();
      for (const r of picked) {
        const key = `${r.service}\u0000${r.protocol}`;
        if (!groups.has(key)) groups.set(key, { service: r.service, protocol: r.protocol, ids: [] });
        groups.get(key).ids.push(r.id);
      }
      return retry([...groups.values()][0], 'retry selected').then(async () => {
        for (const group of [...groups.values()].slice(1)) await retry(group, 'retry selected');
      });
    };
    root.replaceChildren(
      h('h2', {}, 'Failed records'),
      form,
      h(
        'div',
        { class: 'filters' },
        h('button', { type: 'button', id: 'retry-selected', onclick: retrySelected }, 'Retry selected'),
        h(
          'button',
          {
            type: 'button',
            id: 'retry-all-dead',
            onclick: () =>
              retry({ allDead: true, service: filter.service, protocol: filter.protocol, node: filter.node }, 'retry all dead'),
          },
          'Retry all dead of this filter',
        ),
      ),
      h(
        'table',
        { id: 'failed' },
        h(
          'tr',
          {},
          ['', 'service', 'protocol', 'id', 'node', 'state', 'attempts', 'error', ''].map((c) => h('th', {}, c)),
        ),
        page.records.map((r) =>
          h(
            'tr',
            { 'data-id': String(r.id), 'data-state': r.state },
            h(
              'td',
              {},
              r.state === 'dead'
                ? h('input', { type: 'checkbox', 'data-record': JSON.stringify({ service: r.service, protocol: r.protocol, id: r.id }) })
                : null,
            ),
            h('td', {}, r.service),
            h('td', {}, r.protocol),
            h('td', {}, String(r.id)),
            h('td', {}, r.node || '-'),
            h('td', { 'data-field': 'state' }, r.state),
            cell(r.attempts, 'attempts'),
            h('td', { class: 'error' }, r.error || ''),
            h(
              'td',
              {},
              r.state === 'dead'
                ? h(
                    'button',
                    {
                      type: 'button',
                      class: 'retry-one',
                      onclick: () => retry({ service: r.service, protocol: r.protocol, ids: [r.id] }, `retry ${r.id}`),
                    },
                    'Retry',
                  )
                : null,
            ),
          ),
        ),
      ),
      pager(page, (next) => go('failed', { ...filter, offset: next })),
    );
  },

  async entity(root) {
    const query = hashRoute().query;
    const service = query.get('service') || state.config.services[0]?.name || '';
    const entity = query.get('entity') || '';
    const protocols = state.config.services.find((s) => s.name === service)?.protocols ?? [];
    const form = h(
      'form',
      { class: 'filters', onsubmit: (e) => (e.preventDefault(), go('entity', Object.fromEntries(new FormData(form)))) },
      h(
        'label',
        {},
        'service',
        h(
          'select',
          { name: 'service' },
          state.config.services.map((s) => h('option', { value: s.name, selected: s.name === service }, s.name)),
        ),
      ),
      h('label', {}, 'entity', h('input', { name: 'entity', value: entity, id: 'entity-id' })),
      h(
        'label',
        {},
        'protocol',
        h(
          'select',
          { name: 'protocol' },
          protocols.map((p) => h('option', { value: p, selected: p === query.get('protocol') }, p)),
        ),
      ),
      h('button', { type: 'submit' }, 'Look up'),
    );
    root.replaceChildren(h('h2', {}, 'Entity lookup'), form);
    if (!entity) return;
    const e = await api(
      `/api/entity?${new URLSearchParams({ service, entity, protocol: query.get('protocol') || '', offset: Number(query.get('offset')) || 0, limit: pageSize(50) })}`,
    );
    root.append(
      h(
        'p',
        {},
        `Entity ${e.entity} of ${e.service}: node `,
        e.node ? h('a', { href: `#/node/${encodeURIComponent(e.node)}` }, e.node) : 'none (unassigned)',
      ),
      h(
        'table',
        { id: 'entity-protocols' },
        h(
          'tr',
          {},
          ['protocol', 'pending', 'failed', 'processed'].map((c) => h('th', {}, c)),
        ),
        e.protocols.map((p) =>
          h(
            'tr',
            {},
            h('td', {}, p.protocol),
            ['pending', 'failed', 'processed'].map((f) => cell(p[f], f)),
          ),
        ),
      ),
      h('h2', {}, `Records of ${e.selected}`),
      h(
        'table',
        { id: 'entity-records' },
        h(
          'tr',
          {},
          ['id', 'state', 'attempts', 'pushed to', 'error'].map((c) => h('th', {}, c)),
        ),
        e.records.map((r) =>
          h(
            'tr',
            {},
            h('td', {}, String(r.id)),
            h('td', {}, r.state),
            cell(r.pushAttempts),
            h('td', {}, r.pushNode || '-'),
            h('td', { class: 'error' }, r.pushError || r.pullError || ''),
          ),
        ),
      ),
      pager(e, (offset) => go('entity', { service, entity, protocol: e.selected, offset })),
    );
  },

  async runs(root) {
    const offset = Number(hashRoute().query.get('offset')) || 0;
    const page = await api(`/api/runs?offset=${offset}&limit=${pageSize(50)}`);
    root.replaceChildren(
      h('h2', {}, 'Runs'),
      h(
        'table',
        { id: 'runs' },
        h(
          'tr',
          {},
          ['started', 'command', 'status', 'duration', 'streams', 'records', 'failed', 'errors'].map((c) => h('th', {}, c)),
        ),
        page.runs.map((r) =>
          h(
            'tr',
            {},
            h('td', {}, time(r.startedAt)),
            h('td', {}, r.command),
            h('td', {}, r.status),
            h('td', { class: 'num' }, duration(r.durationMs)),
            cell(r.streams),
            cell(r.records),
            cell(r.failed),
            h('td', { class: 'error' }, r.errors.join('; ')),
          ),
        ),
      ),
      pager(page, (next) => go('runs', { offset: next })),
    );
  },
};

/** Views that follow the database live; the others change only by the user's hand, so a selection is never wiped. */
const LIVE = new Set(['overview', 'node', 'runs']);

async function render() {
  const route = hashRoute();
  const view = views[route.view] ? route.view : 'overview';
  for (const link of document.querySelectorAll('nav a'))
    link.classList.toggle('active', link.dataset.view === view || (view === 'node' && link.dataset.view === 'overview'));
  const root = document.getElementById('view');
  // Each view is built off the page and put in only if no later render started meanwhile: a slow
  // refresh of the view left behind must never cover the one the user went to.
  const generation = ++state.generation;
  const fresh = document.createElement('div');
  try {
    const attached = await views[view](fresh, route.arg);
    if (generation !== state.generation) return;
    root.replaceChildren(...fresh.childNodes);
    attached?.();
    document.getElementById('refreshed').textContent = `updated ${new Date().toLocaleTimeString('en-GB')}`;
    document.body.dataset.refreshedAt = String(Date.now());
  } catch (error) {
    message(error.message, 'error');
  }
}

function schedule() {
  clearTimeout(state.timer);
  const view = hashRoute().view;
  if (!LIVE.has(views[view] ? view : 'overview')) return;
  state.timer = setTimeout(async () => {
    await render();
    schedule();
  }, REFRESH_MS);
}

async function start() {
  state.config = await api('/api/config');
  const input = document.getElementById('token');
  input.value = sessionStorage.getItem('workmesh-token') || '';
  input.addEventListener('input', () => sessionStorage.setItem('workmesh-token', input.value));
  document.getElementById('token-form').addEventListener('submit', (e) => e.preventDefault());
  document.getElementById('actions-state').textContent = state.config.actions ? '' : 'read-only (no token configured)';
  window.addEventListener('hashchange', async () => {
    message('');
    await render();
    schedule();
  });
  await render();
  schedule();
}

start().catch((error) => message(error.message, 'error'));
