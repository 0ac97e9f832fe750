"""Issue 3: take in what the CA sends, build the chain AMT trusts, and say
exactly what is wrong. Test PKIs are made by tests/tools/testca.py."""
import base64
import datetime as dt
import io
import json
import os
import sqlite3
import sys
import zipfile

import pytest
from cryptography.hazmat.primitives import serialization

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

PUBLIC = os.path.join(amtc.SRC, "tests", "fixtures", "public-ca")
AAA_SHA256 = "d7a7a0fb5d7e2731d771e9484ebcdef71d5f0c3e0a2948782bc83ee0ea699ef4"
SUFFIX = "vpro.example.com"


def trust(daemon, ca):
    r = daemon.post("/api/v1/amt/trusted-roots", {"name": "test root", "sha256": ca.root_sha256})
    assert r.status in (201, 409), r


def new_order(daemon, cn="rcs." + SUFFIX):
    r = daemon.post("/api/v1/orders", {"subject": {"common_name": cn, "organization": "Example",
                                                   "country": "US"}, "dns_suffix": SUFFIX})
    assert r.status == 201, r
    return r.json()


def upload(daemon, oid, data, ctype="application/octet-stream", headers=None):
    h = {"Content-Type": ctype}
    h.update(headers or {})
    return daemon.request("POST", "/api/v1/orders/%s/uploads" % oid, body=data, headers=h)


def multipart(files, fields=()):
    boundary = "----amtcertdtest7MA4YWxkTrZu0gW"
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, name, value)).encode()
    for fname, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                "Content-Type: application/octet-stream\r\n\r\n" % (boundary, fname)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return out, "multipart/form-data; boundary=" + boundary


def verify(daemon, oid, **body):
    r = daemon.post("/api/v1/orders/%s/verify" % oid, body)
    assert r.status == 200, r
    return r.json()


def checks(report):
    return {c["id"]: c for c in report["checks"]}


def sign(ca, order, **kw):
    return ca.sign_csr(order["csr"], **kw)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# ---- the seed workflow: zip from the CA, verify to ready ----------------

def test_zip_delivery_to_ready(daemon, ca, work):
    o = new_order(daemon)
    leaf = sign(ca, o)
    z = os.path.join(work, "sectigo.zip")
    ca.delivery_zip(leaf, z, layout="sectigo")
    r = upload(daemon, o["id"], read(z), "application/zip")
    assert r.status == 201, r
    res = r.json()
    assert res["state"] == "issued"
    roles = sorted(c["role"] for c in res["certificates"])
    assert roles == ["intermediate", "leaf", "root"]
    for c in res["certificates"]:
        assert c["reason"] and c["source"].startswith("upload!")
    # not yet trusted: the root is not in the AMT list
    rep = verify(daemon, o["id"])
    assert rep["overall"] == "fail"
    assert checks(rep)["root_trusted"]["status"] == "fail"
    assert rep["order_state"] == "issued"
    trust(daemon, ca)
    rep = verify(daemon, o["id"])
    assert rep["overall"] in ("pass", "warn"), rep["checks"]
    assert rep["order_state"] == "ready"
    assert [c["role"] for c in rep["chain"]] == ["leaf", "intermediate", "root"]
    assert rep["chain"][0]["subject"].startswith("CN=rcs.vpro.example.com") or "rcs.vpro.example.com" in rep["chain"][0]["subject"]
    assert rep["chain"][0]["issuer"] == rep["chain"][1]["subject"]
    assert rep["root"]["amt_trusted"] and rep["root"]["hash_algorithm"] == "sha256"
    assert rep["root"]["sha256"] == ca.root_sha256
    c = checks(rep)
    for cid in ("key_match", "chain_complete", "signatures", "validity", "issuer_ca", "eku_server_auth",
                "amt_oid", "leaf_key_type", "rsa_size", "sha1", "root_trusted", "suffix_intel",
                "suffix_rps", "chain_length"):
        assert c[cid]["status"] == "pass", (cid, c[cid])
    # the stored report is the latest
    latest = daemon.get("/api/v1/orders/%s/verification" % o["id"])
    assert latest.status == 200 and latest.json()["overall"] == rep["overall"]
    certs = daemon.get("/api/v1/orders/%s/certificates" % o["id"]).json()["items"]
    assert len(certs) == 3 and all(x["pem"].startswith("-----BEGIN CERTIFICATE") for x in certs)
    ev = [e["type"] for e in daemon.get("/api/v1/orders/%s/events" % o["id"]).json()["items"]]
    assert "upload" in ev and ev.count("verified") == 2


def test_verify_before_upload_is_409(daemon):
    o = new_order(daemon)
    r = daemon.post("/api/v1/orders/%s/verify" % o["id"])
    assert r.status == 409 and r.json()["code"] == "no_leaf"
    r = daemon.get("/api/v1/orders/%s/verification" % o["id"])
    assert r.status == 404 and r.json()["code"] == "no_verification"


def test_leaf_for_another_key_is_refused(daemon, ca):
    trust(daemon, ca)
    o = new_order(daemon)
    _key, other = ca.issue("rcs." + SUFFIX)
    before = daemon.db_snapshot()
    r = upload(daemon, o["id"], (other + ca.inter_pem).encode(), "application/x-pem-file")
    assert r.status == 422, r
    p = r.json()
    assert p["code"] == "leaf_key_mismatch"
    assert p["order_public_key_sha256"] == o["public_key_sha256"]
    assert p["certificates"][0]["public_key_sha256"] == testca.spki_sha256(other)
    assert o["public_key_sha256"] in p["detail"] and testca.spki_sha256(other) in p["detail"]
    assert daemon.db_snapshot() == before


@pytest.mark.parametrize("fmt", ["pem-wrong-order", "p7b-pem", "p7b-der", "zip-nested", "der-leaf-then-ca",
                                 "base64", "multipart", "pfx", "pfx-no-root"])
def test_formats(daemon, ca, work, fmt):
    trust(daemon, ca)
    path = os.path.join(work, "d-" + fmt)
    if fmt.startswith("pfx"):
        # A PFX carries the key: the order wraps a CSR made outside, as when
        # IIS made the request and exported the PFX after completing it.
        key, csr = testca.make_key_and_csr("pfx." + SUFFIX, workdir=work)
        r = daemon.post("/api/v1/orders", {"csr": csr, "dns_suffix": SUFFIX})
        assert r.status == 201, r
        o = r.json()
        assert o["has_key"] is False
        leaf = ca.sign_csr(csr)
    else:
        o = new_order(daemon)
        leaf = sign(ca, o)
    if fmt == "pem-wrong-order":
        bodies = [ca.bundle_pem(leaf, order=("root", "leaf", "inter")).replace("\n", "\r\n").encode()]
        bodies[0] = b"Here is your certificate:\r\n" + bodies[0] + b"\r\nThanks\r\n"
    elif fmt.startswith("p7b"):
        ca.delivery_p7b(leaf, path, pem=fmt == "p7b-pem")
        bodies = [read(path)]
    elif fmt == "zip-nested":
        ca.delivery_zip(leaf, path, layout="nested")
        bodies = [read(path)]
    elif fmt == "der-leaf-then-ca":
        bodies = [testca.pem_to_der(leaf), ca.chain_pem.encode()]
    elif fmt == "base64":
        bodies = [base64.encodebytes(testca.pem_to_der(leaf)), ca.chain_pem.encode()]
    elif fmt == "multipart":
        body, ctype = multipart([("leaf.cer", testca.pem_to_der(leaf)), ("chain.pem", ca.chain_pem.encode())])
        r = upload(daemon, o["id"], body, ctype)
        assert r.status == 201, r
        bodies = []
    elif fmt == "pfx":
        body = ca.delivery_pfx(key, leaf, path, "fmt-pass", include_root=True)
        r = upload(daemon, o["id"], body, "application/x-pkcs12", {"X-PKCS12-Password": "fmt-pass"})
        assert r.status == 201, r
        assert r.json()["key_imported"] is True
        bodies = []
    elif fmt == "pfx-no-root":
        # what IIS exports by default: key, leaf, intermediate; the root
        # comes separately (the CA's zip)
        body = ca.delivery_pfx(key, leaf, path, "fmt-pass", include_root=False)
        r = upload(daemon, o["id"], body, "application/x-pkcs12", {"X-PKCS12-Password": "fmt-pass"})
        assert r.status == 201, r
        assert r.json()["key_imported"] is True
        bodies = [ca.root_pem.encode()]
    else:
        raise AssertionError("no test for format " + fmt)
    for b in bodies:
        r = upload(daemon, o["id"], b)
        assert r.status == 201, (fmt, r)
    rep = verify(daemon, o["id"])
    assert rep["overall"] in ("pass", "warn"), (fmt, rep["checks"])
    assert [c["sha256"] for c in rep["chain"]] == [testca.sha256_of_pem(leaf), testca.sha256_of_pem(ca.inter_pem),
                                                   ca.root_sha256], (fmt, rep["chain"])
    if fmt.startswith("pfx"):
        assert daemon.get("/api/v1/orders/" + o["id"]).json()["has_key"] is True


def test_pfx_with_and_without_root_and_wrong_password(daemon, ca, work):
    trust(daemon, ca)
    key, csr = testca.make_key_and_csr("iis." + SUFFIX, workdir=work)
    r = daemon.post("/api/v1/orders", {"csr": csr, "dns_suffix": SUFFIX})
    assert r.status == 201, r
    o = r.json()
    assert o["has_key"] is False
    leaf = ca.sign_csr(csr)
    pfx = os.path.join(work, "with-root.pfx")
    ca.delivery_pfx(key, leaf, pfx, "s3cret-pass", include_root=True)
    before = daemon.db_snapshot()
    r = upload(daemon, o["id"], read(pfx), "application/x-pkcs12", {"X-PKCS12-Password": "wrong"})
    assert r.status == 422 and r.json()["code"] == "pkcs12_password", r
    r = upload(daemon, o["id"], read(pfx), "application/x-pkcs12")
    assert r.status == 422 and r.json()["code"] == "pkcs12_password", r
    assert daemon.db_snapshot() == before
    body, ctype = multipart([("cert.pfx", read(pfx))], [("password", "s3cret-pass")])
    r = upload(daemon, o["id"], body, ctype)
    assert r.status == 201, r
    assert r.json()["key_imported"] is True
    assert daemon.get("/api/v1/orders/" + o["id"]).json()["has_key"] is True
    rep = verify(daemon, o["id"])
    assert rep["overall"] in ("pass", "warn"), rep["checks"]
    # a PFX without the root, inspected: incomplete unless the root is known
    nr = os.path.join(work, "no-root.pfx")
    ca.delivery_pfx(key, leaf, nr, "s3cret-pass", include_root=False)
    r = daemon.request("POST", "/api/v1/inspect", body=read(nr),
                       headers={"Content-Type": "application/x-pkcs12", "X-PKCS12-Password": "s3cret-pass"})
    assert r.status == 200, r
    rep = r.json()
    assert rep["private_key"] == {"present": True, "matches_leaf": True}
    assert checks(rep)["chain_complete"]["status"] == "fail"
    assert checks(rep)["key_match"]["status"] == "pass"


def test_missing_intermediate_then_added(daemon, ca):
    trust(daemon, ca)
    o = new_order(daemon)
    leaf = sign(ca, o)
    r = upload(daemon, o["id"], (leaf + ca.root_pem).encode())
    assert r.status == 201
    rep = verify(daemon, o["id"])
    assert checks(rep)["chain_complete"]["status"] == "fail"
    assert rep["order_state"] == "issued"
    r = upload(daemon, o["id"], ca.inter_pem.encode())
    assert r.status == 201 and r.json()["state"] == "issued"
    rep = verify(daemon, o["id"])
    assert checks(rep)["chain_complete"]["status"] == "pass"
    assert rep["order_state"] == "ready"


def test_extra_unrelated_certificate(daemon, ca, work):
    other = testca.TestCA(os.path.join(work, "other"), root_cn="Unrelated Root", inter_cn="Unrelated CA")
    _k, stranger = other.issue("www.example.net")
    o = new_order(daemon)
    leaf = sign(ca, o)
    r = upload(daemon, o["id"], (leaf + ca.chain_pem + other.inter_pem + stranger).encode())
    assert r.status == 201, r
    roles = {c["subject"]: c["role"] for c in r.json()["certificates"]}
    assert sorted(roles.values()).count("unrelated") == 2, roles


def test_duplicate_is_reported(daemon, ca):
    o = new_order(daemon)
    leaf = sign(ca, o)
    assert upload(daemon, o["id"], (leaf + ca.chain_pem).encode()).status == 201
    r = upload(daemon, o["id"], (ca.inter_pem + ca.inter_pem).encode())
    assert r.status == 201
    body = r.json()
    assert body["duplicates_in_upload"] == 1
    assert [c["role"] for c in body["certificates"]] == ["duplicate"]


def test_cross_signed_twin_chooses_the_amt_root(daemon, work):
    old = testca.TestCA(os.path.join(work, "old"), root_cn="Old AAA Test Services")
    new = testca.TestCA(os.path.join(work, "new"), root_cn="New USERTrust Test CA")
    cross = new.cross_signed_by(old)
    daemon.post("/api/v1/amt/trusted-roots", {"name": "Old AAA (test)", "sha256": old.root_sha256})
    o = new_order(daemon)
    leaf = new.sign_csr(o["csr"])
    r = upload(daemon, o["id"], (leaf + new.inter_pem + new.root_pem + cross + old.root_pem).encode())
    assert r.status == 201, r
    roles = sorted(c["role"] for c in r.json()["certificates"])
    assert roles == ["cross-signed", "intermediate", "leaf", "root", "root"], roles
    rep = verify(daemon, o["id"])
    assert [c["role"] for c in rep["chain"]] == ["leaf", "intermediate", "cross-signed", "root"]
    assert rep["chain"][-1]["sha256"] == old.root_sha256
    assert rep["root"]["amt_entry"] == "Old AAA (test)"
    assert any("New USERTrust Test CA" in a["why_not_chosen"] for a in rep["alternatives"]), rep["alternatives"]


def test_expired_intermediate(daemon, work):
    exp = testca.TestCA(os.path.join(work, "exp"), root_cn="Expiring Root",
                        inter_not_before=dt.datetime(2020, 1, 1), inter_not_after=dt.datetime(2021, 1, 1))
    trust(daemon, exp)
    o = new_order(daemon)
    leaf = exp.sign_csr(o["csr"])
    assert upload(daemon, o["id"], (leaf + exp.chain_pem).encode()).status == 201
    rep = verify(daemon, o["id"])
    v = checks(rep)["validity"]
    assert v["status"] == "fail" and "Issuing" in v["message"] and "expired" in v["message"], v
    # as of a date when everything was valid... the leaf was not yet: still fail
    rep = verify(daemon, o["id"], at="2020-06-01T00:00:00Z")
    assert checks(rep)["validity"]["status"] == "fail"


@pytest.mark.parametrize("variant,check,status", [
    ("no-amt-oid", "amt_oid", "fail"),
    ("ou-only", "amt_oid", "warn"),
    ("no-server-auth", "eku_server_auth", "fail"),
    ("sha1-leaf", "sha1", "fail"),
])
def test_leaf_rules(daemon, ca, variant, check, status):
    trust(daemon, ca)
    o = new_order(daemon)
    kw = {"no-amt-oid": dict(eku=("serverAuth",)),
          "ou-only": dict(eku=("serverAuth",), ou=testca.AMT_LEGACY_OU),
          "no-server-auth": dict(eku=("amt",)),
          "sha1-leaf": dict(sig="sha1")}[variant]
    leaf = sign(ca, o, **kw)
    assert upload(daemon, o["id"], (leaf + ca.chain_pem).encode()).status == 201
    rep = verify(daemon, o["id"])
    c = checks(rep)[check]
    assert c["status"] == status, c
    if status != "pass":
        assert c["fix"]
    if variant == "ou-only":
        assert "RPS" in c["message"]
    assert rep["order_state"] == ("ready" if status == "warn" else "issued")


def test_suffix_override_and_rps_rule(daemon, ca):
    trust(daemon, ca)
    o = new_order(daemon)
    assert upload(daemon, o["id"], (sign(ca, o) + ca.chain_pem).encode()).status == 201
    rep = verify(daemon, o["id"], dns_suffix="other.org")
    assert checks(rep)["suffix_intel"]["status"] == "fail"
    # RPS's rule matters only to RPS users: a warning that names RPS
    assert checks(rep)["suffix_rps"]["status"] == "warn"
    assert "RPS" in checks(rep)["suffix_rps"]["message"]
    rep = verify(daemon, o["id"], dns_suffix="dev.example.com")
    assert checks(rep)["suffix_intel"]["status"] == "pass"  # .com: last two labels
    bad = daemon.post("/api/v1/orders/%s/verify" % o["id"], {"at": "yesterday"})
    assert bad.status == 422
    bad = daemon.post("/api/v1/orders/%s/verify" % o["id"], {"amt_max": "16"})
    assert bad.status == 400


# ---- public certificates, CA pool, system store ---------------------------

def public(name):
    return read(os.path.join(PUBLIC, name))


# AAA Certificate Services and the USERTrust certificate it cross-signs
# expire on 2028-12-31: the public chain is judged as of a fixed date while
# all of it is valid, and once as of a date after, never as of today.
PUBLIC_VALID_AT = "2026-12-01T00:00:00Z"
PUBLIC_EXPIRED_AT = "2029-06-01T00:00:00Z"


def inspect_public(daemon, names, at):
    body = b"".join(public(n) for n in names)
    r = daemon.request("POST", "/api/v1/inspect?at=" + at, body=body,
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 200, r
    rep = r.json()
    assert rep["at"] == at
    return rep


def test_public_sectigo_chain_orders_to_aaa(daemon):
    names = ("usertrust-rsa-ca-self-signed.pem", "aaa-certificate-services.pem",
             "sectigo-rsa-ov-secure-server-ca.pem", "usertrust-rsa-ca-cross-signed-by-aaa.pem")
    rep = inspect_public(daemon, names, PUBLIC_VALID_AT)
    assert checks(rep)["validity"]["status"] == "pass", checks(rep)["validity"]
    subjects = [c["subject"] for c in rep["chain"]]
    assert "Sectigo RSA Organization Validation" in subjects[0]
    assert "USERTrust" in subjects[1] and "AAA Certificate Services" in rep["chain"][1]["issuer"]
    assert "AAA Certificate Services" in subjects[2]
    assert rep["chain"][2]["sha256"] == AAA_SHA256
    assert rep["root"]["amt_entry"] == "Comodo AAA CA (AAA Certificate Services)"
    assert rep["root"]["hash_algorithm"] == "sha256"
    assert [c["role"] for c in rep["chain"]] == ["leaf", "cross-signed", "root"]
    lost = [a for a in rep["alternatives"] if "USERTrust" in a["ends_at"]]
    assert lost and "AMT" in lost[0]["why_not_chosen"]
    # AAA is SHA-1 signed: a warning, a failure when AMT 16+ is served
    assert checks(rep)["sha1"]["status"] == "warn"
    # after AAA and the cross-certificate expire, the same chain is still
    # the one AMT would use, and it fails on dates
    late = inspect_public(daemon, names, PUBLIC_EXPIRED_AT)
    assert [c["sha256"] for c in late["chain"]] == [c["sha256"] for c in rep["chain"]]
    assert checks(late)["validity"]["status"] == "fail", checks(late)["validity"]


def test_system_store_completes_a_missing_root(work):
    # The store is a bundle made from tests/fixtures, not the machine's
    # (whose content changes with its ca-certificates package): the same
    # answer on every machine and date.
    store = os.path.join(work, "system-roots.pem")
    with open(store, "wb") as f:
        f.write(public("usertrust-rsa-ca-self-signed.pem") + public("aaa-certificate-services.pem"))
    names = ("sectigo-rsa-ov-secure-server-ca.pem", "usertrust-rsa-ca-cross-signed-by-aaa.pem")
    d = amtc.Daemon(extra_args=["--system-roots", store])
    try:
        before = d.db_snapshot()
        rep = inspect_public(d, names, PUBLIC_VALID_AT)
        assert rep["chain"][-1]["sha256"] == AAA_SHA256
        assert rep["chain"][-1]["origin"] == "system-store"
        assert any("system trust store" in n for n in rep["notes"])
        assert checks(rep)["chain_complete"]["status"] == "pass"
        assert d.db_snapshot() == before  # inspect stores nothing
        assert "2 certificates in the system trust store " + store in d.read_stderr()
    finally:
        d.stop_checked()
    # without a system store nothing completes the chain
    d = amtc.Daemon(extra_args=["--system-roots", ""])
    try:
        rep = inspect_public(d, names, PUBLIC_VALID_AT)
        assert all(c["origin"] != "system-store" for c in rep["chain"]), rep["chain"]
        assert checks(rep)["chain_complete"]["status"] == "fail"
    finally:
        d.stop_checked()


def test_ca_pool_serves_later_orders(daemon, work):
    pool_ca = testca.TestCA(os.path.join(work, "pool"), root_cn="Pool Root", inter_cn="Pool Issuing CA")
    trust(daemon, pool_ca)
    r = daemon.request("POST", "/api/v1/ca-certificates", body=pool_ca.chain_pem.encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 201 and r.json()["added"] == 2, r
    items = daemon.get("/api/v1/ca-certificates").json()["items"]
    assert pool_ca.root_sha256 in [i["sha256"] for i in items]
    o = new_order(daemon)
    assert upload(daemon, o["id"], pool_ca.sign_csr(o["csr"]).encode()).status == 201
    rep = verify(daemon, o["id"])
    assert [c["origin"] for c in rep["chain"]] == ["delivery", "ca-pool", "ca-pool"]
    assert rep["overall"] in ("pass", "warn")
    _k, leaf = pool_ca.issue("x.example.com")
    r = daemon.request("POST", "/api/v1/ca-certificates", body=leaf.encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 422 and r.json()["code"] == "not_a_ca"
    assert daemon.request("DELETE", "/api/v1/ca-certificates/" + pool_ca.root_sha256).status == 204
    assert daemon.request("DELETE", "/api/v1/ca-certificates/" + pool_ca.root_sha256).status == 404


# ---- trusted roots ---------------------------------------------------------

def test_trusted_roots_api(daemon):
    items = daemon.get("/api/v1/amt/trusted-roots").json()["items"]
    aaa = [i for i in items if i["sha256"] == AAA_SHA256]
    assert aaa and aaa[0]["enabled"] and aaa[0]["evidence"] == "legacy-default" and aaa[0]["source"] == "seed"
    cited = [i for i in items if i["evidence"] == "cited"]
    assert cited and not any(i["enabled"] for i in cited)
    # enable a cited entry, then disable it again
    r = daemon.request("PATCH", "/api/v1/amt/trusted-roots/" + cited[0]["id"], json_body={"enabled": True})
    assert r.status == 200 and r.json()["enabled"] is True
    r = daemon.request("PATCH", "/api/v1/amt/trusted-roots/" + cited[0]["id"], json_body={"enabled": False})
    assert r.json()["enabled"] is False
    # a custom MEBx hash (sha384)
    h = "ab" * 48
    r = daemon.post("/api/v1/amt/trusted-roots", {"name": "Lab root", "sha384": h.upper()})
    assert r.status == 201 and r.json()["sha384"] == h and r.json()["source"] == "user"
    uid = r.json()["id"]
    assert daemon.post("/api/v1/amt/trusted-roots", {"name": "again", "sha384": h}).status == 409
    assert daemon.post("/api/v1/amt/trusted-roots", {"name": "bad", "sha256": "abc"}).status == 422
    assert daemon.post("/api/v1/amt/trusted-roots", {"name": "none"}).status == 422
    assert daemon.request("DELETE", "/api/v1/amt/trusted-roots/" + uid).status == 204
    assert daemon.request("DELETE", "/api/v1/amt/trusted-roots/" + uid).status == 404
    r = daemon.request("DELETE", "/api/v1/amt/trusted-roots/" + aaa[0]["id"])
    assert r.status == 409 and r.json()["code"] == "seed_entry"
    assert daemon.request("PATCH", "/api/v1/amt/trusted-roots/nope", json_body={"enabled": True}).status == 404


def test_device_list(daemon):
    items = daemon.get("/api/v1/amt/trusted-roots").json()["items"]
    cited = [i for i in items if i["evidence"] == "cited" and i["sha256"]][0]
    text = ("Certificate Hashes\t:\n%s (Default, Active)\n   SHA256: %s\n"
            "My Lab Root (Custom, Active)\n   SHA256: %s\n" % (cited["name"], cited["sha256"].upper(), "cd" * 32))
    r = daemon.post("/api/v1/amt/trusted-roots/device-list", {"device": "PC-0042", "text": text})
    assert r.status == 200, r
    s = r.json()
    assert (s["hashes"], s["added"], s["known"], s["enabled"]) == (2, 1, 1, 1)
    items = {i["id"]: i for i in daemon.get("/api/v1/amt/trusted-roots").json()["items"]}
    assert items[cited["id"]]["enabled"] is True
    new = items[s["ids"][1]]
    assert new["source"] == "device" and "PC-0042" in new["name"] and new["enabled"]
    r = daemon.post("/api/v1/amt/trusted-roots/device-list", {"text": "no hashes here"})
    assert r.status == 422


def test_inspect_errors(daemon):
    r = daemon.request("POST", "/api/v1/inspect", body=b"hello", headers={"Content-Type": "text/plain"})
    assert r.status == 422 and r.json()["code"] == "unreadable_upload"
    r = daemon.request("POST", "/api/v1/inspect", body=b"", headers={"Content-Type": "text/plain"})
    assert r.status == 400 and r.json()["code"] == "empty_upload"
    r = daemon.request("POST", "/api/v1/inspect", body=b"{}", headers={"Content-Type": "application/json"})
    assert r.status == 415
    r = daemon.request("POST", "/api/v1/inspect?bogus=1", body=b"x", headers={"Content-Type": "text/plain"})
    assert r.status == 400
    body, ctype = multipart([])
    r = daemon.request("POST", "/api/v1/inspect", body=body, headers={"Content-Type": ctype})
    assert r.status == 400


# ---- issue 10: a private key sent along is taken or refused, never ignored --------

def csr_order(daemon, work, cn):
    key, csr = testca.make_key_and_csr(cn, workdir=work)
    r = daemon.post("/api/v1/orders", {"csr": csr, "dns_suffix": SUFFIX})
    assert r.status == 201, r
    o = r.json()
    assert o["has_key"] is False, o["key"]
    return key, o


def stored_uploads(daemon, oid):
    con = sqlite3.connect("file:%s?mode=ro" % daemon.db_path, uri=True)
    try:
        return con.execute("SELECT sealed, data FROM uploads WHERE order_id = ?", (oid,)).fetchall()
    finally:
        con.close()


def test_pem_key_beside_the_leaf_is_imported_then_matched(daemon, ca, work):
    key, o = csr_order(daemon, work, "pemkey." + SUFFIX)
    leaf = ca.sign_csr(o["csr"])
    r = upload(daemon, o["id"], (leaf + key).encode(), "application/x-pem-file")
    assert r.status == 201, r
    res = r.json()
    assert res["private_key"] == "imported" and res["key_imported"] is True, res
    assert res["state"] == "issued"
    got = daemon.get("/api/v1/orders/" + o["id"]).json()
    assert got["has_key"] is True
    assert got["key"]["origin"] == "pem", got["key"]
    assert got["key"]["source"] == "imported from an uploaded PEM file", got["key"]
    events = daemon.get("/api/v1/orders/%s/events" % o["id"]).json()["items"]
    assert any(e["type"] == "key_imported" and "PEM" in (e.get("detail") or "") for e in events), events
    # the same key again, in a zip beside the chain: the order's own key
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("leaf.pem", leaf)
        zf.writestr("key.pem", key)
        zf.writestr("chain.pem", ca.chain_pem)
    r = upload(daemon, o["id"], z.getvalue(), "application/zip")
    assert r.status == 201, r
    assert r.json()["private_key"] == "matched" and r.json()["key_imported"] is False, r.json()
    # the raw uploads are sealed: no clear key in the stored bytes
    rows = stored_uploads(daemon, o["id"])
    assert len(rows) == 2 and all(sealed == 1 for sealed, _d in rows), rows
    key_der = serialization.load_pem_private_key(key.encode(), None).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    body_line = [ln for ln in key.splitlines() if ln and not ln.startswith("-----")][2].encode()
    for _sealed, data in rows:
        assert b"PRIVATE KEY" not in data and body_line not in data and key_der[40:80] not in data


def test_upload_without_a_key_says_none(daemon, ca):
    o = new_order(daemon, "nokey." + SUFFIX)
    r = upload(daemon, o["id"], sign(ca, o).encode(), "application/x-pem-file")
    assert r.status == 201, r
    assert r.json()["private_key"] == "none", r.json()
    assert o["key"]["origin"] == "generated" and o["key"]["source"] == "generated by amtcertd", o["key"]


def test_pem_key_for_another_order_is_refused(daemon, ca, work):
    _key, o = csr_order(daemon, work, "pemother." + SUFFIX)
    other_key = testca.make_key()
    leaf = ca.sign_csr(o["csr"])
    before = daemon.db_snapshot()
    r = upload(daemon, o["id"], (leaf + other_key).encode(), "application/x-pem-file")
    assert r.status == 422, r
    p = r.json()
    assert p["code"] == "leaf_key_mismatch" and "PEM" in p["detail"] and "nothing was stored" in p["detail"], p
    assert daemon.db_snapshot() == before
    assert daemon.get("/api/v1/orders/" + o["id"]).json()["has_key"] is False


def test_encrypted_pem_key_needs_its_password(daemon, ca, work):
    key, o = csr_order(daemon, work, "pemenc." + SUFFIX)
    leaf = ca.sign_csr(o["csr"])
    enc = serialization.load_pem_private_key(key.encode(), None).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"Pem-Key-Pass-1")).decode()
    assert "ENCRYPTED PRIVATE KEY" in enc
    body = (leaf + enc).encode()
    before = daemon.db_snapshot()
    r = upload(daemon, o["id"], body, "application/x-pem-file")
    assert r.status == 422 and r.json()["code"] == "pkcs12_password", r
    assert "encrypted" in r.json()["detail"], r.json()
    r = upload(daemon, o["id"], body, "application/x-pem-file", {"X-PKCS12-Password": "wrong"})
    assert r.status == 422 and r.json()["code"] == "pkcs12_password", r
    assert daemon.db_snapshot() == before
    r = upload(daemon, o["id"], body, "application/x-pem-file", {"X-PKCS12-Password": "Pem-Key-Pass-1"})
    assert r.status == 201, r
    assert r.json()["private_key"] == "imported", r.json()
    assert daemon.get("/api/v1/orders/" + o["id"]).json()["key"]["origin"] == "pem"


def test_unreadable_pem_key_is_refused_not_ignored(daemon, ca, work):
    _key, o = csr_order(daemon, work, "pembad." + SUFFIX)
    leaf = ca.sign_csr(o["csr"])
    ssh = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    r = upload(daemon, o["id"], (leaf + ssh).encode(), "application/x-pem-file")
    assert r.status == 422 and r.json()["code"] == "unreadable_upload", r
    assert "OpenSSH" in r.json()["detail"], r.json()


def test_pkcs12_key_is_labelled_as_imported(daemon, ca, work):
    key, o = csr_order(daemon, work, "p12label." + SUFFIX)
    assert o["key"]["origin"] == "none", o["key"]
    leaf = ca.sign_csr(o["csr"])
    body = ca.delivery_pfx(key, leaf, os.path.join(work, "label.pfx"), "label-pass", include_root=True)
    r = upload(daemon, o["id"], body, "application/x-pkcs12", {"X-PKCS12-Password": "label-pass"})
    assert r.status == 201, r
    assert r.json()["private_key"] == "imported", r.json()
    got = daemon.get("/api/v1/orders/" + o["id"]).json()["key"]
    assert got["origin"] == "pkcs12" and got["source"] == "imported from an uploaded PKCS#12", got
    assert got["stored"] is True


def test_ca_pool_refuses_a_key(daemon, ca, work):
    key = testca.make_key()
    r = daemon.request("POST", "/api/v1/ca-certificates", body=(ca.inter_pem + key).encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 422 and r.json()["code"] == "key_not_accepted", r
