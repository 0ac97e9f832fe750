/*
 * order-actions.js: the order page's action buttons and their dialogs:
 * mark submitted, export, mark deployed, renew, revoke, cancel.
 *
 * P is the order page (view-order.js): {ctx, base, S, refresh()}.
 */
import { api } from './client.js';
import { openDialog } from './dialog.js';
import { h } from './dom.js';
import { pad2 } from './format.js';
import { makeField, setClient, val } from './forms.js';
import { navigate } from './nav.js';
import { dcvOptions } from './order-common.js';
import { exportDialog } from './order-export.js';
import { canExport, canRenew, isVerified, manualTransitions, renewalDue } from './states.js';
import { announce, toast } from './toast.js';

/* POSTs a transition, says what happened and reloads the page's data. */
async function transition(P, path, body, what) {
  const r = await api('POST', P.base + path, { json: body });
  if (!P.ctx.alive()) return r;
  toast(what);
  announce(what);
  await P.refresh();
  return r;
}

/* The value of a datetime-local input for now, in local time. */
function localNow() {
  const now = new Date();
  return now.getFullYear() + '-' + pad2(now.getMonth() + 1) + '-' + pad2(now.getDate()) + 'T' + pad2(now.getHours()) + ':' + pad2(now.getMinutes());
}

function dlgSubmitted(P) {
  const v = P.S.order.vendor || {};
  const F = {
    vendor_order_id: makeField({ name: 'vendor_order_id', label: 'Vendor order ID', required: true, attrs: { maxlength: '256', autocomplete: 'off' }, hint: 'The order number the CA shows after checkout.' }),
    approver: makeField({ name: 'approver', label: 'DCV approver', attrs: { maxlength: '256' }, hint: 'The e-mail (or host) that validates the domain.' }),
    dcv_method: makeField({ name: 'dcv_method', label: 'DCV method', type: 'select', options: dcvOptions('Not chosen') }),
    submitted_at: makeField({ name: 'submitted_at', label: 'Submitted at (your local time)', type: 'datetime-local' }),
  };
  F.vendor_order_id.input.value = v.order_id || '';
  F.approver.input.value = v.approver || '';
  F.dcv_method.input.value = v.dcv_method || '';
  F.submitted_at.input.value = localNow();
  openDialog({
    title: 'Mark submitted to the CA',
    intro: 'Record the purchase: after this the order waits for the CA\'s delivery.',
    fields: Object.values(F),
    submitLabel: 'Mark submitted',
    progressText: 'Saving…',
    aliases: { 'vendor.order_id': 'vendor_order_id', 'vendor.approver': 'approver', 'vendor.dcv_method': 'dcv_method' },
    validate: () => {
      if (!val(F.vendor_order_id)) {
        setClient(F.vendor_order_id, [{ level: 'error', text: 'The CA\'s order ID identifies the purchase: enter it.' }]);
        F.vendor_order_id.input.focus();
        return false;
      }
      setClient(F.vendor_order_id, []);
      return true;
    },
    onSubmit: async () => {
      const body = { vendor_order_id: val(F.vendor_order_id) };
      if (val(F.approver)) body.approver = val(F.approver);
      if (val(F.dcv_method)) body.dcv_method = val(F.dcv_method);
      if (val(F.submitted_at)) {
        const d = new Date(val(F.submitted_at));
        if (!isNaN(d)) body.submitted_at = d.toISOString().replace(/\.\d{3}Z$/, 'Z');
      }
      await transition(P, '/submitted', body, 'Marked submitted.');
    },
  });
}

function dlgDeployed(P) {
  const F = {
    target: makeField({ name: 'target', label: 'Installed in', type: 'select', required: true, options: [['ema', 'Intel EMA'], ['scs', 'Intel SCS'], ['rps', 'Open AMT / DMT RPS'], ['meshcentral', 'MeshCentral'], ['other', 'Other']] }),
    where: makeField({ name: 'where', label: 'Where', attrs: { maxlength: '256', placeholder: 'e.g. ema01.example.com' }, hint: 'The server or tenant, so the next person finds it.' }),
    note: makeField({ name: 'note', label: 'Note', type: 'textarea', rows: 2, wide: true, attrs: { maxlength: '1024' } }),
  };
  openDialog({
    title: 'Mark deployed',
    intro: 'Confirm the PFX is installed and working in a console.',
    fields: Object.values(F),
    submitLabel: 'Mark deployed',
    progressText: 'Saving…',
    onSubmit: async () => {
      const body = { target: F.target.input.value };
      if (val(F.where)) body.where = val(F.where);
      if (val(F.note)) body.note = F.note.input.value;
      await transition(P, '/deployed', body, 'Marked deployed.');
    },
  });
}

/* A transition that takes only a reason for the timeline. */
function dlgReason(P, o) {
  const reason = makeField({ name: 'reason', label: 'Reason', type: 'textarea', rows: 3, wide: true, attrs: { maxlength: '1024' }, hint: 'Kept in the timeline.' });
  openDialog({
    title: o.title, intro: o.intro, fields: [reason], submitLabel: o.label, tone: 'danger', progressText: 'Saving…',
    onSubmit: async () => {
      const body = {};
      if (val(reason)) body.reason = reason.input.value.trim();
      await transition(P, o.path, body, o.done);
    },
  });
}

function dlgRevoke(P) {
  dlgReason(P, { title: 'Revoke the certificate', intro: 'Record that the CA revoked this certificate (revoke it at the CA first). AMT devices stop accepting it once it is revoked there.', path: '/revoked', label: 'Mark revoked', done: 'Marked revoked.' });
}

function dlgCancel(P) {
  dlgReason(P, { title: 'Cancel this order', intro: 'The order stops here; the key is kept but nothing more can be done with it.', path: '/cancel', label: 'Cancel order', done: 'Order cancelled.' });
}

function dlgRenew(P) {
  const reuse = makeField({ name: 'reuse_key', label: 'Reuse the current key (not recommended)', type: 'checkbox', wide: true,
    hint: 'A renewal makes a new key by default: a leaked old key then stops mattering when the old certificate expires.' });
  openDialog({
    title: 'Renew ' + (P.S.order.subject.common_name || ''),
    intro: 'Makes a new order with the same subject, suffix and vendor, linked to this one, with its own CSR to buy.',
    fields: [reuse],
    submitLabel: 'Create the renewal',
    progressText: 'Generating a new key and CSR…',
    onSubmit: async () => {
      const r = await api('POST', P.base + '/renew', { json: { reuse_key: !!reuse.input.checked } });
      const nid = r.data && r.data.id;
      toast('Renewal order created.');
      if (nid) navigate('#/orders/' + encodeURIComponent(nid));
      else await P.refresh();
    },
  });
}

/* The dialog of each trigger a person starts, and its button. */
const BY_TRIGGER = {
  submit: { key: 'submitted', label: () => 'Mark submitted', cls: 'primary', open: dlgSubmitted },
  deploy: { key: 'deployed', label: (again) => again ? 'Add a deployment' : 'Mark deployed', cls: '', open: dlgDeployed },
  revoke: { key: 'revoked', label: () => 'Revoke', cls: 'danger-ghost', open: dlgRevoke },
  cancel: { key: 'cancelled', label: () => 'Cancel order', cls: 'danger-ghost', open: dlgCancel },
};

/*
 * The buttons for the order's state, in the order they are shown: the
 * transitions the daemon's state machine allows from it (submit, deploy,
 * revoke, cancel), export and renew.
 */
export function actionButtons(P) {
  const o = P.S.order;
  const moves = manualTransitions(o.state, o.allowed_transitions);
  const move = (trigger) => moves.find((t) => t.trigger === trigger);
  const btns = [];
  const add = (label, cls, open, key) => {
    const b = h('button', { type: 'button', class: 'btn ' + cls, dataset: { action: key } }, label);
    b.addEventListener('click', () => open(P));
    btns.push(b);
  };
  const addMove = (trigger) => {
    const t = move(trigger);
    const a = BY_TRIGGER[trigger];
    if (t) add(a.label(t.to === o.state), a.cls, a.open, a.key);
  };
  addMove('submit');
  /* export is the next step once the key may leave and it is not deployed yet */
  const deploy = move('deploy');
  if (canExport(o.state)) add('Export…', isVerified(o.state) && deploy && deploy.to !== o.state ? 'primary' : '', exportDialog, 'export');
  addMove('deploy');
  if (canRenew(o.state)) add('Renew', renewalDue(o.state) ? 'primary' : '', dlgRenew, 'renew');
  addMove('revoke');
  addMove('cancel');
  return btns;
}
