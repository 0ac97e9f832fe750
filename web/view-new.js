/*
 * view-new.js: #/new, the new order form, checked as you type with the
 * rules of names.js; the server's 422 goes next to the fields too.
 */
import { api, randomId } from './client.js';
import { addGeneral, applyProblem, busy, clearServer, formModel, makeField, progressBox, setClient, val } from './forms.js';
import { append, clear, h, replace } from './dom.js';
import { COUNTRIES, TLD_DEPTH, fqdnProblem, intelSuffix, lastLabels, privateTld, rpsSuffix, stateAbbreviated } from './names.js';
import { csrPanel, dcvOptions, warningsList } from './order-common.js';
import { main, pageHeader, setShell } from './shell.js';
import { stateBadge } from './states.js';
import { announce } from './toast.js';

function rulesExplained() {
  const depth2 = Object.keys(TLD_DEPTH).filter((t) => TLD_DEPTH[t] === 2).join(' ');
  const depth3 = Object.keys(TLD_DEPTH).filter((t) => TLD_DEPTH[t] === 3).join(' ');
  return h('details', { class: 'rules' },
    h('summary', null, 'How these rules work'),
    h('dl', null,
      h('dt', null, 'Common name'),
      h('dd', null, 'The fully qualified name of the provisioning server (RCS, EMA, RPS host), e.g. rcs.example.com, or a wildcard for the whole domain, *.example.com. Letters, digits and "-", at least two labels, at most 64 characters. Private names (.local, .lan, .corp…) cannot get a public certificate: set the MEBx "PKI DNS Suffix" to a public domain you own.'),
      h('dt', null, 'DNS suffix (Intel\'s rule)'),
      h('dd', null, 'AMT trusts the suffix it learns from DHCP option 15 or the MEBx PKI DNS Suffix. The suffix must end the CN on a label boundary (a leading "*." is removed first): "example.com" fits "rcs.example.com", not "rcs.myexample.com". Since AMT 2.6 the last labels are enough for some top-level domains: the last 2 labels for ' + depth2 +
        '; the last 3 for ' + depth3 + '. For other top-level domains only the exact suffix counts.'),
      h('dt', null, 'Open AMT RPS'),
      h('dd', null, 'RPS compares only the last two labels, byte for byte. For co.uk-style domains that differs from Intel\'s rule; you see both verdicts.'),
      h('dt', null, 'Country'),
      h('dd', null, 'Two upper-case letters of ISO 3166-1: US, DE, GB (not UK).'),
      h('dt', null, 'State or province'),
      h('dd', null, 'Spelled out, as CAs check it against registries: California, not CA; New South Wales, not NSW.')));
}

function newOrderFields() {
  return {
    cn: makeField({ name: 'subject.common_name', label: 'Common name (CN)', required: true, attrs: { autocomplete: 'off', spellcheck: 'false', placeholder: 'rcs.example.com', maxlength: '64' },
      hint: 'The provisioning server\'s FQDN, or *.domain for a wildcard.' }),
    suffix: makeField({ name: 'dns_suffix', label: 'AMT DNS suffix', attrs: { autocomplete: 'off', spellcheck: 'false', placeholder: 'example.com', maxlength: '253' },
      hint: 'The domain AMT devices get from DHCP option 15 or the MEBx PKI DNS Suffix. The CN must fit it.' }),
    allow: makeField({ name: 'allow_suffix_mismatch', label: 'Allow a CN that does not fit the suffix (I set the MEBx PKI DNS Suffix myself)', type: 'checkbox', wide: true }),
    o: makeField({ name: 'subject.organization', label: 'Organization (O)', attrs: { autocomplete: 'organization', maxlength: '64' }, hint: 'Your company\'s legal name, as the CA will validate it.' }),
    ou: makeField({ name: 'subject.organizational_unit', label: 'Organizational unit (OU)', attrs: { maxlength: '64' }, hint: 'Optional; public CAs drop it.' }),
    l: makeField({ name: 'subject.locality', label: 'City or locality (L)', attrs: { autocomplete: 'address-level2', maxlength: '128' } }),
    st: makeField({ name: 'subject.state', label: 'State or province (ST)', attrs: { autocomplete: 'address-level1', maxlength: '128' }, hint: 'Spelled out: California, not CA.' }),
    c: makeField({ name: 'subject.country', label: 'Country (C)', attrs: { autocomplete: 'off', maxlength: '2', placeholder: 'US', class: 'short', spellcheck: 'false' }, hint: 'Two letters, ISO 3166-1.' }),
    bits: makeField({ name: 'key.bits', label: 'RSA key size', type: 'select', options: [['2048', '2048 bits (recommended)'], ['3072', '3072 bits'], ['4096', '4096 bits']] }),
    vname: makeField({ name: 'vendor.name', label: 'CA / vendor', attrs: { placeholder: 'Sectigo, DigiCert, GoDaddy…', maxlength: '256' } }),
    vproduct: makeField({ name: 'vendor.product', label: 'Product', attrs: { placeholder: 'AMT SSL Certificate', maxlength: '256' } }),
    vorder: makeField({ name: 'vendor.order_id', label: 'Vendor order ID', attrs: { maxlength: '256' }, hint: 'Fill in after buying, or when marking it submitted.' }),
    vinvoice: makeField({ name: 'vendor.invoice', label: 'Invoice number', attrs: { maxlength: '256' } }),
    vapprover: makeField({ name: 'vendor.approver', label: 'DCV approver', attrs: { placeholder: 'admin@example.com', maxlength: '256' }, hint: 'Who receives the domain control validation.' }),
    vdcv: makeField({ name: 'vendor.dcv_method', label: 'DCV method', type: 'select', options: dcvOptions('Not chosen yet') }),
    vprice: makeField({ name: 'vendor.price', label: 'Price', attrs: { placeholder: 'USD 113', maxlength: '256' } }),
    vdays: makeField({ name: 'vendor.validity_days', label: 'Validity (days)', type: 'number', attrs: { min: '1', max: '3650', step: '1', inputmode: 'numeric', placeholder: '200' }, hint: 'Public TLS certificates: at most 200 days since March 2026.' }),
    ref: makeField({ name: 'external_ref', label: 'External reference', attrs: { placeholder: 'CHG-1234', maxlength: '256' }, hint: 'A ticket or change number; the list can be filtered by it.' }),
    notes: makeField({ name: 'notes', label: 'Notes', type: 'textarea', rows: 3, wide: true, attrs: { maxlength: '4096' } }),
  };
}

/* The messages for the CN; required shows "required" on an empty one. */
function cnMessages(cn, required) {
  if (!cn) {
    return required ? [{ level: 'error', text: 'A common name is required.', fix: 'the FQDN of the provisioning server, e.g. rcs.example.com' }] : [];
  }
  const why = fqdnProblem(cn, true);
  if (why) return [{ level: 'error', text: '"' + cn + '" is not a host name: it ' + why + '.', fix: 'use the host\'s full DNS name (rcs.example.com) or a leftmost wildcard (*.example.com)' }];
  if (cn.length > 64) return [{ level: 'error', text: 'The CN is longer than 64 characters (the X.509 limit).', fix: 'use a shorter name or a wildcard' }];
  if (cn === '*.' + lastLabels(cn.slice(2), 1) || (cn.startsWith('*.') && cn.slice(2).split('.').length < 2)) return [{ level: 'error', text: 'A wildcard needs a domain under a top-level domain (*.example.com).' }];
  if (privateTld(cn)) return [{ level: 'error', text: '".' + privateTld(cn) + '" is a private top-level domain: no public CA issues for it.', fix: 'use a public domain you own and set the MEBx "PKI DNS Suffix" of the devices to it (Intel KB 000100444)' }];
  return [{ level: 'ok', text: cn.startsWith('*.') ? 'A wildcard: it counts as "' + cn.slice(2) + '" for the suffix rule.' : 'A valid host name.' }];
}

/* Intel's verdict on a valid CN and suffix, as a message for the CN. */
function intelMessage(cn, suffix, allow, intel) {
  const base = cn.startsWith('*.') ? cn.slice(2) : cn;
  if (intel.ok && intel.how === 'boundary') return { level: 'ok', text: 'Intel\'s rule: "' + suffix + '" ends "' + base + '" on a label boundary.' };
  if (intel.ok) return { level: 'ok', text: 'Intel\'s rule: for .' + intel.tld + ' the last ' + intel.depth + ' labels are enough, and both end in "' + intel.tail + '".' };
  const why = intel.depth
    ? '"' + suffix + '" does not end "' + base + '" on a label boundary, and for .' + intel.tld + ' the last ' + intel.depth + ' labels ("' + intel.tail + '") must match too.'
    : '"' + suffix + '" does not end "' + base + '" on a label boundary (for .' + lastLabels(base, 1) + ' only the exact suffix counts).';
  return {
    level: allow ? 'warn' : 'error',
    text: 'Intel\'s rule: ' + why + (allow ? ' Allowed because you ticked the box below.' : ''),
    fix: allow ? undefined : 'use a CN under ' + suffix + ', or set the MEBx PKI DNS Suffix to the CN\'s domain and tick "Allow"',
  };
}

/*
 * The CN against the suffix: {cn: [...], suffix: [...], box}, box being
 * the verdict line ({kids, cls}), or null to leave the line's tone alone.
 */
function suffixMessages(cn, suffix, allow) {
  const cnOk = cn && !fqdnProblem(cn, true);
  if (!suffix) {
    if (!cnOk) return { cn: [], suffix: [], box: null };
    return { cn: [], suffix: [{ level: 'info', text: 'Without a suffix the CN cannot be checked against AMT\'s rule now; Verify checks it later with the suffix you give there.' }], box: { kids: [], cls: 'rule-box' } };
  }
  const why = fqdnProblem(suffix, false);
  if (why) return { cn: [], suffix: [{ level: 'error', text: '"' + suffix + '" is not a DNS domain: it ' + why + '.', fix: 'the domain of DHCP option 15 or of the MEBx PKI DNS Suffix, e.g. example.com' }], box: null };
  if (!cnOk) return { cn: [], suffix: [], box: null };
  const intel = intelSuffix(cn, suffix);
  const rps = rpsSuffix(cn, suffix);
  const rpsMsg = rps
    ? { level: 'ok', text: 'Open AMT RPS: the last two labels match ("' + lastLabels(cn, 2) + '").' }
    : { level: intel.ok ? 'warn' : 'info', text: 'Open AMT RPS compares only the last two labels ("' + lastLabels(cn, 2) + '" vs "' + lastLabels(suffix, 2) + '") and will reject it.' };
  return {
    cn: [intelMessage(cn, suffix, allow, intel)],
    suffix: [rpsMsg],
    box: {
      kids: [h('strong', null, 'CN against the suffix: '), intel.ok ? 'fits' : (allow ? 'does not fit (allowed)' : 'does not fit'), rps ? '; RPS accepts it.' : '; RPS rejects it.'],
      cls: 'rule-box ' + (intel.ok ? (rps ? 'ok' : 'warn') : (allow ? 'warn' : 'bad')),
    },
  };
}

function countryMessages(c) {
  if (!c) return [];
  if (c.toUpperCase() === 'UK') return [{ level: 'error', text: '"UK" is not an ISO 3166-1 code.', fix: 'use GB for the United Kingdom' }];
  if (!/^[A-Za-z]{2}$/.test(c)) return [{ level: 'error', text: 'Two letters, e.g. US, DE, GB.' }];
  if (c !== c.toUpperCase()) return [{ level: 'error', text: 'Use upper case: "' + c.toUpperCase() + '".' }];
  if (!COUNTRIES.has(c)) return [{ level: 'error', text: '"' + c + '" is not an ISO 3166-1 alpha-2 country code.', fix: 'the two upper-case letters, e.g. US, DE, GB' }];
  return [{ level: 'ok', text: 'A valid country code.' }];
}

const BITS_MESSAGE = {
  2048: { level: 'info', text: 'What CAs expect and every AMT since version 6 accepts.' },
  3072: { level: 'warn', text: '3072-bit keys are announced only for AMT 22; older firmware may refuse them. 2048 is safest.' },
  4096: { level: 'warn', text: '4096-bit keys work from AMT 6 but make TLS handshakes slow on older AMT, and take a few seconds to make.' },
};

function validityMessages(d) {
  if (d && (!/^[0-9]+$/.test(d) || +d < 1 || +d > 3650)) return [{ level: 'error', text: 'A whole number of days from 1 to 3650.' }];
  if (d && +d > 200) return [{ level: 'warn', text: 'Public CAs issue TLS certificates for at most 200 days since March 2026 (100 from March 2027).' }];
  return [];
}

/* Every field's messages: {key of F: [message]}, the verdict line too. */
function checkAll(F, all, touched) {
  const cn = val(F.cn);
  const sfx = suffixMessages(cn, val(F.suffix).replace(/\.$/, ''), val(F.allow));
  const m = {};
  for (const k of Object.keys(F)) m[k] = [];
  m.cn = cnMessages(cn, all || touched.has('cn')).concat(sfx.cn);
  m.suffix = sfx.suffix;
  m.c = countryMessages(F.c.input.value.trim());
  const s = val(F.st);
  if (s && stateAbbreviated(s)) m.st.push({ level: 'warn', text: '"' + s + '" looks abbreviated; CAs expect it spelled out (e.g. California, not CA).' });
  if (val(F.ou)) m.ou.push({ level: 'warn', text: 'Public CAs drop the OU since 2022; AMT relies on the AMT OID that the CA\'s AMT product adds, not on the OU.' });
  if (BITS_MESSAGE[F.bits.input.value]) m.bits.push(BITS_MESSAGE[F.bits.input.value]);
  m.vdays = validityMessages(val(F.vdays));
  return { m, box: sfx.box };
}

/* The POST /api/v1/orders body from the form (only what is filled in). */
function requestBody(F) {
  const body = { subject: {}, key: { bits: +F.bits.input.value } };
  const subj = { common_name: F.cn, organization: F.o, organizational_unit: F.ou, locality: F.l, state: F.st, country: F.c };
  for (const k of Object.keys(subj)) if (val(subj[k])) body.subject[k] = val(subj[k]);
  if (val(F.suffix)) body.dns_suffix = val(F.suffix).replace(/\.$/, '');
  if (val(F.allow)) body.allow_suffix_mismatch = true;
  if (val(F.ref)) body.external_ref = val(F.ref);
  if (val(F.notes)) body.notes = F.notes.input.value;
  const vendor = {};
  const vmap = { name: F.vname, product: F.vproduct, order_id: F.vorder, invoice: F.vinvoice, approver: F.vapprover, dcv_method: F.vdcv, price: F.vprice };
  for (const k of Object.keys(vmap)) if (val(vmap[k])) vendor[k] = val(vmap[k]);
  if (val(F.vdays)) vendor.validity_days = parseInt(val(F.vdays), 10);
  if (Object.keys(vendor).length) body.vendor = vendor;
  return body;
}

function newOrderForm(F, ruleBox, model, progress, submit) {
  return h('form', { class: 'new-order', novalidate: true },
    h('fieldset', null, h('legend', null, 'Certificate subject'),
      h('div', { class: 'grid' }, F.cn.wrap, F.suffix.wrap), ruleBox, F.allow.wrap,
      h('div', { class: 'grid' }, F.o.wrap, F.ou.wrap, F.l.wrap, F.st.wrap, F.c.wrap),
      rulesExplained()),
    h('fieldset', null, h('legend', null, 'Key'),
      h('div', { class: 'grid' }, F.bits.wrap),
      h('p', { class: 'hint' }, 'amtcertd makes the RSA key, keeps it encrypted, and lets it out only inside a password-protected PFX.')),
    h('fieldset', null, h('legend', null, 'Purchase'),
      h('div', { class: 'grid' }, F.vname.wrap, F.vproduct.wrap, F.vorder.wrap, F.vinvoice.wrap, F.vapprover.wrap, F.vdcv.wrap, F.vprice.wrap, F.vdays.wrap)),
    h('fieldset', null, h('legend', null, 'Tracking'),
      h('div', { class: 'grid' }, F.ref.wrap, F.notes.wrap)),
    model.general,
    progress,
    h('div', { class: 'actions' }, submit, h('a', { href: '#/orders', class: 'btn ghost' }, 'Back to orders')));
}

/* The new order: its CSR to paste into the CA's order form. */
function createdCard(order) {
  return h('section', { class: 'card created' },
    h('h2', { tabindex: '-1' }, 'Order created: ', order.subject.common_name),
    h('p', null, stateBadge(order.state), ' The ', String(order.key && order.key.bits || ''), '-bit key is stored encrypted in amtcertd. Next: paste this CSR into the CA\'s AMT certificate order (server type "IIS" or "Other"), then mark the order submitted.'),
    warningsList(order.warnings),
    csrPanel(order),
    h('div', { class: 'actions' },
      h('a', { class: 'btn primary', href: '#/orders/' + encodeURIComponent(order.id) }, 'Open the order'),
      h('a', { class: 'btn ghost', href: '#/orders' }, 'All orders')));
}

export function viewNew(ctx) {
  setShell(true, 'new');
  document.title = 'New order · amtcertd';
  const F = newOrderFields();
  const model = formModel(Object.values(F));
  const ruleBox = h('div', { class: 'rule-box', 'aria-live': 'polite', id: 'suffix-verdict' });
  const submit = h('button', { type: 'submit', class: 'btn primary' }, 'Create key and CSR');
  const progress = progressBox();
  const touched = new Set();
  let summaryShown = false; /* "N fields need fixing", kept current */

  /* Shows every field's messages; returns the fields with an error. */
  function check(all) {
    const { m, box } = checkAll(F, all, touched);
    clear(ruleBox);
    if (box) {
      append(ruleBox, box.kids);
      ruleBox.className = box.cls;
    }
    const errors = [];
    for (const k of Object.keys(F)) {
      setClient(F[k], m[k]);
      if (m[k].some((x) => x.level === 'error')) errors.push(F[k]);
    }
    if (summaryShown) {
      clear(model.general);
      model.general.hidden = !errors.length;
      if (errors.length) addGeneral(model, 'error', errors.length === 1 ? 'One field needs fixing (marked above).' : errors.length + ' fields need fixing (marked above).');
      else summaryShown = false;
    }
    return errors;
  }

  for (const k of Object.keys(F)) {
    const ev = F[k].spec.type === 'select' || F[k].spec.type === 'checkbox' ? 'change' : 'input';
    F[k].input.addEventListener(ev, () => {
      touched.add(k);
      check(false);
    });
    F[k].input.addEventListener('blur', () => {
      if (F[k].input.value) touched.add(k);
      check(false);
    });
  }
  /* lower case -> upper case, as a one-click fix */
  F.c.input.addEventListener('change', () => {
    const c = F.c.input.value.trim();
    if (/^[a-z]{2}$/.test(c) && COUNTRIES.has(c.toUpperCase())) {
      F.c.input.value = c.toUpperCase();
      check(false);
    }
  });

  const form = newOrderForm(F, ruleBox, model, progress, submit);
  const out = h('div', { class: 'result' });
  append(main, [
    pageHeader('New order', 'The key and CSR for one AMT provisioning certificate. Everything is checked as you type.'),
    form,
    out,
  ]);
  check(false);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearServer(model);
    for (const k of Object.keys(F)) touched.add(k);
    summaryShown = true;
    const bad = check(true);
    if (bad.length) {
      bad[0].input.focus();
      return;
    }
    summaryShown = false;
    const body = requestBody(F);
    const done = busy(submit, progress, 'Generating a ' + body.key.bits + '-bit RSA key and the CSR' + (body.key.bits >= 4096 ? ' (4096 bits can take several seconds)' : '') + '…');
    try {
      const r = await api('POST', '/api/v1/orders', { json: body, headers: { 'Idempotency-Key': randomId() } });
      done();
      if (!ctx.alive()) return;
      form.hidden = true;
      replace(out, createdCard(r.data));
      out.querySelector('h2').focus();
      announce('Order created for ' + r.data.subject.common_name + '. The CSR is shown.');
    } catch (e) {
      done();
      if (!ctx.alive()) return;
      applyProblem(model, e);
      if (e.problem && Array.isArray(e.problem.errors) && e.problem.errors.length) {
        addGeneral(model, 'error', 'amtcertd refused the order: ' + e.problem.errors.length + (e.problem.errors.length === 1 ? ' problem' : ' problems') + ', shown next to the fields.');
      }
    }
  });
}
