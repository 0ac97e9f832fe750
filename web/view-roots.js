/*
 * view-roots.js: #/roots, the root hashes AMT trusts: the built-in seed,
 * custom hashes, a device's own list.
 */
import { api } from './client.js';
import { append, clear, h, nextId, replace } from './dom.js';
import { applyProblem, busy, clearServer, formModel, makeField, msgEl, progressBox, setClient, val } from './forms.js';
import { problemText } from './problem.js';
import { main, pageHeader, setShell } from './shell.js';
import { announce, toast } from './toast.js';

const EVIDENCE = {
  'legacy-default': 'AMT 2.6–10 default', 'amt8-firmware': 'Seen in an AMT 8 firmware', 'device-reported': 'Reported by an AMT 11+ device',
  cited: 'Cited, not confirmed', user: 'Added here', device: 'From a device\'s list',
};
const SOURCE = { seed: 'Built in', user: 'You', device: 'Device list' };

/* {kind, hex} of a pasted hash (colons and spaces ignored), or {err}. */
function hashKind(x) {
  const c = x.replace(/[\s:]/g, '');
  if (!/^[0-9a-fA-F]*$/.test(c)) return { err: 'Only hex digits (0-9, a-f).' };
  if (c.length === 64) return { kind: 'sha256', hex: c.toLowerCase() };
  if (c.length === 40) return { kind: 'sha1', hex: c.toLowerCase() };
  if (c.length === 96) return { kind: 'sha384', hex: c.toLowerCase() };
  return { err: c.length + ' hex digits: a SHA-1 has 40, a SHA-256 64, a SHA-384 96.' };
}

/* "Add a custom hash"; reload() after a success. */
function addHashForm(reload) {
  const name = makeField({ name: 'name', label: 'Name', required: true, attrs: { maxlength: '200', placeholder: 'e.g. Contoso custom root (MEBx)' } });
  const hash = makeField({ name: 'hash', label: 'Certificate hash (SHA-256, SHA-1 or SHA-384, hex)', required: true, wide: true, attrs: { autocomplete: 'off', spellcheck: 'false', class: 'mono' },
    hint: 'The hash of the root certificate\'s whole DER, as entered in MEBx or shown by "rpc amtinfo -cert". Colons and spaces are ignored.' });
  const model = formModel([name, hash]);
  const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Add hash');
  const progress = progressBox();
  const form = h('form', { class: 'add-root', novalidate: true, 'aria-label': 'Add a custom hash' }, h('div', { class: 'grid' }, name.wrap, hash.wrap), model.general, progress, h('div', { class: 'actions' }, btn));
  hash.input.addEventListener('input', () => {
    const x = val(hash);
    if (!x) return setClient(hash, []);
    const k = hashKind(x);
    setClient(hash, [k.err ? { level: 'error', text: k.err } : { level: 'ok', text: 'A ' + k.kind.toUpperCase().replace('SHA', 'SHA-') + ' hash.' }]);
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearServer(model);
    let bad = false;
    if (!val(name)) {
      setClient(name, [{ level: 'error', text: 'Give it a name you will recognise.' }]);
      bad = true;
    } else setClient(name, []);
    const k = hashKind(val(hash));
    if (!val(hash) || k.err) {
      setClient(hash, [{ level: 'error', text: val(hash) ? k.err : 'Paste the hash.' }]);
      bad = true;
    }
    if (bad) {
      (val(name) ? hash : name).input.focus();
      return;
    }
    const done = busy(btn, progress, 'Adding…');
    try {
      const body = { name: val(name) };
      body[k.kind] = k.hex;
      const r = await api('POST', '/api/v1/amt/trusted-roots', { json: body });
      done();
      name.input.value = '';
      hash.input.value = '';
      setClient(hash, []);
      toast('Added "' + r.data.name + '".');
      announce('Added ' + r.data.name);
      await reload();
    } catch (e) {
      done();
      applyProblem(model, e, { sha256: 'hash', sha1: 'hash', sha384: 'hash' });
    }
  });
  return form;
}

/* "Load a device's list" ("rpc amtinfo -cert" output); reload() after. */
function deviceListForm(reload) {
  const device = makeField({ name: 'device', label: 'Device', attrs: { maxlength: '200', placeholder: 'e.g. PC-0042 (AMT 16.1)' }, hint: 'Added to the names of new entries.' });
  const text = makeField({ name: 'text', label: 'The device\'s hash list', type: 'textarea', rows: 6, wide: true, required: true, attrs: { spellcheck: 'false', class: 'mono' },
    hint: 'Paste the output of "rpc amtinfo -cert" or MeshCentral\'s list. The hashes found become trusted entries.' });
  const model = formModel([device, text]);
  const btn = h('button', { type: 'submit', class: 'btn' }, 'Load the list');
  const progress = progressBox();
  const out = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'device-list', novalidate: true, 'aria-label': 'Load a device\'s list' }, h('div', { class: 'grid' }, device.wrap, text.wrap), model.general, progress, h('div', { class: 'actions' }, btn), out);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearServer(model);
    if (!text.input.value.trim()) {
      setClient(text, [{ level: 'error', text: 'Paste the list first.' }]);
      text.input.focus();
      return;
    }
    setClient(text, []);
    const done = busy(btn, progress, 'Reading the list…');
    try {
      const body = { text: text.input.value };
      if (val(device)) body.device = val(device);
      const r = await api('POST', '/api/v1/amt/trusted-roots/device-list', { json: body });
      done();
      const d = r.data;
      replace(out, h('p', { class: 'callout ok' }, d.hashes + ' hash(es) found: ' + d.added + ' added, ' + d.known + ' already known, ' + d.enabled + ' enabled.'));
      text.input.value = '';
      await reload();
    } catch (e) {
      done();
      applyProblem(model, e);
    }
  });
  return form;
}

/* The trust switch of entry r: PATCH enabled, then redraw(). */
function trustToggle(r, rowMsg, redraw) {
  const cbId = nextId('trust');
  const cb = h('input', { type: 'checkbox', id: cbId, checked: !!r.enabled });
  cb.addEventListener('change', async () => {
    const want = cb.checked;
    cb.disabled = true;
    clear(rowMsg);
    try {
      const x = await api('PATCH', '/api/v1/amt/trusted-roots/' + encodeURIComponent(r.id), { json: { enabled: want } });
      Object.assign(r, x.data);
      announce((want ? 'Trusting ' : 'No longer trusting ') + r.name);
      cb.disabled = false;
      redraw();
    } catch (e) {
      cb.checked = !want;
      cb.disabled = false;
      append(rowMsg, [msgEl({ level: 'error', text: problemText(e) })]);
    }
  });
  return h('div', { class: 'toggle' }, cb, h('label', { for: cbId }, h('span', { class: 'visually-hidden' }, 'Trust ' + r.name), h('span', { 'aria-hidden': 'true' }, r.enabled ? 'Yes' : 'No')));
}

/* Delete for an entry added here; pressed twice within 4 s. */
function deleteButton(r, rowMsg, reload) {
  if (r.source !== 'user' && r.source !== 'device') return null;
  const del = h('button', { type: 'button', class: 'btn small danger-ghost', 'aria-label': 'Delete ' + r.name }, 'Delete');
  del.addEventListener('click', async () => {
    if (del.dataset.confirm !== 'yes') {
      del.dataset.confirm = 'yes';
      del.textContent = 'Press again to delete';
      window.setTimeout(() => {
        if (del.isConnected) {
          del.dataset.confirm = '';
          del.textContent = 'Delete';
        }
      }, 4000);
      return;
    }
    del.disabled = true;
    try {
      await api('DELETE', '/api/v1/amt/trusted-roots/' + encodeURIComponent(r.id));
      toast('Deleted "' + r.name + '".');
      await reload();
    } catch (e) {
      del.disabled = false;
      append(rowMsg, [msgEl({ level: 'error', text: problemText(e) })]);
    }
  });
  return del;
}

function rootRow(r, reload, redraw) {
  const rowMsg = h('div', { class: 'msgs' });
  return h('tr', { class: r.enabled ? '' : 'disabled', dataset: { id: r.id } },
    h('td', { 'data-label': 'Trusted' }, trustToggle(r, rowMsg, redraw)),
    h('th', { scope: 'row', 'data-label': 'Name' }, r.name, rowMsg),
    h('td', { 'data-label': 'Hashes', class: 'hashes' },
      r.sha256 ? h('div', null, h('span', { class: 'hk' }, 'SHA-256 '), h('code', { class: 'hash' }, r.sha256)) : null,
      r.sha1 ? h('div', null, h('span', { class: 'hk' }, 'SHA-1 '), h('code', { class: 'hash' }, r.sha1)) : null,
      r.sha384 ? h('div', null, h('span', { class: 'hk' }, 'SHA-384 '), h('code', { class: 'hash' }, r.sha384)) : null),
    h('td', { 'data-label': 'Evidence' }, EVIDENCE[r.evidence] || r.evidence || '—'),
    h('td', { 'data-label': 'Source' }, SOURCE[r.source] || r.source || '—'),
    h('td', { 'data-label': '' }, deleteButton(r, rowMsg, reload)));
}

export function viewRoots(ctx) {
  setShell(true, 'roots');
  document.title = 'AMT roots · amtcertd';
  const status = h('p', { class: 'list-status', role: 'status', 'aria-live': 'polite' }, 'Loading…');
  const table = h('table', { class: 'roots' });
  const filter = makeField({ name: 'filter', label: 'Filter by name or hash', type: 'search', attrs: { autocomplete: 'off' } });
  let items = [];

  function draw() {
    const f = val(filter).toLowerCase().replace(/[\s:]/g, '');
    const rows = items.filter((r) => !f || (r.name || '').toLowerCase().replace(/\s/g, '').includes(f) || [r.sha1, r.sha256, r.sha384].some((x) => x && x.includes(f)));
    const enabled = items.filter((r) => r.enabled).length;
    status.textContent = items.length + ' entries, ' + enabled + ' trusted' + (f ? '; ' + rows.length + ' shown' : '') + '.';
    replace(table,
      h('caption', { class: 'visually-hidden' }, 'Root hashes AMT trusts'),
      h('thead', null, h('tr', null, ['Trusted', 'Name', 'Hashes', 'Evidence', 'Source', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows.map((r) => rootRow(r, load, draw))));
  }

  async function load() {
    try {
      const r = await api('GET', '/api/v1/amt/trusted-roots');
      if (!ctx.alive()) return;
      items = r.data.items || [];
      draw();
    } catch (e) {
      if (!ctx.alive()) return;
      replace(status, msgEl({ level: 'error', text: 'Could not load the list: ' + problemText(e) }));
    }
  }
  filter.input.addEventListener('input', draw);

  append(main, [
    pageHeader('Trusted AMT roots', 'AMT trusts a certificate chain only when the hash of its root is in the device\'s list. This list is the seed; a device\'s own list is the final word.'),
    h('div', { class: 'roots-layout' },
      h('section', { class: 'card', 'aria-labelledby': 'sec-add' }, h('h2', { id: 'sec-add' }, 'Add a custom hash'),
        h('p', { class: 'hint' }, 'For a root you added to the devices in MEBx or by USB setup (at most 3 custom hashes per device; lost on unprovision).'), addHashForm(load)),
      h('section', { class: 'card', 'aria-labelledby': 'sec-dev' }, h('h2', { id: 'sec-dev' }, 'Load a device\'s list'), deviceListForm(load))),
    h('section', { class: 'card', 'aria-labelledby': 'sec-list' }, h('h2', { id: 'sec-list' }, 'The list'),
      h('div', { class: 'filters' }, filter.wrap), status, h('div', { class: 'table-wrap' }, table)),
  ]);
  return load();
}
