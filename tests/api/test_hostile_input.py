"""Issue 10 item 2: no parse before the size check.

A certificate of 961 KB with ~80,000 relative distinguished names cost the
daemon 71 s of CPU in GnuTLS before the 64 KiB certificate limit was
applied. The intake now checks sizes, list lengths and name sizes with its
own DER reader before GnuTLS sees the bytes, so such input is refused with
422 upload_limits, on /api/v1/inspect and on an order's upload route, in
every wrapping (DER, PEM, PKCS#7, zip).

No timed assertion: each request gets a 10 s client timeout, which the old
code (seconds to minutes per request) blows, and the daemon must answer a
normal request right after.
"""
import base64
import io
import os
import sys
import zipfile

import pytest
from cryptography.hazmat.primitives import serialization

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SUFFIX = "vpro.example.com"
TIMEOUT = 10

# ---- DER by hand --------------------------------------------------------------


def tlv(tag, body):
    n = len(body)
    if n < 0x80:
        return bytes([tag, n]) + body
    ln = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(ln)]) + ln + body


def seq(*parts):
    return tlv(0x30, b"".join(parts))


CN_OID = bytes.fromhex("0603550403")  # 2.5.4.3
SHA256_RSA = seq(bytes.fromhex("06092a864886f70d01010b"), b"\x05\x00")


def name(n_rdns):
    rdn = tlv(0x31, seq(CN_OID, tlv(0x0C, b"x")))
    return seq(rdn * n_rdns)


def utc(s):
    return tlv(0x17, s.encode())


def hostile_cert(n_rdns):
    """A certificate whose subject has n_rdns RDNs (each one CN "x"), with
    a real RSA key; the signature is junk (only parsing is at stake)."""
    key = serialization.load_pem_private_key(testca.make_key().encode(), None)
    spki_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    tbs = seq(tlv(0xA0, tlv(0x02, b"\x02")), tlv(0x02, b"\x01"), SHA256_RSA, name(1),
              seq(utc("250101000000Z"), utc("350101000000Z")), name(n_rdns), spki_der)
    return seq(tbs, SHA256_RSA, tlv(0x03, b"\x00" + b"\x55" * 256))


def pkcs7_of(*certs):
    signed = seq(tlv(0x02, b"\x01"), tlv(0x31, b""), seq(bytes.fromhex("06092a864886f70d010701")),
                 tlv(0xA0, b"".join(certs)), tlv(0x31, b""))
    return seq(bytes.fromhex("06092a864886f70d010702"), tlv(0xA0, signed))


def pem(der, label="CERTIFICATE"):
    b = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return ("-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)).encode()


def zipped(name_, data):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        z.writestr(name_, data)
    return buf.getvalue()


@pytest.fixture(scope="module")
def big():
    """The reported case: ~80,000 RDNs, about 1 MB of DER."""
    der = hostile_cert(80000)
    assert 900_000 < len(der) < 1_100_000
    return der


@pytest.fixture(scope="module")
def small_many():
    """Under 64 KiB, but 200 RDNs in one name (a list of 4,000 would be
    refused sooner, as a list longer than any certificate has)."""
    der = hostile_cert(200)
    assert len(der) < 64 * 1024
    return der


def refused(r):
    assert r.status == 422, r
    p = r.json()
    assert p["code"] == "upload_limits", p
    return p["detail"]


def still_answers(daemon):
    r = daemon.get("/api/v1/orders?limit=1", timeout=TIMEOUT)
    assert r.status == 200, r


def inspect(daemon, data, ctype="application/octet-stream"):
    return daemon.request("POST", "/api/v1/inspect", body=data, headers={"Content-Type": ctype},
                          timeout=TIMEOUT)


def test_a_normal_certificate_passes_the_bounds(daemon, ca):
    _key, leaf = ca.issue("ok." + SUFFIX)
    r = inspect(daemon, leaf.encode(), "application/x-pem-file")
    assert r.status == 200, r


@pytest.mark.parametrize("wrap", ["der", "pem", "pkcs7", "pem-pkcs7", "zip"])
def test_huge_certificate_is_refused_on_inspect(daemon, big, wrap):
    data = {"der": lambda: big, "pem": lambda: pem(big), "pkcs7": lambda: pkcs7_of(big),
            "pem-pkcs7": lambda: pem(pkcs7_of(big), "PKCS7"), "zip": lambda: zipped("cert.der", big)}[wrap]()
    detail = refused(inspect(daemon, data))
    assert "64 KiB" in detail or "allowed" in detail, detail
    still_answers(daemon)


@pytest.mark.parametrize("wrap", ["der", "pem", "pkcs7"])
def test_many_names_under_64k_are_refused(daemon, small_many, wrap):
    data = {"der": small_many, "pem": pem(small_many), "pkcs7": pkcs7_of(small_many)}[wrap]
    detail = refused(inspect(daemon, data))
    assert "name has more attributes than allowed" in detail, detail
    still_answers(daemon)


@pytest.mark.parametrize("wrap", ["der", "pkcs7"])
def test_long_lists_under_64k_are_refused(daemon, wrap):
    der = hostile_cert(4000)
    assert len(der) < 64 * 1024
    detail = refused(inspect(daemon, der if wrap == "der" else pkcs7_of(der)))
    assert "more elements" in detail, detail
    still_answers(daemon)


def test_huge_certificate_is_refused_on_order_upload(daemon, big, small_many):
    r = daemon.post("/api/v1/orders", {"subject": {"common_name": "hostile." + SUFFIX, "organization": "Example",
                                                   "country": "US"}, "dns_suffix": SUFFIX})
    assert r.status == 201, r
    oid = r.json()["id"]
    before = daemon.db_snapshot()
    for data in (big, pem(big), small_many, pem(small_many) + pem(small_many)):
        r = daemon.request("POST", "/api/v1/orders/%s/uploads" % oid, body=data,
                           headers={"Content-Type": "application/octet-stream"}, timeout=TIMEOUT)
        refused(r)
    assert daemon.db_snapshot() == before
    assert daemon.get("/api/v1/orders/" + oid).json()["state"] == "key_ready"
    still_answers(daemon)


def test_a_name_that_is_not_utf8_is_shown_not_a_500(daemon, ca):
    """A certificate whose subject holds a byte that is not UTF-8 (a damaged
    name, or a T61String in Latin-1) is read and reported, with U+FFFD in
    its place; the answer used to be 500 (Jansson refuses such a string)."""
    _key, leaf = ca.issue("badutf.example.com")
    der = bytearray(base64.b64decode("".join(leaf.strip().splitlines()[1:-1])))
    i = der.find(b"badutf.example.com")
    assert i > 0
    der[i + 2] = 0xFF  # in the subject's CN (the SAN comes later)
    r = inspect(daemon, pem(bytes(der)), "application/x-pem-file")
    assert r.status == 200, r
    leaf_json = r.json()["chain"][0]
    assert leaf_json["common_name"] == "ba\ufffdutf.example.com", leaf_json
    assert leaf_json["subject"] == "CN=ba\ufffdutf.example.com", leaf_json
    still_answers(daemon)
