/* format.js: dates, countdowns and sizes as people read them. */
import { h } from './dom.js';

export const DAY = 86400000;

export function pad2(n) {
  return n < 10 ? '0' + n : String(n);
}

/* "2026-11-25 14:03" in local time; the ISO string goes in a title. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()) + ' ' +
    pad2(d.getHours()) + ':' + pad2(d.getMinutes());
}

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
}

export function timeEl(iso, text) {
  return h('time', { datetime: iso || undefined, title: iso || undefined }, text || fmtTime(iso));
}

export function fmtBytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
  return (n / 1048576).toFixed(1) + ' MiB';
}

/* Days left until iso: {text, tone, days}; null without a date. */
export function countdown(iso) {
  if (!iso) return null;
  const t = Date.parse(iso);
  if (isNaN(t)) return null;
  const ms = t - Date.now();
  const days = ms / DAY;
  let text;
  let tone;
  if (ms < 0) {
    const ago = Math.floor(-days);
    text = ago < 1 ? 'expired today' : 'expired ' + ago + (ago === 1 ? ' day ago' : ' days ago');
    tone = 'bad';
  } else if (days < 1) {
    const hrs = Math.max(1, Math.round(ms / 3600000));
    text = 'in ' + hrs + (hrs === 1 ? ' hour' : ' hours');
    tone = 'bad';
  } else {
    const d = Math.floor(days);
    text = 'in ' + d + (d === 1 ? ' day' : ' days');
    tone = days <= 30 ? 'warn' : days <= 60 ? 'soon' : 'ok';
  }
  return { text, tone, days, date: fmtDate(iso) };
}

export function countdownEl(iso, label) {
  const c = countdown(iso);
  if (!c) return h('span', { class: 'muted', title: 'Known once the certificate is uploaded and verified' }, '—');
  return h('span', { class: 'countdown ' + c.tone, title: (label ? label + ' ' : '') + 'not after ' + iso },
    h('span', { class: 'cd-text' }, c.text), h('span', { class: 'cd-date' }, c.date));
}
