"""Issue 9: the PFX's iteration count is the caller's choice, 1,000 to
1,000,000 (default 2,048, OpenSSL 3's), for the MAC, the certificates and
the key alike; the key_export event says which. The refusals (out of
range, not an integer, on a certificate format) are rows of
test_lifecycle.py's BAD_EXPORTS."""
import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SUFFIX = "vpro.example.com"
PASSWORD = "Iterations-Test-2026"


@pytest.fixture(scope="module")
def order(daemon, ca):
    r = daemon.post("/api/v1/orders", {"subject": {"common_name": "iter." + SUFFIX, "organization": "Example Inc",
                                                   "country": "US"}, "dns_suffix": SUFFIX})
    assert r.status == 201, r
    o = r.json()
    r = daemon.request("POST", "/api/v1/orders/%s/uploads" % o["id"],
                       body=(ca.sign_csr(o["csr"]) + ca.chain_pem).encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 201, r
    assert daemon.post("/api/v1/amt/trusted-roots", {"name": "iter", "sha256": ca.root_sha256}).status == 201
    r = daemon.post("/api/v1/orders/%s/verify" % o["id"], {})
    assert r.status == 200 and r.json()["order_state"] == "ready", r
    return o["id"]


def counts(path):
    """(MAC, certificates, key) iteration counts and the two algorithms, as openssl pkcs12 -info reads them."""
    p = subprocess.run(["openssl", "pkcs12", "-info", "-nokeys", "-nocerts", "-passin", "pass:" + PASSWORD,
                        "-in", path], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    text = p.stdout + p.stderr
    got = []
    for rx in (r"^MAC: sha256, Iteration (\d+)$", r"^PKCS7 Encrypted data: .*Iteration (\d+)",
               r"^Shrouded Keybag: .*Iteration (\d+)"):
        m = re.findall(rx, text, re.M)
        assert len(m) == 1, (rx, text)
        got.append(int(m[0]))
    return tuple(got)


def key_exports(daemon, oid):
    r = daemon.get("/api/v1/orders/%s/events" % oid)
    assert r.status == 200, r
    return [e for e in r.json()["items"] if e["type"] == "key_export"]


# 1,000,000 costs about a second to build and check: one profile
@pytest.mark.parametrize("profile,iterations", [("compat", None), ("modern", None), ("compat", 1000),
                                                ("modern", 1000), ("compat", 2048), ("modern", 54321),
                                                ("modern", 1000000)])
def test_the_count_asked_for_is_written(daemon, order, work, profile, iterations):
    body = {"format": "pkcs12", "profile": profile, "password": PASSWORD}
    if iterations is not None:
        body["iterations"] = iterations
    want = iterations or 2048
    before = len(key_exports(daemon, order))
    r = daemon.post("/api/v1/orders/%s/exports" % order, body)
    assert r.status == 200, r
    path = os.path.join(work, "%s-%s.pfx" % (profile, want))
    with open(path, "wb") as f:
        f.write(r.body)
    assert counts(path) == (want, want, want)
    ev = key_exports(daemon, order)
    assert len(ev) == before + 1, ev
    assert ev[-1]["detail"].startswith("pkcs12 %s, %d iterations, 3 certificates, leaf " % (profile, want)), ev[-1]


def test_null_is_the_default(daemon, order, work):
    r = daemon.post("/api/v1/orders/%s/exports" % order,
                    {"format": "pkcs12", "password": PASSWORD, "iterations": None})
    assert r.status == 200, r
    path = os.path.join(work, "null.pfx")
    with open(path, "wb") as f:
        f.write(r.body)
    assert counts(path) == (2048, 2048, 2048)


def test_out_of_range_names_the_field_and_leaves_no_event(daemon, order):
    before = key_exports(daemon, order)
    for bad in (999, 1000001):
        r = daemon.post("/api/v1/orders/%s/exports" % order,
                        {"format": "pkcs12", "password": PASSWORD, "iterations": bad})
        assert r.status == 422, r
        p = r.json()
        assert p["code"] == "validation_failed" and p["field"] == "iterations", p
        assert "1000" in p["detail"] and "1000000" in p["detail"], p
    assert key_exports(daemon, order) == before


def test_the_file_still_holds_the_chain(daemon, order, ca, work):
    r = daemon.post("/api/v1/orders/%s/exports" % order,
                    {"format": "pkcs12", "profile": "modern", "password": PASSWORD, "iterations": 1000})
    assert r.status == 200, r
    path = os.path.join(work, "chain.pfx")
    with open(path, "wb") as f:
        f.write(r.body)
    p = subprocess.run(["openssl", "pkcs12", "-nokeys", "-passin", "pass:" + PASSWORD, "-in", path],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    certs = testca.split_pem(p.stdout, "CERTIFICATE")
    assert [testca.pem_to_der(c) for c in certs[1:]] == [testca.pem_to_der(c) for c in (ca.inter_pem, ca.root_pem)]
