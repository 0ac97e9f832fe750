/* states.js: the order states in words, and what an order needs next. */
import { h } from './dom.js';
import { DAY } from './format.js';

export const STATES = {
  draft: 'Draft',
  key_ready: 'Key ready',
  submitted: 'Submitted',
  issued: 'Issued',
  ready: 'Ready',
  deployed: 'Deployed',
  renewal_due: 'Renewal due',
  expired: 'Expired',
  revoked: 'Revoked',
  cancelled: 'Cancelled',
};
const TERMINAL = ['expired', 'revoked', 'cancelled'];
const RENEWABLE = ['issued', 'ready', 'deployed', 'renewal_due', 'expired', 'revoked'];
const EXPORTABLE = ['issued', 'ready', 'deployed', 'renewal_due'];
const BEFORE_DELIVERY = ['draft', 'key_ready', 'submitted'];
const VERIFIED = ['ready', 'deployed', 'renewal_due'];

/* What to do next, per state, on the order page. */
const NEXT_STEP = {
  draft: 'This order has no key yet.',
  key_ready: 'Buy the certificate: paste the CSR into the CA\'s AMT certificate order, then mark the order submitted. When the CA delivers, drop its files below.',
  submitted: 'Waiting for the CA. When its zip (or PEM, p7b, PFX) arrives, drop it in "CA delivery" below.',
  issued: 'The certificate is here. Verify the chain against the AMT list and fix whatever fails below.',
  ready: 'Every AMT check passes. Export the PFX for your console (EMA, SCS, RPS, MeshCentral) and mark it deployed.',
  deployed: 'Deployed and in use. Renew in time: amtcertd marks it "renewal due" ahead of expiry.',
  renewal_due: 'Renewal due: renew now so the new certificate is deployed before this one expires.',
  expired: 'Expired. Renew to get a new certificate.',
  revoked: 'Revoked. Renew to get a new certificate.',
  cancelled: 'Cancelled. Nothing more to do.',
};

export function stateLabel(s) {
  return STATES[s] || s;
}

export function stateBadge(s) {
  return h('span', { class: 'badge state-' + (STATES[s] ? s : 'unknown') }, stateLabel(s));
}

export function nextStepText(s) {
  return NEXT_STEP[s] || '';
}

/* Where s comes in the life of an order (for sorting). */
export function stateIndex(s) {
  const i = Object.keys(STATES).indexOf(s);
  return i < 0 ? 99 : i;
}

export function isTerminal(s) {
  return TERMINAL.includes(s);
}

/* The CA has not delivered yet: the CSR and the drop zone come first. */
export function beforeDelivery(s) {
  return BEFORE_DELIVERY.includes(s);
}

/* The order's chain can be checked (a certificate, not cancelled). */
export function canVerify(s) {
  return !BEFORE_DELIVERY.includes(s) && s !== 'cancelled';
}

/* Certificates can be exported (a certificate, still alive). */
export function canExport(s) {
  return EXPORTABLE.includes(s);
}

/* The chain passed every check: the key may leave in a PFX. */
export function isVerified(s) {
  return VERIFIED.includes(s);
}

export function canRenew(s) {
  return RENEWABLE.includes(s);
}

export function firstExpiry(o) {
  const ts = [o.leaf_not_after, o.chain_not_after].filter(Boolean).map(Date.parse).filter((x) => !isNaN(x));
  return ts.length ? Math.min.apply(null, ts) : NaN;
}

/*
 * What an order needs from a person: {rank, text}. Lower rank first:
 * renewal due or expiring, issued but not passing, keys waiting for a
 * purchase, ready to deploy, waiting for the CA, fine, closed.
 */
export function needs(o) {
  const exp = firstExpiry(o);
  const days = isNaN(exp) ? Infinity : (exp - Date.now()) / DAY;
  const live = !TERMINAL.includes(o.state) && o.state !== 'draft';
  if (o.state === 'renewal_due') return { rank: 0, tone: 'bad', text: 'Renew now' };
  if (live && days < 0) return { rank: 0, tone: 'bad', text: 'Expired: renew' };
  if (live && days <= 30) return { rank: 1, tone: 'warn', text: 'Expires in ' + Math.max(0, Math.floor(days)) + ' days: renew' };
  if (o.state === 'issued') return { rank: 2, tone: 'warn', text: 'Verify the chain and fix what fails' };
  if (o.state === 'key_ready') return { rank: 3, tone: 'info', text: 'Buy it: send the CSR to the CA' };
  if (o.state === 'ready') return { rank: 4, tone: 'info', text: 'Export the PFX and deploy it' };
  if (o.state === 'submitted') return { rank: 5, tone: 'muted', text: 'Waiting for the CA' };
  if (o.state === 'draft') return { rank: 5, tone: 'muted', text: 'Draft' };
  if (o.state === 'deployed') return { rank: 6, tone: 'ok', text: 'In use' };
  return { rank: 9, tone: 'muted', text: 'Closed' };
}
