/*
 * view-order.js: #/orders/ID, one order: what to do next, the actions,
 * the CA delivery, the chain and checklist, details, CSR, the purchase
 * fields and the timeline.
 *
 * The pieces live in order-*.js and share P, the page:
 *   P.ctx        the route's context (P.ctx.alive() turns false on leaving)
 *   P.base       /api/v1/orders/ID
 *   P.S          the data: {order, etag, events, certs, report, ...}
 *   P.refresh()  loads everything again and redraws
 */
import { api } from './client.js';
import { append, clear, h, replace } from './dom.js';
import { msgEl } from './forms.js';
import { actionButtons } from './order-actions.js';
import { storedCerts } from './order-certs.js';
import { csrPanel } from './order-common.js';
import { editPanel } from './order-edit.js';
import { detailsList, drawNextStep, orderTitle, timelineItems } from './order-info.js';
import { uploadForm } from './order-upload.js';
import { verifyPanel } from './order-verify.js';
import { problemText } from './problem.js';
import { main, setShell } from './shell.js';
import { beforeDelivery } from './states.js';

/* Loads the order, its events, certificates and last report into P.S. */
async function loadAll(P) {
  const S = P.S;
  const r = await api('GET', P.base);
  S.order = r.data;
  S.etag = r.etag;
  await Promise.all([
    api('GET', P.base + '/events').then((x) => { S.events = x.data.items || []; }, (e) => {
      S.events = null;
      S.eventsError = problemText(e);
    }),
    api('GET', P.base + '/certificates').then((x) => { S.certs = x.data.items || []; }, () => { S.certs = null; }),
  ]);
  /* Only after a "verified" event: an unverified order has no report (404). */
  if (!Array.isArray(S.events) || !S.events.some((e) => e.type === 'verified')) {
    S.report = null;
    S.reportMissing = true;
    return;
  }
  try {
    S.report = (await api('GET', P.base + '/verification')).data;
    S.reportMissing = false;
  } catch (e) {
    S.report = null;
    S.reportMissing = e.status === 404;
    if (e.status !== 404) S.reportError = problemText(e);
  }
}

function section(id, title, ...kids) {
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), kids);
}

export async function viewOrder(ctx, id) {
  setShell(true, 'orders');
  document.title = 'Order · amtcertd';
  const P = { ctx, id, base: '/api/v1/orders/' + encodeURIComponent(id), S: { order: null, etag: null, events: [], report: null, certs: null, reportMissing: false } };
  P.refresh = async () => {
    await loadAll(P);
    if (ctx.alive()) draw();
  };

  const head = h('div', { class: 'order-head' });
  const next = h('p', { class: 'next-step' });
  const actions = h('div', { class: 'order-actions', role: 'group', 'aria-label': 'Order actions' });
  const details = h('div', { class: 'details' });
  const csrBox = h('div');
  const stored = h('div');
  const timeline = h('ol', { class: 'timeline' });
  const upload = uploadForm(P);
  const verify = verifyPanel(P);
  const edit = editPanel(P);

  const sec = {
    delivery: section('sec-delivery', 'CA delivery',
      h('p', { class: 'hint' }, 'Drop everything the CA sent (the zip as it came, or the .crt/.cer files, a .p7b, a PFX with its password). amtcertd sorts out the leaf, intermediates and root by their content, not their names.'),
      upload.form, upload.out, stored),
    verify: section('sec-verify', 'Chain and AMT checks', verify.form, verify.box),
    details: section('sec-details', 'Details', details),
    csr: section('sec-csr', 'CSR', csrBox),
    edit: section('sec-edit', 'Purchase and ticket', edit.box),
    events: section('sec-events', 'Timeline', timeline),
  };
  /* Before the CA delivers: the CSR and the drop zone first. After: the
     chain and checklist across the page. */
  const layout = h('div', { class: 'order-layout' });
  function arrange(early) {
    replace(layout,
      h('div', { class: 'order-row' },
        h('div', { class: 'col-main' }, early ? [sec.csr, sec.delivery] : sec.delivery),
        h('div', { class: 'col-side' }, sec.details)),
      early ? null : sec.verify,
      h('div', { class: 'order-row' },
        h('div', { class: 'col-main' }, sec.edit, early ? sec.verify : sec.csr),
        h('div', { class: 'col-side' }, sec.events)));
  }

  function draw() {
    const S = P.S;
    const o = S.order;
    document.title = (o.subject.common_name || '(no CN)') + ' · amtcertd';
    replace(head, orderTitle(o));
    drawNextStep(next, S);
    const btns = actionButtons(P);
    replace(actions, btns);
    actions.hidden = !btns.length;
    replace(details, detailsList(S));
    replace(csrBox, o.csr ? csrPanel(o) : h('p', { class: 'muted' }, 'No CSR.'));
    edit.draw();
    replace(timeline, timelineItems(S));
    const unfolded = !!stored.querySelector('details[open]');
    clear(stored);
    append(stored, [storedCerts(P, unfolded)]);
    verify.draw();
    const ae = document.activeElement;
    const early = beforeDelivery(o.state);
    if (layout.dataset.early !== String(early)) {
      layout.dataset.early = String(early);
      arrange(early);
      if (ae && ae.isConnected && ae !== document.activeElement) ae.focus();
    }
  }

  const loading = h('p', { class: 'list-status', role: 'status' }, 'Loading the order…');
  append(main, [h('p', { class: 'crumbs' }, h('a', { href: '#/orders' }, '← Orders')), loading]);
  try {
    await P.refresh();
  } catch (e) {
    if (!ctx.alive()) return;
    loading.remove();
    append(main, [h('h1', { tabindex: '-1' }, 'Order'), msgEl({ level: 'error', text: e.status === 404 ? 'There is no order ' + id + '.' : 'Could not load the order: ' + problemText(e) })]);
    return;
  }
  if (!ctx.alive()) return;
  loading.remove();
  append(main, [head, next, actions, layout]);
}
