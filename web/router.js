/*
 * router.js: hash routes to views, sign-in and sign-out.
 *
 *   #/orders[?state=&q=]   the order list, orders needing action first
 *   #/orders/ID            one order: chain, checklist, uploads, export, events
 *   #/new                  the new order form, checked as you type
 *   #/inspect              any file in, the same report out, nothing stored
 *   #/roots                the root hashes AMT trusts
 *   #login=CODE            the one-time link the daemon prints at start
 */
import { loadOrderStates, setSigninReason, setToken, token } from './client.js';
import { append, clear, h } from './dom.js';
import { msgEl } from './forms.js';
import { setRenderer } from './nav.js';
import { problemText } from './problem.js';
import { main, setShell, signoutBtn } from './shell.js';
import { viewInspect } from './view-inspect.js';
import { viewNew } from './view-new.js';
import { viewOrder } from './view-order.js';
import { viewOrders } from './view-orders.js';
import { viewRoots } from './view-roots.js';
import { exchangeLoginCode, viewSignin } from './view-signin.js';

let generation = 0;
let firstRender = true;

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const qi = raw.indexOf('?');
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const params = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : '');
  return { path, params };
}

/* Draws the view of path (signed in). */
async function signedInView(ctx, path) {
  let m;
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
}

/*
 * Draws the page for the current address. ctx.alive() turns false as
 * soon as another route() starts, so late answers are dropped.
 */
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
  try {
    await loadOrderStates(); /* once per sign-in: every view decides by state */
  } catch (e) {
    if (!ctx.alive() || !token()) return; /* 401: route() runs again */
    setShell(true, '');
    append(main, [h('h1', { tabindex: '-1' }, 'amtcertd did not answer as expected'),
      msgEl({ level: 'error', text: 'Could not load the order states (GET /api/v1/order-states): ' + problemText(e) }),
      h('p', null, h('button', { type: 'button', class: 'btn', onclick: () => route() }, 'Try again'))]);
    focusHeading(gen);
    return;
  }
  if (!ctx.alive()) return;
  try {
    await signedInView(ctx, path);
  } catch (e) {
    if (!ctx.alive()) return;
    if (!token()) return; /* 401: route() runs again */
    append(main, [msgEl({ level: 'error', text: problemText(e) })]);
  }
  focusHeading(gen);
}

/* Focus on the new page's heading, except on the first page shown. */
function focusHeading(gen) {
  if (firstRender) {
    firstRender = false;
    return;
  }
  if (gen !== generation) return;
  const h1 = main.querySelector('h1');
  if (h1) h1.focus({ preventScroll: false });
}

/* A #login=CODE address signs in first, then shows the orders. */
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

/* Wires the navigation and draws the first page. */
export function start() {
  setRenderer(route);
  signoutBtn.addEventListener('click', () => {
    setToken(null);
    setSigninReason('Signed out. The token is forgotten in this tab.');
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
  boot();
}
