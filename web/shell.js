/* shell.js: the parts of the page around the views (navigation, title). */
import { h } from './dom.js';

export const main = document.getElementById('main');
const nav = document.getElementById('nav');
export const signoutBtn = document.getElementById('signout');

/* Shows the navigation when signed in and marks the active page. */
export function setShell(signedIn, active) {
  nav.hidden = !signedIn;
  signoutBtn.hidden = !signedIn;
  for (const a of nav.querySelectorAll('a[data-route]')) {
    if (a.dataset.route === active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

export function pageHeader(title, sub, ...extra) {
  return h('div', { class: 'page-head' },
    h('div', { class: 'page-title' }, h('h1', { tabindex: '-1' }, title), sub ? h('p', { class: 'sub' }, sub) : null),
    extra.length ? h('div', { class: 'page-actions' }, extra) : null);
}
