/*
 * report.js: a verification report (chain leaf to root, the AMT entry,
 * the other paths, the checklist) and the table of certificates an upload
 * held; shared by the order page and Inspect.
 */
import { h } from './dom.js';
import { copyButton } from './files.js';
import { countdown, fmtDate, timeEl } from './format.js';

const ROLE_LABEL = { leaf: 'Leaf', intermediate: 'Intermediate', root: 'Root', 'cross-signed': 'Cross-signed', unrelated: 'Unrelated', duplicate: 'Duplicate' };
const ORIGIN_LABEL = { delivery: 'from the CA\'s delivery', 'ca-pool': 'from the CA pool', 'system-store': 'from the system trust store', 'built-in': 'amtcertd\'s built-in cross-certificate' };
const STATUS_WORD = { pass: 'Pass', warn: 'Warning', fail: 'Fail', skipped: 'Skipped' };
const STATUS_ICON = { pass: '✓', warn: '!', fail: '✗', skipped: '–' };
const CHECK_TITLE = {
  key_match: 'Leaf matches the key', chain_complete: 'Chain complete', signatures: 'Signatures', validity: 'Validity',
  issuer_ca: 'Issuers are CAs', eku_server_auth: 'Server authentication', amt_oid: 'AMT provisioning OID',
  leaf_key_type: 'Leaf key type', rsa_size: 'RSA key size', sha1: 'No SHA-1', root_trusted: 'Root in the AMT list',
  suffix_intel: 'DNS suffix (Intel)', suffix_rps: 'DNS suffix (Open AMT RPS)', chain_length: 'Chain length',
};

export function roleBadge(role) {
  return h('span', { class: 'badge role-' + (ROLE_LABEL[role] ? role.replace(/[^a-z-]/g, '') : 'unknown') }, ROLE_LABEL[role] || role || '?');
}

export function cnOf(dn) {
  const m = /(?:^|,)\s*CN=((?:\\.|[^,])*)/.exec(dn || '');
  return m ? m[1].replace(/\\(.)/g, '$1') : (dn || '');
}

function fpRow(label, value) {
  if (!value) return null;
  return h('div', { class: 'fp' }, h('dt', null, label), h('dd', null, h('code', { class: 'hash' }, value)));
}

function certCard(c, extra) {
  const cd = countdown(c.not_after);
  return h('div', { class: 'cert' },
    h('div', { class: 'cert-head' }, roleBadge(c.role), h('span', { class: 'cert-cn' }, c.common_name || cnOf(c.subject))),
    h('dl', { class: 'cert-fields' },
      h('div', null, h('dt', null, 'Subject'), h('dd', null, c.subject)),
      h('div', null, h('dt', null, 'Issuer'), h('dd', null, c.issuer)),
      h('div', null, h('dt', null, 'Valid until'), h('dd', null, timeEl(c.not_after), cd ? h('span', { class: 'countdown inline ' + cd.tone }, ' (' + cd.text + ')') : null)),
      c.key ? h('div', null, h('dt', null, 'Key'), h('dd', null, (c.key.algorithm || '').toUpperCase() + (c.key.bits ? ' ' + c.key.bits + ' bits' : '') + (c.signature_algorithm ? ', signed ' + c.signature_algorithm : ''))) : null,
      fpRow('SHA-256', c.sha256),
      fpRow('SHA-1', c.sha1),
      c.origin ? h('div', null, h('dt', null, 'Found'), h('dd', null, ORIGIN_LABEL[c.origin] || c.origin)) : null),
    extra || null);
}

function checklist(checks) {
  const counts = { pass: 0, warn: 0, fail: 0, skipped: 0 };
  for (const c of checks) counts[c.status] = (counts[c.status] || 0) + 1;
  const parts = ['fail', 'warn', 'pass', 'skipped'].filter((s) => counts[s]).map((s) => counts[s] + ' ' + (s === 'warn' ? (counts[s] === 1 ? 'warning' : 'warnings') : s));
  return h('div', { class: 'checklist-wrap' },
    h('h3', null, 'Checklist ', h('span', { class: 'small muted' }, parts.join(', '))),
    h('ul', { class: 'checklist' }, checks.map((c) => h('li', { class: 'check ' + c.status, dataset: { check: c.id, status: c.status } },
      h('span', { class: 'check-icon', 'aria-hidden': 'true' }, STATUS_ICON[c.status] || '?'),
      h('div', { class: 'check-body' },
        h('div', { class: 'check-title' }, h('span', { class: 'check-status' }, STATUS_WORD[c.status] || c.status), ' ', CHECK_TITLE[c.id] || c.id, ' ', h('code', { class: 'small muted' }, c.id)),
        h('p', { class: 'check-msg' }, c.message),
        (c.status === 'warn' || c.status === 'fail') && c.fix ? h('p', { class: 'check-fix' }, h('strong', null, 'Fix: '), c.fix) : null)))));
}

export function overallBadge(o) {
  const word = { pass: 'All checks pass', warn: 'Passes with warnings', fail: 'Fails' }[o] || o;
  return h('span', { class: 'badge overall-' + (o === 'pass' || o === 'warn' || o === 'fail' ? o : 'unknown') }, word);
}

/* The report: chain leaf to root, AMT entry, alternatives, checklist. */
export function reportView(r) {
  const chain = Array.isArray(r.chain) ? r.chain : [];
  const root = r.root || {};
  const items = chain.map((c, i) => {
    let extra = null;
    if (i === chain.length - 1 && (c.role === 'root' || c.self_signed || root.sha256 === c.sha256)) {
      extra = root.amt_trusted
        ? h('p', { class: 'amt ok' }, h('strong', null, 'In the AMT list: '), '"' + (root.amt_entry || '?') + '"', root.hash_algorithm ? ', matched by ' + String(root.hash_algorithm).toUpperCase().replace('SHA', 'SHA-') : '', '.')
        : h('p', { class: 'amt bad' }, h('strong', null, 'Not in the AMT list. '), 'AMT refuses this chain unless its SHA-256 is in the devices\' list (a MEBx custom hash) and ', h('a', { href: '#/roots' }, 'in the list here'), '.',
          ' ', copyButton(() => c.sha256, 'Copy SHA-256', 'the root SHA-256'));
    }
    return h('li', { class: 'chain-item' }, certCard(c, extra));
  });
  if (!chain.length) items.push(h('li', { class: 'chain-item' }, h('p', { class: 'muted' }, 'No chain could be built.')));
  const endsOpen = chain.length && !(chain[chain.length - 1].self_signed);
  const alts = Array.isArray(r.alternatives) ? r.alternatives : [];
  return h('div', { class: 'report' },
    h('div', { class: 'report-head' }, overallBadge(r.overall),
      h('span', { class: 'small muted' }, ' evaluated ', timeEl(r.evaluated_at), r.at && r.at !== r.evaluated_at ? [' for ', timeEl(r.at)] : null,
        r.dns_suffix ? ', DNS suffix ' + r.dns_suffix : ', no DNS suffix')),
    h('div', { class: 'report-grid' },
      h('div', { class: 'chain-col' },
        h('h3', null, 'Chain, leaf to root'),
        h('ol', { class: 'chain' + (endsOpen ? ' open' : '') }, items),
        alts.length ? h('details', { class: 'alternatives' },
          h('summary', null, alts.length === 1 ? 'One other path, not chosen' : alts.length + ' other paths, not chosen'),
          h('ul', null, alts.map((a) => h('li', null,
            h('div', { class: 'alt-chain' }, (a.chain || []).map(cnOf).join(' → ') || '?'),
            h('div', { class: 'small' }, a.ends_at ? 'ends at ' + cnOf(a.ends_at) + '; ' : '', a.complete ? 'complete' : 'incomplete', ', ', a.amt_trusted ? 'AMT-trusted root' : 'root not in the AMT list'),
            a.why_not_chosen ? h('div', { class: 'why' }, 'Why not: ' + a.why_not_chosen) : null)))) : null),
      h('div', { class: 'checks-col' },
        checklist(Array.isArray(r.checks) ? r.checks : []),
        Array.isArray(r.notes) && r.notes.length ? h('div', { class: 'notes' }, h('h3', null, 'Notes'), h('ul', null, r.notes.map((n) => h('li', null, typeof n === 'string' ? n : JSON.stringify(n))))) : null)));
}

/*
 * Certificates found in an upload (or in an inspected file) and why;
 * action(c), when given, adds a last column (e.g. the order page's Detach).
 */
export function certTable(certs, caption, action) {
  if (!Array.isArray(certs) || !certs.length) return h('p', { class: 'muted' }, 'No certificates.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'certs' },
    h('caption', null, caption || 'Certificates'),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Subject'), h('th', { scope: 'col' }, 'Why'), h('th', { scope: 'col' }, 'Found in'),
      action ? h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')) : null)),
    h('tbody', null, certs.map((c) => h('tr', { dataset: { role: c.role || '', sha256: c.sha256 || '' } },
      h('td', { 'data-label': 'Role' }, roleBadge(c.role)),
      h('th', { scope: 'row', 'data-label': 'Subject' }, h('span', { class: 'cert-cn' }, c.common_name || cnOf(c.subject)), h('span', { class: 'small muted dn' }, c.subject),
        h('span', { class: 'small muted' }, 'until ' + fmtDate(c.not_after))),
      h('td', { 'data-label': 'Why' }, c.reason || '—'),
      h('td', { 'data-label': 'Found in' }, c.source ? h('code', { class: 'small' }, c.source) : (c.origin ? ORIGIN_LABEL[c.origin] || c.origin : '—')),
      action ? h('td', { 'data-label': '' }, action(c)) : null)))));
}

/* Text with order ids ("renewal order ord_...") as links to them. */
export function linkOrders(text) {
  return String(text).split(/\b(ord_[A-Za-z0-9_-]{4,60})\b/).map((part, i) =>
    i % 2 ? h('a', { href: '#/orders/' + encodeURIComponent(part) }, part) : part);
}

export function notesList(notes) {
  if (!Array.isArray(notes) || !notes.length) return null;
  return h('ul', { class: 'intake-notes' }, notes.map((n) => h('li', null,
    typeof n === 'string' ? n : [n.source ? h('code', { class: 'small' }, n.source) : null, n.source ? ': ' : '', n.message || JSON.stringify(n)])));
}
