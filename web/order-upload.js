/*
 * order-upload.js: the order page's "CA delivery" form: files by drag and
 * drop, a PFX password, and what each file held once stored.
 *
 * P is the order page (view-order.js): {ctx, base, S, refresh()}.
 */
import { api } from './client.js';
import { clear, h, replace } from './dom.js';
import { dropZone, isPfxName } from './dropzone.js';
import { addGeneral, applyProblem, busy, clearServer, formModel, makeField, progressBox } from './forms.js';
import { certTable, notesList, overallBadge } from './report.js';
import { stateBadge, stateLabel } from './states.js';
import { announce, toast } from './toast.js';

/*
 * What the upload did to the order, from the 201's state, state_changed,
 * reverified and verification: [words and badges] for the summary.
 */
function stateOutcome(res) {
  const again = res.reverified ? ['. The new leaf was verified again: ', overallBadge(res.verification || '?')] : [];
  if (res.state_changed === false) {
    return [again, '. The order stays ', stateBadge(res.state), res.reverified ? '.' : ': the files are kept, its state does not change.'];
  }
  return [again, '. Order is now ', stateBadge(res.state), '.'];
}

/* The same in a sentence, for the toast and screen readers. */
function outcomeText(res) {
  const n = (res.certificates || []).length;
  const files = 'Upload stored: ' + n + (n === 1 ? ' certificate' : ' certificates') + ' classified';
  const again = res.reverified ? ', verified again (' + (res.verification || '?') + ')' : '';
  if (res.state_changed === false) return files + again + '; the order stays ' + stateLabel(res.state) + '.';
  return files + again + '; the order is now ' + stateLabel(res.state) + '.';
}

/* The summary of a stored upload (201). */
function storedSummary(res) {
  const certs = res.certificates || [];
  const leaf = certs.find((c) => c.role === 'leaf');
  return h('div', { class: 'callout ok' },
    h('p', null, h('strong', null, 'Stored. '), certs.length + ' certificate(s)',
      res.duplicates_in_upload ? ', ' + res.duplicates_in_upload + ' duplicate(s) skipped' : '',
      leaf ? '; the leaf matches this order\'s key' : '; no leaf for this order\'s key in it',
      res.key_imported ? '; the private key was imported from the PFX' : '', stateOutcome(res)));
}

/* A refused upload, next to the password or in the form's error box. */
function showRefusal(model, e) {
  applyProblem(model, e);
  if (e.code === 'leaf_key_mismatch') {
    clearServer(model);
    addGeneral(model, 'error', 'That certificate was issued for another key, not the one of this order: ' + (e.problem.detail || ''),
      'upload the certificate the CA issued for this order\'s CSR; if the CSR was made elsewhere, upload that PFX (with its key) instead. Nothing was stored.');
  }
}

/* {form, out}: the upload form and where its result goes. */
export function uploadForm(P) {
  const out = h('div', { class: 'upload-result', 'aria-live': 'polite' });
  const pw = makeField({ name: 'password', label: 'PFX password (only for a .pfx/.p12)', type: 'password', attrs: { autocomplete: 'off' } });
  const dz = dropZone({ label: 'Drop the CA\'s delivery here', onChange: (files) => { pw.wrap.hidden = false; pw.wrap.classList.toggle('emph', files.some((f) => isPfxName(f.name))); } });
  const model = formModel([pw]);
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Upload');
  const progress = progressBox();
  const form = h('form', { class: 'upload', novalidate: true, 'aria-label': 'Upload the CA\'s delivery' }, dz.zone,
    h('div', { class: 'inline-row' }, pw.wrap, h('div', { class: 'actions' }, btn)), model.general, progress);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearServer(model);
    const files = dz.files();
    if (!files.length) {
      addGeneral(model, 'error', 'Choose or drop at least one file first.');
      dz.input.focus();
      return;
    }
    const fd = new FormData();
    for (const f of files) fd.append('file', f, f.name);
    if (pw.input.value) fd.append('password', pw.input.value);
    const done = busy(btn, progress, 'Reading ' + files.length + (files.length === 1 ? ' file' : ' files') + ' and classifying every certificate…');
    clear(out);
    try {
      const r = await api('POST', P.base + '/uploads', { form: fd });
      done();
      if (!P.ctx.alive()) return;
      dz.reset();
      pw.input.value = '';
      replace(out, storedSummary(r.data), certTable(r.data.certificates, 'What each file held'), notesList(r.data.notes));
      toast(outcomeText(r.data));
      announce(outcomeText(r.data));
      await P.refresh();
    } catch (e) {
      done();
      if (!P.ctx.alive()) return;
      showRefusal(model, e);
    }
  });
  return { form, out };
}
