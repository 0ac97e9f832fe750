/* toast.js: short messages in a corner, and words for screen readers. */
import { h } from './dom.js';

const announcer = document.getElementById('announce');
const toasts = document.getElementById('toasts');

/* Says text in the polite live region (screen readers only). */
export function announce(text) {
  announcer.textContent = '';
  window.setTimeout(() => { announcer.textContent = text; }, 30);
}

export function toast(text, tone) {
  const t = h('div', { class: 'toast ' + (tone || 'ok'), role: tone === 'bad' ? 'alert' : 'status' }, text);
  toasts.appendChild(t);
  window.setTimeout(() => t.classList.add('leaving'), 4500);
  window.setTimeout(() => t.remove(), 5000);
}
