/*
 * client.js: the API client: the session (the token in this tab's
 * session storage), calls to the daemon's API with problem+json errors,
 * and the order state machine the daemon publishes, loaded once per
 * session. (Not "api.js": the daemon serves no file under /api.)
 */
import { rerender } from './nav.js';

const TOKEN_KEY = 'amtcertd.token';

/* GET /api/v1/order-states of this session: {token, data} (see below). */
let stateTable = null;

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/* Signing in or out also forgets the order state table (loaded again). */
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
  stateTable = null;
}

/* Why the sign-in page is shown (session ended, signed out, bad link). */
let reason = '';

export function signinReason() {
  return reason;
}

export function setSigninReason(text) {
  reason = text || '';
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && problem.detail) || ('HTTP ' + status));
    this.status = status;
    this.problem = problem || {};
    this.code = this.problem.code || '';
  }
}

export function randomId() {
  if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
  const b = new Uint8Array(16);
  window.crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/* The body of an answer: JSON, text, or null for 204 or broken JSON. */
async function readBody(r) {
  if (r.status === 204) return null;
  const ct = r.headers.get('Content-Type') || '';
  if (!ct.includes('json')) return r.text();
  try {
    return await r.json();
  } catch {
    return null;
  }
}

/*
 * api(method, path, {json, form, headers, raw, noSignout}) ->
 * {data, etag, status, headers}
 * raw: a successful response is returned as is (for file downloads).
 * Errors throw ApiError with the problem+json body; a network failure
 * throws ApiError with status 0. A 401 forgets the token and shows the
 * sign-in page (unless noSignout).
 */
export async function api(method, path, opts) {
  const o = opts || {};
  const headers = Object.assign({}, o.headers || {});
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  let body;
  if (o.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(o.json);
  } else if (o.form) {
    body = o.form;
  }
  let r;
  try {
    r = await fetch(path, { method, headers, body, cache: 'no-store', credentials: 'omit' });
  } catch (e) {
    throw new ApiError(0, { code: 'network', detail: 'amtcertd did not answer (' + (e && e.message ? e.message : 'network error') + '). Is the daemon still running?' });
  }
  if (r.ok && o.raw) return r;
  const data = await readBody(r);
  if (!r.ok) {
    const problem = data && typeof data === 'object' ? data : { detail: (typeof data === 'string' && data) || r.statusText || ('HTTP ' + r.status) };
    if (!problem.status) problem.status = r.status;
    const err = new ApiError(r.status, problem);
    if (r.status === 401 && !o.noSignout && path !== '/api/v1/login') {
      setToken(null);
      reason = 'Your session ended: the token was not accepted. Sign in again.';
      window.setTimeout(rerender, 0);
    }
    throw err;
  }
  return { data, etag: r.headers.get('ETag'), status: r.status, headers: r.headers };
}

/*
 * The order state machine as GET /api/v1/order-states publishes it:
 * {states: [{name, terminal, next}], transitions: [{from, to, trigger}]},
 * loaded once per token.
 */
export async function loadOrderStates() {
  const t = token();
  if (stateTable && stateTable.token === t) return stateTable.data;
  const r = await api('GET', '/api/v1/order-states');
  stateTable = { token: t, data: r.data && typeof r.data === 'object' ? r.data : {} };
  return stateTable.data;
}

/* The loaded table, or null before loadOrderStates() (or after sign-out). */
export function orderStates() {
  return stateTable && stateTable.token === token() ? stateTable.data : null;
}

/* A query string of the parameters that are set (not '', null or undefined). */
function query(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== '' && v !== null && v !== undefined) p.set(k, String(v));
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

/*
 * The order list, sorted and paged by the daemon: GET /api/v1/orders with
 * {state, q, external_ref, sort, order, limit, cursor} -> {items, next_cursor},
 * the items order summaries (no CSR). A cursor belongs to its sort and order.
 */
export async function listOrders(params) {
  return (await api('GET', '/api/v1/orders' + query(params))).data;
}

/*
 * How many orders match {state, q, external_ref}, counted by the daemon
 * over all of them: {total, groups: {needs_action, waiting, in_use, closed},
 * states: [{state, group, next_action, count}]} ("needs action first").
 */
export async function orderCounts(params) {
  return (await api('GET', '/api/v1/orders/summary' + query(params))).data;
}
