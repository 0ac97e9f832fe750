/*
 * forms.js: fields with hints and messages next to them, a form's model,
 * problem+json errors put beside the controls they are about, and the
 * progress shown during slow work.
 */
import { ApiError } from './client.js';
import { append, clear, h, nextId, replace } from './dom.js';
import { problemText } from './problem.js';

/*
 * Disables the buttons, shows a spinner, the text and the seconds
 * elapsed in statusEl (a live region). Returns done().
 */
export function busy(buttons, statusEl, text) {
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

export function progressBox() {
  return h('div', { class: 'progress', role: 'status', 'aria-live': 'polite', hidden: true });
}

/*
 * spec: {name (the API's field path), label, type, hint, options
 * [[value, label]], required, attrs, rows, wide, explain}
 */
export function makeField(spec) {
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

export function msgEl(m) {
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

export function setClient(f, msgs) {
  f.client = msgs || [];
  renderMsgs(f);
}

export function formModel(fields) {
  const byName = new Map();
  for (const f of fields) byName.set(f.spec.name, f);
  const general = h('div', { class: 'form-errors', role: 'alert', hidden: true });
  return { fields, byName, general };
}

export function clearServer(model) {
  for (const f of model.fields) {
    if (f.server.length) {
      f.server = [];
      renderMsgs(f);
    }
  }
  clear(model.general);
  model.general.hidden = true;
}

export function addGeneral(model, level, text, fix) {
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
export function applyProblem(model, e, aliases) {
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

export function val(f) {
  if (f.spec.type === 'checkbox') return f.input.checked;
  return f.input.value.trim();
}
