/* view-signin.js: the sign-in page and the one-time login link. */
import { api, setSigninReason, setToken, signinReason } from './client.js';
import { append, h } from './dom.js';
import { applyProblem, busy, clearServer, formModel, makeField, progressBox, setClient, val } from './forms.js';
import { navigate } from './nav.js';
import { problemText } from './problem.js';
import { main, setShell } from './shell.js';

/* The "paste an API token" form: the token is tried before it is kept. */
function tokenForm() {
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
      setSigninReason('');
      f.input.value = '';
      navigate('#/orders');
    } catch (e) {
      done();
      setToken(null);
      setSigninReason('');
      if (e.status === 401) setClient(f, [{ level: 'error', text: 'This token was not accepted (revoked, mistyped or from another amtcertd).' }]);
      else applyProblem(model, e);
      f.input.focus();
    }
  });
  return form;
}

export function viewSignin(ctx) {
  setShell(false, '');
  document.title = 'Sign in · amtcertd';
  const reason = signinReason() || ctx.reason;
  append(main, [
    h('section', { class: 'signin card' },
      h('h1', { tabindex: '-1' }, 'Sign in to amtcertd'),
      reason ? h('p', { class: 'callout warn', role: 'alert' }, reason) : null,
      h('p', null, 'Open the one-time link amtcertd printed when it started (it looks like ',
        h('code', null, location.origin + '/#login=…'), '). Each link works once.'),
      h('p', null, 'Or paste an API token:'),
      tokenForm(),
      h('p', { class: 'hint' }, 'The token stays in this browser tab only (session storage) and is sent in the Authorization header. Sign out forgets it.'))
  ]);
}

/* Trades the code of a #login= link for a token; false when refused. */
export async function exchangeLoginCode(code) {
  try {
    const r = await api('POST', '/api/v1/login', { json: { code } });
    setToken(r.data.token);
    setSigninReason('');
    return true;
  } catch (e) {
    setToken(null);
    if (e.status === 401 || e.status === 400) {
      setSigninReason('This login link was already used or is not valid: each link works once. Paste a token instead, or run amtcertd login-link for a new link.');
    } else {
      setSigninReason('Sign-in failed: ' + problemText(e));
    }
    return false;
  }
}
