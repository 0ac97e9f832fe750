/*
 * order-export.js: the order page's export dialog: a PFX with the key
 * (password checked as you type) or the certificates in PEM or DER.
 *
 * P is the order page (view-order.js): {ctx, base, S, refresh()}.
 */
import { openDialog } from './dialog.js';
import { h } from './dom.js';
import { downloadFrom } from './files.js';
import { fmtBytes } from './format.js';
import { makeField, setClient } from './forms.js';
import { passwordProblem, passwordScore } from './password.js';
import { isVerified } from './states.js';
import { announce, toast } from './toast.js';

/* [format, label, file name ending] */
const FORMATS = [
  ['pkcs12', 'PFX / PKCS#12: key and chain, for EMA, SCS, RPS, MeshCentral', '.pfx'],
  ['pem-chain', 'PEM chain: leaf, intermediates, root', '.chain.pem'],
  ['pem-leaf', 'PEM: the leaf only', '.pem'],
  ['pem-ca-bundle', 'PEM: intermediates and root (CA bundle)', '.ca-bundle.pem'],
  ['pem-root', 'PEM: the root only', '.root.pem'],
  ['der-leaf', 'DER: the leaf only (.cer)', '.cer'],
];

/*
 * The PFX fields: {profile, pass, pass2, show, problem()}; the password is
 * rated as you type, problem() says why it cannot be sent ('' when it can).
 */
function pfxFields() {
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
  pass.wrap.insertBefore(h('div', { class: 'strength-row', 'aria-live': 'polite' }, meter, strengthText), pass.msg);
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
  pass.input.addEventListener('input', rate);
  pass2.input.addEventListener('input', rate);
  show.input.addEventListener('change', () => {
    const t = show.input.checked ? 'text' : 'password';
    pass.input.type = t;
    pass2.input.type = t;
  });
  function problem() {
    const p = pass.input.value;
    const r = p ? passwordProblem(p) : 'Choose a password: the PFX holds the private key.';
    if (r) {
      setClient(pass, [{ level: 'error', text: r }]);
      pass.input.focus();
      return r;
    }
    if (pass2.input.value !== p) {
      setClient(pass2, [{ level: 'error', text: 'The two passwords differ.' }]);
      pass2.input.focus();
      return 'differ';
    }
    return '';
  }
  return { profile, pass, pass2, show, problem };
}

function exportIntro(noKey, unverified) {
  if (noKey) return 'This order\'s key stays where the CSR was made, so only certificates can be exported here.';
  if (unverified) return 'The PFX (with the private key) is available once every AMT check passes: press Verify first. Certificates can be exported now.';
  return 'A private key leaves amtcertd only inside a password-protected PFX. Every key export is recorded in the timeline.';
}

export function exportDialog(P) {
  const o = P.S.order;
  const cn = o.subject.common_name || 'certificate';
  const fmt = makeField({ name: 'format', label: 'Format', type: 'select', options: FORMATS.map((f) => [f[0], f[1]]) });
  const pfx = pfxFields();
  /* the key leaves only a verified order that holds it */
  const noKey = !o.has_key;
  const unverified = !isVerified(o.state);
  if (noKey || unverified) {
    fmt.input.querySelector('option[value=pkcs12]').disabled = true;
    fmt.input.value = 'pem-chain';
  }
  const sync = () => {
    for (const f of [pfx.profile, pfx.pass, pfx.pass2, pfx.show]) f.wrap.hidden = fmt.input.value !== 'pkcs12';
  };
  fmt.input.addEventListener('change', sync);
  sync();
  openDialog({
    title: 'Export ' + cn,
    intro: exportIntro(noKey, unverified),
    fields: [fmt, pfx.profile, pfx.pass, pfx.pass2, pfx.show],
    submitLabel: 'Export and download',
    progressText: 'Building the file…',
    validate: () => fmt.input.value !== 'pkcs12' || !pfx.problem(),
    onSubmit: async (model, progress) => {
      const f = fmt.input.value;
      const body = { format: f };
      if (f === 'pkcs12') {
        body.profile = pfx.profile.input.value;
        body.password = pfx.pass.input.value;
        const span = progress.querySelector('span:not(.spinner):not(.elapsed)');
        if (span) span.textContent = 'Building the PFX and reading it back to check it (up to ~10 s)…';
      }
      const ext = (FORMATS.find((x) => x[0] === f) || [])[2] || '';
      const file = await downloadFrom('POST', P.base + '/exports', body, cn.replace(/^\*\./, 'wildcard.') + ext);
      pfx.pass.input.value = '';
      pfx.pass2.input.value = '';
      const msg = 'Saved ' + file.name + ' (' + fmtBytes(file.size) + ')' + (f === 'pkcs12' ? '. Keep the password apart from the file.' : '.');
      toast(msg);
      announce(msg);
      if (P.ctx.alive()) P.refresh().catch(() => {});
    },
  });
}
