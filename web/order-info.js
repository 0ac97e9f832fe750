/*
 * order-info.js: the order page's heading, its "what next" line, the
 * details list and the timeline.
 */
import { h } from './dom.js';
import { countdown, countdownEl, timeEl } from './format.js';
import { msgEl } from './forms.js';
import { linkOrders, overallBadge } from './report.js';
import { isVerified, needs, nextStepText, stateBadge } from './states.js';

const EVENT_LABEL = {
  created: 'Created', upload: 'Files uploaded', state: 'State changed', verified: 'Verified', updated: 'Details edited',
  key_export: 'Private key exported', key_imported: 'Key imported', renewed: 'Renewed',
  certificate_detached: 'Certificate detached',
};

/* The order's expiry fields, or the last report's chain until the
   daemon fills them in. S is the order page's data. */
export function expiries(S) {
  const o = S.order;
  let leaf = o.leaf_not_after || null;
  let chain = o.chain_not_after || null;
  const c = S.report && Array.isArray(S.report.chain) ? S.report.chain : [];
  if (!leaf && c.length && c[0].not_after) leaf = c[0].not_after;
  if (!chain && c.length) {
    const ts = c.map((x) => x.not_after).filter(Boolean).sort((a, b) => Date.parse(a) - Date.parse(b));
    chain = ts[0] || null;
  }
  return { leaf, chain };
}

/* The heading: the CN, the state, the id, the order it renews. */
export function orderTitle(o) {
  const cn = o.subject.common_name || '(no CN)';
  return h('div', { class: 'page-title' },
    h('h1', { tabindex: '-1' }, cn),
    h('p', { class: 'sub' }, stateBadge(o.state), ' ', h('code', { class: 'small' }, o.id),
      o.renewal_of ? [' · renews ', h('a', { href: '#/orders/' + encodeURIComponent(o.renewal_of) }, o.renewal_of)] : null));
}

/* Fills the "what next" callout p for the order page's data S. */
export function drawNextStep(p, S) {
  const o = S.order;
  p.textContent = nextStepText(o.state);
  const cd = countdown(expiries(S).leaf);
  if (cd && isVerified(o.state)) p.textContent += ' The leaf expires on ' + cd.date + ' (' + cd.text + ').';
  const n = needs(o);
  p.className = 'next-step callout ' + (n.rank <= 2 ? 'warn' : n.rank <= 4 ? 'info' : 'plain');
}

function subjectLine(s) {
  return [s.common_name ? 'CN=' + s.common_name : '', s.organizational_unit ? 'OU=' + s.organizational_unit : '', s.organization ? 'O=' + s.organization : '',
    s.locality ? 'L=' + s.locality : '', s.state ? 'ST=' + s.state : '', s.country ? 'C=' + s.country : ''].filter(Boolean).join(', ');
}

/* The details list of the order page's data S. */
export function detailsList(S) {
  const o = S.order;
  const ex = expiries(S);
  const v = o.vendor || {};
  const rows = [
    ['Leaf expires', countdownEl(ex.leaf, 'leaf')],
    ['Chain expires', countdownEl(ex.chain, 'chain')],
    ['Subject', subjectLine(o.subject || {})],
    ['SAN', (o.san || []).join(', ') || '—'],
    ['DNS suffix', o.dns_suffix || '—', o.allow_suffix_mismatch ? ' (mismatch allowed)' : ''],
    ['Key', o.key ? (o.key.algorithm || '').toUpperCase() + ' ' + (o.key.bits || '') + ' bits, ' + (o.has_key ? 'kept encrypted here' : 'kept where the CSR was made') : '—'],
    ['Public key SHA-256', o.public_key_sha256 ? h('code', { class: 'hash' }, o.public_key_sha256) : '—'],
    ['Vendor', [v.name, v.product].filter(Boolean).join(' · ') || '—'],
    ['Vendor order', v.order_id || '—'],
    ['External ref', o.external_ref || '—'],
    ['Created', timeEl(o.created_at)],
    ['Updated', timeEl(o.updated_at)],
  ];
  return h('dl', { class: 'kv' }, rows.map((r) => h('div', null, h('dt', null, r[0]), h('dd', null, r.slice(1)))));
}

/* The timeline's items, newest first, from the order page's data S. */
export function timelineItems(S) {
  if (!Array.isArray(S.events)) {
    return h('li', null, msgEl({ level: 'error', text: 'Could not load the events: ' + (S.eventsError || '') }));
  }
  return S.events.slice().reverse().map((e) => h('li', { class: 'ev ev-' + String(e.type).replace(/[^a-z_]/g, '') },
    h('div', { class: 'ev-head' }, h('strong', null, EVENT_LABEL[e.type] || e.type), ' ', timeEl(e.at)),
    e.from_state || e.to_state ? h('div', { class: 'ev-states' }, e.from_state ? stateBadge(e.from_state) : null, e.from_state ? ' → ' : '', e.to_state ? stateBadge(e.to_state) : null) : null,
    e.detail ? h('div', { class: 'ev-detail' }, e.type === 'verified' ? overallBadge(e.detail) : linkOrders(e.detail)) : null,
    e.actor ? h('div', { class: 'small muted' }, 'by ' + e.actor) : null));
}
