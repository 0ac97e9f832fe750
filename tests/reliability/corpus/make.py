#!/usr/bin/env python3
"""Makes the files of the bad-input corpus (cases.json names them).

Small files live in the repository under files/ and are made again with
`make.py --small` (they hold throw-away test certificates and keys, made
with the openssl tool). Big ones (zip bombs, 10,000 entries, a certificate
of 80,000 RDNs, 1,000-certificate PEMs, bodies over the caps) are not
committed: `make.py OUT_DIR` writes them, deterministically, from the small
ones; tests/reliability/test_corpus.py does so in a temporary directory.

Standard library and the openssl command only.
"""
import base64
import gzip
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, "files")
PASSWORD = "corpus-password"


# ---- DER ---------------------------------------------------------------------

def der_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + der_len(len(content)) + content


def der_int(v):
    return tlv(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))


def parse(data):
    """One TLV: (tag, header length, contents, total length)."""
    tag, n = data[0], data[1]
    if n < 0x80:
        return tag, 2, data[2:2 + n], 2 + n
    k = n & 0x7f
    ln = int.from_bytes(data[2:2 + k], "big")
    return tag, 2 + k, data[2 + k:2 + k + ln], 2 + k + ln


def children(contents):
    out, i = [], 0
    while i < len(contents):
        tag, hl, c, total = parse(contents[i:])
        out.append((tag, c))
        i += total
    return out


def openssl(*args, input=None, cwd=None):
    return subprocess.run(["openssl"] + list(args), input=input, cwd=cwd, check=True,
                          capture_output=True).stdout


def pem_body(pem, label="CERTIFICATE"):
    m = re.search(r"-----BEGIN %s-----(.*?)-----END %s-----" % (label, label), pem, re.S)
    return base64.b64decode("".join(m.group(1).split()))


def to_pem(der, label="CERTIFICATE"):
    b = base64.encodebytes(der).decode().replace("\n", "")
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (
        label, "\n".join(b[i:i + 64] for i in range(0, len(b), 64)), label)


# ---- the small files, committed -------------------------------------------

def make_small():
    os.makedirs(FILES, exist_ok=True)
    with tempfile.TemporaryDirectory() as t:
        def w(name, data):
            with open(os.path.join(FILES, name), "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())

        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
                "-days", "7300", "-subj", "/CN=Corpus Test Root", "-addext", "basicConstraints=critical,CA:true",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=t)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
                "-subj", "/CN=rcs.vpro.example.com", cwd=t)
        with open(os.path.join(t, "ext.cnf"), "w") as f:
            f.write("subjectAltName=DNS:rcs.vpro.example.com\n"
                    "extendedKeyUsage=serverAuth,2.16.840.1.113741.1.2.3\n")
        openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                "-days", "3650", "-extfile", "ext.cnf", "-out", "leaf.pem", cwd=t)
        openssl("genrsa", "-out", "other.key", "2048", cwd=t)
        read = lambda n: open(os.path.join(t, n)).read()  # noqa: E731
        leaf_pem, ca_pem = read("leaf.pem"), read("ca.pem")
        leaf = pem_body(leaf_pem)
        w("leaf.pem", leaf_pem)
        w("leaf.der", leaf)
        w("ca.pem", ca_pem)
        w("leaf.csr", read("leaf.csr"))
        # a certificate with a private key that is not its own, and a key alone
        w("leaf-foreign-key.pem", leaf_pem + read("other.key"))
        w("key-only.pem", read("other.key"))
        # corrupt DER
        w("der-truncated.der", leaf[:len(leaf) // 2])
        flipped = bytearray(leaf)
        flipped[40] ^= 0xff
        w("der-flipped.der", bytes(flipped))
        w("der-huge-length.der", b"\x30\x84\xff\xff\xff\xf0" + leaf[4:200])
        w("der-indefinite.der", b"\x30\x80" + leaf[4:] + b"\x00\x00")
        w("der-deep.der", b"\x30\x80" * 4000)
        w("der-bad-oid.der", tlv(0x30, tlv(0x06, b"\xff" * 200)))
        w("base64-garbage.b64", base64.b64encode(b"\x30\x82\x10\x00" + b"A" * 300))
        w("p7b-corrupt.p7b", b"\x30\x82\x01\x00\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" + b"\xa0\x80" * 50)
        # PKCS#12: the right file with the wrong password, none, and huge iteration counts
        args = ["pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", "ca.pem",
                "-passout", "pass:" + PASSWORD, "-iter", "2048", "-macalg", "sha256"]
        pfx = openssl(*args, cwd=t)
        w("pfx.p12", pfx)
        w("pfx-huge-mac-iterations.p12", with_mac_iterations(pfx, 100_000_000))
        w("pfx-max-mac-iterations.p12", with_mac_iterations(pfx, 2**31 - 1))
        w("pfx-empty.p12", tlv(0x30, der_int(3) + tlv(0x30, b"")))
        w("pfx-truncated.p12", pfx[:len(pfx) - 300])
        # zips with hostile names and links
        w("zip-traversal.zip", zipped([("../../../../tmp/amtcertd-corpus-traversal.crt", leaf),
                                       ("/etc/amtcertd-corpus-absolute.crt", leaf)]))
        w("zip-symlink.zip", zip_symlink("leaf.crt", "/etc/ssl/certs/ca-certificates.crt"))
        w("zip-symlink-and-cert.zip", zip_symlink("link.crt", "../../../etc/passwd", [("leaf.crt", leaf)]))
        w("zip-nested-5.zip", nested(leaf, 5))
        w("zip-empty.zip", zipped([]))
        w("zip-truncated.zip", zipped([("leaf.crt", leaf), ("ca.pem", ca_pem.encode())])[:400])
        w("zip-encrypted.zip", encrypted_zip(leaf))
        w("tar-gz-cert.tgz", tgz([("leaf.crt", leaf)]))
        w("gzip-bomb.gz", gzip.compress(b"\0" * (20 << 20), 9))
        w("zip-bomb.zip", zipped([("bomb.crt", b"\0" * (50 << 20))]))
        w("zip-bomb-nested.zip", zipped([("inner%d.zip" % i, zipped([("bomb.crt", b"\0" * (20 << 20))]))
                                         for i in range(8)]))
    print("wrote", len(os.listdir(FILES)), "files to", FILES)


def with_mac_iterations(pfx, n):
    """The PFX with its MacData's iteration count set to n (DER rebuilt)."""
    tag, hl, body, total = parse(pfx)
    version, auth_safe, mac_data = children(body)
    mac, salt, _iters = children(mac_data[1])
    mac_data = tlv(0x30, tlv(mac[0], mac[1]) + tlv(salt[0], salt[1]) + der_int(n))
    return tlv(0x30, tlv(version[0], version[1]) + tlv(auth_safe[0], auth_safe[1]) + mac_data)


def zipped(entries, compress=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compress) as z:
        for name, data in entries:
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = compress
            z.writestr(zi, data)
    return b.getvalue()


def zip_symlink(name, target, more=()):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
        zi.create_system = 3  # unix
        zi.external_attr = (0o120777 << 16)
        z.writestr(zi, target)
        for n, data in more:
            z.writestr(zipfile.ZipInfo(n, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return b.getvalue()


def nested(leaf, depth):
    data = zipped([("leaf.crt", leaf)])
    for i in range(depth - 1):
        data = zipped([("level%d.zip" % i, data)])
    return data


def encrypted_zip(leaf):
    """A zip whose entry claims traditional PKWARE encryption (flag bit 0)."""
    data = bytearray(zipped([("leaf.crt", leaf)], zipfile.ZIP_STORED))
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        data[i + off] |= 1
    return bytes(data)


def tgz(entries):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:gz") as t:
        for name, data in entries:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1704067200
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


# ---- the big files, made at test time --------------------------------------

def big_cert(leaf, rdns):
    """The leaf with its subject replaced by rdns RDNs (CN=x each): a
    certificate of about 12 bytes per RDN, signature left as it was."""
    _, _, body, _ = parse(leaf)
    tbs, alg, sig = children(body)
    fields = children(tbs[1])
    rdn = tlv(0x31, tlv(0x30, tlv(0x06, b"\x55\x04\x03") + tlv(0x0c, b"x")))
    subject = tlv(0x30, rdn * rdns)
    # [0] version, serial, signature alg, issuer, validity, subject, ...
    out = b"".join(tlv(t, c) if i != 5 else subject for i, (t, c) in enumerate(fields))
    return tlv(0x30, tlv(0x30, out) + tlv(alg[0], alg[1]) + tlv(sig[0], sig[1]))


def many_certs_pem(leaf, n):
    """n distinct certificates that parse: the leaf with its signature's
    last bytes replaced by a counter."""
    out = []
    for i in range(n):
        c = bytearray(leaf)
        c[-4:] = i.to_bytes(4, "big")
        out.append(to_pem(bytes(c)))
    return "".join(out).encode()


def make_big(out):
    os.makedirs(out, exist_ok=True)
    leaf = open(os.path.join(FILES, "leaf.der"), "rb").read()

    def w(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    w("cert-80000-rdns.der", big_cert(leaf, 80000))
    w("cert-80000-rdns.pem", to_pem(big_cert(leaf, 80000)).encode())
    w("cert-20000-rdns.der", big_cert(leaf, 20000))
    w("pem-1000-certs.pem", many_certs_pem(leaf, 1000))
    w("pem-1000-same-cert.pem", to_pem(leaf).encode() * 1000)
    w("zip-10000-entries.zip", zipped([("e%05d.txt" % i, b"x") for i in range(10000)], zipfile.ZIP_STORED))
    w("zip-1000-certs.zip", zipped([("c%04d.cer" % i, bytes(leaf[:-4]) + i.to_bytes(4, "big"))
                                    for i in range(1000)]))
    w("json-deep-array.json", b"[" * 30000 + b"]" * 30000)
    w("json-deep-object.json", b'{"subject":' * 5000 + b"{}" + b"}" * 5000)
    w("json-deep-notes.json", b'{"notes":' + b"[" * 30000 + b"]" * 30000 + b"}")
    w("json-many-keys.json", ("{" + ",".join('"k%d":%d' % (i, i) for i in range(5000)) + "}").encode())
    w("json-huge-number.json", b'{"subject":{"common_name":"a.example.com"},"key":{"bits":1' + b"0" * 5000 + b"}}")
    w("json-over-cap.json", b'{"notes":"' + b"n" * (70 << 10) + b'"}')
    w("upload-over-cap.bin", b"\x30" + b"\0" * ((10 << 20) + 4096))
    return out


def main(argv):
    if argv[1:] == ["--small"]:
        make_small()
        return 0
    if len(argv) != 2 or argv[1].startswith("-"):
        print("usage: make.py --small | make.py OUT_DIR", file=sys.stderr)
        return 2
    make_big(argv[1])
    print(json.dumps(sorted(os.listdir(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
