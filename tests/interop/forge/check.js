#!/usr/bin/env node
// Reads a PFX with node-forge the way the Open AMT consoles do and prints a
// JSON summary (one line) on stdout:
//
//   node tests/interop/forge/check.js FILE PASSWORD [--repeat N]
//
// The read follows Open AMT RPS (src/certManager.ts, convertPfxToObject)
// and MeshCentral (certoperations.js, loadPfxCertificate): the file's bytes
// as a binary string, forge.asn1.fromDer() with its defaults (strict, every
// byte parsed), forge.pkcs12.pkcs12FromAsn1(asn1, true, password), then
// getBags() for certBag and pkcs8ShroudedKeyBag. Nothing else is read as a
// key: a plain keyBag is counted but ignored, as those consoles ignore it.
//
// The root fingerprint is computed as RPS's dumpPfx does: SHA-256 over
// forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes().
//
// --repeat N decodes N times and reports the mean and minimum milliseconds
// of one decode (for tests/bench/pfx.py). Exit 0 with ok=true when the PFX
// decoded; exit 1 with ok=false and the error otherwise; exit 2 on usage.
'use strict';

const fs = require('fs');
const path = require('path');
const forge = require('node-forge');

const AMT_OID = '2.16.840.1.113741.1.2.3';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

function usage() {
  process.stderr.write('usage: check.js FILE PASSWORD [--repeat N]\n');
  process.exit(2);
}

// RPS: Buffer.from(pfxb64, 'base64').toString('binary'); MeshCentral:
// forge.util.decode64(base64 of the file). Both give the same binary string.
function decode(pfxBinary, password) {
  const asn = forge.asn1.fromDer(pfxBinary);
  const pfx = forge.pkcs12.pkcs12FromAsn1(asn, true, password);
  const out = { certs: [], keys: [], certBags: [], keyBags: [] };
  let bags = pfx.getBags({ bagType: forge.pki.oids.certBag });
  for (const b of bags[forge.pki.oids.certBag] || []) {
    out.certs.push(b.cert);
    out.certBags.push(b);
  }
  bags = pfx.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag });
  for (const b of bags[forge.pki.oids.pkcs8ShroudedKeyBag] || []) {
    out.keys.push(b.key);
    out.keyBags.push(b);
  }
  bags = pfx.getBags({ bagType: forge.pki.oids.keyBag });
  out.plainKeys = (bags[forge.pki.oids.keyBag] || []).length;
  out.safeContents = pfx.safeContents.length;
  out.encryptedSafeContents = pfx.safeContents.filter((s) => s.encrypted).length;
  return out;
}

function sha256Hex(binary) {
  const md = forge.md.sha256.create();
  md.update(binary);
  return md.digest().toHex();
}

function certDer(cert) {
  return forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes();
}

// The EKU OIDs as written in the extension (not forge's friendly names).
function ekuOids(cert) {
  const ext = cert.getExtension('extKeyUsage');
  if (!ext || typeof ext.value !== 'string') return [];
  const seq = forge.asn1.fromDer(ext.value);
  return seq.value.map((v) => forge.asn1.derToOid(v.value));
}

function dn(name) {
  return name.attributes.map((a) => (a.shortName || a.name || a.type) + '=' + a.value).join(', ');
}

function keyMatches(key, cert) {
  const pub = cert.publicKey;
  return !!(key && pub && key.n && pub.n && key.n.equals(pub.n) && key.e.equals(pub.e));
}

function hexOf(bin) {
  return bin ? forge.util.bytesToHex(bin) : null;
}

function bagAttrs(bag) {
  const a = bag.attributes || {};
  return {
    friendly_name: a.friendlyName ? a.friendlyName[0] : null,
    local_key_id: a.localKeyId ? hexOf(a.localKeyId[0]) : null,
  };
}

function summarize(d) {
  const key = d.keys.length === 1 ? d.keys[0] : null;
  const certs = d.certs.map((c, i) => ({
    index: i,
    subject: dn(c.subject),
    issuer: dn(c.issuer),
    self_signed: c.subject.hash === c.issuer.hash,
    sha256: sha256Hex(certDer(c)),
    matches_key: keyMatches(key, c),
    eku: ekuOids(c),
    rsa_bits: c.publicKey && c.publicKey.n ? c.publicKey.n.bitLength() : null,
    not_after: c.validity.notAfter.toISOString(),
    ...bagAttrs(d.certBags[i]),
  }));
  const leafIndex = certs.findIndex((c) => c.matches_key);
  const leaf = leafIndex >= 0 ? certs[leafIndex] : null;
  const last = certs.length ? certs[certs.length - 1] : null;
  return {
    ok: true,
    forge_version: require('node-forge/package.json').version,
    safe_contents: d.safeContents,
    encrypted_safe_contents: d.encryptedSafeContents,
    shrouded_keys: d.keys.length,
    plain_keys: d.plainKeys,
    key_type: key ? (key.n ? 'rsa' : 'other') : null,
    key_bits: key && key.n ? key.n.bitLength() : null,
    key_bags: d.keyBags.map(bagAttrs),
    certs,
    leaf_index: leafIndex,
    leaf_subject: leaf ? leaf.subject : null,
    leaf_amt_oid: leaf ? leaf.eku.includes(AMT_OID) : false,
    leaf_server_auth: leaf ? leaf.eku.includes(SERVER_AUTH) : false,
    // RPS's dumpPfx: the root is the self-issued certificate after the leaf
    rps_root_sha256: (certs.find((c, i) => i > 0 && c.self_signed) || {}).sha256 || null,
    last_sha256: last ? last.sha256 : null,
  };
}

function main() {
  const args = process.argv.slice(2);
  let repeat = 0;
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--repeat') {
      repeat = parseInt(args[++i], 10);
      if (!(repeat > 0)) usage();
    } else {
      pos.push(args[i]);
    }
  }
  if (pos.length !== 2) usage();
  const [file, password] = pos;
  const binary = fs.readFileSync(path.resolve(file)).toString('binary');
  let summary;
  try {
    const t0 = process.hrtime.bigint();
    const d = decode(binary, password);
    const first = Number(process.hrtime.bigint() - t0) / 1e6;
    summary = summarize(d);
    summary.decode_ms = first;
    if (repeat > 0) {
      const times = [];
      for (let i = 0; i < repeat; i++) {
        const t = process.hrtime.bigint();
        decode(binary, password);
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      summary.repeat = repeat;
      summary.mean_ms = times.reduce((a, b) => a + b, 0) / times.length;
      summary.min_ms = Math.min(...times);
    }
  } catch (e) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e) }) + '\n');
    process.exit(1);
  }
  process.stdout.write(JSON.stringify(summary) + '\n');
}

main();
