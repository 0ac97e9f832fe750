/*
 * view-orders.js: #/orders[?state=&q=&sort=&dir=], the order list, those
 * needing action first. The daemon counts (GET /api/v1/orders/summary,
 * over every order) and sorts and pages (GET /api/v1/orders, 50 at a
 * time; Load more follows its cursor); the dashboard shows what it gets.
 */
import { listOrders, orderCounts } from './client.js';
import { append, h, replace } from './dom.js';
import { countdownEl, timeEl } from './format.js';
import { makeField, msgEl } from './forms.js';
import { problemText } from './problem.js';
import { main, pageHeader, setShell } from './shell.js';
import { GROUPS, needs, stateBadge, stateLabel, stateNames } from './states.js';

const PAGE = 50;

/* The columns; sort: the daemon's sort its header button asks for. */
const ORDER_COLUMNS = [
  { label: 'State', sort: 'needs_action', title: 'Sort by what needs action first' },
  { label: 'Common name', sort: 'cn' },
  { label: 'Vendor order' },
  { label: 'External ref' },
  { label: 'Leaf expires', sort: 'expiry', title: 'Sort by the first expiry, leaf or chain' },
  { label: 'Chain expires' },
  { label: 'Created', sort: 'created' },
];
const SORTS = ['needs_action', 'cn', 'expiry', 'created', 'updated'];

/* The daemon's own direction for a sort: newest first for times. */
function defaultDir(sort) {
  return sort === 'created' || sort === 'updated' ? 'desc' : 'asc';
}

function sortLabel(sort) {
  const c = ORDER_COLUMNS.find((x) => x.sort === sort);
  return sort === 'needs_action' ? 'what needs action first' : (c ? c.label : sort).toLowerCase();
}

/* The four counters above the list, counted by the daemon. */
function summaryStats(counts) {
  return GROUPS.map((g) => {
    const n = counts && counts.groups ? counts.groups[g.name] : undefined;
    const tone = g.name === 'needs_action' ? (n ? 'warn' : 'ok') : g.tone;
    return h('div', { class: 'stat' + (tone ? ' ' + tone : ''), dataset: { group: g.name } },
      h('strong', null, typeof n === 'number' ? n.toLocaleString('en-US') : '–'), h('span', null, g.text));
  });
}

/* The header row: a sort button per column the daemon sorts by. */
function headRow(st, onSort) {
  return h('tr', null, ORDER_COLUMNS.map((c) => {
    if (!c.sort) return h('th', { scope: 'col' }, c.label);
    const sorted = c.sort === st.sort;
    const th = h('th', { scope: 'col', 'aria-sort': sorted ? (st.dir === 'desc' ? 'descending' : 'ascending') : 'none' });
    const b = h('button', { type: 'button', class: 'sort' + (sorted ? ' on' : ''), title: c.title || 'Sort by ' + c.label.toLowerCase() },
      c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, sorted ? (st.dir === 'desc' ? '▼' : '▲') : '↕'));
    b.addEventListener('click', () => onSort(c.sort));
    th.appendChild(b);
    return th;
  }));
}

function orderRow(o) {
  const n = needs(o);
  const v = o.vendor || {};
  return h('tr', { class: 'rank-' + n.rank, dataset: { id: o.id } },
    h('td', { 'data-label': 'State' }, h('div', { class: 'state-cell' }, stateBadge(o.state), h('span', { class: 'needs ' + n.tone }, n.text))),
    h('th', { scope: 'row', 'data-label': 'Common name' }, h('a', { href: '#/orders/' + encodeURIComponent(o.id), class: 'cn' }, o.common_name || '(no CN)'),
      o.dns_suffix ? h('span', { class: 'small muted' }, 'suffix ' + o.dns_suffix) : null,
      o.renewal_of ? h('span', { class: 'small muted' }, 'renewal of an older order') : null),
    h('td', { 'data-label': 'Vendor order', class: v.order_id || v.name ? null : 'empty' },
      v.order_id ? v.order_id : h('span', { class: 'muted' }, '—'),
      v.name ? h('span', { class: 'small muted' }, v.name) : null),
    h('td', { 'data-label': 'External ref', class: o.external_ref ? null : 'empty' }, o.external_ref || h('span', { class: 'muted' }, '—')),
    h('td', { 'data-label': 'Leaf expires', class: o.leaf_not_after ? null : 'empty' }, countdownEl(o.leaf_not_after, 'leaf')),
    h('td', { 'data-label': 'Chain expires', class: o.chain_not_after ? null : 'empty' }, countdownEl(o.chain_not_after, 'chain')),
    h('td', { 'data-label': 'Created' }, timeEl(o.created_at)));
}

/* How many orders the filters match, from the counts (null: unknown). */
function matching(st) {
  const c = st.counts;
  if (!c) return null;
  if (!st.state) return c.total;
  const s = (c.states || []).find((x) => x.state === st.state);
  return s ? s.count : null;
}

/* The line under the filters: how many, or why none. */
function drawStatus(status, st) {
  const shown = st.items.length;
  const total = matching(st);
  if (shown) {
    const of = total !== null && total > shown ? ' of ' + total.toLocaleString('en-US') : '';
    status.textContent = shown.toLocaleString('en-US') + of + (total === 1 || (!of && shown === 1) ? ' order' : ' orders') + ', sorted by ' + sortLabel(st.sort) + '.';
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
  if (st.sort !== 'needs_action') p.set('sort', st.sort);
  if (st.dir !== defaultDir(st.sort)) p.set('dir', st.dir);
  const s = p.toString();
  const want = '#/orders' + (s ? '?' + s : '');
  if (location.hash !== want) history.replaceState(null, '', want);
}

export async function viewOrders(ctx) {
  setShell(true, 'orders');
  document.title = 'Orders · amtcertd';
  const q = ctx.params;
  const sort = SORTS.includes(q.get('sort')) ? q.get('sort') : 'needs_action';
  const dir = q.get('dir') === 'desc' || q.get('dir') === 'asc' ? q.get('dir') : defaultDir(sort);
  const st = { state: q.get('state') || '', q: q.get('q') || '', sort, dir, items: [], cursor: null, counts: null };

  const stateSel = makeField({ name: 'state', label: 'State', type: 'select', options: [['', 'All states']].concat(stateNames().map((s) => [s, stateLabel(s)])) });
  stateSel.input.value = st.state;
  const search = makeField({ name: 'q', label: 'Search common names and external refs', type: 'search', attrs: { placeholder: 'e.g. rcs.example.com or CHG-1234', autocomplete: 'off' } });
  search.input.value = st.q;
  const summary = h('div', { class: 'summary', 'aria-label': 'Summary' }, summaryStats(null));
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

  /* Only the newest load draws: a slower answer to an older one is dropped. */
  let loads = 0;

  /* The first page (and the counts), or with next the page after the last. */
  async function load(next) {
    const mine = ++loads;
    errBox.hidden = true;
    table.setAttribute('aria-busy', 'true');
    more.disabled = true;
    if (!next) status.textContent = 'Loading orders…';
    const page = { state: st.state, q: st.q, sort: st.sort, order: st.dir, limit: PAGE, cursor: next ? st.cursor : '' };
    try {
      const [r, counts] = await Promise.all([listOrders(page), next ? st.counts : orderCounts({ q: st.q })]);
      if (!ctx.alive() || mine !== loads) return;
      st.items = next ? st.items.concat(r.items) : r.items;
      st.cursor = r.next_cursor;
      st.counts = counts;
      draw();
    } catch (e) {
      if (!ctx.alive() || mine !== loads) return;
      status.textContent = '';
      replace(errBox, msgEl({ level: 'error', text: 'Could not load the orders: ' + problemText(e) }));
      errBox.hidden = false;
    } finally {
      if (ctx.alive() && mine === loads) {
        table.removeAttribute('aria-busy');
        more.disabled = false;
      }
    }
  }

  function sortBy(key) {
    if (st.sort === key) st.dir = st.dir === 'asc' ? 'desc' : 'asc';
    else {
      st.sort = key;
      st.dir = defaultDir(key);
    }
    syncHash(st);
    drawHead();
    const again = table.querySelector('th button.sort.on');
    if (again) again.focus();
    load(false);
  }

  /* The caption and header with the rows given (a click redraws the
     header at once and keeps the rows until the daemon's answer). */
  function drawHead(body) {
    const cap = h('caption', { class: 'visually-hidden' }, 'Orders, sorted by ' + sortLabel(st.sort) + (st.dir !== defaultDir(st.sort) ? ', reversed' : ''));
    replace(table, cap, h('thead', null, headRow(st, sortBy)), body || table.querySelector('tbody'));
  }

  function draw() {
    replace(summary, summaryStats(st.counts));
    drawHead(h('tbody', null, st.items.map(orderRow)));
    table.hidden = !st.items.length;
    table.dataset.sort = st.sort + ' ' + st.dir;
    drawStatus(status, st);
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
