/* dialog.js: modal forms whose errors stay next to their fields. */
import { h, nextId } from './dom.js';
import { applyProblem, busy, clearServer, formModel, progressBox } from './forms.js';

/*
 * openDialog({title, intro, fields, submitLabel, tone, onSubmit(model,
 * progress, submitBtn) -> Promise}); resolves nothing, closes itself on
 * success. Errors stay in the dialog, next to the fields.
 */
export function openDialog(o) {
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
