'use strict';
/*
 * The dashboard end to end, in headless Chromium against the real daemon:
 * sign in by the one-time link, create an order with the form (as-you-type
 * checks first), download the CSR, have the test CA sign it, upload its zip,
 * trust the test root, verify (chain and a passing checklist), export a PFX
 * and open it with openssl, a failing upload (a leaf for another key), the
 * lifecycle buttons, inspect, the roots page, sign out, screenshots. The
 * whole run must be free of console errors, failed requests, 5xx answers and
 * CSP violations; the 4xx answers it provokes are declared and asserted.
 *
 *   node --test tests/e2e/
 *
 * Steps that need an endpoint the daemon does not have yet fail with
 * "MISSING ENDPOINT ..." (E2E_ALLOW_MISSING=1 turns them into skips).
 */
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { ROOT, startDaemon, launchBrowser, testca, run, tmpdir, screenshotDir } = require('./lib.js');

const CN = 'amt.e2e.example.com';
const SUFFIX = 'example.com';
const PFX_PASSWORD = 'Blue-Falcon-42-river';
const UI_TIMEOUT = 30000;

describe('dashboard', { timeout: 600000 }, () => {
  let d;
  let b;
  let page;
  let work;
  let caDir;
  let rootSha256;
  const ids = {};
  const missing = {};
  let stateTableLoads = 0; /* GET /api/v1/order-states by the page */

  /* Lifecycle routes are probed on an order that does not exist: a
     missing route answers 404 not_found, a present one 404 order_not_found. */
  async function probe(name, p) {
    const r = await d.api('POST', '/api/v1/orders/ord_doesnotexist' + p, {});
    missing[name] = r.status === 404 && r.data && r.data.code === 'not_found';
  }

  function needEndpoint(t, name, what) {
    if (!missing[name]) return true;
    const msg = 'MISSING ENDPOINT ' + what + ': the daemon answers 404 not_found (route not implemented yet); re-run when it lands';
    if (process.env.E2E_ALLOW_MISSING === '1') {
      t.skip(msg);
      return false;
    }
    assert.fail(msg);
    return false;
  }

  const label = (l) => page.getByLabel(l, { exact: false });
  async function msgs(l) {
    const id = await label(l).first().getAttribute('id');
    return page.locator('#' + id + '-msg');
  }
  async function clearToasts() {
    await page.evaluate(() => document.getElementById('toasts').replaceChildren());
  }
  async function go(hash) {
    await page.evaluate((h) => { location.hash = h; }, hash);
    await page.locator('main h1').first().waitFor({ timeout: UI_TIMEOUT });
  }

  before(async () => {
    work = tmpdir('amtcertd-e2e-work-');
    caDir = path.join(work, 'ca');
    testca(caDir, 'init');
    rootSha256 = testca(caDir, 'show', '--field', 'sha256').trim();
    assert.match(rootSha256, /^[0-9a-f]{64}$/);
    d = await startDaemon();
    b = await launchBrowser({ viewport: { width: 1280, height: 900 } });
    page = b.page;
    page.setDefaultTimeout(UI_TIMEOUT);
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/api/v1/order-states') stateTableLoads++;
    });
    await probe('exports', '/exports');
    await probe('submitted', '/submitted');
    await probe('deployed', '/deployed');
    await probe('revoked', '/revoked');
    await probe('renew', '/renew');
  });

  after(async () => {
    if (b) await b.close();
    if (d) await d.stop();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('serves the dashboard with a strict CSP and security headers', async () => {
    const r = await fetch(d.base + '/');
    assert.equal(r.status, 200);
    const csp = r.headers.get('content-security-policy') || '';
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(r.headers.get('referrer-policy'));
    const html = await r.text();
    assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]|\sstyle=|\son[a-z]+=/i, 'no inline script, style or handlers');
    for (const f of fs.readdirSync(path.join(ROOT, 'web'))) {
      const x = await fetch(d.base + '/' + f);
      assert.equal(x.status, 200, f);
      /* the dashboard is ES modules: browsers run them only as JavaScript */
      if (f.endsWith('.js')) assert.match(x.headers.get('content-type') || '', /^text\/javascript/, f);
      if (d.embedded) {
        const served = Buffer.from(await x.arrayBuffer());
        assert.ok(served.equals(fs.readFileSync(path.join(ROOT, 'web', f))),
          'the binary embeds an old ' + f + ': rebuild it (cmake --build build-gcc --target amtcertd)');
      }
    }
  });

  it('signs in with the one-time login link', async () => {
    await page.goto(d.loginUrl);
    await page.getByRole('heading', { name: 'Orders', level: 1 }).waitFor();
    assert.doesNotMatch(page.url(), /login=/, 'the code leaves the address bar');
    const stored = await page.evaluate(() => sessionStorage.getItem('amtcertd.token'));
    assert.match(stored || '', /\S{16,}/, 'token in sessionStorage');
    await page.getByText('No orders yet').waitFor();
  });

  it('checks the new order form as you type and explains the rules', async () => {
    await page.getByRole('link', { name: 'New order' }).first().click();
    await page.getByRole('heading', { name: 'New order', level: 1 }).waitFor();
    await label('Common name (CN)').fill('amt_host');
    await (await msgs('Common name (CN)')).getByText('is not a host name').waitFor();
    await label('Common name (CN)').fill('rcs.other.org');
    await label('AMT DNS suffix').fill(SUFFIX);
    const cnMsgs = await msgs('Common name (CN)');
    await cnMsgs.getByText('Intel\'s rule: "example.com" does not end "rcs.other.org"').waitFor();
    assert.match(await cnMsgs.innerText(), /Fix: use a CN under example\.com/);
    /* .co.uk: 3 labels are enough for Intel, RPS compares 2 */
    await label('Common name (CN)').fill('amt.sales.contoso.co.uk');
    await label('AMT DNS suffix').fill('hq.contoso.co.uk');
    await cnMsgs.getByText('for .uk the last 3 labels are enough').waitFor();
    await label('Country (C)').fill('UK');
    await (await msgs('Country (C)')).getByText('use GB for the United Kingdom').waitFor();
    await label('State or province (ST)').fill('CA');
    await (await msgs('State or province (ST)')).getByText('looks abbreviated').waitFor();
    await page.getByText('How these rules work').click();
    await page.getByText('the last 3 for arpa fr cn').waitFor();
    /* the form refuses to send what it knows is wrong */
    await page.getByRole('button', { name: 'Create key and CSR' }).click();
    await page.getByText('One field needs fixing').waitFor();
    assert.equal(await label('Country (C)').evaluate((e) => document.activeElement === e), true, 'focus on the bad field');
  });

  it('creates the order and shows the CSR with copy and download', async () => {
    await label('Common name (CN)').fill(CN);
    await label('AMT DNS suffix').fill(SUFFIX);
    await (await msgs('Common name (CN)')).getByText('ends "amt.e2e.example.com" on a label boundary').waitFor();
    await label('Country (C)').fill('GB');
    await label('State or province (ST)').fill('Greater London');
    await label('City or locality (L)').fill('London');
    assert.equal(await (await msgs('State or province (ST)')).innerText(), '');
    await label('CA / vendor').fill('Sectigo');
    await label('Product').fill('AMT SSL Certificate');
    await label('DCV method').selectOption('email');
    await label('Validity (days)').fill('200');
    await label('External reference').fill('CHG-4711');
    const create = page.getByRole('button', { name: 'Create key and CSR' });
    /* what only the server knows (64 bytes, not characters) comes back
       next to the field that caused it */
    await label('Organization (O)').fill('Ä'.repeat(40));
    b.expect4xx(/^POST \/api\/v1\/orders$/, 422);
    await create.click();
    await (await msgs('Organization (O)')).getByText('longer than 64 bytes').waitFor();
    assert.equal(await label('Organization (O)').getAttribute('aria-invalid'), 'true');
    await page.getByText('amtcertd refused the order: 1 problem').waitFor();
    await label('Organization (O)').fill('Example Corp');
    assert.equal(await (await msgs('Organization (O)')).innerText(), '', 'typing clears the server\'s message');
    await create.click();
    await page.getByRole('heading', { name: 'Order created: ' + CN }).waitFor();
    const csr = await page.getByLabel('Certificate signing request (PEM)').inputValue();
    assert.match(csr, /^-----BEGIN CERTIFICATE REQUEST-----/);
    await page.getByRole('button', { name: 'Copy CSR' }).click();
    await page.locator('.toast').filter({ hasText: /Copied|Copy failed/ }).first().waitFor();
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSR' }).click()]);
    assert.equal(dl.suggestedFilename(), CN + '.csr');
    const csrPath = path.join(work, 'order.csr');
    await dl.saveAs(csrPath);
    assert.equal(fs.readFileSync(csrPath, 'utf8').trim(), csr.trim());
    const openssl = run('openssl', ['req', '-in', csrPath, '-noout', '-subject']);
    assert.equal(openssl.status, 0, openssl.stderr);
    assert.match(openssl.stdout, /CN\s*=\s*amt\.e2e\.example\.com/);
    await page.getByRole('link', { name: 'Open the order' }).click();
    await page.getByRole('heading', { name: CN, level: 1 }).waitFor();
    ids.main = /#\/orders\/([A-Za-z0-9_-]+)/.exec(page.url())[1];
    await page.locator('.order-head .badge', { hasText: 'Key ready' }).waitFor();
  });

  it('uploads the CA\'s zip and shows what each file was', async () => {
    const zip = path.join(work, 'delivery.zip');
    testca(caDir, 'sign', '--csr', path.join(work, 'order.csr'), '--out-zip', zip);
    await page.locator('.dropzone input[type=file]').setInputFiles(zip);
    await page.locator('.file-list').getByText('delivery.zip').waitFor();
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const result = page.locator('.upload-result');
    await result.getByText('Stored.').waitFor();
    const roles = await result.locator('table.certs tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.role));
    assert.deepEqual(roles.slice().sort(), ['intermediate', 'leaf', 'root']);
    assert.match(await result.innerText(), /delivery\.zip!/, 'the source of each certificate');
    await page.locator('.order-head .badge', { hasText: 'Issued' }).waitFor();
  });

  it('adds the test root\'s SHA-256 on the roots page', async () => {
    await page.getByRole('link', { name: 'AMT roots' }).click();
    await page.getByRole('heading', { name: 'Trusted AMT roots', level: 1 }).waitFor();
    await page.getByText(/\d+ entries, \d+ trusted/).waitFor();
    await label('Name').first().fill('e2e test root');
    await label('Certificate hash').fill(rootSha256.toUpperCase().match(/../g).join(':'));
    await (await msgs('Certificate hash')).getByText('A SHA-256 hash.').waitFor();
    await page.getByRole('button', { name: 'Add hash' }).click();
    const row = page.locator('table.roots tbody tr', { hasText: 'e2e test root' });
    await row.waitFor();
    assert.match(await row.innerText(), new RegExp(rootSha256));
    assert.equal(await row.locator('input[type=checkbox]').isChecked(), true);
  });

  it('verifies: the chain leaf to root, the AMT entry, a passing checklist', async () => {
    await go('#/orders/' + ids.main);
    await page.getByRole('button', { name: 'Verify', exact: true }).click();
    const report = page.locator('.report');
    await report.waitFor();
    await report.locator('.badge.overall-pass').waitFor();
    const chain = report.locator('.chain > li');
    assert.equal(await chain.count(), 3);
    assert.match(await chain.nth(0).innerText(), /Leaf[\s\S]*amt\.e2e\.example\.com/);
    assert.match(await chain.nth(2).innerText(), /Root[\s\S]*amtcertd Test Root CA/);
    assert.match(await chain.nth(2).innerText(), new RegExp(rootSha256));
    assert.match(await report.locator('.amt.ok').innerText(), /In the AMT list: "e2e test root", matched by SHA-256/);
    const statuses = await report.locator('.checklist > li').evaluateAll((li) => li.map((x) => x.dataset.check + ':' + x.dataset.status));
    assert.ok(statuses.length >= 10, statuses.join(' '));
    assert.deepEqual(statuses.filter((s) => !s.endsWith(':pass')), [], 'every check passes');
    await page.locator('.order-head .badge', { hasText: 'Ready' }).waitFor();
    /* the report is loaded again with the page */
    await page.reload();
    await page.locator('.report .badge.overall-pass').waitFor();
  });

  it('edits vendor fields with If-Match and explains a 412', async () => {
    const form = page.locator('form.edit');
    await form.getByLabel('Vendor order ID').fill('SECTIGO-123456');
    await form.getByLabel('Invoice').fill('INV-2026-11');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await page.locator('.toast', { hasText: 'Saved.' }).first().waitFor();
    await page.locator('.details').getByText('SECTIGO-123456').waitFor();
    /* someone else changes the order: the next save must be refused */
    const r = await d.api('PATCH', '/api/v1/orders/' + ids.main, { notes: 'changed by a script' });
    assert.equal(r.status, 200);
    b.expect4xx(/^PATCH \/api\/v1\/orders\/[^/]+$/, 412);
    await form.getByLabel('Price').fill('USD 113');
    await form.getByRole('button', { name: 'Save changes' }).click();
    await form.getByText('changed since you opened it').waitFor();
    await form.getByRole('button', { name: 'Reload the order' }).click();
    await page.waitForFunction(() => {
      const n = document.querySelector('form.edit textarea[name=notes]');
      return n && n.value === 'changed by a script';
    });
    assert.equal(await page.locator('form.edit').getByLabel('Price').inputValue(), '', 'the reload drops the refused edit');
  });

  it('refuses a bad PFX password before sending it', async () => {
    await page.getByRole('button', { name: 'Export…' }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.getByRole('heading', { name: 'Export ' + CN }).waitFor();
    await dlg.getByLabel('PFX password').fill('short');
    await dlg.getByText('At least 8 characters').waitFor();
    await dlg.getByLabel('PFX password').fill('pässwort-lang-genug');
    await dlg.getByText('Only ASCII').waitFor();
    await dlg.getByLabel('PFX password').fill('x'.repeat(65));
    assert.equal((await dlg.getByLabel('PFX password').inputValue()).length, 64, 'maxlength 64');
    await dlg.getByLabel('PFX password').fill('abc');
    await dlg.getByRole('button', { name: 'Export and download' }).click();
    await dlg.getByText('At least 8 characters').waitFor();
    await dlg.getByRole('button', { name: 'Close' }).click();
    await dlg.waitFor({ state: 'detached' });
  });

  it('exports a PFX that openssl opens with the password', async (t) => {
    if (!needEndpoint(t, 'exports', 'POST /api/v1/orders/{id}/exports')) return;
    await page.getByRole('button', { name: 'Export…' }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.getByLabel('Format').selectOption('pkcs12');
    await dlg.getByLabel('PFX encryption').selectOption('compat');
    await dlg.getByLabel('PFX password').fill(PFX_PASSWORD);
    await dlg.getByLabel('Repeat the password').fill(PFX_PASSWORD);
    await dlg.getByText(/Good\.|Strong\./).waitFor();
    /* the iteration count: 2,048 unless changed, priced, bounded */
    assert.equal(await dlg.getByLabel('Iteration count').inputValue(), '2048');
    await dlg.getByLabel('Iteration count').fill('999');
    await dlg.getByText('From 1,000 to 1,000,000').waitFor();
    await dlg.getByLabel('Iteration count').fill('1000');
    await dlg.getByText(/need about \d+ ms to open it/).waitFor();
    const [dl] = await Promise.all([
      page.waitForEvent('download', { timeout: 60000 }),
      dlg.getByRole('button', { name: 'Export and download' }).click(),
    ]);
    assert.match(dl.suggestedFilename(), /\.(pfx|p12)$/);
    const pfx = path.join(work, 'export.pfx');
    await dl.saveAs(pfx);
    const o = run('openssl', ['pkcs12', '-info', '-in', pfx, '-passin', 'pass:' + PFX_PASSWORD, '-nokeys']);
    assert.equal(o.status, 0, 'openssl pkcs12 -info failed:\n' + o.stderr);
    assert.equal(((o.stdout + o.stderr).match(/Iteration 1000\b/g) || []).length, 3, 'MAC, certificates, key at 1,000');
    assert.match(o.stdout, /subject=.*amt\.e2e\.example\.com/);
    assert.match(o.stdout, /amtcertd Test Root CA/);
    await dlg.waitFor({ state: 'detached' });
    await page.locator('.toast', { hasText: 'Saved ' }).first().waitFor();
    /* a PEM chain too */
    await page.getByRole('button', { name: 'Export…' }).click();
    await dlg.getByLabel('Format').selectOption('pem-chain');
    const [dl2] = await Promise.all([page.waitForEvent('download'), dlg.getByRole('button', { name: 'Export and download' }).click()]);
    const pem = path.join(work, 'chain.pem');
    await dl2.saveAs(pem);
    assert.equal((fs.readFileSync(pem, 'utf8').match(/BEGIN CERTIFICATE/g) || []).length, 3);
  });

  it('marks the order deployed', async (t) => {
    if (!needEndpoint(t, 'deployed', 'POST /api/v1/orders/{id}/deployed')) return;
    await page.getByRole('button', { name: 'Mark deployed' }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.getByLabel('Installed in').selectOption('rps');
    await dlg.getByLabel('Where').fill('rps01.example.com');
    await dlg.getByRole('button', { name: 'Mark deployed' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.locator('.order-head .badge', { hasText: 'Deployed' }).waitFor();
    await page.locator('.timeline').getByText('Deployed').first().waitFor();
  });

  it('stores a reissued leaf for a deployed order, verifies it again and says the state stays', async (t) => {
    if (!needEndpoint(t, 'deployed', 'POST /api/v1/orders/{id}/deployed')) return;
    const zip = path.join(work, 'reissue.zip');
    testca(caDir, 'sign', '--csr', path.join(work, 'order.csr'), '--out-zip', zip);
    await page.locator('.order-head .badge', { hasText: 'Deployed' }).waitFor();
    const uploads = async () => (await d.api('GET', '/api/v1/orders/' + ids.main + '/events')).data.items.filter((e) => e.type === 'upload').length;
    const before = await uploads();
    await clearToasts();
    await page.locator('.dropzone input[type=file]').setInputFiles(zip);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const result = page.locator('.upload-result');
    await result.getByText('The order stays').waitFor();
    const text = await result.innerText();
    assert.match(text, /The new leaf was verified again: All checks pass\. The order stays Deployed\./);
    assert.equal(await result.locator('table.certs tbody tr[data-role=leaf]').count(), 1, 'the new leaf is listed');
    await page.locator('.toast', { hasText: 'the order stays Deployed' }).first().waitFor();
    await page.locator('.order-head .badge', { hasText: 'Deployed' }).waitFor();
    assert.equal(await uploads(), before + 1, 'the upload is recorded');
  });

  it('rejects a leaf for another key and says why', async () => {
    const r = await d.api('POST', '/api/v1/orders', { subject: { common_name: 'amt2.e2e.example.com', organization: 'Example Corp', country: 'GB' }, dns_suffix: SUFFIX, vendor: { name: 'Sectigo' }, external_ref: 'CHG-4712' });
    assert.equal(r.status, 201);
    ids.second = r.data.id;
    testca(caDir, 'issue', '--cn', 'other.e2e.example.com', '--out-zip', path.join(work, 'other.zip'),
      '--out-pfx', path.join(work, 'other.pfx'), '--password', 'other-pass-1');
    await go('#/orders/' + ids.second);
    /* by drag and drop this time */
    const b64 = fs.readFileSync(path.join(work, 'other.zip')).toString('base64');
    const dt = await page.evaluateHandle(({ data, name }) => {
      const bin = atob(data);
      const u = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);
      const x = new DataTransfer();
      x.items.add(new File([u], name, { type: 'application/zip' }));
      return x;
    }, { data: b64, name: 'other.zip' });
    await page.locator('.dropzone').dispatchEvent('dragover', { dataTransfer: dt });
    await page.locator('.dropzone').dispatchEvent('drop', { dataTransfer: dt });
    await page.locator('.file-list').getByText('other.zip').waitFor();
    b.expect4xx(/^POST \/api\/v1\/orders\/[^/]+\/uploads$/, 422);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const err = page.locator('form.upload .form-errors');
    await err.getByText('issued for another key').waitFor();
    const text = await err.innerText();
    assert.match(text, /[0-9a-f]{64}[\s\S]*[0-9a-f]{64}/, 'both public-key fingerprints');
    assert.match(text, /Nothing was stored/);
    assert.equal(await err.getAttribute('data-code'), 'leaf_key_mismatch');
    await page.locator('.order-head .badge', { hasText: 'Key ready' }).waitFor();
  });

  it('shows a wrong PFX password next to the password field', async () => {
    await page.locator('.dropzone input[type=file]').setInputFiles(path.join(work, 'other.pfx'));
    await page.getByLabel('PFX password').fill('wrong-password');
    b.expect4xx(/^POST \/api\/v1\/orders\/[^/]+\/uploads$/, 422);
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    const m = await msgs('PFX password');
    await m.getByText('password is wrong').waitFor();
    assert.equal(await page.getByLabel('PFX password').getAttribute('aria-invalid'), 'true');
  });

  it('marks an order submitted', async (t) => {
    if (!needEndpoint(t, 'submitted', 'POST /api/v1/orders/{id}/submitted')) return;
    await page.getByRole('button', { name: 'Mark submitted' }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.getByLabel('Vendor order ID').fill('SECTIGO-777');
    await dlg.getByLabel('DCV approver').fill('admin@example.com');
    await dlg.getByLabel('DCV method').selectOption('email');
    await dlg.getByRole('button', { name: 'Mark submitted' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.locator('.order-head .badge', { hasText: 'Submitted' }).waitFor();
  });

  it('renews an order and cancels the renewal', async (t) => {
    if (!needEndpoint(t, 'renew', 'POST /api/v1/orders/{id}/renew')) return;
    await go('#/orders/' + ids.main);
    await page.getByRole('button', { name: 'Renew' }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.getByRole('button', { name: 'Create the renewal' }).click();
    await page.locator('.order-head').getByText('renews').waitFor();
    ids.renewal = /#\/orders\/([A-Za-z0-9_-]+)/.exec(page.url())[1];
    assert.notEqual(ids.renewal, ids.main);
    await page.locator('.order-head .badge', { hasText: 'Key ready' }).waitFor();
    await page.getByRole('button', { name: 'Cancel order' }).click();
    await dlg.getByLabel('Reason').fill('e2e: not needed');
    await dlg.getByRole('button', { name: 'Cancel order' }).click();
    await page.locator('.order-head .badge', { hasText: 'Cancelled' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Cancel order' }).count(), 0, 'no cancel button once cancelled');
  });

  it('cancels an order (transition buttons follow allowed_transitions)', async () => {
    const r = await d.api('POST', '/api/v1/orders', { subject: { common_name: 'old-rcs.example.com' }, dns_suffix: SUFFIX, external_ref: 'CHG-4000' });
    assert.equal(r.status, 201);
    ids.cancelled = r.data.id;
    await go('#/orders/' + ids.cancelled);
    assert.equal(await page.getByRole('button', { name: 'Export…' }).count(), 0, 'nothing to export yet');
    await page.getByRole('button', { name: 'Cancel order' }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.getByLabel('Reason').fill('replaced by amt.e2e.example.com');
    await dlg.getByRole('button', { name: 'Cancel order' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.locator('.order-head .badge', { hasText: 'Cancelled' }).waitFor();
    assert.equal(await page.locator('.order-actions button').count(), 0);
    await page.locator('.timeline').getByText('replaced by amt.e2e.example.com').waitFor();
  });

  it('records a revocation', async (t) => {
    if (!needEndpoint(t, 'revoked', 'POST /api/v1/orders/{id}/revoked')) return;
    const r = await d.api('POST', '/api/v1/orders', { subject: { common_name: 'kiosk.example.com' }, dns_suffix: SUFFIX, external_ref: 'SEC-17' });
    ids.revoked = r.data.id;
    const csr = path.join(work, 'kiosk.csr');
    fs.writeFileSync(csr, r.data.csr);
    const zip = path.join(work, 'kiosk.zip');
    testca(caDir, 'sign', '--csr', csr, '--out-zip', zip);
    const fd = new FormData();
    fd.append('file', new Blob([fs.readFileSync(zip)]), 'kiosk.zip');
    assert.equal((await d.api('POST', '/api/v1/orders/' + ids.revoked + '/uploads', fd)).status, 201);
    await go('#/orders/' + ids.revoked);
    await page.locator('.order-head .badge', { hasText: 'Issued' }).waitFor();
    await page.getByRole('button', { name: 'Revoke' }).click();
    const dlg = page.locator('dialog[open]');
    await dlg.getByLabel('Reason').fill('key compromise (laptop stolen)');
    await dlg.getByRole('button', { name: 'Mark revoked' }).click();
    await dlg.waitFor({ state: 'detached' });
    await page.locator('.order-head .badge', { hasText: 'Revoked' }).waitFor();
    assert.deepEqual(await page.locator('.order-actions button').allInnerTexts(), ['Renew'], 'a revoked order can only be renewed');
  });

  it('detaches a certificate uploaded by mistake, and shows why others cannot go', async () => {
    const r = await d.api('POST', '/api/v1/orders', { subject: { common_name: 'detach.example.com' }, dns_suffix: SUFFIX, external_ref: 'CHG-4800' });
    assert.equal(r.status, 201);
    const id = r.data.id;
    const base = '/api/v1/orders/' + id;
    const csr = path.join(work, 'detach.csr');
    fs.writeFileSync(csr, r.data.csr);
    const zip = path.join(work, 'detach.zip');
    testca(caDir, 'sign', '--csr', csr, '--out-zip', zip);
    const fd = new FormData();
    fd.append('file', new Blob([fs.readFileSync(zip)]), 'detach.zip');
    assert.equal((await d.api('POST', base + '/uploads', fd)).status, 201);
    const certs = (await d.api('GET', base + '/certificates')).data.items;
    assert.deepEqual(certs.map((c) => c.role).sort(), ['intermediate', 'leaf', 'root']);
    await go('#/orders/' + id);
    await page.locator('.order-head .badge', { hasText: 'Issued' }).waitFor();
    const stored = page.locator('details.stored');
    await stored.locator('summary').click();
    const row = (role) => stored.locator('table.certs tbody tr[data-role=' + role + ']');
    const dlg = page.locator('dialog[open]');
    const isDelete = (x) => x.request().method() === 'DELETE' && new URL(x.url()).pathname.startsWith(base + '/certificates/');
    /* Detach, confirm, and the answer to the DELETE */
    async function detach(role) {
      await row(role).getByRole('button', { name: /^Detach/ }).click();
      await dlg.getByRole('heading', { name: 'Detach this certificate?' }).waitFor();
      const [answer] = await Promise.all([page.waitForResponse(isDelete), dlg.getByRole('button', { name: 'Detach', exact: true }).click()]);
      return answer;
    }
    /* a refusal: the daemon's own words in the dialog, nothing changed */
    async function refused(role, status) {
      const answer = await detach(role);
      assert.equal(answer.status(), status);
      const problem = await answer.json();
      assert.ok(problem.detail, 'the problem has a detail');
      await dlg.locator('.form-errors').getByText(problem.detail).waitFor();
      await dlg.getByRole('button', { name: 'Close' }).click();
      await dlg.waitFor({ state: 'detached' });
      return problem;
    }

    /* the root was not meant for this order: it goes */
    await clearToasts();
    assert.equal((await detach('root')).status(), 200);
    await dlg.waitFor({ state: 'detached' });
    await page.locator('.toast', { hasText: 'Detached amtcertd Test Root CA (root).' }).first().waitFor();
    await stored.locator('summary', { hasText: '(2)' }).waitFor();
    assert.equal(await row('root').count(), 0);
    assert.equal(await stored.evaluate((x) => x.open), true, 'the list stays unfolded');
    assert.deepEqual((await d.api('GET', base + '/certificates')).data.items.map((c) => c.role).sort(), ['intermediate', 'leaf']);
    await page.locator('.timeline').getByText('Certificate detached').waitFor();

    /* the order's own leaf stays */
    b.expect4xx(/^DELETE \/api\/v1\/orders\/[^/]+\/certificates\/[0-9a-f]{64}$/, 409);
    await refused('leaf', 409);
    assert.ok((await d.api('GET', base + '/certificates')).data.items.some((c) => c.role === 'leaf'), 'the leaf is still there');
    /* detached meanwhile (the page is stale): 404 */
    const inter = certs.find((c) => c.role === 'intermediate');
    assert.equal((await d.api('DELETE', base + '/certificates/' + inter.sha256)).status, 200);
    b.expect4xx(/^DELETE \/api\/v1\/orders\/[^/]+\/certificates\/[0-9a-f]{64}$/, 404);
    await refused('intermediate', 404);
    /* closed meanwhile: 409, and once reloaded no Detach is offered */
    assert.equal((await d.api('POST', base + '/cancel', { reason: 'e2e: detach test' })).status, 200);
    b.expect4xx(/^DELETE \/api\/v1\/orders\/[^/]+\/certificates\/[0-9a-f]{64}$/, 409);
    await refused('leaf', 409);
    await go('#/orders');
    await go('#/orders/' + id);
    await page.locator('.order-head .badge', { hasText: 'Cancelled' }).waitFor();
    await page.locator('details.stored summary').click();
    assert.equal(await page.locator('details.stored button').count(), 0, 'nothing to detach from a closed order');
  });

  it('inspects a file without storing it', async () => {
    await page.getByRole('link', { name: 'Inspect' }).click();
    await page.getByRole('heading', { name: 'Inspect', level: 1 }).waitFor();
    await page.locator('.dropzone input[type=file]').setInputFiles(path.join(work, 'other.pfx'));
    await page.getByLabel('PFX password').fill('other-pass-1');
    await page.getByLabel('AMT DNS suffix').fill(SUFFIX);
    await page.getByRole('button', { name: 'Inspect', exact: true }).click();
    const out = page.locator('.inspect-out');
    await out.locator('.report').waitFor();
    const roles = await out.locator('table.certs tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.role));
    assert.ok(roles.includes('leaf') && roles.includes('root'), roles.join(','));
    await out.getByText('A private key is included and matches the leaf.').waitFor();
    assert.equal(await out.locator('.chain > li').count(), 3);
    await out.locator('.badge.overall-pass').waitFor();
  });

  it('lists the orders, those needing action first, filterable and sortable', async () => {
    /* one issued under a CA whose root AMT does not trust */
    const r = await d.api('POST', '/api/v1/orders', { subject: { common_name: 'lab.example.com' }, dns_suffix: SUFFIX, vendor: { name: 'Other CA', order_id: 'OC-99' }, external_ref: 'LAB-1' });
    ids.failing = r.data.id;
    const csr = path.join(work, 'lab.csr');
    fs.writeFileSync(csr, r.data.csr);
    const other = path.join(work, 'otherca');
    testca(other, 'init');
    const zip = path.join(work, 'lab.zip');
    testca(other, 'sign', '--csr', csr, '--out-zip', zip);
    const fd = new FormData();
    fd.append('file', new Blob([fs.readFileSync(zip)]), 'lab.zip');
    assert.equal((await d.api('POST', '/api/v1/orders/' + ids.failing + '/uploads', fd)).status, 201);
    assert.equal((await d.api('POST', '/api/v1/orders/' + ids.failing + '/verify', {})).data.overall, 'fail');

    await page.getByRole('link', { name: 'Orders', exact: true }).click();
    await page.getByRole('heading', { name: 'Orders', level: 1 }).waitFor();
    const rows = page.locator('table.orders tbody tr');
    await rows.first().waitFor();
    const firstCn = await rows.first().locator('a.cn').innerText();
    assert.equal(firstCn, 'lab.example.com', 'the issued-but-failing order comes first');
    const lab = rows.filter({ hasText: 'lab.example.com' });
    assert.match(await lab.innerText(), /Issued[\s\S]*Verify the chain/);
    assert.match(await lab.innerText(), /OC-99[\s\S]*LAB-1/);
    /* the daemon sorts: a click asks it again, the rows are its answer */
    await page.getByRole('button', { name: /Common name/ }).click();
    assert.match(await page.locator('th[aria-sort=ascending]').innerText(), /Common name/);
    await page.locator('table.orders[data-sort="cn asc"]').waitFor();
    const names = await rows.locator('a.cn').allInnerTexts();
    assert.deepEqual(names, names.slice().sort());
    await page.getByRole('button', { name: /Common name/ }).click();
    await page.locator('table.orders[data-sort="cn desc"]').waitFor();
    assert.deepEqual(await rows.locator('a.cn').allInnerTexts(), names.slice().reverse());
    await page.getByRole('button', { name: /State/ }).click();
    await page.locator('table.orders[data-sort="needs_action asc"]').waitFor();
    await page.getByLabel('State').selectOption('cancelled');
    await page.waitForFunction(() => [...document.querySelectorAll('table.orders tbody tr .badge')].every((x) => x.textContent === 'Cancelled'));
    await page.getByLabel('State').selectOption('');
    await page.getByLabel('Search common names').fill('lab.');
    await page.waitForFunction(() => document.querySelectorAll('table.orders tbody tr').length === 1);
    /* the search finds external references too */
    await page.getByLabel('Search common names').fill('lab-1');
    await page.waitForFunction(() => document.querySelectorAll('table.orders tbody tr').length === 1);
    assert.equal(await rows.first().locator('a.cn').innerText(), 'lab.example.com');
    await page.getByLabel('Search common names').fill('');
    await page.waitForFunction(() => document.querySelectorAll('table.orders tbody tr').length > 1);
  });

  it('takes the order states from the daemon, once per page load', async () => {
    const r = await d.api('GET', '/api/v1/order-states');
    assert.equal(r.status, 200, 'GET /api/v1/order-states');
    const names = r.data.states.map((s) => s.name);
    assert.ok(names.includes('draft') && names.includes('cancelled'), names.join(' '));
    assert.ok(stateTableLoads >= 1, 'the dashboard loads the table');
    const loads = stateTableLoads;
    for (const h of ['#/new', '#/inspect', '#/roots', '#/orders/' + ids.main, '#/orders']) await go(h);
    assert.equal(stateTableLoads, loads, 'no new load while moving between pages');
    const options = await page.getByLabel('State').locator('option').evaluateAll((os) => os.map((o) => o.value));
    assert.deepEqual(options, [''].concat(names), 'the filter offers the daemon\'s states, in its order');
  });

  it('is usable by keyboard alone', async () => {
    await go('#/orders');
    await page.keyboard.press('Tab');
    const seen = [];
    for (let i = 0; i < 12; i++) {
      seen.push(await page.evaluate(() => {
        const e = document.activeElement;
        return e.tagName + ':' + (e.textContent || e.getAttribute('aria-label') || e.id || '').trim().slice(0, 30);
      }));
      await page.keyboard.press('Tab');
    }
    assert.ok(seen.some((s) => s.startsWith('A:New order')), seen.join(' | '));
    assert.ok(seen.some((s) => s.startsWith('SELECT')), seen.join(' | '));
    assert.ok(seen.some((s) => s.startsWith('BUTTON:State')), seen.join(' | '));
    /* every control has a label */
    for (const h of ['#/orders', '#/new', '#/inspect', '#/roots', '#/orders/' + ids.main]) {
      await go(h);
      const unlabeled = await page.evaluate(() => [...document.querySelectorAll('input, select, textarea')]
        .filter((e) => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
        .map((e) => e.outerHTML.slice(0, 80)));
      assert.deepEqual(unlabeled, [], h);
    }
  });

  it('takes screenshots at 1280 and 390 pixels', async (t) => {
    const dir = screenshotDir();
    t.diagnostic('screenshots in ' + dir);
    for (const [w, h] of [[1280, 900], [390, 844]]) {
      await page.setViewportSize({ width: w, height: h });
      await go('#/orders');
      await page.locator('table.orders tbody tr').first().waitFor();
      await page.mouse.move(0, 0);
      await clearToasts();
      await page.screenshot({ path: path.join(dir, 'orders-' + w + '.png'), fullPage: true });
      await go('#/orders/' + ids.main);
      await page.locator('.report .checklist').waitFor();
      await clearToasts();
      await page.screenshot({ path: path.join(dir, 'order-' + w + '.png'), fullPage: true });
    }
    /* nothing wider than a phone */
    await page.setViewportSize({ width: 390, height: 844 });
    for (const h of ['#/orders', '#/new', '#/inspect', '#/roots', '#/orders/' + ids.main, '#/orders/' + ids.failing]) {
      await go(h);
      await page.waitForLoadState('networkidle');
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= 390, h + ' is ' + wide + ' px wide at 390');
    }
    await page.setViewportSize({ width: 1280, height: 900 });
    for (const f of ['orders-1280', 'orders-390', 'order-1280', 'order-390']) {
      assert.ok(fs.statSync(path.join(dir, f + '.png')).size > 10000, f);
    }
  });

  it('counts every order on the daemon and pages the list from it', async () => {
    /* more orders than a page: 60 around one CSR made here */
    const key = path.join(work, 'bulk.key');
    const csrFile = path.join(work, 'bulk.csr');
    const made = run('openssl', ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-subj', '/O=Example Corp/CN=bulk.' + SUFFIX, '-out', csrFile]);
    assert.equal(made.status, 0, made.stderr);
    const csr = fs.readFileSync(csrFile, 'utf8');
    for (let i = 0; i < 60; i++) {
      assert.equal((await d.api('POST', '/api/v1/orders', { csr, dns_suffix: SUFFIX, external_ref: 'BULK-' + i })).status, 201);
    }
    /* every order, by the API, page after page: the reference */
    const all = [];
    let cursor = null;
    do {
      const r = await d.api('GET', '/api/v1/orders?sort=needs_action&limit=7' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
      assert.equal(r.status, 200);
      all.push(...r.data.items);
      cursor = r.data.next_cursor;
    } while (cursor);
    const byGroup = {};
    for (const o of all) byGroup[o.group] = (byGroup[o.group] || 0) + 1;
    assert.ok(all.length > 60 && byGroup.needs_action > 50, JSON.stringify(byGroup));

    const cards = async () => {
      const out = {};
      for (const g of ['needs_action', 'waiting', 'in_use', 'closed']) {
        out[g] = Number((await page.locator('.summary .stat[data-group="' + g + '"] strong').innerText()).replace(/,/g, ''));
      }
      return out;
    };
    await go('#/orders');
    await page.locator('table.orders[data-sort="needs_action asc"]').waitFor();
    const rows = page.locator('table.orders tbody tr');
    /* the counters are the daemon's, over every order, not over the page */
    assert.deepEqual(await cards(), { needs_action: byGroup.needs_action || 0, waiting: byGroup.waiting || 0, in_use: byGroup.in_use || 0, closed: byGroup.closed || 0 });
    assert.equal(await rows.count(), 50);
    assert.match(await page.locator('.list-status').innerText(), new RegExp('^50 of ' + all.length + ' orders'));
    /* Load more follows the daemon's cursor, in the daemon's order */
    await page.getByRole('button', { name: 'Load more' }).click();
    await page.waitForFunction((n) => document.querySelectorAll('table.orders tbody tr').length === n, Math.min(100, all.length));
    const ids = await rows.evaluateAll((trs) => trs.map((t) => t.dataset.id));
    assert.deepEqual(ids, all.slice(0, ids.length).map((o) => o.id));
    /* a search counts what it finds: BULK-1 and BULK-10..19 */
    await page.getByLabel('Search common names').fill('bulk-1');
    await page.waitForFunction(() => document.querySelectorAll('table.orders tbody tr').length === 11);
    assert.deepEqual(await cards(), { needs_action: 11, waiting: 0, in_use: 0, closed: 0 });
    await page.getByLabel('Search common names').fill('');
    await page.waitForFunction(() => document.querySelectorAll('table.orders tbody tr').length === 50);
  });

  it('signs out, and back in with a pasted token', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to amtcertd' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('amtcertd.token')), null);
    await page.getByLabel('API token').fill('amtc_not-a-real-token');
    b.expect4xx(/^GET \/api\/v1\/orders$/, 401);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('This token was not accepted').waitFor();
    await page.getByLabel('API token').fill(d.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Orders', level: 1 }).waitFor();
    /* a used login link does not sign in again */
    await page.getByRole('button', { name: 'Sign out' }).click();
    b.expect4xx(/^POST \/api\/v1\/login$/, 401);
    await page.goto(d.loginUrl);
    await page.getByText('already used or is not valid').waitFor();
  });

  it('ran without console errors, failed requests, 5xx answers or CSP violations', () => {
    assert.deepEqual(b.problems(), []);
    assert.deepEqual(b.unusedExpectations(), [], 'every deliberate 4xx happened');
  });
});
