"""Issue 4: an order's life after its CSR (submitted, exported for the
consoles, deployed, renewal_due when the clock moves, renewed, revoked,
expired) against the real daemon. Test PKIs come from tests/tools/testca.py;
PFX files are opened with the openssl command, a tool we did not write."""
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time

import pytest

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SUFFIX = "vpro.example.com"
CN = "rcs." + SUFFIX
PASSWORD = "Corr3ct-Horse-Battery"
SUBJECT = {"common_name": CN, "organization": "Example Inc", "locality": "Portland",
           "state": "Oregon", "country": "US"}
VENDOR = {"name": "Sectigo", "product": "AMT SSL Certificate", "validity_days": 200}


# ---- helpers -----------------------------------------------------------

def own_daemon(**kw):
    """A daemon for one test (stop it with d.stop_checked())."""
    return amtc.Daemon(**kw)


def iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def problem(r, status, code=None):
    assert r.status == status, r
    assert r.header("Content-Type") == "application/problem+json", r.headers
    assert r.header("Content-Disposition") is None, r.headers
    p = r.json()
    if code:
        assert p["code"] == code, p
    assert p["detail"]
    return p


def create(daemon, cn=CN, **extra):
    body = {"subject": dict(SUBJECT, common_name=cn), "dns_suffix": SUFFIX}
    body.update(extra)
    r = daemon.post("/api/v1/orders", body)
    assert r.status == 201, r
    assert r.json()["state"] == "key_ready"
    return r.json()


def get(daemon, oid):
    r = daemon.get("/api/v1/orders/" + oid)
    assert r.status == 200, r
    return r.json()


def events(daemon, oid):
    r = daemon.get("/api/v1/orders/%s/events" % oid)
    assert r.status == 200, r
    return r.json()["items"]


def upload(daemon, oid, data, ctype):
    return daemon.request("POST", "/api/v1/orders/%s/uploads" % oid, body=data,
                          headers={"Content-Type": ctype})


def trust(daemon, ca):
    r = daemon.post("/api/v1/amt/trusted-roots", {"name": "amtcertd test root", "sha256": ca.root_sha256})
    assert r.status in (201, 409), r


def verify_ready(daemon, oid):
    r = daemon.post("/api/v1/orders/%s/verify" % oid, {})
    assert r.status == 200, r
    rep = r.json()
    assert rep["overall"] in ("pass", "warn"), rep["checks"]
    assert rep["order_state"] == "ready", rep
    return rep


def ready_order(daemon, ca, cn=CN, days=200):
    """create -> leaf + chain uploaded -> root trusted -> verified: ready."""
    o = create(daemon, cn=cn)
    leaf = ca.sign_csr(o["csr"], days=days)
    r = upload(daemon, o["id"], (leaf + ca.chain_pem).encode(), "application/x-pem-file")
    assert r.status == 201 and r.json()["state"] == "issued", r
    trust(daemon, ca)
    verify_ready(daemon, o["id"])
    return get(daemon, o["id"]), leaf


def export(daemon, oid, **body):
    return daemon.post("/api/v1/orders/%s/exports" % oid, body)


def run(args, input=None):
    p = subprocess.run(args, input=input, capture_output=True)
    assert p.returncode == 0, (args, p.stderr.decode(errors="replace"))
    return p.stdout


def pubkey_of_cert(pem):
    return run(["openssl", "x509", "-noout", "-pubkey"], input=pem.encode())


def open_pfx(path, password):
    """(openssl pkcs12 -info text, certificates it lists, the key's public key PEM)."""
    info = subprocess.run(["openssl", "pkcs12", "-info", "-nokeys", "-passin", "pass:" + password,
                           "-in", path], capture_output=True)
    assert info.returncode == 0, info.stderr.decode(errors="replace")
    text = (info.stdout + info.stderr).decode()
    certs = testca.split_pem(info.stdout, "CERTIFICATE")
    key = run(["openssl", "pkcs12", "-nocerts", "-nodes", "-passin", "pass:" + password, "-in", path])
    assert b"PRIVATE KEY-----" in key
    pub = run(["openssl", "pkey", "-pubout"], input=key)
    return text, certs, pub


def ders(pems):
    return [testca.pem_to_der(p) for p in pems]


# ---- the seed workflow, as one test -----------------------------------

def test_seed_flow_create_to_renewal(ca, work):
    """The Intel seed workflow (amt-facts.md section 5) end to end: create,
    submitted, the CA's zip, verify to ready, export both profiles,
    deployed, renewal_due when the clock is moved, renew (new key, then old
    key), expired. Its own daemon: the expiry sweep moves every order."""
    d = own_daemon()
    try:
        _seed_flow(d, ca, work)
    finally:
        d.stop_checked()


def _seed_flow(d, ca, work):
    # 1. the CSR, with the AMT DNS suffix
    o = create(d, vendor=VENDOR, external_ref="CHG-4711")
    oid = o["id"]
    assert o["dns_suffix"] == SUFFIX and o["has_key"] is True
    assert testca.spki_sha256(o["csr"]) == o["public_key_sha256"]

    # 2. the purchase: submitted, with the vendor's fields
    r = d.post("/api/v1/orders/%s/submitted" % oid,
               {"vendor_order_id": "SEC-2026-001234", "approver": "admin@example.com",
                "dcv_method": "email", "submitted_at": "2026-03-02T09:15:00Z"})
    assert r.status == 200, r
    s = r.json()
    assert s["state"] == "submitted"
    assert s["vendor"]["order_id"] == "SEC-2026-001234"
    assert s["vendor"]["approver"] == "admin@example.com"
    assert s["vendor"]["dcv_method"] == "email"
    assert s["vendor"]["name"] == "Sectigo"
    assert get(d, oid)["vendor"] == s["vendor"]  # stored, not only echoed
    ev = events(d, oid)
    moved = [e for e in ev if e["type"] == "state" and e["to_state"] == "submitted"]
    assert len(moved) == 1, ev
    assert moved[0]["from_state"] == "key_ready" and moved[0]["actor"] == "token:admin"
    assert "2026-03-02T09:15:00Z" in moved[0]["detail"]

    # 3. the CA's zip (Sectigo layout: leaf .crt, intermediate, root)
    leaf = ca.sign_csr(o["csr"])
    z = os.path.join(work, "seed-delivery.zip")
    ca.delivery_zip(leaf, z, layout="sectigo")
    with open(z, "rb") as f:
        r = upload(d, oid, f.read(), "application/zip")
    assert r.status == 201, r
    assert r.json()["state"] == "issued"

    # 4. the root's hash into the AMT list, verify: ready
    r = d.post("/api/v1/amt/trusted-roots", {"name": "amtcertd test root", "sha256": ca.root_sha256})
    assert r.status == 201, r
    rep = verify_ready(d, oid)
    assert rep["root"]["sha256"] == ca.root_sha256 and rep["root"]["amt_trusted"]
    o = get(d, oid)
    assert o["state"] == "ready"
    nb, na = testca.dates_of(leaf)
    assert o["leaf_not_after"] == iso(na)

    # 5. export both profiles; each opens in openssl, the key is the leaf's
    leaf_pub = pubkey_of_cert(leaf)
    n_before = len([e for e in events(d, oid) if e["type"] == "key_export"])
    assert n_before == 0
    for profile in ("compat", "modern"):
        r = export(d, oid, format="pkcs12", profile=profile, password=PASSWORD)
        assert r.status == 200, r
        assert r.header("Content-Type") == "application/x-pkcs12"
        assert r.header("Content-Disposition") == 'attachment; filename="%s.pfx"' % CN
        assert int(r.header("Content-Length")) == len(r.body)
        path = os.path.join(work, "seed-%s.pfx" % profile)
        with open(path, "wb") as f:
            f.write(r.body)
        text, certs, pub = open_pfx(path, PASSWORD)
        assert pub == leaf_pub, profile
        assert ders(certs) == ders([leaf, ca.inter_pem, ca.root_pem]), profile
        assert "MAC: sha256" in text, text
        if profile == "compat":
            assert "pbeWithSHA1And3-KeyTripleDES-CBC" in text, text
        else:
            assert "PBES2, PBKDF2, AES-256-CBC" in text and "hmacWithSHA256" in text, text
        # a wrong password does not open it
        bad = subprocess.run(["openssl", "pkcs12", "-info", "-nokeys", "-passin", "pass:wrong-password",
                              "-in", path], capture_output=True)
        assert bad.returncode != 0
    exports = [e for e in events(d, oid) if e["type"] == "key_export"]
    assert len(exports) == 2, exports
    assert all(e["actor"] == "token:admin" for e in exports), exports
    assert "compat" in exports[0]["detail"] and "modern" in exports[1]["detail"]
    assert get(d, oid)["state"] == "ready"  # an export moves nothing

    # 6. installed at the console
    r = d.post("/api/v1/orders/%s/deployed" % oid, {"target": "rps", "where": "rps.example.com"})
    assert r.status == 200, r
    assert r.json()["state"] == "deployed"
    dep = [e for e in events(d, oid) if e["to_state"] == "deployed"]
    assert len(dep) == 1 and "rps" in dep[0]["detail"] and "rps.example.com" in dep[0]["detail"], dep

    # 7. the clock moves: 10 days before notAfter the order is due
    r = d.post("/api/v1/jobs/expiry-check", {"at": iso(na - dt.timedelta(days=10))})
    assert r.status == 200, r
    sweep = r.json()
    assert sweep["dry_run"] is False and sweep["renewal_window_days"] == 30
    assert oid in sweep["renewal_due"] and oid not in sweep["expired"], sweep
    assert get(d, oid)["state"] == "renewal_due"
    due = [e for e in events(d, oid) if e["to_state"] == "renewal_due"]
    assert len(due) == 1 and due[0]["from_state"] == "deployed", due
    # a due certificate is still installed somewhere: its PFX still leaves
    r = export(d, oid, format="pkcs12", password=PASSWORD)
    assert r.status == 200, r

    # 8. renew: a new linked order, same names and vendor, a new key
    old = get(d, oid)
    r = d.post("/api/v1/orders/%s/renew" % oid, {})
    assert r.status == 201, r
    n = r.json()
    assert r.header("Location") == "/api/v1/orders/" + n["id"]
    assert n["id"] != oid and n["state"] == "key_ready" and n["renewal_of"] == oid
    assert n["subject"] == old["subject"] and n["san"] == old["san"]
    assert n["dns_suffix"] == old["dns_suffix"] == SUFFIX
    assert n["vendor"]["name"] == "Sectigo" and n["vendor"]["product"] == "AMT SSL Certificate"
    assert n["vendor"]["order_id"] is None  # a new purchase
    assert n["has_key"] is True and n["csr_source"] == "generated"
    assert n["public_key_sha256"] != old["public_key_sha256"]
    assert testca.spki_sha256(n["csr"]) == n["public_key_sha256"]
    assert testca.subject_of(n["csr"]) == testca.subject_of(old["csr"])
    assert n["leaf_sha256"] is None and n["leaf_not_after"] is None
    created = [e for e in events(d, n["id"]) if e["type"] == "created"]
    assert len(created) == 1 and oid in created[0]["detail"] and "new key" in created[0]["detail"], created
    assert get(d, oid)["state"] == "renewal_due"  # the old order stays installed

    # ... and, asked explicitly, with the old key (the event says so)
    r = d.post("/api/v1/orders/%s/renew" % oid, {"reuse_key": True})
    assert r.status == 201, r
    k = r.json()
    assert k["renewal_of"] == oid and k["id"] not in (oid, n["id"])
    assert k["public_key_sha256"] == old["public_key_sha256"]
    assert testca.spki_sha256(k["csr"]) == old["public_key_sha256"]
    created = [e for e in events(d, k["id"]) if e["type"] == "created"]
    assert len(created) == 1 and "old key is reused" in created[0]["detail"], created
    renewed = [e for e in events(d, oid) if e["type"] == "renewed"]
    assert len(renewed) == 2 and n["id"] in renewed[0]["detail"] and k["id"] in renewed[1]["detail"], renewed

    # 9. after notAfter: expired; the renewals (key_ready) do not move
    r = d.post("/api/v1/jobs/expiry-check", {"at": iso(na + dt.timedelta(days=1))})
    assert r.status == 200, r
    assert oid in r.json()["expired"], r.json()
    assert n["id"] not in r.json()["expired"] + r.json()["renewal_due"]
    assert get(d, oid)["state"] == "expired"
    assert get(d, n["id"])["state"] == "key_ready" and get(d, k["id"])["state"] == "key_ready"
    r = export(d, oid, format="pkcs12", password=PASSWORD)
    problem(r, 409, "invalid_state")


# ---- certificate formats -------------------------------------------------

def test_certificate_formats(daemon, ca):
    o, leaf = ready_order(daemon, ca, cn="fmt." + SUFFIX)
    oid = o["id"]
    fname = "fmt." + SUFFIX

    r = export(daemon, oid, format="pem-chain")
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/pem-certificate-chain"
    assert r.header("Content-Disposition") == 'attachment; filename="%s.chain.pem"' % fname
    certs = testca.split_pem(r.body, "CERTIFICATE")
    assert len(certs) == 3
    assert ders(certs) == ders([leaf, ca.inter_pem, ca.root_pem])  # leaf .. root
    ok, out = testca.openssl_verify(certs[0], trusted=[certs[2]], untrusted=[certs[1]],
                                    extra_args=["-purpose", "sslserver"])
    assert ok, out

    r = export(daemon, oid, format="pem-leaf")
    assert r.status == 200 and r.header("Content-Type") == "application/x-pem-file", r
    assert r.header("Content-Disposition") == 'attachment; filename="%s.pem"' % fname
    assert ders(testca.split_pem(r.body, "CERTIFICATE")) == ders([leaf])

    r = export(daemon, oid, format="pem-ca-bundle")
    assert r.status == 200 and r.header("Content-Type") == "application/x-pem-file", r
    assert r.header("Content-Disposition") == 'attachment; filename="%s.ca-bundle.pem"' % fname
    assert ders(testca.split_pem(r.body, "CERTIFICATE")) == ders([ca.inter_pem, ca.root_pem])

    r = export(daemon, oid, format="pem-root")
    assert r.status == 200 and r.header("Content-Type") == "application/x-pem-file", r
    assert r.header("Content-Disposition") == 'attachment; filename="%s.root.pem"' % fname
    roots = testca.split_pem(r.body, "CERTIFICATE")
    assert len(roots) == 1 and testca.sha256_of_pem(roots[0]) == ca.root_sha256

    r = export(daemon, oid, format="der-leaf")
    assert r.status == 200 and r.header("Content-Type") == "application/pkix-cert", r
    assert r.header("Content-Disposition") == 'attachment; filename="%s.cer"' % fname
    assert r.body == testca.pem_to_der(leaf)

    # certificates carry no key: no key_export event
    assert not [e for e in events(daemon, oid) if e["type"] == "key_export"]


def test_wildcard_file_name(daemon, ca):
    o, _leaf = ready_order(daemon, ca, cn="*." + SUFFIX)
    r = export(daemon, o["id"], format="pem-leaf")
    assert r.status == 200, r
    assert r.header("Content-Disposition") == 'attachment; filename="wildcard.%s.pem"' % SUFFIX


# ---- bad exports: a clear 4xx, no file, no event, nothing written --------

@pytest.fixture(scope="module")
def orders(daemon, ca, work):
    """A ready order, an issued one, a key_ready one, and a ready order
    whose key stayed where its CSR was made (openssl)."""
    ready, _ = ready_order(daemon, ca, cn="bad." + SUFFIX)
    issued = create(daemon, cn="issued." + SUFFIX)
    r = upload(daemon, issued["id"], (ca.sign_csr(issued["csr"]) + ca.chain_pem).encode(),
               "application/x-pem-file")
    assert r.status == 201 and r.json()["state"] == "issued", r
    key_ready = create(daemon, cn="new." + SUFFIX)
    keyfile, csrfile = os.path.join(work, "iis.key"), os.path.join(work, "iis.csr")
    run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", keyfile,
         "-subj", "/C=US/O=Example Inc/CN=iis." + SUFFIX, "-out", csrfile])
    with open(csrfile) as f:
        csr = f.read()
    r = daemon.post("/api/v1/orders", {"csr": csr, "dns_suffix": SUFFIX})
    assert r.status == 201, r
    nokey = r.json()
    assert nokey["has_key"] is False and nokey["csr_source"] == "imported"
    r = upload(daemon, nokey["id"], (ca.sign_csr(csr) + ca.chain_pem).encode(), "application/x-pem-file")
    assert r.status == 201, r
    verify_ready(daemon, nokey["id"])
    return {"ready": ready["id"], "issued": issued["id"], "key_ready": key_ready["id"],
            "nokey": nokey["id"]}


GOOD = {"format": "pkcs12", "profile": "compat", "password": PASSWORD}

BAD_EXPORTS = [
    # (name, order, body (dict = JSON) or (bytes, content type), status, code)
    ("issued", "issued", GOOD, 409, "invalid_state"),
    ("key_ready", "key_ready", GOOD, 409, "no_leaf"),
    ("key_ready-pem", "key_ready", {"format": "pem-chain"}, 409, "no_leaf"),
    ("no-key", "nokey", GOOD, 409, "no_key"),
    ("no-key-modern", "nokey", dict(GOOD, profile="modern"), 409, "no_key"),
    ("password-7", "ready", dict(GOOD, password="Abc-123"), 422, "validation_failed"),
    ("password-65", "ready", dict(GOOD, password="x" * 65), 422, "validation_failed"),
    ("password-non-ascii", "ready", dict(GOOD, password="Pässwörd-2026"), 422, "validation_failed"),
    ("password-control", "ready", dict(GOOD, password="tab\there-1"), 422, "validation_failed"),
    ("password-missing", "ready", {"format": "pkcs12", "profile": "modern"}, 422, "validation_failed"),
    ("password-empty", "ready", dict(GOOD, password=""), 422, "validation_failed"),
    ("password-number", "ready", dict(GOOD, password=12345678), 400, "invalid_type"),
    ("format-unknown", "ready", {"format": "pfx", "password": PASSWORD}, 422, "validation_failed"),
    ("format-missing", "ready", {"password": PASSWORD}, 422, "validation_failed"),
    ("profile-unknown", "ready", dict(GOOD, profile="legacy"), 422, "validation_failed"),
    ("profile-on-pem", "ready", {"format": "pem-chain", "profile": "compat"}, 422, "validation_failed"),
    ("password-on-pem", "ready", {"format": "der-leaf", "password": PASSWORD}, 422, "validation_failed"),
    ("unknown-field", "ready", dict(GOOD, mac_iterations=2048), 400, "unknown_field"),
    ("iterations-999", "ready", dict(GOOD, iterations=999), 422, "validation_failed"),
    ("iterations-1000001", "ready", dict(GOOD, iterations=1000001), 422, "validation_failed"),
    ("iterations-0", "ready", dict(GOOD, iterations=0), 422, "validation_failed"),
    ("iterations-negative", "ready", dict(GOOD, iterations=-2048), 422, "validation_failed"),
    ("iterations-2^32+2048", "ready", dict(GOOD, iterations=2 ** 32 + 2048), 422, "validation_failed"),
    ("iterations-string", "ready", dict(GOOD, iterations="2048"), 400, "invalid_type"),
    ("iterations-real", "ready", dict(GOOD, iterations=2048.0), 400, "invalid_type"),
    ("iterations-bool", "ready", dict(GOOD, iterations=True), 400, "invalid_type"),
    ("iterations-on-pem", "ready", {"format": "pem-chain", "iterations": 2048}, 422, "validation_failed"),
    ("iterations-no-key", "nokey", dict(GOOD, iterations=1000), 409, "no_key"),
    ("not-json", "ready", (b"{format: pkcs12", "application/json"), 400, "invalid_json"),
    ("media-type-form", "ready", (b"format=pkcs12&password=Corr3ct-Horse-Battery",
                                  "application/x-www-form-urlencoded"), 415, "unsupported_media_type"),
    ("media-type-text", "ready", (b'{"format":"pkcs12","password":"Corr3ct-Horse-Battery"}', "text/plain"),
     415, "unsupported_media_type"),
    ("unknown-order", None, GOOD, 404, "order_not_found"),
]


@pytest.mark.parametrize("name,which,body,status,code", BAD_EXPORTS, ids=[b[0] for b in BAD_EXPORTS])
def test_bad_export(daemon, orders, name, which, body, status, code):
    oid = orders[which] if which else "ord_doesnotexist"
    ev_before = events(daemon, oid) if which else None
    db_before = daemon.db_snapshot()
    if isinstance(body, dict):
        r = export(daemon, oid, **body)
    else:
        r = daemon.request("POST", "/api/v1/orders/%s/exports" % oid, body=body[0],
                           headers={"Content-Type": body[1]})
    p = problem(r, status, code)
    assert r.header("Content-Type") != "application/x-pkcs12"
    assert b"BEGIN CERTIFICATE" not in r.body
    if status == 422 and "password" in name:
        assert p["field"] == "password", p
    if "iterations" in name and status != 409:
        assert p["field"] == "iterations", p
    if which:
        assert events(daemon, oid) == ev_before
    assert daemon.db_snapshot() == db_before


def test_no_key_order_still_exports_certificates(daemon, orders):
    r = export(daemon, orders["nokey"], format="pem-chain")
    assert r.status == 200, r
    assert len(testca.split_pem(r.body, "CERTIFICATE")) == 3


def test_password_limits_are_inclusive(daemon, orders, work):
    """8 and 64 printable ASCII characters (space included) are fine."""
    for pw in ("Abc-1234", "~" + "x" * 62 + " "):
        r = export(daemon, orders["ready"], format="pkcs12", profile="modern", password=pw)
        assert r.status == 200, (pw, r)
        path = os.path.join(work, "limits.pfx")
        with open(path, "wb") as f:
            f.write(r.body)
        open_pfx(path, pw)


# ---- transitions -----------------------------------------------------------

def test_submitted_twice_is_409(daemon):
    o = create(daemon, cn="twice." + SUFFIX)
    r = daemon.post("/api/v1/orders/%s/submitted" % o["id"], {"vendor_order_id": "A-1"})
    assert r.status == 200 and r.json()["state"] == "submitted", r
    before = daemon.db_snapshot()
    p = problem(daemon.post("/api/v1/orders/%s/submitted" % o["id"], {"vendor_order_id": "A-2"}),
                409, "invalid_transition")
    assert p["state"] == "submitted" and p["requested"] == "submitted"
    assert sorted(p["allowed_transitions"]) == ["cancelled", "issued"]
    assert daemon.db_snapshot() == before
    assert get(daemon, o["id"])["vendor"]["order_id"] == "A-1"


def test_submitted_bad_fields(daemon):
    o = create(daemon, cn="subfields." + SUFFIX)
    before = daemon.db_snapshot()
    problem(daemon.post("/api/v1/orders/%s/submitted" % o["id"], {"dcv_method": "fax"}), 422, "validation_failed")
    problem(daemon.post("/api/v1/orders/%s/submitted" % o["id"], {"submitted_at": "last Tuesday"}),
            422, "validation_failed")
    problem(daemon.post("/api/v1/orders/%s/submitted" % o["id"], {"order": "x"}), 400, "unknown_field")
    assert daemon.db_snapshot() == before
    assert get(daemon, o["id"])["state"] == "key_ready"


def test_deployed_needs_a_verified_order(daemon, ca):
    o = create(daemon, cn="early." + SUFFIX)
    p = problem(daemon.post("/api/v1/orders/%s/deployed" % o["id"], {"target": "rps"}), 409, "invalid_transition")
    assert p["state"] == "key_ready" and "deployed" not in p["allowed_transitions"]
    assert sorted(p["allowed_transitions"]) == ["cancelled", "issued", "submitted"]
    ready, _ = ready_order(daemon, ca, cn="target." + SUFFIX)
    before = daemon.db_snapshot()
    p = problem(daemon.post("/api/v1/orders/%s/deployed" % ready["id"], {"target": "sccm"}), 422, "validation_failed")
    assert p["field"] == "target"
    problem(daemon.post("/api/v1/orders/%s/deployed" % ready["id"], {"where": "x"}), 422, "validation_failed")
    assert daemon.db_snapshot() == before
    # deployed again records one more installation
    for target in ("ema", "meshcentral"):
        r = daemon.post("/api/v1/orders/%s/deployed" % ready["id"], {"target": target, "note": "lab"})
        assert r.status == 200 and r.json()["state"] == "deployed", r
    dep = [e for e in events(daemon, ready["id"]) if e["to_state"] == "deployed"]
    assert [e["from_state"] for e in dep] == ["ready", "deployed"]
    assert "ema" in dep[0]["detail"] and "meshcentral" in dep[1]["detail"]


def test_revoked_then_no_export(daemon, ca):
    o = create(daemon, cn="early-revoke." + SUFFIX)
    p = problem(daemon.post("/api/v1/orders/%s/revoked" % o["id"], {}), 409, "invalid_transition")
    assert "revoked" not in p["allowed_transitions"]
    ready, _ = ready_order(daemon, ca, cn="revoke." + SUFFIX)
    r = daemon.post("/api/v1/orders/%s/revoked" % ready["id"], {"reason": "key compromise (test)"})
    assert r.status == 200, r
    assert r.json()["state"] == "revoked" and r.json()["allowed_transitions"] == []
    ev = [e for e in events(daemon, ready["id"]) if e["to_state"] == "revoked"]
    assert len(ev) == 1 and ev[0]["from_state"] == "ready" and "key compromise" in ev[0]["detail"]
    before = daemon.db_snapshot()
    problem(export(daemon, ready["id"], **GOOD), 409, "invalid_state")
    problem(daemon.post("/api/v1/orders/%s/revoked" % ready["id"], {}), 409, "invalid_transition")
    problem(daemon.post("/api/v1/orders/%s/deployed" % ready["id"], {"target": "rps"}), 409, "invalid_transition")
    assert daemon.db_snapshot() == before


def test_renew_needs_a_certificate(daemon):
    o = create(daemon, cn="renew-early." + SUFFIX)
    before = daemon.db_snapshot()
    p = problem(daemon.post("/api/v1/orders/%s/renew" % o["id"], {}), 409, "invalid_state")
    assert p["state"] == "key_ready"
    problem(daemon.post("/api/v1/orders/%s/renew" % o["id"], {"reuse_key": "yes"}), 400, "invalid_type")
    problem(daemon.post("/api/v1/orders/%s/renew" % o["id"], {"new_key": True}), 400, "unknown_field")
    problem(daemon.post("/api/v1/orders/ord_doesnotexist/renew", {}), 404, "order_not_found")
    assert daemon.db_snapshot() == before


def test_renew_reuse_key_needs_the_key_here(daemon, orders):
    before = daemon.db_snapshot()
    problem(daemon.post("/api/v1/orders/%s/renew" % orders["nokey"], {"reuse_key": True}), 409, "no_key")
    assert daemon.db_snapshot() == before


def test_expiry_check_dry_run_moves_nothing(daemon, ca):
    o, leaf = ready_order(daemon, ca, cn="dry." + SUFFIX)
    _nb, na = testca.dates_of(leaf)
    before = daemon.db_snapshot()
    ev = events(daemon, o["id"])
    r = daemon.post("/api/v1/jobs/expiry-check", {"at": iso(na - dt.timedelta(days=3)), "dry_run": True})
    assert r.status == 200, r
    assert r.json()["dry_run"] is True and o["id"] in r.json()["renewal_due"], r.json()
    r = daemon.post("/api/v1/jobs/expiry-check", {"at": iso(na + dt.timedelta(days=3)), "dry_run": True})
    assert r.status == 200, r
    assert o["id"] in r.json()["expired"] and o["id"] not in r.json()["renewal_due"], r.json()
    assert daemon.db_snapshot() == before
    assert events(daemon, o["id"]) == ev
    assert get(daemon, o["id"])["state"] == "ready"
    # now, with a 200-day leaf and a 30-day window: nothing is due
    r = daemon.post("/api/v1/jobs/expiry-check", {"dry_run": True})
    assert r.status == 200 and o["id"] not in r.json()["renewal_due"] + r.json()["expired"], r.json()


def test_expiry_check_bad_input(daemon):
    before = daemon.db_snapshot()
    problem(daemon.post("/api/v1/jobs/expiry-check", {"at": "next year"}), 422, "validation_failed")
    problem(daemon.post("/api/v1/jobs/expiry-check", {"at": "2027-13-01T00:00:00Z"}), 422, "validation_failed")
    problem(daemon.post("/api/v1/jobs/expiry-check", {"dry_run": "yes"}), 400, "invalid_type")
    problem(daemon.post("/api/v1/jobs/expiry-check", {"when": "now"}), 400, "unknown_field")
    r = daemon.request("POST", "/api/v1/jobs/expiry-check", body=b"at=now",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    problem(r, 415, "unsupported_media_type")
    assert daemon.db_snapshot() == before


def test_sweep_runs_at_start_with_the_renewal_window_flag(ca):
    """The background job runs at start: two orders made ready by one
    daemon (leaves of 20 and 5 days) are swept by the next one started on
    the same state with --renewal-days 10: only the 5-day one is due."""
    with tempfile.TemporaryDirectory(prefix="amtc-sweep-") as sd:
        # a 1-day window here, so that this daemon's own sweep moves neither
        d = own_daemon(state_dir=os.path.join(sd, "state"), extra_args=["--renewal-days", "1"])
        try:
            long_, _ = ready_order(d, ca, cn="long." + SUFFIX, days=20)
            short, _ = ready_order(d, ca, cn="short." + SUFFIX, days=5)
        finally:
            d.stop_checked()
        d = own_daemon(state_dir=os.path.join(sd, "state"), extra_args=["--renewal-days", "10"])
        try:
            for _ in range(100):
                if get(d, short["id"])["state"] != "ready":
                    break
                time.sleep(0.1)
            assert get(d, short["id"])["state"] == "renewal_due"
            assert get(d, long_["id"])["state"] == "ready"
            due = [e for e in events(d, short["id"]) if e["to_state"] == "renewal_due"]
            assert len(due) == 1 and due[0]["actor"] == "job:expiry", due
            r = d.post("/api/v1/jobs/expiry-check", {"dry_run": True})
            assert r.status == 200 and r.json()["renewal_window_days"] == 10
        finally:
            d.stop_checked()


def test_expiry_counts_every_ca_of_the_chain(daemon, work):
    """A leaf valid for 200 days under an issuing CA that expires in 20:
    due now (30-day window), because AMT stops trusting the chain then."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    soon = testca.TestCA(os.path.join(work, "soon"), root_cn="Soon Root", inter_cn="Soon Issuing CA",
                         inter_not_before=now - dt.timedelta(days=300), inter_not_after=now + dt.timedelta(days=20))
    o, leaf = ready_order(daemon, soon, cn="soon." + SUFFIX)
    o = get(daemon, o["id"])
    assert o["chain_not_after"] == iso(testca.dates_of(soon.inter_pem)[1])
    assert o["leaf_not_after"] == iso(testca.dates_of(leaf)[1])
    r = daemon.post("/api/v1/jobs/expiry-check", {"dry_run": True})
    assert r.status == 200 and o["id"] in r.json()["renewal_due"], r.json()


# ---- who exported, and the PFX's name -------------------------------------

def test_key_export_event_names_the_token(daemon, ca):
    o, _leaf = ready_order(daemon, ca, cn="actor." + SUFFIX)
    p = subprocess.run([amtc.BIN, "token", "create", "--name", "ci-bot", "--state-dir", daemon.state_dir],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    token = [w for w in p.stdout.split() if w.startswith("amtc_")]
    assert len(token) == 1, p.stdout
    r = daemon.request("POST", "/api/v1/orders/%s/exports" % o["id"], token=token[0],
                       json_body={"format": "pkcs12", "profile": "modern", "password": PASSWORD})
    assert r.status == 200, r
    ev = [e for e in events(daemon, o["id"]) if e["type"] == "key_export"]
    assert len(ev) == 1 and ev[0]["actor"] == "token:ci-bot", ev
    assert "modern" in ev[0]["detail"]


def test_default_profile_and_friendly_name(daemon, ca, work):
    o, _leaf = ready_order(daemon, ca, cn="name." + SUFFIX)
    path = os.path.join(work, "name.pfx")
    for fname, want in ((None, "name." + SUFFIX), ("Example AMT provisioning (2026) #1", None)):
        body = {"format": "pkcs12", "password": PASSWORD}
        if fname:
            body["friendly_name"] = fname
        r = export(daemon, o["id"], **body)
        assert r.status == 200, r
        with open(path, "wb") as f:
            f.write(r.body)
        text, _certs, _pub = open_pfx(path, PASSWORD)
        assert "pbeWithSHA1And3-KeyTripleDES-CBC" in text  # compat is the default
        assert "friendlyName: " + (want or fname) in text, text
    before = daemon.db_snapshot()
    for bad in ("", "tab\tname", "x" * 256, "emoji \U0001F600"):
        r = export(daemon, o["id"], format="pkcs12", password=PASSWORD, friendly_name=bad)
        p = problem(r, 422, "validation_failed")
        assert p["field"] == "friendly_name", (bad, p)
    assert daemon.db_snapshot() == before


def test_renew_an_order_whose_key_stayed_elsewhere(daemon, orders):
    r = daemon.post("/api/v1/orders/%s/renew" % orders["nokey"], {})
    assert r.status == 201, r
    n = r.json()
    assert n["has_key"] is True and n["csr_source"] == "generated" and n["renewal_of"] == orders["nokey"]
    assert n["public_key_sha256"] != get(daemon, orders["nokey"])["public_key_sha256"]
    assert n["subject"]["common_name"] == "iis." + SUFFIX


# ---- the chain a verification chose must still be there -----------------

def test_export_after_a_pool_certificate_was_removed(daemon, work):
    """An order whose intermediate and root came from the CA pool; the
    pool entry is deleted afterwards. The export cannot carry the verified
    chain any more: that is the caller's to fix (upload the CA again or
    verify again), so a 409 that says so, not a 500 'the server failed'."""
    pool = testca.TestCA(os.path.join(work, "pool"), root_cn="Pool Root", inter_cn="Pool Issuing CA")
    r = daemon.request("POST", "/api/v1/ca-certificates", body=pool.chain_pem.encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 201, r
    o = create(daemon, cn="pool." + SUFFIX)
    r = upload(daemon, o["id"], pool.sign_csr(o["csr"]).encode(), "application/x-pem-file")
    assert r.status == 201, r
    trust(daemon, pool)
    rep = verify_ready(daemon, o["id"])
    assert [c["origin"] for c in rep["chain"]] == ["delivery", "ca-pool", "ca-pool"]
    assert export(daemon, o["id"], format="pem-chain").status == 200
    assert daemon.request("DELETE", "/api/v1/ca-certificates/" + pool.root_sha256).status == 204
    before = daemon.db_snapshot()
    for body in ({"format": "pem-chain"}, GOOD):
        r = export(daemon, o["id"], **body)
        assert r.status != 500, "%s: %r" % (body["format"], r)
        problem(r, 409)
    assert daemon.db_snapshot() == before
