/* view-inspect.js: #/inspect, any file in, the same report out, nothing stored. */
import { api } from './client.js';
import { append, clear, h, replace } from './dom.js';
import { dropZone } from './dropzone.js';
import { addGeneral, applyProblem, busy, clearServer, formModel, makeField, progressBox, setClient, val } from './forms.js';
import { fqdnProblem } from './names.js';
import { certTable, notesList, reportView } from './report.js';
import { main, pageHeader, setShell } from './shell.js';
import { announce } from './toast.js';

/* What POST /api/v1/inspect found: the certificates, the key, the report. */
function inspectResult(rep) {
  const pk = rep.private_key;
  return [
    h('section', { class: 'card' }, h('h2', null, 'What the file holds'),
      certTable(rep.certificates, 'Certificates found and their roles'),
      pk && pk.present ? h('p', { class: 'callout ' + (pk.matches_leaf ? 'ok' : 'warn') }, pk.matches_leaf ? 'A private key is included and matches the leaf.' : 'A private key is included but does not match the leaf.') : null,
      notesList(rep.intake_notes)),
    h('section', { class: 'card' }, h('h2', null, 'Chain and AMT checks'), reportView(rep)),
  ];
}

export function viewInspect(ctx) {
  setShell(true, 'inspect');
  document.title = 'Inspect · amtcertd';
  const dz = dropZone({ label: 'Drop any certificate file here', sub: 'zip, PEM, DER, p7b or PFX: nothing is stored' });
  const pw = makeField({ name: 'password', label: 'PFX password (only for a .pfx/.p12)', type: 'password', attrs: { autocomplete: 'off' } });
  const suffix = makeField({ name: 'dns_suffix', label: 'AMT DNS suffix (optional)', attrs: { autocomplete: 'off', spellcheck: 'false', placeholder: 'example.com' }, hint: 'To check the leaf\'s name with Intel\'s and RPS\'s rules.' });
  const model = formModel([pw, suffix]);
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Inspect');
  const progress = progressBox();
  const out = h('div', { class: 'inspect-out', 'aria-live': 'polite' });
  const form = h('form', { class: 'card upload', novalidate: true }, dz.zone, h('div', { class: 'grid' }, pw.wrap, suffix.wrap), model.general, progress, h('div', { class: 'actions' }, btn));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearServer(model);
    const files = dz.files();
    if (!files.length) {
      addGeneral(model, 'error', 'Choose or drop a file first.');
      dz.input.focus();
      return;
    }
    const s = val(suffix).replace(/\.$/, '');
    if (s && fqdnProblem(s, false)) {
      setClient(suffix, [{ level: 'error', text: '"' + s + '" is not a DNS domain: it ' + fqdnProblem(s, false) + '.' }]);
      suffix.input.focus();
      return;
    }
    setClient(suffix, []);
    const fd = new FormData();
    for (const f of files) fd.append('file', f, f.name);
    if (pw.input.value) fd.append('password', pw.input.value);
    if (s) fd.append('dns_suffix', s);
    const done = busy(btn, progress, 'Reading, building the chain and running the checks…');
    clear(out);
    try {
      const r = await api('POST', '/api/v1/inspect', { form: fd });
      done();
      if (!ctx.alive()) return;
      replace(out, inspectResult(r.data));
      announce('Inspected: ' + r.data.overall);
    } catch (e) {
      done();
      if (!ctx.alive()) return;
      applyProblem(model, e);
    }
  });
  append(main, [
    pageHeader('Inspect', 'See what a CA\'s delivery (or any PFX) holds and whether AMT will accept it. Nothing is stored.'),
    form, out,
  ]);
}
