/*
 * dom.js: building the page without innerHTML.
 *
 * The server sends a strict Content-Security-Policy (script-src 'self',
 * style-src 'self'), so: no inline script or style, no eval, no innerHTML.
 * Every node is made with createElement and every piece of API data goes
 * in through textContent: certificate subjects and CA file names are
 * untrusted.
 */

const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'selected',
  'multiple', 'required', 'readOnly', 'open', 'indeterminate']);

/* h('tag', {attr: value, onclick: fn, class: 'x'}, child, [children], 'text') */
export function h(tag, props, ...kids) {
  const n = document.createElement(tag);
  if (props) {
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') n.className = v;
      else if (k === 'text') n.textContent = v;
      else if (k === 'dataset') Object.assign(n.dataset, v);
      else if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
      else if (PROPS.has(k)) n[k] = v;
      else n.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(n, kids);
  return n;
}

export function append(n, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) append(n, k);
    else if (k instanceof Node) n.appendChild(k);
    else n.appendChild(document.createTextNode(String(k)));
  }
  return n;
}

export function clear(n) {
  while (n.firstChild) n.removeChild(n.firstChild);
  return n;
}

export function replace(n, ...kids) {
  clear(n);
  return append(n, kids);
}

let uid = 0;
export function nextId(prefix) {
  uid += 1;
  return (prefix || 'id') + '-' + uid;
}
