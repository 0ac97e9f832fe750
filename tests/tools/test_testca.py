"""Tests of tests/tools/testca.py, checked against the openssl CLI.

Run from the repository root: python3 -m pytest -q tests/tools
"""

import datetime as dt
import hashlib
import os
import subprocess
import sys
import zipfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import testca  # noqa: E402

UTC = dt.timezone.utc


def openssl(*args, input=None, check=True):
    p = subprocess.run(["openssl", *args], input=input, capture_output=True)
    if check:
        assert p.returncode == 0, p.stderr.decode()
    return p


def ext_block(text, name):
    """The lines of an X509v3 extension in `openssl x509 -text` output."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if name in line:
            return line + "\n" + lines[i + 1]
    return None


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return testca.TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def csr(ca):
    key, csr = testca.make_key_and_csr(
        "amt.example.com", sans=["amt.example.com", "rcs.example.com"],
        subject="/C=US/ST=Oregon/O=Example Corp/CN=amt.example.com")
    return key, csr


@pytest.fixture(scope="module")
def leaf(ca, csr):
    return ca.sign_csr(csr[1])


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """A second, "older" CA (SHA-1 root like AAA Certificate Services)."""
    return testca.TestCA(tmp_path_factory.mktemp("other"), root_cn="Test AAA Certificate Services",
                         inter_cn="Test Other Issuing CA", root_sig="sha1")


# ------------------------------------------------------------------ chain

def test_files_and_hashes(ca):
    for p in (ca.root_path, ca.root_der_path, ca.inter_path, ca.inter_der_path,
              ca.root_key_path, ca.inter_key_path):
        assert p.is_file(), p
    assert ca.root_der == ca.root_der_path.read_bytes()
    assert ca.root_sha256 == hashlib.sha256(ca.root_der).hexdigest()
    assert ca.root_sha1 == hashlib.sha1(ca.root_der).hexdigest()
    assert ca.root_sha384 == hashlib.sha384(ca.root_der).hexdigest()
    fp = openssl("x509", "-in", str(ca.root_path), "-noout", "-fingerprint", "-sha256").stdout.decode()
    assert fp.strip().split("=", 1)[1].replace(":", "").lower() == ca.root_sha256
    assert testca.sha256_of_pem(ca.root_pem) == ca.root_sha256
    assert ca.root_sha256 == ca.root_sha256.lower() and len(ca.root_sha256) == 64


def test_root_and_intermediate_extensions(ca):
    root = testca.x509_text(ca.root_pem)
    assert "CA:TRUE" in ext_block(root, "Basic Constraints")
    assert "Certificate Sign, CRL Sign" in ext_block(root, "Key Usage")
    assert "Subject Key Identifier" in root
    assert testca.subject_of(ca.root_pem) == testca.issuer_of(ca.root_pem) == "CN=amtcertd Test Root CA"
    inter = testca.x509_text(ca.inter_pem)
    assert "CA:TRUE" in ext_block(inter, "Basic Constraints")
    assert "Certificate Sign" in ext_block(inter, "Key Usage")
    root_ski = ext_block(root, "Subject Key Identifier").splitlines()[1].strip()
    assert root_ski in ext_block(inter, "Authority Key Identifier")
    assert testca.issuer_of(ca.inter_pem) == "CN=amtcertd Test Root CA"
    assert "sha256WithRSAEncryption" in inter


def test_chain_verifies(ca, leaf, tmp_path):
    lp = tmp_path / "leaf.pem"
    lp.write_text(leaf)
    p = openssl("verify", "-CAfile", str(ca.root_path), "-untrusted", str(ca.inter_path), str(lp))
    assert p.stdout.decode().strip().endswith(": OK")
    ok, out = testca.openssl_verify(leaf, trusted=[ca.root_pem], untrusted=[ca.inter_pem])
    assert ok, out
    # not without the intermediate
    ok, _ = testca.openssl_verify(leaf, trusted=[ca.root_pem])
    assert not ok


def test_leaf_is_an_amt_certificate(ca, csr, leaf):
    text = testca.x509_text(leaf)
    eku = ext_block(text, "Extended Key Usage")
    assert "TLS Web Server Authentication" in eku
    assert testca.AMT_OID in eku
    assert "critical" in ext_block(text, "Key Usage")
    assert "Digital Signature, Key Encipherment" in ext_block(text, "X509v3 Key Usage")
    assert "CA:FALSE" in ext_block(text, "Basic Constraints")
    assert "DNS:amt.example.com, DNS:rcs.example.com" in ext_block(text, "Subject Alternative Name")
    assert testca.subject_of(leaf) == "C=US, ST=Oregon, O=Example Corp, CN=amt.example.com"
    assert testca.issuer_of(leaf) == "CN=amtcertd Test Issuing CA"
    inter_ski = ext_block(testca.x509_text(ca.inter_pem), "Subject Key Identifier").splitlines()[1].strip()
    assert inter_ski in ext_block(text, "Authority Key Identifier")
    assert testca.spki_sha256(leaf) == testca.spki_sha256(csr[0]) == testca.spki_sha256(csr[1])
    nb, na = testca.dates_of(leaf)
    assert na - nb == dt.timedelta(days=200)
    assert abs((dt.datetime.now(UTC) - nb).total_seconds()) < 600


def test_random_serials(ca, csr):
    a = ca.sign_csr(csr[1])
    b = ca.sign_csr(csr[1])
    assert testca.serial_of(a) != testca.serial_of(b)
    assert len(testca.serial_of(a)) >= 30


@pytest.mark.parametrize("eku,present,absent", [
    (("serverAuth",), ["TLS Web Server Authentication"], [testca.AMT_OID, "Client"]),
    (("serverAuth", "amt", "clientAuth"),
     ["TLS Web Server Authentication", testca.AMT_OID, "TLS Web Client Authentication"], []),
    (("clientAuth", "amt"), [testca.AMT_OID, "TLS Web Client Authentication"], ["Server"]),
    (("amt",), [testca.AMT_OID], ["Server", "Client"]),
])
def test_eku_options(ca, csr, eku, present, absent):
    eku_line = ext_block(testca.x509_text(ca.sign_csr(csr[1], eku=eku)), "Extended Key Usage")
    for s in present:
        assert s in eku_line
    for s in absent:
        assert s not in eku_line


def test_no_eku_extension(ca, csr):
    assert "Extended Key Usage" not in testca.x509_text(ca.sign_csr(csr[1], eku=()))


def test_legacy_ou_cn_and_san_overrides(ca, csr):
    leaf = ca.sign_csr(csr[1], eku=("serverAuth",), ou=testca.AMT_LEGACY_OU,
                       cn="*.corp.example.com", sans=["*.corp.example.com", "IP:10.0.0.1"])
    fields = testca.name_fields(leaf)
    assert fields == [("C", "US"), ("ST", "Oregon"), ("O", "Example Corp"),
                      ("OU", "Intel(R) Client Setup Certificate"), ("CN", "*.corp.example.com")]
    text = testca.x509_text(leaf)
    assert "DNS:*.corp.example.com, IP Address:10.0.0.1" in ext_block(text, "Subject Alternative Name")
    assert testca.AMT_OID not in text
    # sans=() drops the SAN extension
    assert "Subject Alternative Name" not in testca.x509_text(ca.sign_csr(csr[1], sans=()))


def test_iis_and_der_csr_accepted(ca, csr):
    iis = testca.csr_as_iis(csr[1])
    assert iis.startswith("-----BEGIN NEW CERTIFICATE REQUEST-----\r\n")
    a = ca.sign_csr(iis)
    der = openssl("req", "-outform", "DER", input=csr[1].encode()).stdout
    b = ca.sign_csr(der)
    assert testca.subject_of(a) == testca.subject_of(b) == "C=US, ST=Oregon, O=Example Corp, CN=amt.example.com"


def test_expired_leaf(ca, csr):
    leaf = ca.sign_csr(csr[1], not_before=dt.datetime(2020, 1, 1, tzinfo=UTC),
                       not_after="20210101120000Z")
    assert testca.dates_of(leaf) == (dt.datetime(2020, 1, 1, tzinfo=UTC),
                                     dt.datetime(2021, 1, 1, 12, tzinfo=UTC))
    ok, out = testca.openssl_verify(leaf, trusted=[ca.root_pem], untrusted=[ca.inter_pem])
    assert not ok and "expired" in out


def test_not_yet_valid_leaf(ca, csr):
    start = (dt.datetime.now(UTC) + dt.timedelta(days=30)).replace(microsecond=0)
    leaf = ca.sign_csr(csr[1], not_before=start.replace(tzinfo=None), days=100)
    assert testca.dates_of(leaf) == (start, start + dt.timedelta(days=100))
    ok, out = testca.openssl_verify(leaf, trusted=[ca.root_pem], untrusted=[ca.inter_pem])
    assert not ok and "not yet valid" in out


def test_dates_after_2049_use_generalized_time(ca, csr):
    leaf = ca.sign_csr(csr[1], not_before="20490101000000Z", not_after="20510101000000Z")
    asn1 = openssl("asn1parse", input=leaf.encode()).stdout.decode()
    assert "UTCTIME           :490101000000Z" in asn1
    assert "GENERALIZEDTIME   :20510101000000Z" in asn1


def test_ecdsa_leaf(ca):
    key, leaf = ca.issue("ec.example.com", key_type="ec")
    text = testca.x509_text(leaf)
    assert "id-ecPublicKey" in text and "prime256v1" in text
    assert testca.AMT_OID in text
    assert "DNS:ec.example.com" in text
    assert testca.spki_sha256(key) == testca.spki_sha256(leaf)
    ok, out = testca.openssl_verify(leaf, trusted=[ca.root_pem], untrusted=[ca.inter_pem])
    assert ok, out


def test_issue_rsa_key_size(ca):
    key, leaf = ca.issue("big.example.com", key_bits=3072, days=90)
    assert "Public-Key: (3072 bit)" in testca.x509_text(leaf)
    nb, na = testca.dates_of(leaf)
    assert na - nb == dt.timedelta(days=90)


def test_sign_directly_with_root(ca, csr):
    leaf = ca.sign_csr(csr[1], issuer="root")
    assert testca.issuer_of(leaf) == "CN=amtcertd Test Root CA"
    ok, out = testca.openssl_verify(leaf, trusted=[ca.root_pem])
    assert ok, out


# ------------------------------------------------------------- deliveries

def test_sectigo_zip(ca, leaf, tmp_path):
    z = tmp_path / "delivery.zip"
    names = ca.delivery_zip(leaf, z)
    with zipfile.ZipFile(z) as zf:
        assert sorted(zf.namelist()) == sorted(names) == sorted(
            ["amt_example_com.crt", "amtcertdTestIssuingCA.crt", "amtcertdTestRootCA.crt"])
        assert zf.read("amt_example_com.crt").decode() == leaf
        assert zf.read("amtcertdTestIssuingCA.crt").decode() == ca.inter_pem
        assert zf.read("amtcertdTestRootCA.crt").decode() == ca.root_pem


def test_sectigo_style_names(tmp_path, ca):
    # Sectigo's own intermediate/root names come out of the CN the same way
    names = ca.file_names(ca.issue("*.example.com")[1])
    assert names["leaf"] == "STAR_example_com.crt"
    assert testca._safe_name("Sectigo RSA Organization Validation Secure Server CA") + ".crt" == \
        "SectigoRSAOrganizationValidationSecureServerCA.crt"
    assert testca._safe_name("AAA Certificate Services") + ".crt" == "AAACertificateServices.crt"


def test_nested_zip(ca, leaf, tmp_path):
    z = tmp_path / "nested.zip"
    ca.delivery_zip(leaf, z, layout="nested")
    with zipfile.ZipFile(z) as zf:
        names = sorted(zf.namelist())
        assert names == sorted(["certs/leaf/amt_example_com.cer",
                                "certs/chain/amtcertdTestIssuingCA.crt",
                                "root/amtcertdTestRootCA.crt", "readme.txt"])
        assert zf.read("certs/leaf/amt_example_com.cer") == testca.pem_to_der(leaf)
        assert zf.read("root/amtcertdTestRootCA.crt").decode() == ca.root_pem
        assert ca.root_sha256 in zf.read("readme.txt").decode()


def test_bundle_zip_and_extra_files(ca, leaf, tmp_path):
    z = tmp_path / "bundle.zip"
    ca.delivery_zip(leaf, z, layout="bundle", extra_files={"extra/x.pem": ca.root_pem})
    with zipfile.ZipFile(z) as zf:
        assert sorted(zf.namelist()) == ["amt_example_com.ca-bundle", "amt_example_com.crt", "extra/x.pem"]
        assert zf.read("amt_example_com.ca-bundle").decode() == ca.inter_pem + ca.root_pem


@pytest.mark.parametrize("pem", [True, False])
def test_p7b(ca, leaf, tmp_path, pem):
    p = tmp_path / ("d.p7b" if pem else "d.der.p7b")
    data = ca.delivery_p7b(leaf, p, pem=pem)
    assert p.read_bytes() == data
    assert data.startswith(b"-----BEGIN PKCS7-----") == pem
    out = openssl("pkcs7", "-inform", "PEM" if pem else "DER", "-in", str(p), "-print_certs").stdout.decode()
    certs = testca.split_pem(out, "CERTIFICATE")
    assert len(certs) == 3
    assert certs == [leaf, ca.inter_pem, ca.root_pem]


def _pfx_certs(path, password):
    p = openssl("pkcs12", "-in", str(path), "-info", "-nokeys", "-passin", f"pass:{password}")
    return testca.split_pem(p.stdout.decode(), "CERTIFICATE"), p.stderr.decode()


@pytest.mark.parametrize("legacy", [False, True])
def test_pfx(ca, csr, leaf, tmp_path, legacy):
    key = csr[0]
    pw = "S3cret pass!"
    f = tmp_path / "full.pfx"
    ca.delivery_pfx(key, leaf, f, pw, legacy=legacy)
    certs, info = _pfx_certs(f, pw)
    assert certs == [leaf, ca.inter_pem, ca.root_pem]
    if legacy:
        assert "pbeWithSHA1And3-KeyTripleDES-CBC" in info and "MAC: sha1" in info
    else:
        assert "PBES2" in info and "MAC: sha256" in info
    # wrong password fails
    assert openssl("pkcs12", "-in", str(f), "-info", "-nokeys", "-passin", "pass:wrong",
                   check=False).returncode != 0
    # the key matches the leaf
    keyout = openssl("pkcs12", "-in", str(f), "-nocerts", "-nodes", "-passin", f"pass:{pw}").stdout
    assert testca.spki_sha256(keyout.decode()) == testca.spki_sha256(leaf)
    g = tmp_path / "noroot.pfx"
    ca.delivery_pfx(key, leaf, g, pw, include_root=False, legacy=legacy)
    certs, _ = _pfx_certs(g, pw)
    assert certs == [leaf, ca.inter_pem]


def test_bundle_pem_order(ca, leaf):
    assert ca.bundle_pem(leaf) == leaf + ca.inter_pem + ca.root_pem
    assert ca.bundle_pem(leaf, order=("root", "leaf", "inter")) == ca.root_pem + leaf + ca.inter_pem
    assert ca.bundle_pem(leaf, order=("leaf",)) == leaf
    assert testca.split_pem(ca.bundle_pem(leaf, order=("inter", "root"))) == [ca.inter_pem, ca.root_pem]


# ---------------------------------------------------- special CAs

def test_cross_signed_twin(ca, other, leaf):
    twin = ca.cross_signed_by(other)
    assert testca.cross_sign(ca, other) != twin  # fresh serial each time
    assert testca.subject_of(twin) == testca.subject_of(ca.root_pem)
    assert testca.pem_to_der(twin) != ca.root_der
    # same subject DER: compare the subject hash openssl computes
    h = lambda pem: openssl("x509", "-noout", "-subject_hash", input=pem.encode()).stdout  # noqa: E731
    assert h(twin) == h(ca.root_pem)
    assert testca.spki_sha256(twin) == testca.spki_sha256(ca.root_pem)
    assert testca.issuer_of(twin) == "CN=Test AAA Certificate Services"
    assert testca.issuer_of(twin) != testca.issuer_of(ca.root_pem)
    text = testca.x509_text(twin)
    ski = ext_block(text, "Subject Key Identifier").splitlines()[1].strip()
    assert ski == ext_block(testca.x509_text(ca.root_pem), "Subject Key Identifier").splitlines()[1].strip()
    other_ski = ext_block(testca.x509_text(other.root_pem), "Subject Key Identifier").splitlines()[1].strip()
    assert other_ski in ext_block(text, "Authority Key Identifier")
    assert testca.dates_of(twin) == testca.dates_of(ca.root_pem)
    ok, out = testca.openssl_verify(twin, trusted=[other.root_pem])
    assert ok, out
    # the leaf verifies up to the other root through the twin
    ok, out = testca.openssl_verify(leaf, trusted=[other.root_pem], untrusted=[ca.inter_pem, twin])
    assert ok, out
    ok, _ = testca.openssl_verify(leaf, trusted=[other.root_pem], untrusted=[ca.inter_pem])
    assert not ok


def test_sha1_root(other):
    assert "Signature Algorithm: sha1WithRSAEncryption" in testca.x509_text(other.root_pem)
    assert "Signature Algorithm: sha256WithRSAEncryption" in testca.x509_text(other.inter_pem)
    key, leaf = other.issue("old.example.com")
    ok, out = testca.openssl_verify(leaf, trusted=[other.root_pem], untrusted=[other.inter_pem])
    assert ok, out


def test_broken_intermediates(tmp_path):
    bad = testca.TestCA(tmp_path / "bad", inter_is_ca=False, inter_key_cert_sign=False,
                        inter_sig="sha384", key_bits=2048,
                        inter_not_before="20200101000000Z", inter_not_after=dt.datetime(2040, 1, 1))
    text = testca.x509_text(bad.inter_pem)
    assert "CA:FALSE" in ext_block(text, "Basic Constraints")
    assert "Certificate Sign" not in ext_block(text, "X509v3 Key Usage")
    assert "sha384WithRSAEncryption" in text
    assert testca.dates_of(bad.inter_pem) == (dt.datetime(2020, 1, 1, tzinfo=UTC),
                                              dt.datetime(2040, 1, 1, tzinfo=UTC))
    _, leaf = bad.issue("x.example.com")
    ok, out = testca.openssl_verify(leaf, trusted=[bad.root_pem], untrusted=[bad.inter_pem])
    assert not ok, out


def test_reuse_and_load(ca):
    again = testca.TestCA(ca.workdir, reuse=True)
    assert again.root_sha256 == ca.root_sha256
    assert testca.TestCA.load(ca.workdir).inter_pem == ca.inter_pem


# -------------------------------------------------------------------- CLI

def cli(*args):
    return subprocess.run([sys.executable, os.path.join(HERE, "testca.py"), *args],
                          capture_output=True, text=True)


def test_cli_init_reuse_sign(tmp_path, csr):
    wd = tmp_path / "cli-ca"
    p = cli("--workdir", str(wd), "init")
    assert p.returncode == 0, p.stderr
    assert "created CA" in p.stdout
    sha = cli("--workdir", str(wd), "show", "--field", "sha256").stdout.strip()
    assert len(sha) == 64 and f"root SHA-256: {sha}" in p.stdout
    p = cli("--workdir", str(wd), "init")
    assert "reusing CA" in p.stdout and sha in p.stdout

    (tmp_path / "amt.csr").write_text(testca.csr_as_iis(csr[1]))
    z = tmp_path / "delivery.zip"
    p = cli("--workdir", str(wd), "sign", "--csr", str(tmp_path / "amt.csr"), "--out-zip", str(z),
            "--legacy-ou", "--no-amt-oid")
    assert p.returncode == 0, p.stderr
    assert f"root SHA-256: {sha}" in p.stdout
    with zipfile.ZipFile(z) as zf:
        assert len(zf.namelist()) == 3
        leaf = zf.read("amt_example_com.crt").decode()
    text = testca.x509_text(leaf)
    assert testca.AMT_OID not in text and "Intel(R) Client Setup Certificate" in text
    loaded = testca.TestCA.load(wd)
    ok, out = testca.openssl_verify(leaf, trusted=[loaded.root_pem], untrusted=[loaded.inter_pem])
    assert ok, out

    p = cli("--workdir", str(wd), "sign", "--csr", str(tmp_path / "amt.csr"))
    assert p.returncode == 1 and "--out-zip" in p.stderr

    pfx = tmp_path / "i.pfx"
    p = cli("--workdir", str(wd), "issue", "--cn", "i.example.com", "--out-pfx", str(pfx),
            "--password", "pw", "--layout", "nested", "--out-zip", str(tmp_path / "n.zip"))
    assert p.returncode == 0, p.stderr
    certs, _ = _pfx_certs(pfx, "pw")
    assert len(certs) == 3


def test_cli_help():
    p = cli("--help")
    assert p.returncode == 0
    for word in ("init", "sign", "issue", "show", "cross", "--workdir", "examples"):
        assert word in p.stdout
    p = cli("--workdir", "x", "sign", "--help")
    for word in ("--out-zip", "--layout", "--no-amt-oid", "--ou", "--not-after"):
        assert word in p.stdout
