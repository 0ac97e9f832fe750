"""Every CSR the daemon makes is checked by tools we did not write:
openssl req -verify and certtool --crq-info, with the requested subject,
SANs, key size and a SHA-256 signature."""
import hashlib
import re
import subprocess
import tempfile

import pytest

SUBJECT = {"common_name": "rcs.vpro.example.com", "organization": "Example Kft.",
           "organizational_unit": "Intel(R) Client Setup Certificate", "locality": "Budapest",
           "state": "Budapest", "country": "HU"}
SANS = ["rcs.vpro.example.com", "rcs2.vpro.example.com", "*.amt.example.com"]


def sh(*args, stdin=None):
    r = subprocess.run(list(args), input=stdin, capture_output=True)
    assert r.returncode == 0, (args, r.stderr.decode(errors="replace"))
    return r.stdout


@pytest.mark.parametrize("bits", [2048, 3072, 4096])
def test_csr_passes_openssl_and_certtool(daemon, bits):
    r = daemon.post("/api/v1/orders", {"subject": SUBJECT, "san": SANS[1:], "key": {"bits": bits},
                                       "dns_suffix": "vpro.example.com"})
    assert r.status == 201, r
    order = r.json()
    pem = daemon.get("/api/v1/orders/%s/csr" % order["id"]).body
    with tempfile.NamedTemporaryFile(suffix=".csr") as f:
        f.write(pem)
        f.flush()
        # openssl: signature, subject, SANs, key size, digest
        out = subprocess.run(["openssl", "req", "-in", f.name, "-verify", "-noout", "-text", "-nameopt", "RFC2253"],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "verify OK" in out.stdout + out.stderr
        text = out.stdout
        assert "Public-Key: (%d bit)" % bits in text
        assert "Signature Algorithm: sha256WithRSAEncryption" in text
        subj = re.search(r"Subject: (.*)", text).group(1)
        assert subj == ("CN=rcs.vpro.example.com,OU=Intel(R) Client Setup Certificate,O=Example Kft.,"
                        "L=Budapest,ST=Budapest,C=HU")
        san_line = text[text.index("Subject Alternative Name"):].splitlines()[1].strip()
        assert [s.strip() for s in san_line.split(",")] == ["DNS:" + s for s in SANS]

        # certtool (GnuTLS's own tool, separate code path from our parser)
        ct = subprocess.run(["certtool", "--crq-info", "--infile", f.name], capture_output=True, text=True)
        assert ct.returncode == 0, ct.stderr
        assert "Self signature: verified" in ct.stdout
        assert "Modulus (bits %d)" % bits in ct.stdout
        assert "RSA-SHA256" in ct.stdout
        dns = re.findall(r"DNSname: (\S+)", ct.stdout)
        assert dns == SANS

        # the fingerprint the daemon keeps for matching the CA's leaf
        spki = sh("sh", "-c", "openssl req -in %s -pubkey -noout | openssl pkey -pubin -outform DER" % f.name)
        assert hashlib.sha256(spki).hexdigest() == order["public_key_sha256"]


def test_iis_style_csr_from_openssl_is_accepted(daemon):
    with tempfile.TemporaryDirectory() as tmp:
        sh("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", tmp + "/k", "-out", tmp + "/r",
           "-subj", "/C=US/ST=Oregon/O=Example/CN=iis.example.com")
        with open(tmp + "/r") as f:
            pem = f.read().replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST").replace("\n", "\r\n")
        r = daemon.post("/api/v1/orders", {"csr": pem})
        assert r.status == 201, r
        spki = sh("openssl", "pkey", "-in", tmp + "/k", "-pubout", "-outform", "DER")
        assert hashlib.sha256(spki).hexdigest() == r.json()["public_key_sha256"]
        assert r.json()["san"] == ["iis.example.com"]
