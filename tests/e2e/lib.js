'use strict';
/*
 * Helpers for the dashboard's end-to-end tests: the real daemon on an
 * ephemeral port, headless Debian chromium driven by playwright-core, the
 * test CA, and a watch on everything that must not happen in the browser
 * (console errors, page errors, failed requests, 5xx answers, CSP
 * violations).
 *
 * Environment:
 *   AMTCERTD_BIN      the daemon (default build-gcc/amtcertd)
 *   E2E_EMBEDDED=1    serve the copy of web/ built into the binary instead
 *                     of --web-dir web (checks it is current, too)
 *   CHROMIUM          the browser (default /usr/bin/chromium)
 *   E2E_SCREENSHOTS   directory for screenshots (default: a temp dir;
 *                     "npm run screenshots" writes docs/screenshots)
 *   E2E_HEADED=1      show the browser (needs a display)
 */
const { spawn, spawnSync, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.resolve(ROOT, process.env.AMTCERTD_BIN || 'build-gcc/amtcertd');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TESTCA = path.join(ROOT, 'tests', 'tools', 'testca.py');

function tmpdir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/*
 * Starts `amtcertd serve` on 127.0.0.1:0 with a fresh state directory and
 * resolves once it prints where it listens and the one-time login link.
 */
async function startDaemon(opts) {
  const o = opts || {};
  if (!fs.existsSync(BIN)) {
    throw new Error('no daemon binary at ' + BIN + ': build it (cmake --build build-gcc --target amtcertd) or set AMTCERTD_BIN');
  }
  const ownState = !o.stateDir;
  const stateDir = o.stateDir || tmpdir('amtcertd-e2e-state-');
  const args = ['serve', '--listen', '127.0.0.1:0', '--state-dir', stateDir];
  const embedded = o.embedded !== undefined ? o.embedded : process.env.E2E_EMBEDDED === '1';
  if (!embedded) args.push('--web-dir', path.join(ROOT, 'web'));
  const proc = spawn(BIN, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = [];
  const errlog = [];
  readline.createInterface({ input: proc.stderr }).on('line', (l) => {
    errlog.push(l);
    if (process.env.E2E_DAEMON_LOG === '1') process.stderr.write('[amtcertd] ' + l + '\n');
  });
  const ready = await new Promise((resolve, reject) => {
    let base = null;
    let loginUrl = null;
    const timer = setTimeout(() => reject(new Error('amtcertd did not start within 20 s:\n' + log.concat(errlog).join('\n'))), 20000);
    proc.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error('amtcertd exited (' + (code !== null ? code : sig) + ') before it listened:\n' + log.concat(errlog).join('\n')));
    });
    readline.createInterface({ input: proc.stdout }).on('line', (l) => {
      log.push(l);
      let m = /listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(l);
      if (m) base = m[1];
      if (base && /^API token for scripts:/.test(l)) {
        // the daemon prints its login link only on a terminal: mint one
        const out = execFileSync(BIN, ['login-link', '--state-dir', stateDir], { encoding: 'utf8' });
        m = /(http:\/\/127\.0\.0\.1:\d+\/#login=[A-Za-z0-9_.~-]+)/.exec(out);
        if (m) loginUrl = m[1];
      }
      if (base && loginUrl) {
        clearTimeout(timer);
        resolve({ base, loginUrl });
      }
    });
  });
  proc.removeAllListeners('exit');
  const token = fs.readFileSync(path.join(stateDir, 'admin.token'), 'utf8').trim();
  const d = {
    proc, stateDir, base: ready.base, loginUrl: ready.loginUrl, token, embedded, stderr: errlog,
    async api(method, p, body, headers) {
      const h = Object.assign({ Authorization: 'Bearer ' + token }, headers || {});
      let b;
      if (body !== undefined && !(body instanceof FormData) && !(body instanceof Uint8Array)) {
        h['Content-Type'] = 'application/json';
        b = JSON.stringify(body);
      } else {
        b = body;
      }
      const r = await fetch(ready.base + p, { method, headers: h, body: b });
      const ct = r.headers.get('content-type') || '';
      const data = ct.includes('json') ? await r.json() : Buffer.from(await r.arrayBuffer());
      return { status: r.status, data, headers: r.headers };
    },
    async stop() {
      if (proc.exitCode === null && !proc.signalCode) await stopProc();
      if (ownState) fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  function stopProc() {
    return new Promise((resolve) => {
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      proc.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }
  return d;
}

/*
 * Launches chromium with a fresh profile and watches the page. problems()
 * lists what went wrong; expect4xx(re, status) allows one deliberate 4xx
 * answer (and the console line Chromium prints for it).
 */
async function launchBrowser(opts) {
  const o = opts || {};
  let chromium;
  try {
    ({ chromium } = require('playwright-core'));
  } catch {
    throw new Error('playwright-core is missing: run "npm ci" in the repository root');
  }
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error('no browser at ' + CHROMIUM + ': apt-get install chromium (or set CHROMIUM)');
  }
  const userDataDir = tmpdir('amtcertd-e2e-profile-');
  const downloads = tmpdir('amtcertd-e2e-downloads-');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: process.env.E2E_HEADED !== '1',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'].filter((a) => a !== '--headless' || process.env.E2E_HEADED !== '1'),
    acceptDownloads: true,
    downloadsPath: downloads,
    viewport: o.viewport || { width: 1280, height: 900 },
    locale: 'en-US',
    timezoneId: 'UTC',
    colorScheme: 'light',
    reducedMotion: 'reduce',
  });
  const events = { console: [], pageErrors: [], failed: [], responses: [], csp: [] };
  const expected = [];

  /* Any CSP violation is reported, whether or not Chromium logs it. */
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error('Content Security Policy violation: ' + e.violatedDirective + ' blocked ' + (e.blockedURI || 'inline'));
    });
  });

  function watch(page) {
    page.on('console', (m) => {
      const text = m.text();
      if (/Content Security Policy/i.test(text)) events.csp.push(text);
      if (m.type() === 'error') events.console.push({ text, url: m.location() && m.location().url });
    });
    page.on('pageerror', (e) => events.pageErrors.push(String(e && e.stack ? e.stack : e)));
    page.on('requestfailed', (r) => {
      const f = r.failure();
      events.failed.push(r.method() + ' ' + r.url() + ': ' + (f ? f.errorText : '?'));
    });
    page.on('response', (r) => {
      if (r.status() >= 400) events.responses.push({ method: r.request().method(), url: r.url(), status: r.status() });
    });
  }
  context.on('page', watch);
  const page = context.pages()[0] || await context.newPage();
  watch(page);

  function expect4xx(re, status) {
    expected.push({ re, status, used: 0 });
  }

  /* Everything that went wrong, in words; [] when the run was clean. */
  function problems() {
    const out = [];
    for (const e of expected) e.used = 0;
    for (const c of events.csp) out.push('CSP violation: ' + c);
    for (const e of events.pageErrors) out.push('page error: ' + e);
    for (const f of events.failed) out.push('failed request: ' + f);
    const unexpected = [];
    for (const r of events.responses) {
      const path = new URL(r.url).pathname;
      if (r.status >= 500) {
        out.push('server error: ' + r.method + ' ' + path + ' -> ' + r.status);
        continue;
      }
      const x = expected.find((e) => !e.used && e.status === r.status && e.re.test(r.method + ' ' + path));
      if (x) x.used = 1;
      else unexpected.push(r);
    }
    for (const r of unexpected) out.push('unexpected answer: ' + r.method + ' ' + new URL(r.url).pathname + ' -> ' + r.status);
    /* Chromium logs every 4xx/5xx answer as a console error; those of the
       expected answers are fine, anything else is not. */
    let allowance = expected.filter((e) => e.used).length;
    for (const c of events.console) {
      if (/Content Security Policy/i.test(c.text)) continue; /* counted above */
      if (/Failed to load resource: the server responded with a status of 4\d\d/.test(c.text) && allowance > 0) {
        allowance--;
        continue;
      }
      out.push('console error: ' + c.text + (c.url ? ' (' + c.url + ')' : ''));
    }
    return out;
  }

  /* The expected 4xx answers that never came. */
  function unusedExpectations() {
    problems();
    return expected.filter((e) => e.used === 0).map((e) => e.status + ' ' + e.re);
  }

  return {
    context, page, downloads, events, expect4xx, problems, unusedExpectations,
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
      fs.rmSync(downloads, { recursive: true, force: true });
    },
  };
}

/* The test CA (tests/tools/testca.py); returns stdout, throws with stderr. */
function testca(workdir, ...args) {
  const r = spawnSync('python3', [TESTCA, '--workdir', workdir, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('testca.py ' + args.join(' ') + ' failed (' + r.status + '):\n' + r.stdout + r.stderr);
  return r.stdout;
}

function run(cmd, args) {
  return spawnSync(cmd, args, { encoding: 'utf8' });
}

function screenshotDir() {
  const d = process.env.E2E_SCREENSHOTS ? path.resolve(ROOT, process.env.E2E_SCREENSHOTS) : tmpdir('amtcertd-e2e-shots-');
  fs.mkdirSync(d, { recursive: true });
  return d;
}

module.exports = { ROOT, BIN, startDaemon, launchBrowser, testca, run, tmpdir, screenshotDir };
