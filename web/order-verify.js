/*
 * order-verify.js: the order page's "Chain and AMT checks": the Verify
 * form and the last report.
 *
 * P is the order page (view-order.js): {ctx, base, S, refresh()}.
 */
import { api } from './client.js';
import { h, replace } from './dom.js';
import { applyProblem, busy, clearServer, formModel, makeField, msgEl, progressBox, setClient, val } from './forms.js';
import { fqdnProblem } from './names.js';
import { reportView } from './report.js';
import { beforeDelivery, canVerify } from './states.js';
import { announce } from './toast.js';

/* {form, box, draw()}: the form, the report's place, and its redraw. */
export function verifyPanel(P) {
  const suffix = makeField({ name: 'dns_suffix', label: 'DNS suffix for this check (optional)', attrs: { autocomplete: 'off', spellcheck: 'false', placeholder: 'the order\'s suffix' } });
  const model = formModel([suffix]);
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Verify');
  const progress = progressBox();
  const box = h('div', { class: 'report-box' });
  const form = h('form', { class: 'verify-form', novalidate: true, 'aria-label': 'Verify the chain' },
    h('div', { class: 'inline-row' }, suffix.wrap, h('div', { class: 'actions' }, btn)), model.general, progress);

  function draw() {
    const S = P.S;
    const state = S.order.state;
    if (S.report) {
      replace(box, reportView(S.report));
    } else if (S.reportError) {
      replace(box, msgEl({ level: 'error', text: 'Could not load the last report: ' + S.reportError }));
    } else if (beforeDelivery(state)) {
      replace(box, h('p', { class: 'muted' }, 'Nothing to verify yet: upload the CA\'s delivery first.'));
    } else {
      replace(box, h('p', { class: 'muted' }, 'Not verified yet. Press Verify to build the chain and run every AMT check.'));
    }
    btn.disabled = !canVerify(state);
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearServer(model);
    const body = {};
    const s = val(suffix).replace(/\.$/, '');
    if (s) {
      const why = fqdnProblem(s, false);
      if (why) {
        setClient(suffix, [{ level: 'error', text: '"' + s + '" is not a DNS domain: it ' + why + '.' }]);
        suffix.input.focus();
        return;
      }
      body.dns_suffix = s;
    }
    setClient(suffix, []);
    const done = busy(btn, progress, 'Building every chain and running the AMT checks…');
    try {
      const r = await api('POST', P.base + '/verify', { json: body });
      done();
      if (!P.ctx.alive()) return;
      P.S.report = r.data;
      P.S.reportMissing = false;
      draw();
      announce('Verified: ' + (r.data.overall === 'pass' ? 'all checks pass' : r.data.overall));
      await P.refresh();
    } catch (e) {
      done();
      if (!P.ctx.alive()) return;
      applyProblem(model, e);
    }
  });
  return { form, box, draw };
}
