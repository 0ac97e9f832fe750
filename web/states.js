/*
 * states.js: the order states in words, and everything the dashboard
 * decides by state (which buttons it offers, what is over, the filter),
 * derived from the state machine the daemon publishes (GET
 * /api/v1/order-states, loaded by the router after sign-in). Only the
 * words are kept here; a state or trigger the dashboard does not know
 * still works, with its name as its label and no button.
 */
import { orderStates } from './client.js';
import { h } from './dom.js';

const LABEL = {
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

/* The states reachable from start (included) by transitions whose
   trigger follow() accepts. */
function closure(byFrom, start, follow) {
  const seen = new Set(start);
  const todo = [...start];
  while (todo.length) {
    for (const t of byFrom.get(todo.pop()) || []) {
      if (follow(t.trigger) && !seen.has(t.to)) {
        seen.add(t.to);
        todo.push(t.to);
      }
    }
  }
  return seen;
}

function targets(transitions, trigger) {
  return transitions.filter((t) => t.trigger === trigger).map((t) => t.to);
}

/* A flag the daemon may publish per state, or what the table implies. */
function flag(st, key, derived) {
  return typeof st[key] === 'boolean' ? st[key] : derived;
}

/*
 * The table in the forms the dashboard asks about:
 *   names      every state, in the daemon's order
 *   byName     name -> {terminal, delivered, verifiable, exportable,
 *              keyExport, renewable, expiring, group, nextAction}
 *   byFrom     name -> [{to, trigger}]
 * delivered: the CA's certificate is in (reachable from upload_leaf);
 * keyExport: the chain passed (reachable from verify_pass by deploy and
 * expiry_due, not over); a cancelled order (a cancel target) is neither
 * verified again nor renewed; expiring: the expiry sweep put it there.
 */
function derive(table) {
  const states = Array.isArray(table.states) ? table.states.filter((s) => s && typeof s.name === 'string') : [];
  let transitions = Array.isArray(table.transitions) ? table.transitions.filter((t) => t && typeof t.from === 'string' && typeof t.to === 'string') : [];
  if (!transitions.length) {
    transitions = states.flatMap((s) => (Array.isArray(s.next) ? s.next : []).map((to) => ({ from: s.name, to, trigger: '' })));
  }
  const byFrom = new Map();
  for (const t of transitions) {
    if (!byFrom.has(t.from)) byFrom.set(t.from, []);
    byFrom.get(t.from).push({ to: t.to, trigger: String(t.trigger || '') });
  }
  const delivered = closure(byFrom, targets(transitions, 'upload_leaf'), () => true);
  const passed = closure(byFrom, targets(transitions, 'verify_pass'), (tr) => tr === 'deploy' || tr === 'expiry_due');
  const cancelled = new Set(targets(transitions, 'cancel'));
  const expiring = new Set(targets(transitions, 'expiry_due').concat(targets(transitions, 'expiry_passed')));
  const byName = new Map();
  for (const st of states) {
    const n = st.name;
    const terminal = st.terminal === true;
    const inDelivered = delivered.has(n);
    byName.set(n, {
      terminal,
      delivered: inDelivered,
      verifiable: inDelivered && !cancelled.has(n),
      exportable: inDelivered && !terminal,
      keyExport: flag(st, 'exports_key', passed.has(n) && !terminal),
      renewable: flag(st, 'renewable', inDelivered && !cancelled.has(n)),
      expiring: expiring.has(n),
      group: typeof st.group === 'string' ? st.group : '',
      nextAction: typeof st.next_action === 'string' ? st.next_action : '',
    });
  }
  return { names: states.map((s) => s.name), byName, byFrom };
}

let memo = { table: undefined, model: null };

function model() {
  const table = orderStates();
  if (memo.table !== table) memo = { table, model: derive(table || {}) };
  return memo.model;
}

function info(s) {
  return model().byName.get(s) || {};
}

/* Every state, in the daemon's order (the list filter). */
export function stateNames() {
  return model().names.slice();
}

export function stateLabel(s) {
  if (LABEL[s]) return LABEL[s];
  const t = String(s || '').replace(/_/g, ' ');
  return t.charAt(0).toUpperCase() + t.slice(1);
}

export function stateBadge(s) {
  return h('span', { class: 'badge state-' + (LABEL[s] ? s : 'unknown') }, stateLabel(s));
}

export function nextStepText(s) {
  return NEXT_STEP[s] || '';
}

export function isTerminal(s) {
  return info(s).terminal === true;
}

/* The CA has not delivered yet: the CSR and the drop zone come first. */
export function beforeDelivery(s) {
  return model().byName.has(s) && !info(s).delivered;
}

/* The order's chain can be checked (a certificate, not cancelled). */
export function canVerify(s) {
  return info(s).verifiable === true;
}

/* Certificates can be exported (a certificate, not over). */
export function canExport(s) {
  return info(s).exportable === true;
}

/* The chain passed every check: the key may leave in a PFX. */
export function isVerified(s) {
  return info(s).keyExport === true;
}

export function canRenew(s) {
  return info(s).renewable === true;
}

/* The expiry sweep moved the order here: renewing is the next step. */
export function renewalDue(s) {
  return info(s).expiring === true;
}

/*
 * The transitions a person starts from state s, as [{to, trigger}], one
 * per trigger; allowed (the order's allowed_transitions), when given,
 * narrows them. The others (key, upload_leaf, verify_*, expiry_*) happen
 * by themselves.
 */
export function manualTransitions(s, allowed) {
  const manual = ['submit', 'deploy', 'revoke', 'cancel'];
  const out = [];
  for (const t of model().byFrom.get(s) || []) {
    if (!manual.includes(t.trigger) || out.some((x) => x.trigger === t.trigger)) continue;
    if (Array.isArray(allowed) && !allowed.includes(t.to)) continue;
    out.push(t);
  }
  return out;
}

/*
 * The next step for an order, in words: the daemon names it (next_action
 * on a list item, per state in the state table); only the words are here.
 * tone: how loud; rank: 0 (act now) .. 9 (nothing to do), for the row's
 * mark and the order page's callout.
 */
const ACTION = {
  renew: { rank: 0, tone: 'bad', text: 'Renew now' },
  verify: { rank: 2, tone: 'warn', text: 'Verify the chain and fix what fails' },
  submit: { rank: 3, tone: 'info', text: 'Buy it: send the CSR to the CA' },
  deploy: { rank: 3, tone: 'info', text: 'Export the PFX and deploy it' },
  cancel: { rank: 4, tone: 'info', text: 'No key: cancel it and start again' },
  await_delivery: { rank: 5, tone: 'muted', text: 'Waiting for the CA' },
};

/* What an order (a list item or a whole order) needs: {rank, tone, text}. */
export function needs(o) {
  const action = o.next_action || info(o.state).nextAction;
  const group = o.group || info(o.state).group;
  if (ACTION[action]) return ACTION[action];
  if (group === 'in_use') return { rank: 6, tone: 'ok', text: 'In use' };
  if (group === 'closed') return { rank: 9, tone: 'muted', text: 'Closed' };
  return { rank: 5, tone: 'muted', text: stateLabel(o.state) };
}

/* The dashboard's words for the groups the daemon counts orders in. */
export const GROUPS = [
  { name: 'needs_action', text: 'need action', tone: 'warn' },
  { name: 'waiting', text: 'waiting for the CA', tone: '' },
  { name: 'in_use', text: 'deployed', tone: 'ok' },
  { name: 'closed', text: 'closed', tone: 'muted' },
];
