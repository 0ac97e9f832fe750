/*
 * order-common.js: what the new order page and the order page share: the
 * CSR panel, the warnings of a new order, the DCV method choices.
 */
import { h, nextId, replace } from './dom.js';
import { copyButton, downloadFrom } from './files.js';
import { busy, msgEl, progressBox } from './forms.js';
import { problemText } from './problem.js';
import { toast } from './toast.js';

/* The DCV methods, after a first "none" entry labelled none. */
export function dcvOptions(none) {
  return [['', none], ['email', 'E-mail'], ['http', 'HTTP file'], ['https', 'HTTPS file'], ['cname', 'CNAME record'], ['dns', 'DNS TXT record']];
}

export function warningsList(ws) {
  if (!Array.isArray(ws) || !ws.length) return null;
  return h('div', { class: 'callout warn' },
    h('p', null, h('strong', null, ws.length === 1 ? 'One warning' : ws.length + ' warnings'), ' (the order was made anyway):'),
    h('ul', null, ws.map((w) => h('li', null, w.field ? h('code', null, w.field) : null, w.field ? ': ' : '', w.message))));
}

/* The CSR with copy and download buttons. */
export function csrPanel(order) {
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
