/* files.js: downloads under the server's file name, and the clipboard. */
import { api } from './client.js';
import { h } from './dom.js';
import { announce, toast } from './toast.js';

function safeFileName(name, fallback) {
  const n = String(name || '').replace(/[/\\\u0000-\u001f\u007f]/g, '_').replace(/^\.+/, '').trim();
  return n || fallback || 'download';
}

/* The file name of a Content-Disposition header, or fallback. */
function dispositionName(cd, fallback) {
  if (cd) {
    let m = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(cd);
    if (m) {
      try {
        return safeFileName(decodeURIComponent(m[1].trim()), fallback);
      } catch { /* fall through to filename= */ }
    }
    m = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(cd) || /filename\s*=\s*([^;\s]+)/i.exec(cd);
    if (m) return safeFileName(m[1].replace(/\\(.)/g, '$1'), fallback);
  }
  return safeFileName(fallback);
}

function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'visually-hidden' }, name);
  document.body.appendChild(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/* GET (or POST json) a file from the API and save it under its name. */
export async function downloadFrom(method, path, json, fallbackName) {
  const r = await api(method, path, { json, raw: true });
  const blob = await r.blob();
  const name = dispositionName(r.headers.get('Content-Disposition'), fallbackName);
  saveBlob(blob, name);
  return { name, size: blob.size, type: r.headers.get('Content-Type') || '' };
}

export async function copyText(text) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* fall back below */ }
  const ta = h('textarea', { class: 'visually-hidden', 'aria-hidden': 'true', readonly: true });
  ta.value = text;
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

export function copyButton(getText, label, what, big) {
  const b = h('button', { type: 'button', class: big ? 'btn' : 'btn small', 'aria-label': label ? undefined : 'Copy ' + (what || '') }, label || 'Copy');
  b.addEventListener('click', async () => {
    const ok = await copyText(getText());
    const msg = ok ? 'Copied ' + (what || 'to the clipboard') + '.' : 'Copy failed: select the text and press Ctrl+C.';
    toast(msg, ok ? 'ok' : 'warn');
    announce(msg);
  });
  return b;
}
