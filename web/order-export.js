/*
 * order-export.js: the order page's export dialog: a PFX with the key
 * (password checked as you type, iteration count with what it costs the
 * consoles) or the certificates in PEM or DER.
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

/* The API's bounds and default (OpenSSL 3's PKCS12_DEFAULT_ITER). */
const ITER_MIN = 1000;
const ITER_MAX = 1000000;
const ITER_DEFAULT = 2048;
/* node-forge 1.4.3 decode time per 1,000 iterations (tests/bench/pfx.py). */
const FORGE_MS_PER_1000 = { compat: 13, modern: 20 };

/* '' when v is a whole number in range, else why not. */
function iterationsProblem(v) {
  if (!/^[0-9]+$/.test(v)) return 'A whole number, 1,000 to 1,000,000.';
  const n = Number(v);
  if (n < ITER_MIN || n > ITER_MAX) return 'From 1,000 to 1,000,000 (default 2,048).';
  return '';
}

function fmtMs(ms) {
  return ms < 1000 ? Math.round(ms / 10) * 10 + ' ms' : (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s';
}

/*
 * The PFX fields: {profile, pass, pass2, show, iter, problem()}; the
 * password is rated as you type, the iteration count priced; problem()
 * says why they cannot be sent ('' when they can).
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
  const iter = makeField({ name: 'iterations', label: 'Iteration count', type: 'number',
    attrs: { min: String(ITER_MIN), max: String(ITER_MAX), step: '1', value: String(ITER_DEFAULT), inputmode: 'numeric' },
    hint: 'Keep 2,048 (OpenSSL\'s default) unless you have a reason. RPS and MeshCentral open the PFX with node-forge, whose time grows with this count: RPS pays it on every device activation. A long random password protects the key better than a high count.' });
  /* what the count costs a node-forge console, as you type */
  function price() {
    const v = iter.input.value.trim();
    const r = iterationsProblem(v);
    if (r) {
      setClient(iter, [{ level: 'error', text: r }]);
      return;
    }
    const ms = (Number(v) / 1000) * FORGE_MS_PER_1000[profile.input.value === 'modern' ? 'modern' : 'compat'];
    setClient(iter, [{ level: ms > 1000 ? 'warn' : 'ok', text: 'RPS and MeshCentral need about ' + fmtMs(ms) + ' to open it.' }]);
  }
  iter.input.addEventListener('input', price);
  profile.input.addEventListener('change', price);
  price();
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
    const ri = iterationsProblem(iter.input.value.trim());
    if (ri) {
      setClient(iter, [{ level: 'error', text: ri }]);
      iter.input.focus();
      return ri;
    }
    return '';
  }
  return { profile, pass, pass2, show, iter, problem };
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
    for (const f of [pfx.profile, pfx.pass, pfx.pass2, pfx.show, pfx.iter]) f.wrap.hidden = fmt.input.value !== 'pkcs12';
  };
  fmt.input.addEventListener('change', sync);
  sync();
  openDialog({
    title: 'Export ' + cn,
    intro: exportIntro(noKey, unverified),
    fields: [fmt, pfx.profile, pfx.pass, pfx.pass2, pfx.show, pfx.iter],
    submitLabel: 'Export and download',
    progressText: 'Building the file…',
    validate: () => fmt.input.value !== 'pkcs12' || !pfx.problem(),
    onSubmit: async (model, progress) => {
      const f = fmt.input.value;
      const body = { format: f };
      if (f === 'pkcs12') {
        body.profile = pfx.profile.input.value;
        body.password = pfx.pass.input.value;
        body.iterations = Number(pfx.iter.input.value.trim());
        const span = progress.querySelector('span:not(.spinner):not(.elapsed)');
        if (span) span.textContent = 'Building the PFX and reading it back to check it…';
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
