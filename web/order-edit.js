/*
 * order-edit.js: the order page's "Purchase and ticket" fields, saved by
 * PATCH with If-Match; a 412 (someone else changed the order) offers a
 * reload.
 *
 * P is the order page (view-order.js): {ctx, base, S, refresh()}.
 */
import { api } from './client.js';
import { h, replace } from './dom.js';
import { addGeneral, applyProblem, busy, clearServer, formModel, makeField, progressBox, setClient } from './forms.js';
import { dcvOptions } from './order-common.js';
import { announce, toast } from './toast.js';

const TOP_LEVEL = ['external_ref', 'notes']; /* the others are vendor.* */

function editFields() {
  return {
    name: makeField({ name: 'vendor.name', label: 'CA / vendor', attrs: { maxlength: '256' } }),
    product: makeField({ name: 'vendor.product', label: 'Product', attrs: { maxlength: '256' } }),
    order_id: makeField({ name: 'vendor.order_id', label: 'Vendor order ID', attrs: { maxlength: '256' } }),
    invoice: makeField({ name: 'vendor.invoice', label: 'Invoice', attrs: { maxlength: '256' } }),
    approver: makeField({ name: 'vendor.approver', label: 'DCV approver', attrs: { maxlength: '256' } }),
    dcv_method: makeField({ name: 'vendor.dcv_method', label: 'DCV method', type: 'select', options: dcvOptions('Not chosen') }),
    price: makeField({ name: 'vendor.price', label: 'Price', attrs: { maxlength: '256' } }),
    validity_days: makeField({ name: 'vendor.validity_days', label: 'Validity (days)', type: 'number', attrs: { min: '1', max: '3650', step: '1' } }),
    external_ref: makeField({ name: 'external_ref', label: 'External reference', attrs: { maxlength: '256' } }),
    notes: makeField({ name: 'notes', label: 'Notes', type: 'textarea', rows: 3, wide: true, attrs: { maxlength: '4096' } }),
  };
}

/*
 * The merge patch of what changed since orig: {patch}, or {bad: field}
 * after marking a field the server would refuse.
 */
function mergePatch(E, orig) {
  const patch = {};
  const vend = {};
  for (const k of Object.keys(E)) {
    const now = k === 'notes' ? E[k].input.value : E[k].input.value.trim();
    if (now === orig[k]) continue;
    let value = now === '' ? null : now;
    if (k === 'validity_days' && value !== null) {
      if (!/^[0-9]+$/.test(value) || +value < 1 || +value > 3650) {
        setClient(E[k], [{ level: 'error', text: 'A whole number of days from 1 to 3650.' }]);
        return { bad: E[k] };
      }
      value = parseInt(value, 10);
    }
    if (TOP_LEVEL.includes(k)) patch[k] = value;
    else vend[k] = value;
  }
  if (Object.keys(vend).length) patch.vendor = vend;
  return { patch };
}

/* {box, draw()}: draw() shows the order's values unless the user is typing. */
export function editPanel(P) {
  const box = h('div');
  let dirty = () => false;

  function draw() {
    if (dirty()) return; /* keep the user's unsaved typing */
    const o = P.S.order;
    const v = o.vendor || {};
    const E = editFields();
    const orig = {};
    for (const k of Object.keys(E)) {
      const cur = TOP_LEVEL.includes(k) ? o[k] : v[k];
      orig[k] = cur === null || cur === undefined ? '' : String(cur);
      E[k].input.value = orig[k];
    }
    const model = formModel(Object.values(E));
    const save = h('button', { type: 'submit', class: 'btn' }, 'Save changes');
    const progress = progressBox();
    const reload = h('button', { type: 'button', class: 'btn ghost', hidden: true }, 'Reload the order');
    const etag = P.S.etag;
    const form = h('form', { class: 'edit', novalidate: true, 'aria-label': 'Purchase and ticket fields' },
      h('div', { class: 'grid' }, Object.values(E).map((f) => f.wrap)), model.general, progress, h('div', { class: 'actions' }, save, reload));
    dirty = () => Object.keys(E).some((k) => E[k].input.value !== orig[k]);
    reload.addEventListener('click', async () => {
      dirty = () => false;
      await P.refresh();
      announce('Reloaded the order.');
    });
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearServer(model);
      const { patch, bad } = mergePatch(E, orig);
      if (bad) {
        bad.input.focus();
        return;
      }
      if (!Object.keys(patch).length) {
        addGeneral(model, 'info', 'Nothing changed.');
        return;
      }
      const done = busy(save, progress, 'Saving…');
      try {
        const headers = { 'Content-Type': 'application/merge-patch+json' };
        if (etag) headers['If-Match'] = etag;
        await api('PATCH', P.base, { json: patch, headers });
        done();
        if (!P.ctx.alive()) return;
        dirty = () => false;
        toast('Saved.');
        announce('Saved the purchase and ticket fields.');
        await P.refresh();
      } catch (e) {
        done();
        if (!P.ctx.alive()) return;
        applyProblem(model, e);
        if (e.status === 412 || e.code === 'etag_mismatch') reload.hidden = false;
      }
    });
    replace(box, form);
  }
  return { box, draw };
}
