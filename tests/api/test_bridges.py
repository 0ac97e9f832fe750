"""Issue 11 (items 1, 2): the built-in cross-certificates of data/bridges/
complete a delivery that lacks its bridge, the report says so and the PFX
carries it; without a bridge that would help, the root_trusted advice names
it first, then the AMT-list roots the hierarchy reaches, and only then
enabling a root, with the evidence behind that entry.

The real Sectigo intermediates come from tests/fixtures/public-ca (no real
leaf is available: the OV CA is inspected as the end of the chain). A leaf
of ours under a cross-signed test hierarchy, with AMTCERTD_BRIDGES_DIR
pointing at a test set, covers verify and the export."""
import os
import subprocess
import sys
import tempfile

import pytest

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SRC = amtc.SRC
FIXTURES = os.path.join(SRC, "tests", "fixtures", "public-ca")
BRIDGES = os.path.join(SRC, "data", "bridges")
AMT_ROOTS = os.path.join(SRC, "data", "amt-roots.tsv")
# AAA Certificate Services and the USERTrust cross-certificate expire on
# 2028-12-31: judged as of a date when all of it is valid.
AT = "2026-12-01T00:00:00Z"
AAA_SHA256 = "d7a7a0fb5d7e2731d771e9484ebcdef71d5f0c3e0a2948782bc83ee0ea699ef4"
UT_BY_AAA_SHA256 = "68b9c761219a5b1f0131784474665db61bbdb109e00f05ca9f74244ee5f5f52b"
UT_SELF_SHA256 = "e793c9b02fd8aa13e21c31228accb08119643b749c898964b1746d46c3d4cbd2"
DELIVERY = ("sectigo-rsa-ov-secure-server-ca.pem", "usertrust-rsa-ca-self-signed.pem")
PASSWORD = "Corr3ct-Horse-Battery"
SUFFIX = "vpro.example.com"


def public(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def inspect(daemon, body, at=AT):
    r = daemon.request("POST", "/api/v1/inspect?at=" + at, body=body,
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 200, r
    return r.json()


def check(rep, cid):
    return next(c for c in rep["checks"] if c["id"] == cid)


def bridge_rows():
    with open(os.path.join(BRIDGES, "bridges.tsv")) as f:
        lines = [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#")]
    head = lines[0].split("\t")
    assert head[:4] == ["file", "subject", "issuer", "sha256"], head
    return [dict(zip(head, ln.split("\t"))) for ln in lines[1:]]


def amt_entries():
    with open(AMT_ROOTS) as f:
        rows = [ln.rstrip("\n").split("\t") for ln in f if ln.strip() and not ln.startswith("#")]
    head = rows[0]
    return [dict(zip(head, r)) for r in rows[1:]]


# ---- the files themselves, checked with openssl ----------------------------

# the given root alone: not the machine's store (-no-CApath, -no-CAstore)
VERIFY = ["openssl", "verify", "-no_check_time", "-partial_chain", "-no-CApath", "-no-CAstore"]


def test_every_bridge_verifies_under_its_amt_listed_root():
    rows = bridge_rows()
    assert any(r["sha256"] == UT_BY_AAA_SHA256 for r in rows)
    listed = {e["sha256"]: e for e in amt_entries()}
    roots = {}
    for name in os.listdir(os.path.join(BRIDGES, "roots")):
        path = os.path.join(BRIDGES, "roots", name)
        with open(path) as f:
            roots[testca.sha256_of_pem(f.read())] = path
    for r in rows:
        path = os.path.join(BRIDGES, r["file"])
        with open(path) as f:
            pem = f.read()
        assert testca.sha256_of_pem(pem) == r["sha256"], r["file"]
        assert testca.spki_sha256(pem) == r["spki_sha256"], r["file"]
        assert r["root_sha256"] in listed, (r["file"], "root not in data/amt-roots.tsv")
        assert r["root_sha256"] in roots, (r["file"], "root not in data/bridges/roots")
        root = roots[r["root_sha256"]]
        # its signature, under that root alone (dates aside: a root may
        # outlive the test machine's clock either way)
        p = subprocess.run(VERIFY + ["-CAfile", root, path], capture_output=True)
        assert p.returncode == 0, (r["file"], p.stdout, p.stderr)
        # and not under another root of the set
        for other in roots.values():
            if other != root:
                p = subprocess.run(VERIFY + ["-CAfile", other, path], capture_output=True)
                assert p.returncode != 0, (r["file"], other)
        assert r["subject"] in testca.subject_of(pem), r
        assert r["source"] and r["why"], r
    # the Go Daddy / Starfield G2 and COMODO RSA twins, where cfssl_trust has them
    assert {r["subject"] for r in rows} >= {"USERTrust RSA Certification Authority"}


# ---- the real Sectigo chain without its bridge ------------------------------

def test_sectigo_without_its_bridge_completes_to_aaa(daemon):
    rep = inspect(daemon, b"".join(public(n) for n in DELIVERY))
    shas = [c["sha256"] for c in rep["chain"]]
    assert shas[1:] == [UT_BY_AAA_SHA256, AAA_SHA256], rep["chain"]
    assert rep["chain"][0]["origin"] == "delivery"
    assert rep["chain"][1]["origin"] == "built-in"
    assert rep["root"]["amt_trusted"] is True
    assert rep["root"]["amt_entry"] == "Comodo AAA CA (AAA Certificate Services)"
    rt = check(rep, "root_trusted")
    assert rt["status"] == "pass", rt
    assert ("completed with the built-in cross-certificate USERTrust RSA Certification "
            "Authority issued by AAA Certificate Services, SHA-256 " + UT_BY_AAA_SHA256) in rt["message"]
    # the delivered self-signed twin lost, and says why
    lost = [a for a in rep["alternatives"] if a["chain"][-1].startswith("CN=USERTrust")]
    assert lost and "AMT list" in lost[0]["why_not_chosen"], rep["alternatives"]


def test_a_chain_that_works_alone_takes_nothing_built_in(daemon):
    names = DELIVERY + ("usertrust-rsa-ca-cross-signed-by-aaa.pem", "aaa-certificate-services.pem")
    rep = inspect(daemon, b"".join(public(n) for n in names))
    assert [c["origin"] for c in rep["chain"]] == ["delivery"] * 3
    assert "built-in" not in check(rep, "root_trusted")["message"]


def test_without_the_built_in_bridge_the_advice_names_it_first(work):
    empty = os.path.join(work, "no-bridges")
    os.makedirs(empty, exist_ok=True)
    d = amtc.Daemon(env={"AMTCERTD_BRIDGES_DIR": empty})
    try:
        rep = inspect(d, b"".join(public(n) for n in DELIVERY))
        assert [c["sha256"] for c in rep["chain"]][1:] == [UT_SELF_SHA256]
        assert all(c["origin"] == "delivery" for c in rep["chain"])
        rt = check(rep, "root_trusted")
        assert rt["status"] == "fail"
        fix = rt["fix"]
        bridge = fix.find('1. add the cross-certificate "USERTrust RSA Certification Authority" '
                          'issued by "AAA Certificate Services" (SHA-256 ' + UT_BY_AAA_SHA256 +
                          '; not built in here, source cloudflare/cfssl_trust')
        reach = fix.find("2. roots of the AMT list this CA hierarchy reaches: ")
        enable = fix.find('3. only then, if your devices trust it, enable '
                          '"USERTrust RSA Certification Authority"')
        assert 0 == bridge < reach < enable, fix
        assert '"Comodo AAA CA (AAA Certificate Services)" (enabled; default in firmware' in fix
        # the entry to enable is only cited: the advice says what that means
        assert "only cited" in fix[enable:] and "not confirmed as a default" in fix[enable:], fix
        assert "0 built-in cross-certificates and roots (" + empty + ")" in d.read_stderr()
    finally:
        d.stop_checked()


def test_a_built_in_bridge_to_a_disabled_root_is_named_first(daemon):
    roots = daemon.get("/api/v1/amt/trusted-roots").json()
    items = roots["items"] if isinstance(roots, dict) else roots
    aaa = next(e for e in items if e.get("sha256") == AAA_SHA256)
    r = daemon.request("PATCH", "/api/v1/amt/trusted-roots/" + aaa["id"], json_body={"enabled": False})
    assert r.status == 200, r
    try:
        rep = inspect(daemon, b"".join(public(n) for n in DELIVERY))
        rt = check(rep, "root_trusted")
        assert rt["status"] == "fail"
        assert rt["fix"].startswith('1. the built-in cross-certificate "USERTrust RSA Certification '
                                    'Authority" issued by "AAA Certificate Services" (SHA-256 '
                                    + UT_BY_AAA_SHA256 + ') leads this chain to "Comodo AAA CA '
                                    '(AAA Certificate Services)", which the AMT list has but not '
                                    'enabled (default in firmware'), rt["fix"]
        # nothing built in is kept when it does not make the chain trusted
        assert all(c["origin"] == "delivery" for c in rep["chain"])
    finally:
        r = daemon.request("PATCH", "/api/v1/amt/trusted-roots/" + aaa["id"], json_body={"enabled": True})
        assert r.status == 200, r
    assert check(inspect(daemon, b"".join(public(n) for n in DELIVERY)), "root_trusted")["status"] == "pass"


def test_a_root_that_is_only_cited_explains_the_evidence(daemon):
    # DigiCert Global Root CA is in the AMT list as "cited" (seeded
    # disabled) and no known bridge leads from it: the chain's only
    # AMT-listed root is a cited one.
    path = "/usr/share/ca-certificates/mozilla/DigiCert_Global_Root_CA.crt"
    if not os.path.exists(path):
        pytest.skip("Debian's ca-certificates is not installed")
    with open(path, "rb") as f:
        pem = f.read()
    entry = next(e for e in amt_entries() if e["name"] == "DigiCert Global Root CA")
    assert entry["evidence"] == "cited" and entry["sha256"] == testca.sha256_of_pem(pem.decode())
    rep = inspect(daemon, pem)
    rt = check(rep, "root_trusted")
    assert rt["status"] == "fail", rt
    fix = rt["fix"]
    assert "cross-certificate" not in fix, fix
    assert fix.startswith('1. roots of the AMT list this CA hierarchy reaches: "DigiCert Global Root CA" '
                          '(not enabled; only cited'), fix
    assert '2. only then, if your devices trust it, enable "DigiCert Global Root CA" in the AMT root ' \
           'list (only cited: named elsewhere, not confirmed as a default of any AMT firmware' in fix, fix


# ---- a leaf of ours: verify and the PFX carry the built-in bridge ------------

def test_verify_and_export_carry_the_built_in_bridge(work):
    old = testca.TestCA(os.path.join(work, "bridge-old"), root_cn="Bridge Old Root",
                        inter_cn="Bridge Old Issuing CA")
    new = testca.TestCA(os.path.join(work, "bridge-new"), root_cn="Bridge New Root",
                        inter_cn="Bridge New Issuing CA")
    cross = new.cross_signed_by(old)
    bdir = os.path.join(work, "bridges-test")
    os.makedirs(os.path.join(bdir, "roots"), exist_ok=True)
    with open(os.path.join(bdir, "bridge-new-by-old.pem"), "w") as f:
        f.write(cross)
    with open(os.path.join(bdir, "roots", "old-root.pem"), "w") as f:
        f.write(old.root_pem)
    d = amtc.Daemon(env={"AMTCERTD_BRIDGES_DIR": bdir})
    try:
        # the devices trust the old root only
        r = d.post("/api/v1/amt/trusted-roots", {"name": "Bridge Old Root", "sha256": old.root_sha256})
        assert r.status == 201, r
        r = d.post("/api/v1/orders", {"subject": {"common_name": "rcs." + SUFFIX, "organization": "Example Inc",
                                                  "locality": "Portland", "state": "Oregon",
                                                  "country": "US"},
                                      "dns_suffix": SUFFIX})
        assert r.status == 201, r
        oid = r.json()["id"]
        leaf = new.sign_csr(r.json()["csr"])
        # the delivery ends at the new, self-signed root: no bridge in it
        r = d.request("POST", "/api/v1/orders/%s/uploads" % oid,
                      body=(leaf + new.inter_pem + new.root_pem).encode(),
                      headers={"Content-Type": "application/x-pem-file"})
        assert r.status == 201, r
        r = d.post("/api/v1/orders/%s/verify" % oid, {})
        assert r.status == 200, r
        rep = r.json()
        assert rep["order_state"] == "ready", rep["checks"]
        shas = [c["sha256"] for c in rep["chain"]]
        assert shas == [testca.sha256_of_pem(leaf), testca.sha256_of_pem(new.inter_pem),
                        testca.sha256_of_pem(cross), old.root_sha256], rep["chain"]
        assert [c["origin"] for c in rep["chain"]] == ["delivery", "delivery", "built-in", "built-in"]
        assert ("completed with the built-in cross-certificate Bridge New Root issued by Bridge Old Root, "
                "SHA-256 " + testca.sha256_of_pem(cross)) in check(rep, "root_trusted")["message"]
        r = d.post("/api/v1/orders/%s/exports" % oid, {"format": "pkcs12", "password": PASSWORD})
        assert r.status == 200, r
        with tempfile.NamedTemporaryFile(suffix=".pfx") as f:
            f.write(r.body)
            f.flush()
            out = subprocess.run(["openssl", "pkcs12", "-nokeys", "-passin", "pass:" + PASSWORD,
                                  "-in", f.name], capture_output=True)
        assert out.returncode == 0, out.stderr
        in_pfx = [testca.sha256_of_pem(p) for p in testca.split_pem(out.stdout, "CERTIFICATE")]
        assert testca.sha256_of_pem(cross) in in_pfx
        assert old.root_sha256 in in_pfx
        assert new.root_sha256 not in in_pfx  # the twin AMT does not trust stays out
        # the PEM chain export carries it as well
        r = d.post("/api/v1/orders/%s/exports" % oid, {"format": "pem-chain"})
        assert r.status == 200, r
        assert [testca.sha256_of_pem(p) for p in testca.split_pem(r.body, "CERTIFICATE")] == shas
    finally:
        d.stop_checked()
