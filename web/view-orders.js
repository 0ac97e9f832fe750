/*
 * view-orders.js: #/orders[?state=&q=&sort=&dir=], the order list, the
 * orders needing action first, filterable and sortable.
 */
import { api } from './client.js';
import { append, h, replace } from './dom.js';
import { countdownEl, timeEl } from './format.js';
import { makeField, msgEl } from './forms.js';
import { problemText } from './problem.js';
import { main, pageHeader, setShell } from './shell.js';
import { firstExpiry, needs, stateBadge, stateIndex, stateLabel, stateNames } from './states.js';

const ORDER_COLUMNS = [
  { key: 'needs', label: 'State', get: (o) => needs(o).rank * 100 + stateIndex(o.state) },
  { key: 'cn', label: 'Common name', get: (o) => (o.subject && o.subject.common_name || '').toLowerCase() },
  { key: 'vendor', label: 'Vendor order', get: (o) => (o.vendor && o.vendor.order_id || '').toLowerCase() },
  { key: 'ref', label: 'External ref', get: (o) => (o.external_ref || '').toLowerCase() },
  { key: 'leaf', label: 'Leaf expires', get: (o) => o.leaf_not_after ? Date.parse(o.leaf_not_after) : Infinity },
  { key: 'chain', label: 'Chain expires', get: (o) => o.chain_not_after ? Date.parse(o.chain_not_after) : Infinity },
  { key: 'created', label: 'Created', get: (o) => Date.parse(o.created_at) || 0 },
];

/* items sorted by col; ties: soonest expiry, then newest. */
function sortOrders(items, col, desc) {
  const dir = desc ? -1 : 1;
  return items.slice().sort((a, b) => {
    const x = col.get(a);
    const y = col.get(b);
    if (x < y) return -dir;
    if (x > y) return dir;
    const ea = firstExpiry(a);
    const eb = firstExpiry(b);
    if (!isNaN(ea) || !isNaN(eb)) {
      if (isNaN(ea)) return 1;
      if (isNaN(eb)) return -1;
      if (ea !== eb) return ea - eb;
    }
    return (Date.parse(b.created_at) || 0) - (Date.parse(a.created_at) || 0);
  });
}

/* The four counters above the list. */
function summaryStats(items) {
  const counts = { act: 0, wait: 0, fine: 0, closed: 0 };
  for (const o of items) {
    const n = needs(o).rank;
    if (n <= 4) counts.act++;
    else if (n === 5) counts.wait++;
    else if (n === 6) counts.fine++;
    else counts.closed++;
  }
  return [
    h('div', { class: 'stat ' + (counts.act ? 'warn' : 'ok') }, h('strong', null, String(counts.act)), h('span', null, 'need action')),
    h('div', { class: 'stat' }, h('strong', null, String(counts.wait)), h('span', null, 'waiting for the CA')),
    h('div', { class: 'stat ok' }, h('strong', null, String(counts.fine)), h('span', null, 'deployed')),
    h('div', { class: 'stat muted' }, h('strong', null, String(counts.closed)), h('span', null, 'closed')),
  ];
}

/* The header row: one sort button per column; onSort(key) on a click. */
function headRow(st, onSort) {
  return h('tr', null, ORDER_COLUMNS.map((c) => {
    const sorted = c.key === st.sort;
    const th = h('th', { scope: 'col', 'aria-sort': sorted ? (st.dir === 'desc' ? 'descending' : 'ascending') : 'none' });
    const b = h('button', { type: 'button', class: 'sort' + (sorted ? ' on' : ''), title: c.key === 'needs' ? 'Sort by what needs action first' : 'Sort by ' + c.label.toLowerCase() },
      c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, sorted ? (st.dir === 'desc' ? '▼' : '▲') : '↕'));
    b.addEventListener('click', () => onSort(c.key));
    th.appendChild(b);
    return th;
  }));
}

function orderRow(o) {
  const n = needs(o);
  const cn = (o.subject && o.subject.common_name) || '(no CN)';
  return h('tr', { class: 'rank-' + n.rank, dataset: { id: o.id } },
    h('td', { 'data-label': 'State' }, h('div', { class: 'state-cell' }, stateBadge(o.state), h('span', { class: 'needs ' + n.tone }, n.text))),
    h('th', { scope: 'row', 'data-label': 'Common name' }, h('a', { href: '#/orders/' + encodeURIComponent(o.id), class: 'cn' }, cn),
      o.dns_suffix ? h('span', { class: 'small muted' }, 'suffix ' + o.dns_suffix) : null,
      o.renewal_of ? h('span', { class: 'small muted' }, 'renewal of an older order') : null),
    h('td', { 'data-label': 'Vendor order', class: o.vendor && (o.vendor.order_id || o.vendor.name) ? null : 'empty' },
      o.vendor && o.vendor.order_id ? o.vendor.order_id : h('span', { class: 'muted' }, '—'),
      o.vendor && o.vendor.name ? h('span', { class: 'small muted' }, o.vendor.name) : null),
    h('td', { 'data-label': 'External ref', class: o.external_ref ? null : 'empty' }, o.external_ref || h('span', { class: 'muted' }, '—')),
    h('td', { 'data-label': 'Leaf expires', class: o.leaf_not_after ? null : 'empty' }, countdownEl(o.leaf_not_after, 'leaf')),
    h('td', { 'data-label': 'Chain expires', class: o.chain_not_after ? null : 'empty' }, countdownEl(o.chain_not_after, 'chain')),
    h('td', { 'data-label': 'Created' }, timeEl(o.created_at)));
}

/* The line under the filters: how many, or why none. */
function drawStatus(status, st, count) {
  if (count) {
    status.textContent = count + (count === 1 ? ' order' : ' orders') + (st.cursor ? ' (more on the server)' : '') + '.';
  } else if (st.state || st.q) {
    status.textContent = 'No order matches these filters.';
  } else {
    replace(status, 'No orders yet. ', h('a', { href: '#/new' }, 'Create the first one'), ': amtcertd makes the key and the CSR you paste into the CA\'s order form.');
  }
}

/* The filters and sort order in the address, so a reload keeps them. */
function syncHash(st) {
  const p = new URLSearchParams();
  if (st.state) p.set('state', st.state);
  if (st.q) p.set('q', st.q);
  if (st.sort !== 'needs') p.set('sort', st.sort);
  if (st.dir !== 'asc') p.set('dir', st.dir);
  const s = p.toString();
  const want = '#/orders' + (s ? '?' + s : '');
  if (location.hash !== want) history.replaceState(null, '', want);
}

export async function viewOrders(ctx) {
  setShell(true, 'orders');
  document.title = 'Orders · amtcertd';
  const q = ctx.params;
  const st = { state: q.get('state') || '', q: q.get('q') || '', sort: q.get('sort') || 'needs', dir: q.get('dir') === 'desc' ? 'desc' : 'asc', items: [], cursor: null };

  const stateSel = makeField({ name: 'state', label: 'State', type: 'select', options: [['', 'All states']].concat(stateNames().map((s) => [s, stateLabel(s)])) });
  stateSel.input.value = st.state;
  const search = makeField({ name: 'q', label: 'Search common names', type: 'search', attrs: { placeholder: 'e.g. rcs.example.com', autocomplete: 'off' } });
  search.input.value = st.q;
  const summary = h('div', { class: 'summary', 'aria-label': 'Summary' });
  const status = h('p', { class: 'list-status', role: 'status', 'aria-live': 'polite' }, 'Loading orders…');
  const table = h('table', { class: 'orders' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
  const errBox = h('div', { class: 'form-errors', role: 'alert', hidden: true });

  append(main, [
    pageHeader('Orders', 'Every AMT provisioning certificate, the ones that need you first.',
      h('a', { class: 'btn primary', href: '#/new' }, 'New order')),
    summary,
    h('form', { class: 'filters', role: 'search', novalidate: true, onsubmit: (ev) => ev.preventDefault() }, stateSel.wrap, search.wrap),
    errBox,
    status,
    h('div', { class: 'table-wrap' }, table),
    more,
  ]);

  async function load(append_) {
    errBox.hidden = true;
    status.textContent = 'Loading orders…';
    const p = new URLSearchParams({ limit: '200' });
    if (st.state) p.set('state', st.state);
    if (st.q) p.set('q', st.q);
    if (append_ && st.cursor) p.set('cursor', st.cursor);
    try {
      const r = await api('GET', '/api/v1/orders?' + p.toString());
      if (!ctx.alive()) return;
      st.items = append_ ? st.items.concat(r.data.items) : r.data.items;
      st.cursor = r.data.next_cursor;
      draw();
    } catch (e) {
      if (!ctx.alive()) return;
      status.textContent = '';
      replace(errBox, msgEl({ level: 'error', text: 'Could not load the orders: ' + problemText(e) }));
      errBox.hidden = false;
    }
  }

  function sortBy(key) {
    if (st.sort === key) st.dir = st.dir === 'asc' ? 'desc' : 'asc';
    else {
      st.sort = key;
      st.dir = 'asc';
    }
    syncHash(st);
    draw();
    const again = table.querySelector('th button.sort.on');
    if (again) again.focus();
  }

  function draw() {
    replace(summary, summaryStats(st.items));
    const col = ORDER_COLUMNS.find((c) => c.key === st.sort) || ORDER_COLUMNS[0];
    const rows = sortOrders(st.items, col, st.dir === 'desc');
    replace(table, h('caption', { class: 'visually-hidden' }, 'Orders, sorted by ' + col.label.toLowerCase() + (st.dir === 'desc' ? ', descending' : '')),
      h('thead', null, headRow(st, sortBy)), h('tbody', null, rows.map(orderRow)));
    table.hidden = !rows.length;
    drawStatus(status, st, rows.length);
    more.hidden = !st.cursor;
  }

  more.addEventListener('click', () => load(true));
  stateSel.input.addEventListener('change', () => {
    st.state = stateSel.input.value;
    syncHash(st);
    load(false);
  });
  let timer = 0;
  search.input.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      st.q = search.input.value.trim();
      syncHash(st);
      load(false);
    }, 250);
  });
  await load(false);
}
