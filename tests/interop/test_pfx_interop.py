"""Issues 4 and 9: each profile's PFX, exported through the API at the
default iteration count (2,048) and at others, opens in tools we did not
write, read the way the AMT consoles read it:

- `openssl pkcs12 -info` (names the algorithms and the MAC),
- GnuTLS `certtool --p12-info`,
- node-forge, as Open AMT RPS (`convertPfxToObject`, src/certManager.ts)
  and MeshCentral (`loadPfxCertificate`, certoperations.js) call it:
  strict DER, pkcs12FromAsn1(asn1, true, password), certBag and
  pkcs8ShroudedKeyBag (tests/interop/forge/check.js),
- Go's software.sslmate.com/src/go-pkcs12 DecodeChain (rpc-go, DMT
  Console) from Debian's golang-sslmate-src-go-pkcs12-dev
  (tests/interop/go/decode.go, built offline here).

A missing tool is a failure, not a skip: CI installs them
(scripts/deps.sh test). OpenSSL's libcrypto writes the files and the
daemon re-reads them with GnuTLS; openssl and certtool must show the count
asked for on the MAC, the certificates and the key. node-forge spends
about 13 to 20 ms per 1,000 iterations, so the counts here stay small.
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FORGE_DIR = os.path.join(HERE, "forge")
CHECK_JS = os.path.join(FORGE_DIR, "check.js")
DECODE_GO = os.path.join(HERE, "go", "decode.go")
GOPATH = "/usr/share/gocode"
GO_PKCS12 = os.path.join(GOPATH, "src", "software.sslmate.com", "src", "go-pkcs12")

SUFFIX = "vpro.example.com"
PASSWORD = "Interop-Test-2026!"
AMT_OID = "2.16.840.1.113741.1.2.3"
SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
PROFILES = ("compat", "modern")
# None: the API's default (2,048); the minimum; one more
ITERATIONS = (None, 1000, 20000)
CASES = [(p, i) for p in PROFILES for i in ITERATIONS]
CASE_IDS = ["%s-%s" % (p, i or "default") for p, i in CASES]


def need(tool, how):
    path = shutil.which(tool)
    if not path:
        pytest.fail("%s is not installed: %s (CI installs it with scripts/deps.sh test)" % (tool, how))
    return path


def make_ready(daemon, cn, leaf_of, trust_sha256):
    """An order made ready: leaf_of(csr) -> the PEM to upload."""
    r = daemon.post("/api/v1/orders", {"subject": {"common_name": cn, "organization": "Example Inc",
                                                   "country": "US"}, "dns_suffix": SUFFIX})
    assert r.status == 201, r
    o = r.json()
    r = daemon.request("POST", "/api/v1/orders/%s/uploads" % o["id"], body=leaf_of(o["csr"]).encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 201, r
    r = daemon.post("/api/v1/amt/trusted-roots", {"name": "interop " + trust_sha256[:8], "sha256": trust_sha256})
    assert r.status in (201, 409), r
    r = daemon.post("/api/v1/orders/%s/verify" % o["id"], {})
    assert r.status == 200 and r.json()["order_state"] == "ready", r
    return o


@pytest.fixture(scope="module")
def order(daemon, ca):
    """A ready order; its verification report (the daemon's root SHA-256);
    the leaf the test CA signed."""
    leaf = {}

    def sign(csr):
        leaf["pem"] = ca.sign_csr(csr)
        return leaf["pem"] + ca.chain_pem

    o = make_ready(daemon, "rcs." + SUFFIX, sign, ca.root_sha256)
    rep = daemon.get("/api/v1/orders/%s/verification" % o["id"])
    assert rep.status == 200, rep
    return {"id": o["id"], "report": rep.json(), "leaf": leaf["pem"]}


@pytest.fixture(scope="module")
def pfx(daemon, order, work):
    """profile and (profile, iterations) -> path of the PFX the API
    exported (a profile alone: the default count)."""
    out = {}
    for profile, iterations in CASES:
        body = {"format": "pkcs12", "profile": profile, "password": PASSWORD}
        if iterations is not None:
            body["iterations"] = iterations
        r = daemon.post("/api/v1/orders/%s/exports" % order["id"], body)
        assert r.status == 200, r
        assert r.header("Content-Type") == "application/x-pkcs12"
        path = os.path.join(work, "%s-%s.pfx" % (profile, iterations or "default"))
        with open(path, "wb") as f:
            f.write(r.body)
        out[profile, iterations] = path
        if iterations is None:
            out[profile] = path
    return out


def root_sha256(order):
    sha = order["report"]["root"]["sha256"]
    assert sha == order["report"]["chain"][-1]["sha256"]
    return sha


# ---- openssl ------------------------------------------------------------

@pytest.mark.parametrize("profile,iterations", CASES, ids=CASE_IDS)
def test_openssl_pkcs12_info(pfx, order, ca, profile, iterations):
    need("openssl", "apt-get install openssl")
    want = iterations or 2048
    p = subprocess.run(["openssl", "pkcs12", "-info", "-nokeys", "-passin", "pass:" + PASSWORD,
                        "-in", pfx[profile, iterations]], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    info = p.stderr + p.stdout
    assert re.findall(r"^MAC: sha256, Iteration (\d+)$", info, re.M) == [str(want)], info
    assert "MAC length: 32" in info
    encrypted = re.findall(r"^PKCS7 Encrypted data: (.*)$", info, re.M)
    shrouded = re.findall(r"^Shrouded Keybag: (.*)$", info, re.M)
    assert len(encrypted) == 1 and len(shrouded) == 1, info
    assert len(re.findall(r"^PKCS7 Data$", info, re.M)) == 1, info  # the key's ContentInfo
    assert info.count("Certificate bag") == 3 and "Key bag" not in info.replace("Shrouded Keybag", "")
    for alg in encrypted + shrouded:
        if profile == "compat":
            assert alg == "pbeWithSHA1And3-KeyTripleDES-CBC, Iteration %d" % want, alg
        else:
            assert alg == "PBES2, PBKDF2, AES-256-CBC, Iteration %d, PRF hmacWithSHA256" % want, alg
    certs = testca.split_pem(p.stdout, "CERTIFICATE")
    assert [testca.pem_to_der(c) for c in certs] == [testca.pem_to_der(c) for c in
                                                     (order["leaf"], ca.inter_pem, ca.root_pem)]
    assert testca.sha256_of_pem(certs[-1]) == root_sha256(order)
    # the leaf carries friendlyName and localKeyID, the CAs nothing
    assert info.count("friendlyName: rcs." + SUFFIX) == 1 and info.count("localKeyID:") == 1, info


# ---- GnuTLS certtool -------------------------------------------------------

@pytest.mark.parametrize("profile,iterations", CASES, ids=CASE_IDS)
def test_certtool_p12_info(pfx, order, profile, iterations):
    need("certtool", "apt-get install gnutls-bin")
    p = subprocess.run(["certtool", "--p12-info", "--inder", "--infile", pfx[profile, iterations],
                        "--password", PASSWORD], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr + p.stdout
    out = p.stdout
    assert "MAC: SHA256" in out, out
    # the MAC's, the certificates' and the key's
    assert re.findall(r"Iteration count: (\d+)", out) == [str(iterations or 2048)] * 3, out
    bags = re.split(r"^BAG #\d+", out, flags=re.M)[1:]
    assert len(bags) == 2, out
    assert "Type: Encrypted" in bags[0] and "Elements: 3" in bags[0], bags[0]
    assert bags[0].count("Type: Certificate") == 3
    assert "Type: PKCS #8 Encrypted key" in bags[1] and "Elements: 1" in bags[1], bags[1]
    schema = "PBES2-AES256-CBC" if profile == "modern" else "PKCS12-3DES-SHA1"
    assert "Schema: " + schema in bags[0] and "Schema: " + schema in bags[1], out
    assert "Friendly name: rcs." + SUFFIX in bags[0] and "Friendly name: rcs." + SUFFIX in bags[1]


# ---- node-forge (RPS, MeshCentral) -------------------------------------------

def forge(path, password, *extra):
    need("node", "apt-get install nodejs npm")
    if not os.path.isfile(os.path.join(FORGE_DIR, "node_modules", "node-forge", "package.json")):
        pytest.fail("node-forge is not installed: run `npm ci --prefix tests/interop/forge` "
                    "(scripts/deps.sh test does)")
    p = subprocess.run(["node", CHECK_JS, path, password] + list(extra), capture_output=True, text=True,
                       timeout=600)
    assert p.stdout.strip(), p.stderr
    return p.returncode, json.loads(p.stdout)


@pytest.mark.parametrize("profile,iterations", CASES, ids=CASE_IDS)
def test_node_forge_reads_it_like_rps_and_meshcentral(pfx, order, profile, iterations):
    rc, s = forge(pfx[profile, iterations], PASSWORD)
    assert rc == 0 and s["ok"], s
    with open(os.path.join(FORGE_DIR, "package.json")) as f:
        assert s["forge_version"] == json.load(f)["dependencies"]["node-forge"]
    # exactly one key, shrouded; no plain keyBag
    assert s["shrouded_keys"] == 1 and s["plain_keys"] == 0, s
    assert s["key_type"] == "rsa" and s["key_bits"] >= 2048
    assert s["safe_contents"] == 2 and s["encrypted_safe_contents"] == 1
    # leaf first (the certificate whose public key is the key's), root last
    certs = s["certs"]
    assert len(certs) == 3
    assert s["leaf_index"] == 0 and [c["matches_key"] for c in certs] == [True, False, False]
    assert s["leaf_subject"].endswith("CN=rcs." + SUFFIX)
    assert certs[0]["sha256"] == testca.sha256_of_pem(order["leaf"])
    assert [c["sha256"] for c in certs] == [c["sha256"] for c in order["report"]["chain"]]
    for i in range(len(certs) - 1):
        assert certs[i]["issuer"] == certs[i + 1]["subject"]
    assert certs[-1]["self_signed"]
    # the AMT provisioning OID and serverAuth on the leaf
    assert s["leaf_amt_oid"] and s["leaf_server_auth"], certs[0]["eku"]
    assert AMT_OID in certs[0]["eku"] and SERVER_AUTH in certs[0]["eku"]
    # the root fingerprint RPS computes is the daemon's
    assert s["last_sha256"] == root_sha256(order)
    assert s["rps_root_sha256"] == root_sha256(order)
    # friendlyName and localKeyId pair the key with the leaf
    assert certs[0]["friendly_name"] == "rcs." + SUFFIX
    assert s["key_bags"][0]["local_key_id"] == certs[0]["local_key_id"] and certs[0]["local_key_id"]


@pytest.mark.parametrize("profile", PROFILES)
def test_node_forge_refuses_a_wrong_password(pfx, profile):
    rc, s = forge(pfx[profile], "not-the-password")
    assert rc == 1 and not s["ok"] and "MAC" in s["error"], s


def test_node_forge_refuses_trailing_bytes(pfx, work):
    """The strictness the consoles rely on: a byte after the DER fails."""
    path = os.path.join(work, "trailing.pfx")
    with open(pfx["compat"], "rb") as f, open(path, "wb") as g:
        g.write(f.read() + b"\0")
    rc, s = forge(path, PASSWORD)
    assert rc == 1 and not s["ok"], s


# ---- Go go-pkcs12 (rpc-go, DMT Console) -----------------------------------

@pytest.fixture(scope="module")
def go_decode(work):
    need("go", "apt-get install golang-go")
    if not os.path.isdir(GO_PKCS12):
        pytest.fail("%s is missing: apt-get install golang-sslmate-src-go-pkcs12-dev" % GO_PKCS12)
    out = os.path.join(work, "decode")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(GO111MODULE="off", GOPATH=GOPATH, GOCACHE=os.path.join(work, "gocache"), GOPROXY="off",
               GOFLAGS="", GOTOOLCHAIN="local")
    env.setdefault("HOME", work)
    p = subprocess.run(["go", "build", "-o", out, DECODE_GO], capture_output=True, text=True, env=env,
                       cwd=amtc.SRC, timeout=600)
    assert p.returncode == 0, "go build of tests/interop/go/decode.go failed:\n" + p.stderr
    return out


def go(decoder, path, password):
    p = subprocess.run([decoder, path, password], capture_output=True, text=True, timeout=600)
    assert p.stdout.strip(), p.stderr
    return p.returncode, json.loads(p.stdout)


@pytest.mark.parametrize("profile,iterations", CASES, ids=CASE_IDS)
def test_go_pkcs12_decode_chain(go_decode, pfx, order, profile, iterations):
    rc, s = go(go_decode, pfx[profile, iterations], PASSWORD)
    assert rc == 0 and s["ok"], s
    assert s["key_type"] == "*rsa.PrivateKey" and s["key_matches"], s
    assert s["ca_certs"] == 2, s
    assert "CN=rcs." + SUFFIX in s["leaf_subject"]
    assert s["leaf_sha256"] == testca.sha256_of_pem(order["leaf"])
    assert AMT_OID in s["leaf_eku"] and SERVER_AUTH in s["leaf_eku"]
    assert s["last_sha256"] == root_sha256(order)


@pytest.mark.parametrize("profile", PROFILES)
def test_go_pkcs12_refuses_a_wrong_password(go_decode, pfx, profile):
    rc, s = go(go_decode, pfx[profile], "not-the-password")
    assert rc == 1 and not s["ok"] and "password" in s["error"], s


# ---- a four-certificate chain (cross-signed root), RPS's limit --------------

def test_cross_signed_chain_of_four(daemon, work, go_decode):
    """leaf, issuing CA, the new root cross-signed by the old root, the old
    root: RPS accepts chains of up to 4 and sorts the middle ones by
    issuer; the PFX must already be in that order, root last."""
    old = testca.TestCA(os.path.join(work, "old"), root_cn="Interop Old Root")
    new = testca.TestCA(os.path.join(work, "new"), root_cn="Interop New Root")
    cross = new.cross_signed_by(old)
    o = make_ready(daemon, "four." + SUFFIX,
                   lambda csr: new.sign_csr(csr) + new.inter_pem + cross + old.root_pem, old.root_sha256)
    rep = daemon.get("/api/v1/orders/%s/verification" % o["id"]).json()
    assert len(rep["chain"]) == 4 and rep["chain"][2]["sha256"] == testca.sha256_of_pem(cross), rep["chain"]
    r = daemon.post("/api/v1/orders/%s/exports" % o["id"],
                    {"format": "pkcs12", "profile": "compat", "password": PASSWORD})
    assert r.status == 200, r
    path = os.path.join(work, "four.pfx")
    with open(path, "wb") as f:
        f.write(r.body)
    rc, s = forge(path, PASSWORD)
    assert rc == 0 and s["ok"], s
    assert [c["sha256"] for c in s["certs"]] == [c["sha256"] for c in rep["chain"]]
    assert s["leaf_index"] == 0 and s["last_sha256"] == old.root_sha256 == rep["root"]["sha256"]
    assert s["rps_root_sha256"] == old.root_sha256
    rc, g = go(go_decode, path, PASSWORD)
    assert rc == 0 and g["ok"] and g["key_matches"] and g["ca_certs"] == 3, g
    assert g["last_sha256"] == old.root_sha256
