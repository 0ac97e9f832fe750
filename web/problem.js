/* problem.js: an API problem (RFC 9457) in words for people. */
import { ApiError } from './client.js';
import { stateLabel } from './states.js';

/* A problem in words: the detail, and what to do for the common codes. */
export function problemText(e) {
  if (!(e instanceof ApiError)) return String(e && e.message ? e.message : e);
  const p = e.problem;
  let text = p.detail || p.title || ('HTTP ' + e.status);
  if (e.status === 404 && p.code === 'not_found') {
    text = 'This daemon does not offer that yet (404: ' + (p.detail || 'no such resource') + '). Update amtcertd and try again.';
  }
  if (e.code === 'invalid_transition' && Array.isArray(p.allowed_transitions)) {
    text += ' Allowed from ' + stateLabel(p.state || '') + ': ' +
      (p.allowed_transitions.length ? p.allowed_transitions.map(stateLabel).join(', ') : 'nothing') + '.';
  }
  if (e.code === 'etag_mismatch' || e.status === 412) {
    text = 'This order changed since you opened it (another tab, a script or a teammate). Reload it to see the latest, then make your change again.';
  }
  if (e.code === 'busy' || e.status === 503) {
    text += ' The daemon is busy: wait a moment and try again.';
  }
  return text;
}
