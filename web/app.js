/*
 * amtcertd dashboard: the entry module.
 *
 * Plain JavaScript modules, no build step, no third-party code; the
 * server's Content-Security-Policy (script-src 'self') allows them as
 * they are. Shared pieces: dom.js (elements without innerHTML),
 * client.js (session and API calls), forms.js, dialog.js, toast.js, format.js,
 * files.js, names.js (naming rules), states.js, report.js, dropzone.js,
 * nav.js and router.js; one view-*.js per page; the order page's pieces
 * in order-*.js.
 */
import { start } from './router.js';

/* Stops a file dropped beside a drop zone from replacing the page. */
window.addEventListener('dragover', (ev) => ev.preventDefault());
window.addEventListener('drop', (ev) => ev.preventDefault());

start();
