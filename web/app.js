'use strict';
/*
 * amtcertd dashboard.
 *
 * Plain JavaScript, no build step, no third-party code. The server sends a
 * strict Content-Security-Policy (script-src 'self', style-src 'self'), so:
 * no inline script or style, no eval, no innerHTML. Every node is made with
 * createElement and every piece of API data goes in through textContent:
 * certificate subjects and CA file names are untrusted.
 *
 * Routes (hash based, so the static server needs only index.html):
 *   #/orders[?state=&q=]   the order list, orders needing action first
 *   #/orders/ID            one order: chain, checklist, uploads, export, events
 *   #/new                  the new order form, checked as you type
 *   #/inspect              any file in, the same report out, nothing stored
 *   #/roots                the root hashes AMT trusts
 *   #login=CODE            the one-time link the daemon prints at start
 */
(function () {
  const TOKEN_KEY = 'amtcertd.token';
  const DAY = 86400000;
  const main = document.getElementById('main');
  const nav = document.getElementById('nav');
  const signoutBtn = document.getElementById('signout');
  const announcer = document.getElementById('announce');
  const toasts = document.getElementById('toasts');

  /* ------------------------------------------------------------------ */
  /* DOM helpers                                                         */
  /* ------------------------------------------------------------------ */

  const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected',
    'multiple', 'required', 'readOnly', 'open', 'indeterminate']);

  /* h('tag', {attr: value, onclick: fn, class: 'x'}, child, [children], 'text') */
  function h(tag, props, ...kids) {
    const n = document.createElement(tag);
    if (props) {
      for (const k of Object.keys(props)) {
        const v = props[k];
        if (v === undefined || v === null || v === false) continue;
        if (k === 'class') n.className = v;
        else if (k === 'text') n.textContent = v;
        else if (k === 'dataset') Object.assign(n.dataset, v);
        else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
        else if (PROPS.has(k)) n[k] = v;
        else n.setAttribute(k, v === true ? '' : String(v));
      }
    }
    append(n, kids);
    return n;
  }

  function append(n, kids) {
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) append(n, k);
      else if (k instanceof Node) n.appendChild(k);
      else n.appendChild(document.createTextNode(String(k)));
    }
    return n;
  }

  function clear(n) {
    while (n.firstChild) n.removeChild(n.firstChild);
    return n;
  }

  function replace(n, ...kids) {
    clear(n);
    return append(n, kids);
  }

  let uid = 0;
  function nextId(prefix) {
    uid += 1;
    return (prefix || 'id') + '-' + uid;
  }

  function announce(text) {
    announcer.textContent = '';
    window.setTimeout(() => { announcer.textContent = text; }, 30);
  }

  function toast(text, tone) {
    const t = h('div', { class: 'toast ' + (tone || 'ok'), role: tone === 'bad' ? 'alert' : 'status' }, text);
    toasts.appendChild(t);
    window.setTimeout(() => t.classList.add('leaving'), 4500);
    window.setTimeout(() => t.remove(), 5000);
  }

  function pad2(n) {
    return n < 10 ? '0' + n : String(n);
  }

  /* "2026-11-25 14:03" in local time; the ISO string goes in a title. */
  function fmtTime(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' +
      pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }

  function fmtDate(iso) {
    if (!iso) return '—';
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
  }

  function timeEl(iso, text) {
    return h('time', { datetime: iso || undefined, title: iso || undefined }, text || fmtTime(iso));
  }

  function fmtBytes(n) {
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1048576).toFixed(1) + ' MiB';
  }

  /* Days left until iso: {text, tone, days}; null without a date. */
  function countdown(iso) {
    if (!iso) return null;
    const t = Date.parse(iso);
    if (isNaN(t)) return null;
    const ms = t - Date.now();
    const days = ms / DAY;
    let text;
    let tone;
    if (ms < 0) {
      const ago = Math.floor(-days);
      text = ago < 1 ? 'expired today' : 'expired ' + ago + (ago === 1 ? ' day ago' : ' days ago');
      tone = 'bad';
    } else if (days < 1) {
      const hrs = Math.max(1, Math.round(ms / 3600000));
      text = 'in ' + hrs + (hrs === 1 ? ' hour' : ' hours');
      tone = 'bad';
    } else {
      const d = Math.floor(days);
      text = 'in ' + d + (d === 1 ? ' day' : ' days');
      tone = days <= 30 ? 'warn' : days <= 60 ? 'soon' : 'ok';
    }
    return { text, tone, days, date: fmtDate(iso) };
  }

  function countdownEl(iso, label) {
    const c = countdown(iso);
    if (!c) return h('span', { class: 'muted', title: 'Known once the certificate is uploaded and verified' }, '—');
    return h('span', { class: 'countdown ' + c.tone, title: (label ? label + ' ' : '') + 'not after ' + iso },
      h('span', { class: 'cd-text' }, c.text), h('span', { class: 'cd-date' }, c.date));
  }

  function randomId() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    const b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  }

  /* ------------------------------------------------------------------ */
  /* Session and API                                                     */
  /* ------------------------------------------------------------------ */

  function token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null;
    }
  }

  function setToken(t) {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  }

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && problem.detail) || ('HTTP ' + status));
      this.status = status;
      this.problem = problem || {};
      this.code = this.problem.code || '';
    }
  }

  let signinReason = '';

  /*
   * api(method, path, {json, form, headers, raw}) -> {data, etag, status, headers}
   * raw: a successful response is returned as is (for file downloads).
   * Errors throw ApiError with the problem+json body; a network failure
   * throws ApiError with status 0.
   */
  async function api(method, path, opts) {
    const o = opts || {};
    const headers = Object.assign({}, o.headers || {});
    const t = token();
    if (t) headers.Authorization = 'Bearer ' + t;
    let body;
    if (o.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(o.json);
    } else if (o.form) {
      body = o.form;
    }
    let r;
    try {
      r = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new ApiError(0, { code: 'network', detail: 'amtcertd did not answer (' + (e && e.message ? e.message : 'network error') + '). Is the daemon still running?' });
    }
    if (r.ok && o.raw) return r;
    const ct = r.headers.get('Content-Type') || '';
    let data = null;
    if (r.status !== 204) {
      if (ct.includes('json')) {
        try {
          data = await r.json();
        } catch {
          data = null;
        }
      } else {
        data = await r.text();
      }
    }
    if (!r.ok) {
      const problem = data && typeof data === 'object' ? data : { detail: (typeof data === 'string' && data) || r.statusText || ('HTTP ' + r.status) };
      if (!problem.status) problem.status = r.status;
      const err = new ApiError(r.status, problem);
      if (r.status === 401 && !o.noSignout && path !== '/api/v1/login') {
        setToken(null);
        signinReason = 'Your session ended: the token was not accepted. Sign in again.';
        window.setTimeout(route, 0);
      }
      throw err;
    }
    return { data, etag: r.headers.get('ETag'), status: r.status, headers: r.headers };
  }

  /* A problem in words: the detail, and what to do for the common codes. */
  function problemText(e) {
    if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
    const p = e.problem;
    let text = p.detail || p.title || ('HTTP ' + e.status);
    if (e.status === 404 && p.code === 'not_found') {
      text = 'This daemon does not offer that yet (404: ' + (p.detail || 'no such resource') + '). Update amtcertd and try again.';
    }
    if (e.code === 'invalid_transition' && Array.isArray(p.allowed_transitions)) {
      text += ' Allowed from ' + stateLabel(p.state || '') + ': ' +
        (p.allowed_transitions.length ? p.allowed_transitions.map(stateLabel).join(', ') : 'nothing') + '.';
    }
    if (e.code === 'etag_mismatch' || e.status === 412) {
      text = 'This order changed since you opened it (another tab, a script or a teammate). Reload it to see the latest, then make your change again.';
    }
    if (e.code === 'busy' || e.status === 503) {
      text += ' The daemon is busy: wait a moment and try again.';
    }
    return text;
  }

  /* ------------------------------------------------------------------ */
  /* Files: download, copy                                               */
  /* ------------------------------------------------------------------ */

  function safeFileName(name, fallback) {
    const n = String(name || '').replace(/[/\\\u0000-\u001f\u007f]/g, '_').replace(/^\.+/, '').trim();
    return n || fallback || 'download';
  }

  /* The file name of a Content-Disposition header, or fallback. */
  function dispositionName(cd, fallback) {
    if (cd) {
      let m = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(cd);
      if (m) {
        try {
          return safeFileName(decodeURIComponent(m[1].trim()), fallback);
        } catch { /* fall through to filename= */ }
      }
      m = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(cd) || /filename\s*=\s*([^;\s]+)/i.exec(cd);
      if (m) return safeFileName(m[1].replace(/\\(.)/g, '$1'), fallback);
    }
    return safeFileName(fallback);
  }

  function saveBlob(blob, name) {
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: name, class: 'visually-hidden' }, name);
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 60000);
  }

  /* GET (or POST json) a file from the API and save it under its name. */
  async function downloadFrom(method, path, json, fallbackName) {
    const r = await api(method, path, { json, raw: true });
    const blob = await r.blob();
    const name = dispositionName(r.headers.get('Content-Disposition'), fallbackName);
    saveBlob(blob, name);
    return { name, size: blob.size, type: r.headers.get('Content-Type') || '' };
  }

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch { /* fall back below */ }
    const ta = h('textarea', { class: 'visually-hidden', 'aria-hidden': 'true', readonly: true });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch {
      ok = false;
    }
    ta.remove();
    return ok;
  }

  function copyButton(getText, label, what, big) {
    const b = h('button', { type: 'button', class: big ? 'btn' : 'btn small', 'aria-label': label ? undefined : 'Copy ' + (what || '') }, label || 'Copy');
    b.addEventListener('click', async () => {
      const ok = await copyText(getText());
      const msg = ok ? 'Copied ' + (what || 'to the clipboard') + '.' : 'Copy failed: select the text and press Ctrl+C.';
      toast(msg, ok ? 'ok' : 'warn');
      announce(msg);
    });
    return b;
  }

  /* ------------------------------------------------------------------ */
  /* Progress for slow work                                              */
  /* ------------------------------------------------------------------ */

  /*
   * Disables the buttons, shows a spinner, the text and the seconds
   * elapsed in statusEl (a live region). Returns done().
   */
  function busy(buttons, statusEl, text) {
    const list = Array.isArray(buttons) ? buttons : [buttons];
    const start = Date.now();
    for (const b of list) {
      b.disabled = true;
      b.setAttribute('aria-busy', 'true');
    }
    const sec = h('span', { class: 'elapsed' }, '');
    if (statusEl) {
      statusEl.hidden = false;
      replace(statusEl, h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', null, text), ' ', sec);
    }
    const timer = window.setInterval(() => {
      const s = Math.floor((Date.now() - start) / 1000);
      sec.textContent = s >= 1 ? '(' + s + ' s)' : '';
    }, 250);
    return function done() {
      window.clearInterval(timer);
      for (const b of list) {
        b.disabled = false;
        b.removeAttribute('aria-busy');
      }
      if (statusEl) {
        clear(statusEl);
        statusEl.hidden = true;
      }
    };
  }

  function progressBox() {
    return h('div', { class: 'progress', role: 'status', 'aria-live': 'polite', hidden: true });
  }

  /* ------------------------------------------------------------------ */
  /* Forms: fields with hints and messages next to them                  */
  /* ------------------------------------------------------------------ */

  /*
   * spec: {name (the API's field path), label, type, hint, options
   * [[value, label]], required, attrs, rows, wide, explain}
   */
  function makeField(spec) {
    const id = spec.id || nextId('f');
    let input;
    const attrs = Object.assign({ id, name: spec.name }, spec.attrs || {});
    if (spec.type === 'select') {
      input = h('select', attrs);
      for (const [v, l] of spec.options) input.appendChild(h('option', { value: v }, l));
    } else if (spec.type === 'textarea') {
      input = h('textarea', Object.assign({ rows: spec.rows || 3 }, attrs));
    } else {
      input = h('input', Object.assign({ type: spec.type || 'text' }, attrs));
    }
    if (spec.required) input.required = true;
    const hint = spec.hint ? h('p', { class: 'hint', id: id + '-hint' }, spec.hint) : null;
    const msg = h('div', { class: 'msgs', id: id + '-msg' });
    input.setAttribute('aria-describedby', (hint ? hint.id + ' ' : '') + msg.id);
    const label = h('label', { for: id }, spec.label, spec.required ? h('span', { class: 'req' }, ' (required)') : null);
    const wrap = h('div', { class: 'field' + (spec.wide ? ' wide' : '') + (spec.type === 'checkbox' ? ' check' : '') });
    if (spec.type === 'checkbox') append(wrap, [input, label, hint, msg]);
    else append(wrap, [label, input, hint, msg]);
    const f = { spec, id, wrap, input, hint, msg, client: [], server: [] };
    input.addEventListener('input', () => {
      if (f.server.length) {
        f.server = [];
        renderMsgs(f);
      }
    });
    return f;
  }

  const LEVEL_WORD = { error: 'Error', warn: 'Warning', ok: 'OK', info: 'Note' };

  function msgEl(m) {
    return h('p', { class: 'msg ' + m.level },
      h('span', { class: 'msg-level' }, (LEVEL_WORD[m.level] || m.level) + ': '),
      m.text,
      m.fix ? h('span', { class: 'fix' }, ' Fix: ' + m.fix) : null);
  }

  function renderMsgs(f) {
    clear(f.msg);
    for (const m of f.server.concat(f.client)) f.msg.appendChild(msgEl(m));
    const bad = f.server.concat(f.client).some((m) => m.level === 'error');
    if (bad) f.input.setAttribute('aria-invalid', 'true');
    else f.input.removeAttribute('aria-invalid');
  }

  function setClient(f, msgs) {
    f.client = msgs || [];
    renderMsgs(f);
  }

  function formModel(fields) {
    const byName = new Map();
    for (const f of fields) byName.set(f.spec.name, f);
    const general = h('div', { class: 'form-errors', role: 'alert', hidden: true });
    return { fields, byName, general };
  }

  function clearServer(model) {
    for (const f of model.fields) {
      if (f.server.length) {
        f.server = [];
        renderMsgs(f);
      }
    }
    clear(model.general);
    model.general.hidden = true;
  }

  function addGeneral(model, level, text, fix) {
    model.general.hidden = false;
    model.general.appendChild(msgEl({ level, text, fix }));
  }

  /* Field paths the server may use for a control under another name. */
  function findField(model, name, aliases) {
    if (!name) return null;
    if (model.byName.has(name)) return model.byName.get(name);
    if (aliases && aliases[name] && model.byName.has(aliases[name])) return model.byName.get(aliases[name]);
    const tail = name.split('.').pop();
    for (const f of model.fields) {
      if (f.spec.name && f.spec.name.split('.').pop() === tail) return f;
    }
    return null;
  }

  /*
   * Puts a problem's errors[] (or its single field) next to the controls
   * and everything else in the form's general box. Returns the first
   * control with an error (to focus).
   */
  function applyProblem(model, e, aliases) {
    clearServer(model);
    const p = e instanceof ApiError ? e.problem : { detail: String(e && e.message ? e.message : e) };
    let first = null;
    const items = [];
    if (Array.isArray(p.errors) && p.errors.length) {
      for (const x of p.errors) items.push({ field: x.field, level: 'error', text: x.message || p.detail, fix: x.fix });
    } else if (p.field) {
      items.push({ field: p.field, level: 'error', text: problemText(e), single: true });
    }
    if (Array.isArray(p.warnings)) {
      for (const w of p.warnings) items.push({ field: w.field, level: 'warn', text: w.message });
    }
    for (const it of items) {
      const f = findField(model, it.field, aliases);
      if (f) {
        f.server.push(it);
        renderMsgs(f);
        if (!first && it.level === 'error') first = f;
      } else {
        addGeneral(model, it.level, (it.field && !it.single ? it.field + ': ' : '') + it.text, it.fix);
      }
    }
    if (!items.some((i) => i.level === 'error')) addGeneral(model, 'error', problemText(e));
    model.general.dataset.code = e instanceof ApiError ? e.code : '';
    if (first) first.input.focus();
    return first;
  }

  function val(f) {
    if (f.spec.type === 'checkbox') return f.input.checked;
    return f.input.value.trim();
  }

  /* ------------------------------------------------------------------ */
  /* Dialogs                                                             */
  /* ------------------------------------------------------------------ */

  /*
   * openDialog({title, intro, fields, submitLabel, tone, onSubmit(model,
   * progress, submitBtn) -> Promise}); resolves nothing, closes itself on
   * success. Errors stay in the dialog, next to the fields.
   */
  function openDialog(o) {
    const opener = document.activeElement;
    const titleId = nextId('dlg-title');
    const model = formModel(o.fields || []);
    const progress = progressBox();
    const submit = h('button', { type: 'submit', class: 'btn ' + (o.tone === 'danger' ? 'danger' : 'primary') }, o.submitLabel || 'Save');
    const cancel = h('button', { type: 'button', class: 'btn ghost' }, o.cancelLabel || 'Close');
    const form = h('form', { class: 'dialog-form', novalidate: true },
      h('h2', { id: titleId }, o.title),
      o.intro ? (typeof o.intro === 'string' ? h('p', { class: 'intro' }, o.intro) : o.intro) : null,
      o.fields ? h('div', { class: 'grid' }, o.fields.map((f) => f.wrap)) : null,
      o.body || null,
      model.general,
      progress,
      h('div', { class: 'actions' }, submit, cancel));
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
    document.body.appendChild(dlg);
    let running = false;
    const close = () => {
      if (dlg.open) dlg.close();
    };
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    });
    dlg.addEventListener('cancel', (ev) => {
      if (running) ev.preventDefault();
    });
    cancel.addEventListener('click', close);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (running) return;
      clearServer(model);
      if (o.validate && !o.validate(model)) return;
      running = true;
      const done = busy([submit, cancel], progress, o.progressText || 'Working…');
      try {
        const keepOpen = await o.onSubmit(model, progress);
        done();
        running = false;
        if (!keepOpen) close();
      } catch (e) {
        done();
        running = false;
        applyProblem(model, e, o.aliases);
      }
    });
    if (o.onOpen) o.onOpen(model, dlg);
    dlg.showModal();
    const firstInput = form.querySelector('input:not([type=hidden]), select, textarea');
    if (firstInput) firstInput.focus();
    return { dlg, model, close };
  }

  /* ------------------------------------------------------------------ */
  /* Domain rules (mirrors pki/names.c so messages appear as you type)  */
  /* ------------------------------------------------------------------ */

  const TLD_DEPTH = {};
  'net com org gov edu de ch dk cz cl ua'.split(' ').forEach((t) => { TLD_DEPTH[t] = 2; });
  ('arpa fr cn nl br mx uk pl tw ca fi be ru se ar es no at in tr ro hu nz pt il gr co ie za th sg hk lt id hr ee bg')
    .split(' ').forEach((t) => { TLD_DEPTH[t] = 3; });

  const PRIVATE_TLDS = ['local', 'localdomain', 'lan', 'internal', 'intranet', 'corp', 'home', 'private',
    'test', 'invalid', 'localhost', 'example'];

  const COUNTRIES = new Set((
    'AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV ' +
    'BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ' +
    'ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE ' +
    'IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY ' +
    'MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU ' +
    'NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM ' +
    'SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE ' +
    'VG VI VN VU WF WS YE YT ZA ZM ZW').split(' '));

  /* Why name is not an FQDN, or '' when it is one. */
  function fqdnProblem(name, allowWildcard) {
    if (!name) return 'empty';
    if (name.length > 253) return 'longer than 253 characters';
    let s = name;
    if (allowWildcard && s.startsWith('*.')) s = s.slice(2);
    if (s.includes('*')) return allowWildcard ? 'a wildcard may only be the whole leftmost label ("*.example.com")' : 'no wildcard here';
    if (/\s/.test(s)) return 'contains a space';
    if (s.includes('_')) return 'contains "_", which host names may not';
    if (s.includes('://') || s.includes('/')) return 'looks like a URL: give the host name only';
    if (s.endsWith('.')) return 'ends with a dot';
    if (s.startsWith('.')) return 'starts with a dot';
    const labels = s.split('.');
    if (labels.length < 2) return 'has a single label: use the full name (host.domain)';
    for (const l of labels) {
      if (!l.length) return 'has an empty label ("..")';
      if (l.length > 63) return 'has a label longer than 63 characters';
      if (!/^[A-Za-z0-9-]+$/.test(l)) return 'has characters other than letters, digits, "-" and "."';
      if (l.startsWith('-') || l.endsWith('-')) return 'has a label that starts or ends with "-"';
    }
    if (/^[0-9]+$/.test(labels[labels.length - 1])) return 'ends in a number (an IP address is not a host name)';
    return '';
  }

  function lastLabels(s, n) {
    const parts = s.split('.');
    return parts.slice(Math.max(0, parts.length - n)).join('.');
  }

  function endsWithLabels(s, tail) {
    const a = s.toLowerCase();
    const b = tail.toLowerCase();
    return a === b || a.endsWith('.' + b);
  }

  /*
   * Intel's rule (SDK "PKI Certificate Verification Methods", with the
   * per-TLD shortening MeshCentral encodes): {ok, how, depth}.
   */
  function intelSuffix(cn, suffix) {
    let name = cn;
    if (name.startsWith('*.')) name = name.slice(2);
    if (endsWithLabels(name, suffix)) return { ok: true, how: 'boundary' };
    const tld = lastLabels(name, 1).toLowerCase();
    const depth = TLD_DEPTH[tld] || 0;
    if (!depth) return { ok: false, how: 'none', tld, depth };
    const tail = lastLabels(name, depth);
    if (endsWithLabels(suffix, tail)) return { ok: true, how: 'depth', tld, depth, tail };
    return { ok: false, how: 'depth', tld, depth, tail };
  }

  /* Open AMT RPS: the last two labels, compared byte for byte. */
  function rpsSuffix(cn, suffix) {
    if (cn.split('.').length < 2 || suffix.split('.').length < 2) return false;
    return lastLabels(cn, 2) === lastLabels(suffix, 2);
  }

  /* pki_state_looks_abbreviated */
  function stateAbbreviated(state) {
    const s = state.trim();
    if (!s) return false;
    if (s.endsWith('.')) return true;
    const letters = /^[A-Za-z]+$/.test(s);
    if (letters && s.length <= 2) return true;
    if (/^[A-Z]{3}$/.test(s)) return true;
    return s.length >= 3 && /^[A-Za-z](\.[A-Za-z])+\.?$/.test(s);
  }

  function privateTld(name) {
    const n = name.toLowerCase();
    if (n.endsWith('.home.arpa') || n === 'home.arpa') return 'home.arpa';
    const tld = lastLabels(n, 1);
    return PRIVATE_TLDS.includes(tld) ? tld : '';
  }

  /* ------------------------------------------------------------------ */
  /* Order states                                                        */
  /* ------------------------------------------------------------------ */

  const STATES = {
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

  function stateLabel(s) {
    return STATES[s] || s;
  }

  function stateBadge(s) {
    return h('span', { class: 'badge state-' + (STATES[s] ? s : 'unknown') }, stateLabel(s));
  }

  function firstExpiry(o) {
    const ts = [o.leaf_not_after, o.chain_not_after].filter(Boolean).map(Date.parse).filter((x) => !isNaN(x));
    return ts.length ? Math.min.apply(null, ts) : NaN;
  }

  /*
   * What an order needs from a person: {rank, text}. Lower rank first:
   * renewal due or expiring, issued but not passing, keys waiting for a
   * purchase, ready to deploy, waiting for the CA, fine, closed.
   */
  function needs(o) {
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

  /* ------------------------------------------------------------------ */
  /* Shell: header, navigation, sign-in                                  */
  /* ------------------------------------------------------------------ */

  function setShell(signedIn, active) {
    nav.hidden = !signedIn;
    signoutBtn.hidden = !signedIn;
    for (const a of nav.querySelectorAll('a[data-route]')) {
      if (a.dataset.route === active) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  function pageHeader(title, sub, ...extra) {
    return h('div', { class: 'page-head' },
      h('div', { class: 'page-title' }, h('h1', { tabindex: '-1' }, title), sub ? h('p', { class: 'sub' }, sub) : null),
      extra.length ? h('div', { class: 'page-actions' }, extra) : null);
  }

  function viewSignin(ctx) {
    setShell(false, '');
    document.title = 'Sign in · amtcertd';
    const f = makeField({ name: 'token', label: 'API token', type: 'password', attrs: { autocomplete: 'off', spellcheck: 'false' },
      hint: 'For example the content of the admin.token file in the state directory, or a token from "amtcertd token create".' });
    const model = formModel([f]);
    const btn = h('button', { type: 'submit', class: 'btn primary' }, 'Sign in');
    const progress = progressBox();
    const form = h('form', { class: 'signin-form', novalidate: true }, f.wrap, model.general, progress, h('div', { class: 'actions' }, btn));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearServer(model);
      const t = val(f);
      if (!t) {
        setClient(f, [{ level: 'error', text: 'Paste a token first.' }]);
        f.input.focus();
        return;
      }
      setClient(f, []);
      const done = busy(btn, progress, 'Checking the token…');
      setToken(t);
      try {
        await api('GET', '/api/v1/orders?limit=1', { noSignout: true });
        done();
        signinReason = '';
        f.input.value = '';
        navigate('#/orders');
      } catch (e) {
        done();
        setToken(null);
        signinReason = '';
        if (e.status === 401) setClient(f, [{ level: 'error', text: 'This token was not accepted (revoked, mistyped or from another amtcertd).' }]);
        else applyProblem(model, e);
        f.input.focus();
      }
    });
    const reason = signinReason || ctx.reason;
    append(main, [
      h('section', { class: 'signin card' },
        h('h1', { tabindex: '-1' }, 'Sign in to amtcertd'),
        reason ? h('p', { class: 'callout warn', role: 'alert' }, reason) : null,
        h('p', null, 'Open the one-time link amtcertd printed when it started (it looks like ',
          h('code', null, location.origin + '/#login=…'), '). Each link works once.'),
        h('p', null, 'Or paste an API token:'),
        form,
        h('p', { class: 'hint' }, 'The token stays in this browser tab only (session storage) and is sent in the Authorization header. Sign out forgets it.'))
    ]);
  }

  async function exchangeLoginCode(code) {
    try {
      const r = await api('POST', '/api/v1/login', { json: { code } });
      setToken(r.data.token);
      signinReason = '';
      return true;
    } catch (e) {
      setToken(null);
      if (e.status === 401 || e.status === 400) {
        signinReason = 'This login link was already used or is not valid: each link works once. Paste a token instead, or restart amtcertd for a new link.';
      } else {
        signinReason = 'Sign-in failed: ' + problemText(e);
      }
      return false;
    }
  }

  /* ------------------------------------------------------------------ */
  /* Orders list                                                         */
  /* ------------------------------------------------------------------ */

  const ORDER_COLUMNS = [
    { key: 'needs', label: 'State', get: (o) => needs(o).rank * 100 + stateIndex(o.state) },
    { key: 'cn', label: 'Common name', get: (o) => (o.subject && o.subject.common_name || '').toLowerCase() },
    { key: 'vendor', label: 'Vendor order', get: (o) => (o.vendor && o.vendor.order_id || '').toLowerCase() },
    { key: 'ref', label: 'External ref', get: (o) => (o.external_ref || '').toLowerCase() },
    { key: 'leaf', label: 'Leaf expires', get: (o) => o.leaf_not_after ? Date.parse(o.leaf_not_after) : Infinity },
    { key: 'chain', label: 'Chain expires', get: (o) => o.chain_not_after ? Date.parse(o.chain_not_after) : Infinity },
    { key: 'created', label: 'Created', get: (o) => Date.parse(o.created_at) || 0 },
  ];

  function stateIndex(s) {
    const i = Object.keys(STATES).indexOf(s);
    return i < 0 ? 99 : i;
  }

  async function viewOrders(ctx) {
    setShell(true, 'orders');
    document.title = 'Orders · amtcertd';
    const q = ctx.params;
    const st = { state: q.get('state') || '', q: q.get('q') || '', sort: q.get('sort') || 'needs', dir: q.get('dir') === 'desc' ? 'desc' : 'asc', items: [], cursor: null };

    const stateSel = makeField({ name: 'state', label: 'State', type: 'select', options: [['', 'All states']].concat(Object.keys(STATES).map((s) => [s, stateLabel(s)])) });
    stateSel.input.value = st.state;
    const search = makeField({ name: 'q', label: 'Search common names', type: 'search', attrs: { placeholder: 'e.g. rcs.example.com', autocomplete: 'off' } });
    search.input.value = st.q;
    const summary = h('div', { class: 'summary', 'aria-label': 'Summary' });
    const status = h('p', { class: 'list-status', role: 'status', 'aria-live': 'polite' }, 'Loading orders…');
    const table = h('table', { class: 'orders' });
    const more = h('button', { type: 'button', class: 'btn', hidden: true }, 'Load more');
    const errBox = h('div', { class: 'form-errors', role: 'alert', hidden: true });

    append(main, [
      pageHeader('Orders', 'Every AMT provisioning certificate, the ones that need you first.',
        h('a', { class: 'btn primary', href: '#/new' }, 'New order')),
      summary,
      h('form', { class: 'filters', role: 'search', novalidate: true, onsubmit: (ev) => ev.preventDefault() }, stateSel.wrap, search.wrap),
      errBox,
      status,
      h('div', { class: 'table-wrap' }, table),
      more,
    ]);

    function syncHash() {
      const p = new URLSearchParams();
      if (st.state) p.set('state', st.state);
      if (st.q) p.set('q', st.q);
      if (st.sort !== 'needs') p.set('sort', st.sort);
      if (st.dir !== 'asc') p.set('dir', st.dir);
      const s = p.toString();
      const want = '#/orders' + (s ? '?' + s : '');
      if (location.hash !== want) history.replaceState(null, '', want);
    }

    async function load(append_) {
      errBox.hidden = true;
      status.textContent = 'Loading orders…';
      const p = new URLSearchParams({ limit: '200' });
      if (st.state) p.set('state', st.state);
      if (st.q) p.set('q', st.q);
      if (append_ && st.cursor) p.set('cursor', st.cursor);
      try {
        const r = await api('GET', '/api/v1/orders?' + p.toString());
        if (!ctx.alive()) return;
        st.items = append_ ? st.items.concat(r.data.items) : r.data.items;
        st.cursor = r.data.next_cursor;
        draw();
      } catch (e) {
        if (!ctx.alive()) return;
        status.textContent = '';
        replace(errBox, msgEl({ level: 'error', text: 'Could not load the orders: ' + problemText(e) }));
        errBox.hidden = false;
      }
    }

    function drawSummary() {
      const counts = { act: 0, wait: 0, fine: 0, closed: 0 };
      for (const o of st.items) {
        const n = needs(o).rank;
        if (n <= 4) counts.act++;
        else if (n === 5) counts.wait++;
        else if (n === 6) counts.fine++;
        else counts.closed++;
      }
      replace(summary,
        h('div', { class: 'stat ' + (counts.act ? 'warn' : 'ok') }, h('strong', null, String(counts.act)), h('span', null, 'need action')),
        h('div', { class: 'stat' }, h('strong', null, String(counts.wait)), h('span', null, 'waiting for the CA')),
        h('div', { class: 'stat ok' }, h('strong', null, String(counts.fine)), h('span', null, 'deployed')),
        h('div', { class: 'stat muted' }, h('strong', null, String(counts.closed)), h('span', null, 'closed')));
    }

    function draw() {
      drawSummary();
      const col = ORDER_COLUMNS.find((c) => c.key === st.sort) || ORDER_COLUMNS[0];
      const dir = st.dir === 'desc' ? -1 : 1;
      const rows = st.items.slice().sort((a, b) => {
        const x = col.get(a);
        const y = col.get(b);
        if (x < y) return -dir;
        if (x > y) return dir;
        /* ties: soonest expiry, then newest */
        const ea = firstExpiry(a);
        const eb = firstExpiry(b);
        if (!isNaN(ea) || !isNaN(eb)) {
          if (isNaN(ea)) return 1;
          if (isNaN(eb)) return -1;
          if (ea !== eb) return ea - eb;
        }
        return (Date.parse(b.created_at) || 0) - (Date.parse(a.created_at) || 0);
      });
      const head = h('tr', null, ORDER_COLUMNS.map((c) => {
        const sorted = c.key === st.sort;
        const th = h('th', { scope: 'col', 'aria-sort': sorted ? (st.dir === 'desc' ? 'descending' : 'ascending') : 'none' });
        const b = h('button', { type: 'button', class: 'sort' + (sorted ? ' on' : ''), title: c.key === 'needs' ? 'Sort by what needs action first' : 'Sort by ' + c.label.toLowerCase() },
          c.label, h('span', { class: 'arrow', 'aria-hidden': 'true' }, sorted ? (st.dir === 'desc' ? '▼' : '▲') : '↕'));
        b.addEventListener('click', () => {
          if (st.sort === c.key) st.dir = st.dir === 'asc' ? 'desc' : 'asc';
          else {
            st.sort = c.key;
            st.dir = 'asc';
          }
          syncHash();
          draw();
          const again = table.querySelector('th button.sort.on');
          if (again) again.focus();
        });
        th.appendChild(b);
        return th;
      }));
      const body = h('tbody');
      for (const o of rows) {
        const n = needs(o);
        const cn = (o.subject && o.subject.common_name) || '(no CN)';
        body.appendChild(h('tr', { class: 'rank-' + n.rank, dataset: { id: o.id } },
          h('td', { 'data-label': 'State' }, h('div', { class: 'state-cell' }, stateBadge(o.state), h('span', { class: 'needs ' + n.tone }, n.text))),
          h('th', { scope: 'row', 'data-label': 'Common name' }, h('a', { href: '#/orders/' + encodeURIComponent(o.id), class: 'cn' }, cn),
            o.dns_suffix ? h('span', { class: 'small muted' }, 'suffix ' + o.dns_suffix) : null,
            o.renewal_of ? h('span', { class: 'small muted' }, 'renewal of an older order') : null),
          h('td', { 'data-label': 'Vendor order', class: o.vendor && (o.vendor.order_id || o.vendor.name) ? null : 'empty' },
            o.vendor && o.vendor.order_id ? o.vendor.order_id : h('span', { class: 'muted' }, '—'),
            o.vendor && o.vendor.name ? h('span', { class: 'small muted' }, o.vendor.name) : null),
          h('td', { 'data-label': 'External ref', class: o.external_ref ? null : 'empty' }, o.external_ref || h('span', { class: 'muted' }, '—')),
          h('td', { 'data-label': 'Leaf expires', class: o.leaf_not_after ? null : 'empty' }, countdownEl(o.leaf_not_after, 'leaf')),
          h('td', { 'data-label': 'Chain expires', class: o.chain_not_after ? null : 'empty' }, countdownEl(o.chain_not_after, 'chain')),
          h('td', { 'data-label': 'Created' }, timeEl(o.created_at))));
      }
      replace(table, h('caption', { class: 'visually-hidden' }, 'Orders, sorted by ' + col.label.toLowerCase() + (st.dir === 'desc' ? ', descending' : '')), h('thead', null, head), body);
      if (!rows.length) {
        status.textContent = st.state || st.q ? 'No order matches these filters.' : 'No orders yet.';
        table.hidden = true;
        if (!st.state && !st.q) {
          status.textContent = '';
          replace(status, 'No orders yet. ', h('a', { href: '#/new' }, 'Create the first one'), ': amtcertd makes the key and the CSR you paste into the CA\'s order form.');
        }
      } else {
        table.hidden = false;
        status.textContent = rows.length + (rows.length === 1 ? ' order' : ' orders') + (st.cursor ? ' (more on the server)' : '') + '.';
      }
      more.hidden = !st.cursor;
    }

    more.addEventListener('click', () => load(true));
    stateSel.input.addEventListener('change', () => {
      st.state = stateSel.input.value;
      syncHash();
      load(false);
    });
    let timer = 0;
    search.input.addEventListener('input', () => {
      window.clearTimeout(timer);
      timer = window.setTimeout(() => {
        st.q = search.input.value.trim();
        syncHash();
        load(false);
      }, 250);
    });
    await load(false);
  }

  /* ------------------------------------------------------------------ */
  /* New order                                                           */
  /* ------------------------------------------------------------------ */

  function rulesExplained() {
    const depth2 = Object.keys(TLD_DEPTH).filter((t) => TLD_DEPTH[t] === 2).join(' ');
    const depth3 = Object.keys(TLD_DEPTH).filter((t) => TLD_DEPTH[t] === 3).join(' ');
    return h('details', { class: 'rules' },
      h('summary', null, 'How these rules work'),
      h('dl', null,
        h('dt', null, 'Common name'),
        h('dd', null, 'The fully qualified name of the provisioning server (RCS, EMA, RPS host), e.g. rcs.example.com, or a wildcard for the whole domain, *.example.com. Letters, digits and "-", at least two labels, at most 64 characters. Private names (.local, .lan, .corp…) cannot get a public certificate: set the MEBx "PKI DNS Suffix" to a public domain you own.'),
        h('dt', null, 'DNS suffix (Intel\'s rule)'),
        h('dd', null, 'AMT trusts the suffix it learns from DHCP option 15 or the MEBx PKI DNS Suffix. The suffix must end the CN on a label boundary (a leading "*." is removed first): "example.com" fits "rcs.example.com", not "rcs.myexample.com". Since AMT 2.6 the last labels are enough for some top-level domains: the last 2 labels for ' + depth2 +
          '; the last 3 for ' + depth3 + '. For other top-level domains only the exact suffix counts.'),
        h('dt', null, 'Open AMT RPS'),
        h('dd', null, 'RPS compares only the last two labels, byte for byte. For co.uk-style domains that differs from Intel\'s rule; you see both verdicts.'),
        h('dt', null, 'Country'),
        h('dd', null, 'Two upper-case letters of ISO 3166-1: US, DE, GB (not UK).'),
        h('dt', null, 'State or province'),
        h('dd', null, 'Spelled out, as CAs check it against registries: California, not CA; New South Wales, not NSW.')));
  }

  function viewNew(ctx) {
    setShell(true, 'new');
    document.title = 'New order · amtcertd';
    const F = {
      cn: makeField({ name: 'subject.common_name', label: 'Common name (CN)', required: true, attrs: { autocomplete: 'off', spellcheck: 'false', placeholder: 'rcs.example.com', maxlength: '64' },
        hint: 'The provisioning server\'s FQDN, or *.domain for a wildcard.' }),
      suffix: makeField({ name: 'dns_suffix', label: 'AMT DNS suffix', attrs: { autocomplete: 'off', spellcheck: 'false', placeholder: 'example.com', maxlength: '253' },
        hint: 'The domain AMT devices get from DHCP option 15 or the MEBx PKI DNS Suffix. The CN must fit it.' }),
      allow: makeField({ name: 'allow_suffix_mismatch', label: 'Allow a CN that does not fit the suffix (I set the MEBx PKI DNS Suffix myself)', type: 'checkbox', wide: true }),
      o: makeField({ name: 'subject.organization', label: 'Organization (O)', attrs: { autocomplete: 'organization', maxlength: '64' }, hint: 'Your company\'s legal name, as the CA will validate it.' }),
      ou: makeField({ name: 'subject.organizational_unit', label: 'Organizational unit (OU)', attrs: { maxlength: '64' }, hint: 'Optional; public CAs drop it.' }),
      l: makeField({ name: 'subject.locality', label: 'City or locality (L)', attrs: { autocomplete: 'address-level2', maxlength: '128' } }),
      st: makeField({ name: 'subject.state', label: 'State or province (ST)', attrs: { autocomplete: 'address-level1', maxlength: '128' }, hint: 'Spelled out: California, not CA.' }),
      c: makeField({ name: 'subject.country', label: 'Country (C)', attrs: { autocomplete: 'off', maxlength: '2', placeholder: 'US', class: 'short', spellcheck: 'false' }, hint: 'Two letters, ISO 3166-1.' }),
      bits: makeField({ name: 'key.bits', label: 'RSA key size', type: 'select', options: [['2048', '2048 bits (recommended)'], ['3072', '3072 bits'], ['4096', '4096 bits']] }),
      vname: makeField({ name: 'vendor.name', label: 'CA / vendor', attrs: { placeholder: 'Sectigo, DigiCert, GoDaddy…', maxlength: '256' } }),
      vproduct: makeField({ name: 'vendor.product', label: 'Product', attrs: { placeholder: 'AMT SSL Certificate', maxlength: '256' } }),
      vorder: makeField({ name: 'vendor.order_id', label: 'Vendor order ID', attrs: { maxlength: '256' }, hint: 'Fill in after buying, or when marking it submitted.' }),
      vinvoice: makeField({ name: 'vendor.invoice', label: 'Invoice number', attrs: { maxlength: '256' } }),
      vapprover: makeField({ name: 'vendor.approver', label: 'DCV approver', attrs: { placeholder: 'admin@example.com', maxlength: '256' }, hint: 'Who receives the domain control validation.' }),
      vdcv: makeField({ name: 'vendor.dcv_method', label: 'DCV method', type: 'select', options: [['', 'Not chosen yet'], ['email', 'E-mail'], ['http', 'HTTP file'], ['https', 'HTTPS file'], ['cname', 'CNAME record'], ['dns', 'DNS TXT record']] }),
      vprice: makeField({ name: 'vendor.price', label: 'Price', attrs: { placeholder: 'USD 113', maxlength: '256' } }),
      vdays: makeField({ name: 'vendor.validity_days', label: 'Validity (days)', type: 'number', attrs: { min: '1', max: '3650', step: '1', inputmode: 'numeric', placeholder: '200' }, hint: 'Public TLS certificates: at most 200 days since March 2026.' }),
      ref: makeField({ name: 'external_ref', label: 'External reference', attrs: { placeholder: 'CHG-1234', maxlength: '256' }, hint: 'A ticket or change number; the list can be filtered by it.' }),
      notes: makeField({ name: 'notes', label: 'Notes', type: 'textarea', rows: 3, wide: true, attrs: { maxlength: '4096' } }),
    };
    const fields = Object.values(F);
    const model = formModel(fields);
    const ruleBox = h('div', { class: 'rule-box', 'aria-live': 'polite', id: 'suffix-verdict' });
    const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create key and CSR');
    const progress = progressBox();
    const touched = new Set();
    let summaryShown = false; /* "N fields need fixing", kept current */

    function check(all) {
      const cn = val(F.cn);
      const suffix = val(F.suffix).replace(/\.$/, '');
      const allow = val(F.allow);
      const errors = [];
      const m = {};
      for (const k of Object.keys(F)) m[k] = [];
      /* CN */
      if (!cn) {
        if (all || touched.has('cn')) m.cn.push({ level: 'error', text: 'A common name is required.', fix: 'the FQDN of the provisioning server, e.g. rcs.example.com' });
      } else {
        const why = fqdnProblem(cn, true);
        if (why) m.cn.push({ level: 'error', text: '"' + cn + '" is not a host name: it ' + why + '.', fix: 'use the host\'s full DNS name (rcs.example.com) or a leftmost wildcard (*.example.com)' });
        else if (cn.length > 64) m.cn.push({ level: 'error', text: 'The CN is longer than 64 characters (the X.509 limit).', fix: 'use a shorter name or a wildcard' });
        else if (cn === '*.' + lastLabels(cn.slice(2), 1) || (cn.startsWith('*.') && cn.slice(2).split('.').length < 2)) m.cn.push({ level: 'error', text: 'A wildcard needs a domain under a top-level domain (*.example.com).' });
        else if (privateTld(cn)) m.cn.push({ level: 'error', text: '".' + privateTld(cn) + '" is a private top-level domain: no public CA issues for it.', fix: 'use a public domain you own and set the MEBx "PKI DNS Suffix" of the devices to it (Intel KB 000100444)' });
        else m.cn.push({ level: 'ok', text: cn.startsWith('*.') ? 'A wildcard: it counts as "' + cn.slice(2) + '" for the suffix rule.' : 'A valid host name.' });
      }
      /* suffix against the CN */
      clear(ruleBox);
      if (suffix) {
        const why = fqdnProblem(suffix, false);
        if (why) {
          m.suffix.push({ level: 'error', text: '"' + suffix + '" is not a DNS domain: it ' + why + '.', fix: 'the domain of DHCP option 15 or of the MEBx PKI DNS Suffix, e.g. example.com' });
        } else if (cn && !fqdnProblem(cn, true)) {
          const intel = intelSuffix(cn, suffix);
          const rps = rpsSuffix(cn, suffix);
          const base = cn.startsWith('*.') ? cn.slice(2) : cn;
          let intelMsg;
          if (intel.ok && intel.how === 'boundary') intelMsg = { level: 'ok', text: 'Intel\'s rule: "' + suffix + '" ends "' + base + '" on a label boundary.' };
          else if (intel.ok) intelMsg = { level: 'ok', text: 'Intel\'s rule: for .' + intel.tld + ' the last ' + intel.depth + ' labels are enough, and both end in "' + intel.tail + '".' };
          else {
            const why2 = intel.depth
              ? '"' + suffix + '" does not end "' + base + '" on a label boundary, and for .' + intel.tld + ' the last ' + intel.depth + ' labels ("' + intel.tail + '") must match too.'
              : '"' + suffix + '" does not end "' + base + '" on a label boundary (for .' + lastLabels(base, 1) + ' only the exact suffix counts).';
            intelMsg = {
              level: allow ? 'warn' : 'error',
              text: 'Intel\'s rule: ' + why2 + (allow ? ' Allowed because you ticked the box below.' : ''),
              fix: allow ? undefined : 'use a CN under ' + suffix + ', or set the MEBx PKI DNS Suffix to the CN\'s domain and tick "Allow"',
            };
          }
          m.cn.push(Object.assign({}, intelMsg));
          const rpsMsg = rps
            ? { level: 'ok', text: 'Open AMT RPS: the last two labels match ("' + lastLabels(cn, 2) + '").' }
            : { level: intel.ok ? 'warn' : 'info', text: 'Open AMT RPS compares only the last two labels ("' + lastLabels(cn, 2) + '" vs "' + lastLabels(suffix, 2) + '") and will reject it.' };
          m.suffix.push(rpsMsg);
          append(ruleBox, [h('strong', null, 'CN against the suffix: '), intel.ok ? 'fits' : (allow ? 'does not fit (allowed)' : 'does not fit'), rps ? '; RPS accepts it.' : '; RPS rejects it.']);
          ruleBox.className = 'rule-box ' + (intel.ok ? (rps ? 'ok' : 'warn') : (allow ? 'warn' : 'bad'));
        }
      } else if (cn && !fqdnProblem(cn, true)) {
        m.suffix.push({ level: 'info', text: 'Without a suffix the CN cannot be checked against AMT\'s rule now; Verify checks it later with the suffix you give there.' });
        ruleBox.className = 'rule-box';
      }
      /* country */
      const c = F.c.input.value.trim();
      if (c) {
        if (c.toUpperCase() === 'UK') m.c.push({ level: 'error', text: '"UK" is not an ISO 3166-1 code.', fix: 'use GB for the United Kingdom' });
        else if (!/^[A-Za-z]{2}$/.test(c)) m.c.push({ level: 'error', text: 'Two letters, e.g. US, DE, GB.' });
        else if (c !== c.toUpperCase()) m.c.push({ level: 'error', text: 'Use upper case: "' + c.toUpperCase() + '".' });
        else if (!COUNTRIES.has(c)) m.c.push({ level: 'error', text: '"' + c + '" is not an ISO 3166-1 alpha-2 country code.', fix: 'the two upper-case letters, e.g. US, DE, GB' });
        else m.c.push({ level: 'ok', text: 'A valid country code.' });
      }
      /* state */
      const s = val(F.st);
      if (s && stateAbbreviated(s)) m.st.push({ level: 'warn', text: '"' + s + '" looks abbreviated; CAs expect it spelled out (e.g. California, not CA).' });
      /* OU */
      if (val(F.ou)) m.ou.push({ level: 'warn', text: 'Public CAs drop the OU since 2022; AMT relies on the AMT OID that the CA\'s AMT product adds, not on the OU.' });
      /* key */
      const bits = F.bits.input.value;
      if (bits === '2048') m.bits.push({ level: 'info', text: 'What CAs expect and every AMT since version 6 accepts.' });
      if (bits === '3072') m.bits.push({ level: 'warn', text: '3072-bit keys are announced only for AMT 22; older firmware may refuse them. 2048 is safest.' });
      if (bits === '4096') m.bits.push({ level: 'warn', text: '4096-bit keys work from AMT 6 but make TLS handshakes slow on older AMT, and take a few seconds to make.' });
      /* validity */
      const d = val(F.vdays);
      if (d && (!/^[0-9]+$/.test(d) || +d < 1 || +d > 3650)) m.vdays.push({ level: 'error', text: 'A whole number of days from 1 to 3650.' });
      else if (d && +d > 200) m.vdays.push({ level: 'warn', text: 'Public CAs issue TLS certificates for at most 200 days since March 2026 (100 from March 2027).' });

      for (const k of Object.keys(F)) {
        setClient(F[k], m[k]);
        if (m[k].some((x) => x.level === 'error')) errors.push(F[k]);
      }
      if (summaryShown) {
        clear(model.general);
        model.general.hidden = !errors.length;
        if (errors.length) addGeneral(model, 'error', errors.length === 1 ? 'One field needs fixing (marked above).' : errors.length + ' fields need fixing (marked above).');
        else summaryShown = false;
      }
      return errors;
    }

    for (const k of Object.keys(F)) {
      const ev = F[k].spec.type === 'select' || F[k].spec.type === 'checkbox' ? 'change' : 'input';
      F[k].input.addEventListener(ev, () => {
        touched.add(k);
        check(false);
      });
      F[k].input.addEventListener('blur', () => {
        if (F[k].input.value) touched.add(k);
        check(false);
      });
    }
    /* UK -> GB, lower case -> upper case, as a one-click fix */
    F.c.input.addEventListener('change', () => {
      const c = F.c.input.value.trim();
      if (/^[a-z]{2}$/.test(c) && COUNTRIES.has(c.toUpperCase())) {
        F.c.input.value = c.toUpperCase();
        check(false);
      }
    });

    const form = h('form', { class: 'new-order', novalidate: true },
      h('fieldset', null, h('legend', null, 'Certificate subject'),
        h('div', { class: 'grid' }, F.cn.wrap, F.suffix.wrap), ruleBox, F.allow.wrap,
        h('div', { class: 'grid' }, F.o.wrap, F.ou.wrap, F.l.wrap, F.st.wrap, F.c.wrap),
        rulesExplained()),
      h('fieldset', null, h('legend', null, 'Key'),
        h('div', { class: 'grid' }, F.bits.wrap),
        h('p', { class: 'hint' }, 'amtcertd makes the RSA key, keeps it encrypted, and lets it out only inside a password-protected PFX.')),
      h('fieldset', null, h('legend', null, 'Purchase'),
        h('div', { class: 'grid' }, F.vname.wrap, F.vproduct.wrap, F.vorder.wrap, F.vinvoice.wrap, F.vapprover.wrap, F.vdcv.wrap, F.vprice.wrap, F.vdays.wrap)),
      h('fieldset', null, h('legend', null, 'Tracking'),
        h('div', { class: 'grid' }, F.ref.wrap, F.notes.wrap)),
      model.general,
      progress,
      h('div', { class: 'actions' }, submit, h('a', { href: '#/orders', class: 'btn ghost' }, 'Back to orders')));

    const out = h('div', { class: 'result' });
    append(main, [
      pageHeader('New order', 'The key and CSR for one AMT provisioning certificate. Everything is checked as you type.'),
      form,
      out,
    ]);
    check(false);

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearServer(model);
      for (const k of Object.keys(F)) touched.add(k);
      summaryShown = true;
      const bad = check(true);
      if (bad.length) {
        bad[0].input.focus();
        return;
      }
      summaryShown = false;
      const body = { subject: {}, key: { bits: +F.bits.input.value } };
      const subj = { common_name: F.cn, organization: F.o, organizational_unit: F.ou, locality: F.l, state: F.st, country: F.c };
      for (const k of Object.keys(subj)) if (val(subj[k])) body.subject[k] = val(subj[k]);
      if (val(F.suffix)) body.dns_suffix = val(F.suffix).replace(/\.$/, '');
      if (val(F.allow)) body.allow_suffix_mismatch = true;
      if (val(F.ref)) body.external_ref = val(F.ref);
      if (val(F.notes)) body.notes = F.notes.input.value;
      const vendor = {};
      const vmap = { name: F.vname, product: F.vproduct, order_id: F.vorder, invoice: F.vinvoice, approver: F.vapprover, dcv_method: F.vdcv, price: F.vprice };
      for (const k of Object.keys(vmap)) if (val(vmap[k])) vendor[k] = val(vmap[k]);
      if (val(F.vdays)) vendor.validity_days = parseInt(val(F.vdays), 10);
      if (Object.keys(vendor).length) body.vendor = vendor;

      const done = busy(submit, progress, 'Generating a ' + body.key.bits + '-bit RSA key and the CSR' + (body.key.bits >= 4096 ? ' (4096 bits can take several seconds)' : '') + '…');
      try {
        const r = await api('POST', '/api/v1/orders', { json: body, headers: { 'Idempotency-Key': randomId() } });
        done();
        if (!ctx.alive()) return;
        showCreated(r.data);
      } catch (e) {
        done();
        if (!ctx.alive()) return;
        applyProblem(model, e);
        if (e.problem && Array.isArray(e.problem.errors) && e.problem.errors.length) {
          addGeneral(model, 'error', 'amtcertd refused the order: ' + e.problem.errors.length + (e.problem.errors.length === 1 ? ' problem' : ' problems') + ', shown next to the fields.');
        }
      }
    });

    function showCreated(order) {
      form.hidden = true;
      const cn = order.subject.common_name;
      replace(out,
        h('section', { class: 'card created' },
          h('h2', { tabindex: '-1' }, 'Order created: ', cn),
          h('p', null, stateBadge(order.state), ' The ', String(order.key && order.key.bits || ''), '-bit key is stored encrypted in amtcertd. Next: paste this CSR into the CA\'s AMT certificate order (server type "IIS" or "Other"), then mark the order submitted.'),
          warningsList(order.warnings),
          csrPanel(order),
          h('div', { class: 'actions' },
            h('a', { class: 'btn primary', href: '#/orders/' + encodeURIComponent(order.id) }, 'Open the order'),
            h('a', { class: 'btn ghost', href: '#/orders' }, 'All orders'))));
      out.querySelector('h2').focus();
      announce('Order created for ' + cn + '. The CSR is shown.');
    }
  }

  function warningsList(ws) {
    if (!Array.isArray(ws) || !ws.length) return null;
    return h('div', { class: 'callout warn' },
      h('p', null, h('strong', null, ws.length === 1 ? 'One warning' : ws.length + ' warnings'), ' (the order was made anyway):'),
      h('ul', null, ws.map((w) => h('li', null, w.field ? h('code', null, w.field) : null, w.field ? ': ' : '', w.message))));
  }

  /* The CSR with copy and download buttons. */
  function csrPanel(order) {
    const id = nextId('csr');
    const ta = h('textarea', { id, class: 'pem', readonly: true, rows: '8', spellcheck: 'false' });
    ta.value = order.csr || '';
    const status = progressBox();
    const dl = h('button', { type: 'button', class: 'btn' }, 'Download CSR');
    dl.addEventListener('click', async () => {
      const done = busy(dl, status, 'Downloading…');
      try {
        const f = await downloadFrom('GET', '/api/v1/orders/' + encodeURIComponent(order.id) + '/csr', undefined, (order.subject.common_name || 'order') + '.csr');
        done();
        toast('Saved ' + f.name + '.');
      } catch (e) {
        done();
        status.hidden = false;
        replace(status, msgEl({ level: 'error', text: 'Download failed: ' + problemText(e) }));
      }
    });
    return h('div', { class: 'csr' },
      h('label', { for: id }, 'Certificate signing request (PEM)'),
      ta,
      h('div', { class: 'actions' }, copyButton(() => ta.value, 'Copy CSR', 'the CSR', true), dl),
      status);
  }

  /* ------------------------------------------------------------------ */
  /* Chain, checklist and certificates (order page and inspect)         */
  /* ------------------------------------------------------------------ */

  const ROLE_LABEL = { leaf: 'Leaf', intermediate: 'Intermediate', root: 'Root', 'cross-signed': 'Cross-signed', unrelated: 'Unrelated', duplicate: 'Duplicate' };
  const ORIGIN_LABEL = { delivery: 'from the CA\'s delivery', 'ca-pool': 'from the CA pool', 'system-store': 'from the system trust store' };
  const STATUS_WORD = { pass: 'Pass', warn: 'Warning', fail: 'Fail', skipped: 'Skipped' };
  const STATUS_ICON = { pass: '✓', warn: '!', fail: '✗', skipped: '–' };
  const CHECK_TITLE = {
    key_match: 'Leaf matches the key', chain_complete: 'Chain complete', signatures: 'Signatures', validity: 'Validity',
    issuer_ca: 'Issuers are CAs', eku_server_auth: 'Server authentication', amt_oid: 'AMT provisioning OID',
    leaf_key_type: 'Leaf key type', rsa_size: 'RSA key size', sha1: 'No SHA-1', root_trusted: 'Root in the AMT list',
    suffix_intel: 'DNS suffix (Intel)', suffix_rps: 'DNS suffix (Open AMT RPS)', chain_length: 'Chain length',
  };

  function roleBadge(role) {
    return h('span', { class: 'badge role-' + (ROLE_LABEL[role] ? role.replace(/[^a-z-]/g, '') : 'unknown') }, ROLE_LABEL[role] || role || '?');
  }

  function cnOf(dn) {
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

  function overallBadge(o) {
    const word = { pass: 'All checks pass', warn: 'Passes with warnings', fail: 'Fails' }[o] || o;
    return h('span', { class: 'badge overall-' + (o === 'pass' || o === 'warn' || o === 'fail' ? o : 'unknown') }, word);
  }

  /* The report: chain leaf to root, AMT entry, alternatives, checklist. */
  function reportView(r) {
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

  /* Certificates found in an upload (or in an inspected file) and why. */
  function certTable(certs, caption) {
    if (!Array.isArray(certs) || !certs.length) return h('p', { class: 'muted' }, 'No certificates.');
    return h('div', { class: 'table-wrap' }, h('table', { class: 'certs' },
      h('caption', null, caption || 'Certificates'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Subject'), h('th', { scope: 'col' }, 'Why'), h('th', { scope: 'col' }, 'Found in'))),
      h('tbody', null, certs.map((c) => h('tr', { dataset: { role: c.role || '' } },
        h('td', { 'data-label': 'Role' }, roleBadge(c.role)),
        h('th', { scope: 'row', 'data-label': 'Subject' }, h('span', { class: 'cert-cn' }, c.common_name || cnOf(c.subject)), h('span', { class: 'small muted dn' }, c.subject),
          h('span', { class: 'small muted' }, 'until ' + fmtDate(c.not_after))),
        h('td', { 'data-label': 'Why' }, c.reason || '—'),
        h('td', { 'data-label': 'Found in' }, c.source ? h('code', { class: 'small' }, c.source) : (c.origin ? ORIGIN_LABEL[c.origin] || c.origin : '—')))))));
  }

  /* Text with order ids ("renewal order ord_...") as links to them. */
  function linkOrders(text) {
    return String(text).split(/\b(ord_[A-Za-z0-9_-]{4,60})\b/).map((part, i) =>
      i % 2 ? h('a', { href: '#/orders/' + encodeURIComponent(part) }, part) : part);
  }

  function notesList(notes) {
    if (!Array.isArray(notes) || !notes.length) return null;
    return h('ul', { class: 'intake-notes' }, notes.map((n) => h('li', null,
      typeof n === 'string' ? n : [n.source ? h('code', { class: 'small' }, n.source) : null, n.source ? ': ' : '', n.message || JSON.stringify(n)])));
  }

  /* ------------------------------------------------------------------ */
  /* Drop zone: files by drag and drop or the file picker               */
  /* ------------------------------------------------------------------ */

  function dropZone(o) {
    const id = nextId('files');
    const input = h('input', { type: 'file', id, multiple: true, class: 'file-input', name: 'files',
      accept: '.zip,.pem,.crt,.cer,.der,.p7b,.p7c,.pfx,.p12,.txt,.b64,application/zip,application/x-pkcs12,application/pkcs7-mime,application/x-x509-ca-cert' });
    const list = h('ul', { class: 'file-list', 'aria-live': 'polite' });
    let files = [];
    const zone = h('div', { class: 'dropzone' },
      h('label', { for: id, class: 'dz-label' },
        h('span', { class: 'dz-icon', 'aria-hidden': 'true' }, '⇪'),
        h('span', { class: 'dz-main' }, o.label || 'Drop the CA\'s files here'),
        h('span', { class: 'dz-sub' }, o.sub || 'zip, PEM, CRT/CER, DER, p7b or PFX; or press Enter to choose')),
      input, list);
    function show() {
      clear(list);
      files.forEach((f, i) => {
        const rm = h('button', { type: 'button', class: 'btn small ghost', 'aria-label': 'Remove ' + f.name }, 'Remove');
        rm.addEventListener('click', () => {
          files.splice(i, 1);
          show();
          if (o.onChange) o.onChange(files);
        });
        list.appendChild(h('li', null, h('span', { class: 'file-name' }, f.name), h('span', { class: 'small muted' }, fmtBytes(f.size)), rm));
      });
      zone.classList.toggle('has-files', files.length > 0);
      if (o.onChange) o.onChange(files);
    }
    function take(fl) {
      const add = Array.from(fl || []);
      if (!add.length) return;
      files = o.single ? [add[0]] : files.concat(add);
      show();
    }
    input.addEventListener('change', () => {
      take(input.files);
      input.value = '';
    });
    zone.addEventListener('dragover', (ev) => {
      ev.preventDefault();
      if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy';
      zone.classList.add('over');
    });
    zone.addEventListener('dragleave', (ev) => {
      if (!zone.contains(ev.relatedTarget)) zone.classList.remove('over');
    });
    zone.addEventListener('drop', (ev) => {
      ev.preventDefault();
      zone.classList.remove('over');
      if (ev.dataTransfer) take(ev.dataTransfer.files);
    });
    return {
      zone, input,
      files: () => files.slice(),
      reset: () => {
        files = [];
        show();
      },
    };
  }

  /* Stops a file dropped beside a drop zone from replacing the page. */
  window.addEventListener('dragover', (ev) => ev.preventDefault());
  window.addEventListener('drop', (ev) => ev.preventDefault());

  function isPfxName(name) {
    return /\.(pfx|p12)$/i.test(name);
  }

  /* ------------------------------------------------------------------ */
  /* Order page                                                          */
  /* ------------------------------------------------------------------ */

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

  const EVENT_LABEL = {
    created: 'Created', upload: 'Files uploaded', state: 'State changed', verified: 'Verified', updated: 'Details edited',
    key_export: 'Private key exported', key_imported: 'Key imported', renewed: 'Renewed',
  };

  async function viewOrder(ctx, id) {
    setShell(true, 'orders');
    document.title = 'Order · amtcertd';
    const base = '/api/v1/orders/' + encodeURIComponent(id);
    const S = { order: null, etag: null, events: [], report: null, certs: null, reportMissing: false };

    const head = h('div', { class: 'order-head' });
    const next = h('p', { class: 'next-step' });
    const actions = h('div', { class: 'order-actions', role: 'group', 'aria-label': 'Order actions' });
    const details = h('div', { class: 'details' });
    const csrBox = h('div');
    const deliveryOut = h('div', { class: 'upload-result', 'aria-live': 'polite' });
    const storedCerts = h('div');
    const reportBox = h('div', { class: 'report-box' });
    const timeline = h('ol', { class: 'timeline' });
    const editBox = h('div');

    /* --- delivery upload --- */
    const dz = dropZone({ label: 'Drop the CA\'s delivery here', onChange: (files) => { pw.wrap.hidden = false; pw.wrap.classList.toggle('emph', files.some((f) => isPfxName(f.name))); } });
    const pw = makeField({ name: 'password', label: 'PFX password (only for a .pfx/.p12)', type: 'password', attrs: { autocomplete: 'off' } });
    const upModel = formModel([pw]);
    const upBtn = h('button', { type: 'submit', class: 'btn primary' }, 'Upload');
    const upProgress = progressBox();
    const upForm = h('form', { class: 'upload', novalidate: true, 'aria-label': 'Upload the CA\'s delivery' }, dz.zone,
      h('div', { class: 'inline-row' }, pw.wrap, h('div', { class: 'actions' }, upBtn)), upModel.general, upProgress);
    upForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearServer(upModel);
      const files = dz.files();
      if (!files.length) {
        addGeneral(upModel, 'error', 'Choose or drop at least one file first.');
        dz.input.focus();
        return;
      }
      const fd = new FormData();
      for (const f of files) fd.append('file', f, f.name);
      if (pw.input.value) fd.append('password', pw.input.value);
      const done = busy(upBtn, upProgress, 'Reading ' + files.length + (files.length === 1 ? ' file' : ' files') + ' and classifying every certificate…');
      clear(deliveryOut);
      try {
        const r = await api('POST', base + '/uploads', { form: fd });
        done();
        if (!ctx.alive()) return;
        dz.reset();
        pw.input.value = '';
        const res = r.data;
        const leaf = (res.certificates || []).find((c) => c.role === 'leaf');
        replace(deliveryOut,
          h('div', { class: 'callout ok' },
            h('p', null, h('strong', null, 'Stored. '), (res.certificates || []).length + ' certificate(s)',
              res.duplicates_in_upload ? ', ' + res.duplicates_in_upload + ' duplicate(s) skipped' : '',
              leaf ? '; the leaf matches this order\'s key' : '; no leaf for this order\'s key in it',
              res.key_imported ? '; the private key was imported from the PFX' : '', '. Order is now ', stateBadge(res.state), '.')),
          certTable(res.certificates, 'What each file held'),
          notesList(res.notes));
        announce('Upload stored: ' + (res.certificates || []).length + ' certificates classified.');
        await refresh();
      } catch (e) {
        done();
        if (!ctx.alive()) return;
        applyProblem(upModel, e);
        if (e.code === 'leaf_key_mismatch') {
          clearServer(upModel);
          addGeneral(upModel, 'error', 'That certificate was issued for another key, not the one of this order: ' + (e.problem.detail || ''),
            'upload the certificate the CA issued for this order\'s CSR; if the CSR was made elsewhere, upload that PFX (with its key) instead. Nothing was stored.');
        }
      }
    });

    /* --- verify --- */
    const vSuffix = makeField({ name: 'dns_suffix', label: 'DNS suffix for this check (optional)', attrs: { autocomplete: 'off', spellcheck: 'false', placeholder: 'the order\'s suffix' } });
    const vModel = formModel([vSuffix]);
    const vBtn = h('button', { type: 'submit', class: 'btn primary' }, 'Verify');
    const vProgress = progressBox();
    const vForm = h('form', { class: 'verify-form', novalidate: true, 'aria-label': 'Verify the chain' },
      h('div', { class: 'inline-row' }, vSuffix.wrap, h('div', { class: 'actions' }, vBtn)), vModel.general, vProgress);
    vForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearServer(vModel);
      const body = {};
      const s = val(vSuffix).replace(/\.$/, '');
      if (s) {
        const why = fqdnProblem(s, false);
        if (why) {
          setClient(vSuffix, [{ level: 'error', text: '"' + s + '" is not a DNS domain: it ' + why + '.' }]);
          vSuffix.input.focus();
          return;
        }
        body.dns_suffix = s;
      }
      setClient(vSuffix, []);
      const done = busy(vBtn, vProgress, 'Building every chain and running the AMT checks…');
      try {
        const r = await api('POST', base + '/verify', { json: body });
        done();
        if (!ctx.alive()) return;
        S.report = r.data;
        S.reportMissing = false;
        drawReport();
        announce('Verified: ' + (r.data.overall === 'pass' ? 'all checks pass' : r.data.overall));
        await refresh();
      } catch (e) {
        done();
        if (!ctx.alive()) return;
        applyProblem(vModel, e);
      }
    });

    const secDelivery = h('section', { class: 'card', 'aria-labelledby': 'sec-delivery' }, h('h2', { id: 'sec-delivery' }, 'CA delivery'),
      h('p', { class: 'hint' }, 'Drop everything the CA sent (the zip as it came, or the .crt/.cer files, a .p7b, a PFX with its password). amtcertd sorts out the leaf, intermediates and root by their content, not their names.'),
      upForm, deliveryOut, storedCerts);
    const secVerify = h('section', { class: 'card', 'aria-labelledby': 'sec-verify' }, h('h2', { id: 'sec-verify' }, 'Chain and AMT checks'),
      vForm, reportBox);
    const secDetails = h('section', { class: 'card', 'aria-labelledby': 'sec-details' }, h('h2', { id: 'sec-details' }, 'Details'), details);
    const secCsr = h('section', { class: 'card', 'aria-labelledby': 'sec-csr' }, h('h2', { id: 'sec-csr' }, 'CSR'), csrBox);
    const secEdit = h('section', { class: 'card', 'aria-labelledby': 'sec-edit' }, h('h2', { id: 'sec-edit' }, 'Purchase and ticket'), editBox);
    const secEvents = h('section', { class: 'card', 'aria-labelledby': 'sec-events' }, h('h2', { id: 'sec-events' }, 'Timeline'), timeline);
    /* Before the CA delivers: the CSR and the drop zone first. After: the
       chain and checklist across the page. */
    const layout = h('div', { class: 'order-layout' });
    function arrange() {
      const early = ['draft', 'key_ready', 'submitted'].includes(S.order.state);
      replace(layout,
        h('div', { class: 'order-row' },
          h('div', { class: 'col-main' }, early ? [secCsr, secDelivery] : secDelivery),
          h('div', { class: 'col-side' }, secDetails)),
        early ? null : secVerify,
        h('div', { class: 'order-row' },
          h('div', { class: 'col-main' }, secEdit, early ? secVerify : secCsr),
          h('div', { class: 'col-side' }, secEvents)));
    }

    const loading = h('p', { class: 'list-status', role: 'status' }, 'Loading the order…');
    append(main, [h('p', { class: 'crumbs' }, h('a', { href: '#/orders' }, '← Orders')), loading]);

    /* --- loading --- */
    async function loadOrder() {
      const r = await api('GET', base);
      S.order = r.data;
      S.etag = r.etag;
    }
    async function loadEvents() {
      try {
        const r = await api('GET', base + '/events');
        S.events = r.data.items || [];
      } catch (e) {
        S.events = null;
        S.eventsError = problemText(e);
      }
    }
    async function loadCerts() {
      try {
        const r = await api('GET', base + '/certificates');
        S.certs = r.data.items || [];
      } catch {
        S.certs = null;
      }
    }
    /* Only after a "verified" event: an unverified order has no report (404). */
    async function loadReport() {
      if (!Array.isArray(S.events) || !S.events.some((e) => e.type === 'verified')) {
        S.report = null;
        S.reportMissing = true;
        return;
      }
      try {
        const r = await api('GET', base + '/verification');
        S.report = r.data;
        S.reportMissing = false;
      } catch (e) {
        S.report = null;
        S.reportMissing = e.status === 404;
        if (e.status !== 404) S.reportError = problemText(e);
      }
    }

    async function refresh() {
      await loadOrder();
      await Promise.all([loadEvents(), loadCerts()]);
      await loadReport();
      if (!ctx.alive()) return;
      draw();
    }

    function draw() {
      const o = S.order;
      const cn = o.subject.common_name || '(no CN)';
      document.title = cn + ' · amtcertd';
      replace(head,
        h('div', { class: 'page-title' },
          h('h1', { tabindex: '-1' }, cn),
          h('p', { class: 'sub' }, stateBadge(o.state), ' ', h('code', { class: 'small' }, o.id),
            o.renewal_of ? [' · renews ', h('a', { href: '#/orders/' + encodeURIComponent(o.renewal_of) }, o.renewal_of)] : null)));
      next.textContent = NEXT_STEP[o.state] || '';
      const ex = expiries();
      const cd = countdown(ex.leaf);
      if (cd && ['ready', 'deployed', 'renewal_due'].includes(o.state)) next.textContent += ' The leaf expires on ' + cd.date + ' (' + cd.text + ').';
      const n = needs(o);
      next.className = 'next-step callout ' + (n.rank <= 2 ? 'warn' : n.rank <= 4 ? 'info' : 'plain');
      drawActions();
      drawDetails();
      replace(csrBox, o.csr ? csrPanel(o) : h('p', { class: 'muted' }, 'No CSR.'));
      drawEdit();
      drawTimeline();
      drawStored();
      drawReport();
      const ae = document.activeElement;
      const early = ['draft', 'key_ready', 'submitted'].includes(o.state);
      if (layout.dataset.early !== String(early)) {
        layout.dataset.early = String(early);
        arrange();
        if (ae && ae.isConnected && ae !== document.activeElement) ae.focus();
      }
    }

    /* The order's expiry fields, or the last report's chain until the
       daemon fills them in. */
    function expiries() {
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

    function drawDetails() {
      const o = S.order;
      const ex = expiries();
      const s = o.subject || {};
      const v = o.vendor || {};
      const rows = [
        ['Leaf expires', countdownEl(ex.leaf, 'leaf')],
        ['Chain expires', countdownEl(ex.chain, 'chain')],
        ['Subject', [s.common_name ? 'CN=' + s.common_name : '', s.organizational_unit ? 'OU=' + s.organizational_unit : '', s.organization ? 'O=' + s.organization : '',
          s.locality ? 'L=' + s.locality : '', s.state ? 'ST=' + s.state : '', s.country ? 'C=' + s.country : ''].filter(Boolean).join(', ')],
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
      replace(details, h('dl', { class: 'kv' }, rows.map((r) => h('div', null, h('dt', null, r[0]), h('dd', null, r.slice(1))))));
    }

    function drawStored() {
      if (!Array.isArray(S.certs) || !S.certs.length) {
        clear(storedCerts);
        return;
      }
      replace(storedCerts, h('details', { class: 'stored' },
        h('summary', null, 'Certificates stored for this order (' + S.certs.length + ')'),
        certTable(S.certs, 'Stored certificates and their roles')));
    }

    function drawReport() {
      const o = S.order;
      if (S.report) {
        replace(reportBox, reportView(S.report));
      } else if (S.reportError) {
        replace(reportBox, msgEl({ level: 'error', text: 'Could not load the last report: ' + S.reportError }));
      } else if (['draft', 'key_ready', 'submitted'].includes(o.state)) {
        replace(reportBox, h('p', { class: 'muted' }, 'Nothing to verify yet: upload the CA\'s delivery first.'));
      } else {
        replace(reportBox, h('p', { class: 'muted' }, 'Not verified yet. Press Verify to build the chain and run every AMT check.'));
      }
      vBtn.disabled = ['draft', 'key_ready', 'submitted', 'cancelled'].includes(o.state);
    }

    function drawTimeline() {
      if (!Array.isArray(S.events)) {
        replace(timeline, h('li', null, msgEl({ level: 'error', text: 'Could not load the events: ' + (S.eventsError || '') })));
        return;
      }
      replace(timeline, S.events.slice().reverse().map((e) => h('li', { class: 'ev ev-' + String(e.type).replace(/[^a-z_]/g, '') },
        h('div', { class: 'ev-head' }, h('strong', null, EVENT_LABEL[e.type] || e.type), ' ', timeEl(e.at)),
        e.from_state || e.to_state ? h('div', { class: 'ev-states' }, e.from_state ? stateBadge(e.from_state) : null, e.from_state ? ' → ' : '', e.to_state ? stateBadge(e.to_state) : null) : null,
        e.detail ? h('div', { class: 'ev-detail' }, e.type === 'verified' ? overallBadge(e.detail) : linkOrders(e.detail)) : null,
        e.actor ? h('div', { class: 'small muted' }, 'by ' + e.actor) : null)));
    }

    /* --- vendor and ticket fields (PATCH with If-Match) --- */
    let edit = null;
    function drawEdit() {
      if (edit && edit.dirty()) return; /* keep the user's unsaved typing */
      const o = S.order;
      const v = o.vendor || {};
      const E = {
        name: makeField({ name: 'vendor.name', label: 'CA / vendor', attrs: { maxlength: '256' } }),
        product: makeField({ name: 'vendor.product', label: 'Product', attrs: { maxlength: '256' } }),
        order_id: makeField({ name: 'vendor.order_id', label: 'Vendor order ID', attrs: { maxlength: '256' } }),
        invoice: makeField({ name: 'vendor.invoice', label: 'Invoice', attrs: { maxlength: '256' } }),
        approver: makeField({ name: 'vendor.approver', label: 'DCV approver', attrs: { maxlength: '256' } }),
        dcv_method: makeField({ name: 'vendor.dcv_method', label: 'DCV method', type: 'select', options: [['', 'Not chosen'], ['email', 'E-mail'], ['http', 'HTTP file'], ['https', 'HTTPS file'], ['cname', 'CNAME record'], ['dns', 'DNS TXT record']] }),
        price: makeField({ name: 'vendor.price', label: 'Price', attrs: { maxlength: '256' } }),
        validity_days: makeField({ name: 'vendor.validity_days', label: 'Validity (days)', type: 'number', attrs: { min: '1', max: '3650', step: '1' } }),
        external_ref: makeField({ name: 'external_ref', label: 'External reference', attrs: { maxlength: '256' } }),
        notes: makeField({ name: 'notes', label: 'Notes', type: 'textarea', rows: 3, wide: true, attrs: { maxlength: '4096' } }),
      };
      const orig = {};
      for (const k of Object.keys(E)) {
        const cur = k === 'external_ref' || k === 'notes' ? o[k] : v[k];
        orig[k] = cur === null || cur === undefined ? '' : String(cur);
        E[k].input.value = orig[k];
      }
      const model = formModel(Object.values(E));
      const save = h('button', { type: 'submit', class: 'btn' }, 'Save changes');
      const progress = progressBox();
      const reload = h('button', { type: 'button', class: 'btn ghost', hidden: true }, 'Reload the order');
      const etag = S.etag;
      const form = h('form', { class: 'edit', novalidate: true, 'aria-label': 'Purchase and ticket fields' },
        h('div', { class: 'grid' }, Object.values(E).map((f) => f.wrap)), model.general, progress, h('div', { class: 'actions' }, save, reload));
      edit = {
        dirty: () => Object.keys(E).some((k) => E[k].input.value !== orig[k]),
      };
      reload.addEventListener('click', async () => {
        edit = null;
        await refresh();
        announce('Reloaded the order.');
      });
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        clearServer(model);
        const patch = {};
        const vend = {};
        for (const k of Object.keys(E)) {
          const now = k === 'notes' ? E[k].input.value : E[k].input.value.trim();
          if (now === orig[k]) continue;
          let value = now === '' ? null : now;
          if (k === 'validity_days' && value !== null) {
            if (!/^[0-9]+$/.test(value) || +value < 1 || +value > 3650) {
              setClient(E[k], [{ level: 'error', text: 'A whole number of days from 1 to 3650.' }]);
              E[k].input.focus();
              return;
            }
            value = parseInt(value, 10);
          }
          if (k === 'external_ref' || k === 'notes') patch[k] = value;
          else vend[k] = value;
        }
        if (Object.keys(vend).length) patch.vendor = vend;
        if (!Object.keys(patch).length) {
          addGeneral(model, 'info', 'Nothing changed.');
          return;
        }
        const done = busy(save, progress, 'Saving…');
        try {
          const headers = { 'Content-Type': 'application/merge-patch+json' };
          if (etag) headers['If-Match'] = etag;
          await api('PATCH', base, { json: patch, headers });
          done();
          if (!ctx.alive()) return;
          edit = null;
          toast('Saved.');
          announce('Saved the purchase and ticket fields.');
          await refresh();
        } catch (e) {
          done();
          if (!ctx.alive()) return;
          applyProblem(model, e);
          if (e.status === 412 || e.code === 'etag_mismatch') reload.hidden = false;
        }
      });
      replace(editBox, form);
    }

    /* --- transitions --- */
    function drawActions() {
      const o = S.order;
      const allowed = new Set(o.allowed_transitions || []);
      const btns = [];
      const add = (label, cls, fn, key) => {
        const b = h('button', { type: 'button', class: 'btn ' + cls, dataset: { action: key } }, label);
        b.addEventListener('click', () => fn(b));
        btns.push(b);
      };
      if (allowed.has('submitted')) add('Mark submitted', 'primary', dlgSubmitted, 'submitted');
      if (EXPORTABLE.includes(o.state)) add('Export…', o.state === 'ready' ? 'primary' : '', dlgExport, 'export');
      if (allowed.has('deployed')) add(o.state === 'deployed' ? 'Add a deployment' : 'Mark deployed', '', dlgDeployed, 'deployed');
      if (RENEWABLE.includes(o.state)) add('Renew', o.state === 'renewal_due' || o.state === 'expired' ? 'primary' : '', dlgRenew, 'renew');
      if (allowed.has('revoked')) add('Revoke', 'danger-ghost', dlgRevoke, 'revoked');
      if (allowed.has('cancelled')) add('Cancel order', 'danger-ghost', dlgCancel, 'cancelled');
      replace(actions, btns);
      actions.hidden = !btns.length;
    }

    async function transition(path, body, what) {
      const r = await api('POST', base + path, { json: body });
      if (!ctx.alive()) return r;
      toast(what);
      announce(what);
      await refresh();
      return r;
    }

    function dlgSubmitted() {
      const v = S.order.vendor || {};
      const now = new Date();
      const local = now.getFullYear() + '-' + pad2(now.getMonth() + 1) + '-' + pad2(now.getDate()) + 'T' + pad2(now.getHours()) + ':' + pad2(now.getMinutes());
      const F = {
        vendor_order_id: makeField({ name: 'vendor_order_id', label: 'Vendor order ID', required: true, attrs: { maxlength: '256', autocomplete: 'off' }, hint: 'The order number the CA shows after checkout.' }),
        approver: makeField({ name: 'approver', label: 'DCV approver', attrs: { maxlength: '256' }, hint: 'The e-mail (or host) that validates the domain.' }),
        dcv_method: makeField({ name: 'dcv_method', label: 'DCV method', type: 'select', options: [['', 'Not chosen'], ['email', 'E-mail'], ['http', 'HTTP file'], ['https', 'HTTPS file'], ['cname', 'CNAME record'], ['dns', 'DNS TXT record']] }),
        submitted_at: makeField({ name: 'submitted_at', label: 'Submitted at (your local time)', type: 'datetime-local' }),
      };
      F.vendor_order_id.input.value = v.order_id || '';
      F.approver.input.value = v.approver || '';
      F.dcv_method.input.value = v.dcv_method || '';
      F.submitted_at.input.value = local;
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
          await transition('/submitted', body, 'Marked submitted.');
        },
      });
    }

    function dlgDeployed() {
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
          await transition('/deployed', body, 'Marked deployed.');
        },
      });
    }

    function dlgReason(title, intro, path, label, done, tone) {
      const reason = makeField({ name: 'reason', label: 'Reason', type: 'textarea', rows: 3, wide: true, attrs: { maxlength: '1024' }, hint: 'Kept in the timeline.' });
      openDialog({
        title, intro, fields: [reason], submitLabel: label, tone, progressText: 'Saving…',
        onSubmit: async () => {
          const body = {};
          if (val(reason)) body.reason = reason.input.value.trim();
          await transition(path, body, done);
        },
      });
    }

    function dlgRevoke() {
      dlgReason('Revoke the certificate', 'Record that the CA revoked this certificate (revoke it at the CA first). AMT devices stop accepting it once it is revoked there.', '/revoked', 'Mark revoked', 'Marked revoked.', 'danger');
    }

    function dlgCancel() {
      dlgReason('Cancel this order', 'The order stops here; the key is kept but nothing more can be done with it.', '/cancel', 'Cancel order', 'Order cancelled.', 'danger');
    }

    function dlgRenew() {
      const reuse = makeField({ name: 'reuse_key', label: 'Reuse the current key (not recommended)', type: 'checkbox', wide: true,
        hint: 'A renewal makes a new key by default: a leaked old key then stops mattering when the old certificate expires.' });
      openDialog({
        title: 'Renew ' + (S.order.subject.common_name || ''),
        intro: 'Makes a new order with the same subject, suffix and vendor, linked to this one, with its own CSR to buy.',
        fields: [reuse],
        submitLabel: 'Create the renewal',
        progressText: 'Generating a new key and CSR…',
        onSubmit: async () => {
          const r = await api('POST', base + '/renew', { json: { reuse_key: !!reuse.input.checked } });
          const nid = r.data && r.data.id;
          toast('Renewal order created.');
          if (nid) navigate('#/orders/' + encodeURIComponent(nid));
          else await refresh();
        },
      });
    }

    /* --- export --- */
    function dlgExport() {
      const o = S.order;
      const cn = o.subject.common_name || 'certificate';
      const fmt = makeField({ name: 'format', label: 'Format', type: 'select', options: [
        ['pkcs12', 'PFX / PKCS#12: key and chain, for EMA, SCS, RPS, MeshCentral'],
        ['pem-chain', 'PEM chain: leaf, intermediates, root'],
        ['pem-leaf', 'PEM: the leaf only'],
        ['pem-ca-bundle', 'PEM: intermediates and root (CA bundle)'],
        ['pem-root', 'PEM: the root only'],
        ['der-leaf', 'DER: the leaf only (.cer)'],
      ] });
      const profile = makeField({ name: 'profile', label: 'PFX encryption', type: 'select', hint: 'Both use a SHA-256 MAC and the layout every console reads: one key, the chain leaf to root.', options: [
        ['compat', 'Compatible (3DES): every console, Windows Server 2016 too'],
        ['modern', 'Modern (AES-256): RPS, MeshCentral, rpc-go, current Windows'],
      ] });
      const pass = makeField({ name: 'password', label: 'PFX password', type: 'password', attrs: { autocomplete: 'new-password', maxlength: '64', spellcheck: 'false' },
        hint: '8 to 64 ASCII characters (Open AMT RPS accepts at most 64). You will type it again in the console.' });
      const pass2 = makeField({ name: 'password2', label: 'Repeat the password', type: 'password', attrs: { autocomplete: 'new-password', maxlength: '64', spellcheck: 'false' } });
      const show = makeField({ name: 'show', label: 'Show the password', type: 'checkbox' });
      const meter = h('meter', { min: '0', max: '4', low: '2', high: '3', optimum: '4', value: '0', class: 'strength', 'aria-label': 'Password strength' });
      const strengthText = h('span', { class: 'strength-text' }, '');
      const strength = h('div', { class: 'strength-row', 'aria-live': 'polite' }, meter, strengthText);
      pass.wrap.insertBefore(strength, pass.msg);
      /* the key leaves only a verified order that holds it */
      const noKey = !o.has_key;
      const unverified = !['ready', 'deployed', 'renewal_due'].includes(o.state);
      if (noKey || unverified) {
        fmt.input.querySelector('option[value=pkcs12]').disabled = true;
        fmt.input.value = 'pem-chain';
      }
      const pkcsOnly = [profile, pass, pass2, show];
      function sync() {
        const p12 = fmt.input.value === 'pkcs12';
        for (const f of pkcsOnly) f.wrap.hidden = !p12;
      }
      function rate() {
        const p = pass.input.value;
        const r = passwordProblem(p);
        const s = passwordScore(p);
        meter.value = s.score;
        strengthText.textContent = p ? (r ? '' : s.word) : '';
        setClient(pass, p ? (r ? [{ level: 'error', text: r }] : [{ level: s.score >= 3 ? 'ok' : 'warn', text: s.advice }]) : []);
        if (pass2.input.value && pass2.input.value !== p) setClient(pass2, [{ level: 'error', text: 'The two passwords differ.' }]);
        else setClient(pass2, []);
      }
      fmt.input.addEventListener('change', sync);
      pass.input.addEventListener('input', rate);
      pass2.input.addEventListener('input', rate);
      show.input.addEventListener('change', () => {
        const t = show.input.checked ? 'text' : 'password';
        pass.input.type = t;
        pass2.input.type = t;
      });
      sync();
      openDialog({
        title: 'Export ' + cn,
        intro: noKey ? 'This order\'s key stays where the CSR was made, so only certificates can be exported here.'
          : unverified ? 'The PFX (with the private key) is available once every AMT check passes: press Verify first. Certificates can be exported now.'
            : 'A private key leaves amtcertd only inside a password-protected PFX. Every key export is recorded in the timeline.',
        fields: [fmt, profile, pass, pass2, show],
        submitLabel: 'Export and download',
        progressText: 'Building the file…',
        validate: () => {
          if (fmt.input.value !== 'pkcs12') return true;
          const p = pass.input.value;
          const r = p ? passwordProblem(p) : 'Choose a password: the PFX holds the private key.';
          if (r) {
            setClient(pass, [{ level: 'error', text: r }]);
            pass.input.focus();
            return false;
          }
          if (pass2.input.value !== p) {
            setClient(pass2, [{ level: 'error', text: 'The two passwords differ.' }]);
            pass2.input.focus();
            return false;
          }
          return true;
        },
        onSubmit: async (model, progress) => {
          const f = fmt.input.value;
          const body = { format: f };
          if (f === 'pkcs12') {
            body.profile = profile.input.value;
            body.password = pass.input.value;
            const span = progress.querySelector('span:not(.spinner):not(.elapsed)');
            if (span) span.textContent = 'Building the PFX and reading it back to check it (up to ~10 s)…';
          }
          const ext = { pkcs12: '.pfx', 'pem-chain': '.chain.pem', 'pem-leaf': '.pem', 'pem-ca-bundle': '.ca-bundle.pem', 'pem-root': '.root.pem', 'der-leaf': '.cer' }[f] || '';
          const file = await downloadFrom('POST', base + '/exports', body, cn.replace(/^\*\./, 'wildcard.') + ext);
          pass.input.value = '';
          pass2.input.value = '';
          const msg = 'Saved ' + file.name + ' (' + fmtBytes(file.size) + ')' + (f === 'pkcs12' ? '. Keep the password apart from the file.' : '.');
          toast(msg);
          announce(msg);
          if (ctx.alive()) refresh().catch(() => {});
        },
      });
    }

    try {
      await refresh();
    } catch (e) {
      if (!ctx.alive()) return;
      loading.remove();
      append(main, [h('h1', { tabindex: '-1' }, 'Order'), msgEl({ level: 'error', text: e.status === 404 ? 'There is no order ' + id + '.' : 'Could not load the order: ' + problemText(e) })]);
      return;
    }
    if (!ctx.alive()) return;
    loading.remove();
    append(main, [head, next, actions, layout]);
  }

  /* Why a PFX password is refused, or ''. */
  function passwordProblem(p) {
    if (!/^[\x20-\x7e]*$/.test(p)) return 'Only ASCII letters, digits, spaces and punctuation: consoles (RPS, node-forge) garble other characters.';
    if (p.length < 8) return 'At least 8 characters (' + p.length + ' so far).';
    if (p.length > 64) return 'At most 64 characters: Open AMT RPS refuses longer passwords.';
    return '';
  }

  function passwordScore(p) {
    let pool = 0;
    if (/[a-z]/.test(p)) pool += 26;
    if (/[A-Z]/.test(p)) pool += 26;
    if (/[0-9]/.test(p)) pool += 10;
    if (/[^A-Za-z0-9]/.test(p)) pool += 33;
    let bits = p.length * Math.log2(Math.max(pool, 1));
    if (/^(.)\1+$/.test(p) || /^(password|passwort|12345678|qwertyui)/i.test(p)) bits = Math.min(bits, 10);
    if (bits < 40) return { score: 1, word: 'weak', advice: 'Weak: use a longer password, or a few random words.' };
    if (bits < 60) return { score: 2, word: 'fair', advice: 'Fair: a few more characters make it much harder to guess.' };
    if (bits < 80) return { score: 3, word: 'good', advice: 'Good.' };
    return { score: 4, word: 'strong', advice: 'Strong.' };
  }

  /* ------------------------------------------------------------------ */
  /* Inspect                                                             */
  /* ------------------------------------------------------------------ */

  function viewInspect(ctx) {
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
        const rep = r.data;
        const pk = rep.private_key;
        replace(out,
          h('section', { class: 'card' }, h('h2', null, 'What the file holds'),
            certTable(rep.certificates, 'Certificates found and their roles'),
            pk && pk.present ? h('p', { class: 'callout ' + (pk.matches_leaf ? 'ok' : 'warn') }, pk.matches_leaf ? 'A private key is included and matches the leaf.' : 'A private key is included but does not match the leaf.') : null,
            notesList(rep.intake_notes)),
          h('section', { class: 'card' }, h('h2', null, 'Chain and AMT checks'), reportView(rep)));
        announce('Inspected: ' + rep.overall);
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

  /* ------------------------------------------------------------------ */
  /* Trusted AMT roots                                                   */
  /* ------------------------------------------------------------------ */

  const EVIDENCE = {
    'legacy-default': 'AMT 2.6–10 default', 'amt8-firmware': 'Seen in an AMT 8 firmware', 'device-reported': 'Reported by an AMT 11+ device',
    cited: 'Cited, not confirmed', user: 'Added here', device: 'From a device\'s list',
  };
  const SOURCE = { seed: 'Built in', user: 'You', device: 'Device list' };

  function viewRoots(ctx) {
    setShell(true, 'roots');
    document.title = 'AMT roots · amtcertd';
    const status = h('p', { class: 'list-status', role: 'status', 'aria-live': 'polite' }, 'Loading…');
    const table = h('table', { class: 'roots' });
    const filter = makeField({ name: 'filter', label: 'Filter by name or hash', type: 'search', attrs: { autocomplete: 'off' } });
    let items = [];

    /* add a custom hash */
    const name = makeField({ name: 'name', label: 'Name', required: true, attrs: { maxlength: '200', placeholder: 'e.g. Contoso custom root (MEBx)' } });
    const hash = makeField({ name: 'hash', label: 'Certificate hash (SHA-256, SHA-1 or SHA-384, hex)', required: true, wide: true, attrs: { autocomplete: 'off', spellcheck: 'false', class: 'mono' },
      hint: 'The hash of the root certificate\'s whole DER, as entered in MEBx or shown by "rpc amtinfo -cert". Colons and spaces are ignored.' });
    const addModel = formModel([name, hash]);
    const addBtn = h('button', { type: 'submit', class: 'btn primary' }, 'Add hash');
    const addProgress = progressBox();
    const addForm = h('form', { class: 'add-root', novalidate: true, 'aria-label': 'Add a custom hash' }, h('div', { class: 'grid' }, name.wrap, hash.wrap), addModel.general, addProgress, h('div', { class: 'actions' }, addBtn));
    function hashKind(x) {
      const c = x.replace(/[\s:]/g, '');
      if (!/^[0-9a-fA-F]*$/.test(c)) return { err: 'Only hex digits (0-9, a-f).' };
      if (c.length === 64) return { kind: 'sha256', hex: c.toLowerCase() };
      if (c.length === 40) return { kind: 'sha1', hex: c.toLowerCase() };
      if (c.length === 96) return { kind: 'sha384', hex: c.toLowerCase() };
      return { err: c.length + ' hex digits: a SHA-1 has 40, a SHA-256 64, a SHA-384 96.' };
    }
    hash.input.addEventListener('input', () => {
      const x = val(hash);
      if (!x) return setClient(hash, []);
      const k = hashKind(x);
      setClient(hash, [k.err ? { level: 'error', text: k.err } : { level: 'ok', text: 'A ' + k.kind.toUpperCase().replace('SHA', 'SHA-') + ' hash.' }]);
    });
    addForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearServer(addModel);
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
      const done = busy(addBtn, addProgress, 'Adding…');
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
        await load();
      } catch (e) {
        done();
        applyProblem(addModel, e, { sha256: 'hash', sha1: 'hash', sha384: 'hash' });
      }
    });

    /* a device's list */
    const device = makeField({ name: 'device', label: 'Device', attrs: { maxlength: '200', placeholder: 'e.g. PC-0042 (AMT 16.1)' }, hint: 'Added to the names of new entries.' });
    const text = makeField({ name: 'text', label: 'The device\'s hash list', type: 'textarea', rows: 6, wide: true, required: true, attrs: { spellcheck: 'false', class: 'mono' },
      hint: 'Paste the output of "rpc amtinfo -cert" or MeshCentral\'s list. The hashes found become trusted entries.' });
    const devModel = formModel([device, text]);
    const devBtn = h('button', { type: 'submit', class: 'btn' }, 'Load the list');
    const devProgress = progressBox();
    const devOut = h('div', { 'aria-live': 'polite' });
    const devForm = h('form', { class: 'device-list', novalidate: true, 'aria-label': 'Load a device\'s list' }, h('div', { class: 'grid' }, device.wrap, text.wrap), devModel.general, devProgress, h('div', { class: 'actions' }, devBtn), devOut);
    devForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clearServer(devModel);
      if (!text.input.value.trim()) {
        setClient(text, [{ level: 'error', text: 'Paste the list first.' }]);
        text.input.focus();
        return;
      }
      setClient(text, []);
      const done = busy(devBtn, devProgress, 'Reading the list…');
      try {
        const body = { text: text.input.value };
        if (val(device)) body.device = val(device);
        const r = await api('POST', '/api/v1/amt/trusted-roots/device-list', { json: body });
        done();
        const d = r.data;
        replace(devOut, h('p', { class: 'callout ok' }, d.hashes + ' hash(es) found: ' + d.added + ' added, ' + d.known + ' already known, ' + d.enabled + ' enabled.'));
        text.input.value = '';
        await load();
      } catch (e) {
        done();
        applyProblem(devModel, e);
      }
    });

    function draw() {
      const f = val(filter).toLowerCase().replace(/[\s:]/g, '');
      const rows = items.filter((r) => !f || (r.name || '').toLowerCase().replace(/\s/g, '').includes(f) || [r.sha1, r.sha256, r.sha384].some((x) => x && x.includes(f)));
      const enabled = items.filter((r) => r.enabled).length;
      status.textContent = items.length + ' entries, ' + enabled + ' trusted' + (f ? '; ' + rows.length + ' shown' : '') + '.';
      replace(table,
        h('caption', { class: 'visually-hidden' }, 'Root hashes AMT trusts'),
        h('thead', null, h('tr', null, ['Trusted', 'Name', 'Hashes', 'Evidence', 'Source', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, rows.map((r) => {
          const cbId = nextId('trust');
          const cb = h('input', { type: 'checkbox', id: cbId, checked: !!r.enabled });
          const rowMsg = h('div', { class: 'msgs' });
          cb.addEventListener('change', async () => {
            const want = cb.checked;
            cb.disabled = true;
            clear(rowMsg);
            try {
              const x = await api('PATCH', '/api/v1/amt/trusted-roots/' + encodeURIComponent(r.id), { json: { enabled: want } });
              Object.assign(r, x.data);
              announce((want ? 'Trusting ' : 'No longer trusting ') + r.name);
              cb.disabled = false;
              draw();
            } catch (e) {
              cb.checked = !want;
              cb.disabled = false;
              append(rowMsg, [msgEl({ level: 'error', text: problemText(e) })]);
            }
          });
          let del = null;
          if (r.source === 'user' || r.source === 'device') {
            del = h('button', { type: 'button', class: 'btn small danger-ghost', 'aria-label': 'Delete ' + r.name }, 'Delete');
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
                await load();
              } catch (e) {
                del.disabled = false;
                append(rowMsg, [msgEl({ level: 'error', text: problemText(e) })]);
              }
            });
          }
          return h('tr', { class: r.enabled ? '' : 'disabled', dataset: { id: r.id } },
            h('td', { 'data-label': 'Trusted' }, h('div', { class: 'toggle' }, cb, h('label', { for: cbId }, h('span', { class: 'visually-hidden' }, 'Trust ' + r.name), h('span', { 'aria-hidden': 'true' }, r.enabled ? 'Yes' : 'No')))),
            h('th', { scope: 'row', 'data-label': 'Name' }, r.name, rowMsg),
            h('td', { 'data-label': 'Hashes', class: 'hashes' },
              r.sha256 ? h('div', null, h('span', { class: 'hk' }, 'SHA-256 '), h('code', { class: 'hash' }, r.sha256)) : null,
              r.sha1 ? h('div', null, h('span', { class: 'hk' }, 'SHA-1 '), h('code', { class: 'hash' }, r.sha1)) : null,
              r.sha384 ? h('div', null, h('span', { class: 'hk' }, 'SHA-384 '), h('code', { class: 'hash' }, r.sha384)) : null),
            h('td', { 'data-label': 'Evidence' }, EVIDENCE[r.evidence] || r.evidence || '—'),
            h('td', { 'data-label': 'Source' }, SOURCE[r.source] || r.source || '—'),
            h('td', { 'data-label': '' }, del));
        })));
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
          h('p', { class: 'hint' }, 'For a root you added to the devices in MEBx or by USB setup (at most 3 custom hashes per device; lost on unprovision).'), addForm),
        h('section', { class: 'card', 'aria-labelledby': 'sec-dev' }, h('h2', { id: 'sec-dev' }, 'Load a device\'s list'), devForm)),
      h('section', { class: 'card', 'aria-labelledby': 'sec-list' }, h('h2', { id: 'sec-list' }, 'The list'),
        h('div', { class: 'filters' }, filter.wrap), status, h('div', { class: 'table-wrap' }, table)),
    ]);
    return load();
  }

  /* ------------------------------------------------------------------ */
  /* Router                                                              */
  /* ------------------------------------------------------------------ */

  let generation = 0;
  let firstRender = true;

  function navigate(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  function parseHash() {
    const raw = location.hash.replace(/^#/, '');
    const qi = raw.indexOf('?');
    const path = qi >= 0 ? raw.slice(0, qi) : raw;
    const params = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : '');
    return { path, params };
  }

  async function route() {
    generation += 1;
    const gen = generation;
    const ctx = { alive: () => gen === generation };
    for (const d of document.querySelectorAll('dialog')) {
      if (d.open) d.close();
    }
    clear(main);
    const { path, params } = parseHash();
    ctx.params = params;
    if (!token()) {
      viewSignin(ctx);
      focusHeading(gen);
      return;
    }
    let m;
    try {
      if (path === '' || path === '/' || path === '/orders') await viewOrders(ctx);
      else if ((m = /^\/orders\/([A-Za-z0-9_-]{1,64})$/.exec(path))) await viewOrder(ctx, m[1]);
      else if (path === '/new') viewNew(ctx);
      else if (path === '/inspect') viewInspect(ctx);
      else if (path === '/roots') await viewRoots(ctx);
      else {
        setShell(true, '');
        document.title = 'Not found · amtcertd';
        append(main, [h('h1', { tabindex: '-1' }, 'No such page'), h('p', null, h('a', { href: '#/orders' }, 'Go to the orders'))]);
      }
    } catch (e) {
      if (!ctx.alive()) return;
      if (!token()) return; /* 401: route() runs again */
      append(main, [msgEl({ level: 'error', text: problemText(e) })]);
    }
    focusHeading(gen);
  }

  function focusHeading(gen) {
    if (firstRender) {
      firstRender = false;
      return;
    }
    if (gen !== generation) return;
    const h1 = main.querySelector('h1');
    if (h1) h1.focus({ preventScroll: false });
  }

  signoutBtn.addEventListener('click', () => {
    setToken(null);
    signinReason = 'Signed out. The token is forgotten in this tab.';
    history.replaceState(null, '', '#/orders');
    route();
  });

  /* the skip link must not become a route */
  const skip = document.querySelector('a.skip');
  if (skip) {
    skip.addEventListener('click', (ev) => {
      ev.preventDefault();
      const h1 = main.querySelector('h1');
      (h1 || main).focus();
    });
  }

  window.addEventListener('hashchange', () => {
    if (/^#login=/.test(location.hash)) {
      boot();
      return;
    }
    route();
  });

  async function boot() {
    const m = /^#login=([A-Za-z0-9_.~-]{1,256})$/.exec(location.hash);
    if (m) {
      history.replaceState(null, '', '#/orders');
      clear(main);
      main.appendChild(h('p', { class: 'list-status', role: 'status' }, 'Signing in…'));
      await exchangeLoginCode(m[1]);
    }
    route();
  }

  boot();
})();
