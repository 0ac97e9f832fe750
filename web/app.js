'use strict';
// Minimal dashboard: sign-in (one-time link or pasted token) and the order
// list. The token lives in sessionStorage and travels in Authorization.
(function () {
  const KEY = 'amtcertd.token';
  const $ = (id) => document.getElementById(id);

  async function api(path, opts) {
    const o = opts || {};
    o.headers = Object.assign({}, o.headers, { Authorization: 'Bearer ' + sessionStorage.getItem(KEY) });
    const r = await fetch(path, o);
    const body = r.headers.get('Content-Type') || '';
    const data = body.includes('json') ? await r.json() : await r.text();
    if (!r.ok) throw new Error((data && data.detail) || r.statusText);
    return data;
  }

  function showSignin(msg) {
    $('signin').hidden = false;
    $('orders').hidden = true;
    $('signin-error').textContent = msg || '';
  }

  async function showOrders() {
    try {
      const list = await api('/api/v1/orders');
      const rows = $('order-rows');
      rows.textContent = '';
      for (const o of list.items) {
        const tr = document.createElement('tr');
        const cells = [o.state, o.subject.common_name, o.vendor.order_id || '', o.external_ref || '', o.created_at];
        cells.forEach((v, i) => {
          const td = document.createElement('td');
          if (i === 0) {
            const b = document.createElement('span');
            b.className = 'badge';
            b.textContent = v;
            td.appendChild(b);
          } else {
            td.textContent = v;
          }
          tr.appendChild(td);
        });
        rows.appendChild(tr);
      }
      $('orders-empty').hidden = list.items.length > 0;
      $('signin').hidden = true;
      $('orders').hidden = false;
    } catch (e) {
      sessionStorage.removeItem(KEY);
      showSignin(e.message);
    }
  }

  async function exchangeCode(code) {
    const r = await fetch('/api/v1/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ code: code })
    });
    const data = await r.json();
    if (!r.ok) throw new Error(data.detail);
    sessionStorage.setItem(KEY, data.token);
  }

  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, $('token').value.trim());
    $('token').value = '';
    showOrders();
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(KEY);
    showSignin('Signed out.');
  });

  const m = /^#login=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (m) {
    history.replaceState(null, '', '/');
    exchangeCode(m[1]).then(showOrders, (e) => showSignin(e.message));
  } else if (sessionStorage.getItem(KEY)) {
    showOrders();
  } else {
    showSignin();
  }
})();
