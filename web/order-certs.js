/*
 * order-certs.js: the certificates stored for an order, and Detach for
 * one uploaded by mistake (DELETE .../certificates/{sha256}, after a
 * confirmation). The daemon decides what may go: its refusal (the
 * order's current leaf, a closed order) is shown as it words it.
 *
 * P is the order page (view-order.js): {ctx, base, S, refresh()}.
 */
import { api } from './client.js';
import { openDialog } from './dialog.js';
import { h } from './dom.js';
import { certTable, cnOf, roleBadge } from './report.js';
import { isTerminal } from './states.js';
import { announce, toast } from './toast.js';

function detachDialog(P, c) {
  const cn = c.common_name || cnOf(c.subject);
  openDialog({
    title: 'Detach this certificate?',
    intro: h('div', { class: 'intro' },
      h('p', null, roleBadge(c.role), ' ', h('strong', null, cn)),
      h('p', { class: 'small' }, 'SHA-256 ', h('code', { class: 'hash' }, c.sha256)),
      h('p', null, 'It stops belonging to this order: chains, checks and exports no longer use it. The timeline keeps a record. Upload it again if it was right after all.')),
    submitLabel: 'Detach',
    tone: 'danger',
    progressText: 'Detaching…',
    onSubmit: async () => {
      const r = await api('DELETE', P.base + '/certificates/' + encodeURIComponent(c.sha256));
      const what = 'Detached ' + cn + ' (' + ((r.data && r.data.detached && r.data.detached.role) || c.role || 'certificate') + ').';
      toast(what);
      announce(what);
      if (P.ctx.alive()) await P.refresh();
    },
  });
}

/*
 * The stored certificates, folded away (open: unfolded), each with
 * Detach while the order is not over.
 */
export function storedCerts(P, open) {
  const S = P.S;
  if (!Array.isArray(S.certs) || !S.certs.length) return null;
  const closed = isTerminal(S.order.state);
  const detach = (c) => {
    if (!c.sha256) return null;
    const b = h('button', { type: 'button', class: 'btn small danger-ghost', 'aria-label': 'Detach ' + (c.common_name || cnOf(c.subject)) + ' (' + (c.role || 'certificate') + ')' }, 'Detach');
    b.addEventListener('click', () => detachDialog(P, c));
    return b;
  };
  return h('details', { class: 'stored', open },
    h('summary', null, 'Certificates stored for this order (' + S.certs.length + ')'),
    certTable(S.certs, 'Stored certificates and their roles', closed ? undefined : detach));
}
