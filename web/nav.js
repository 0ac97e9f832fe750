/*
 * nav.js: moving between pages without importing the router (which
 * imports every view): the router registers itself here at start.
 */
let render = () => {};

/* Called once by router.js with its route(). */
export function setRenderer(fn) {
  render = fn;
}

/* Draws the page for the current address again. */
export function rerender() {
  render();
}

/* Goes to hash; draws it again when the address is already there. */
export function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}
