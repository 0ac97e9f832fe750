"""Issue 8: no secret in clear at rest.

Private keys reach the daemon three ways: inside a PKCS#12 upload (with its
password), in a PEM upload that carries the key beside the leaf, and made
by the daemon itself (it then leaves only inside an exported PFX). After
all three, and after PFX and PEM exports, every file the daemon wrote (the
database, its -wal and -shm, everything else under the state directory, its
stderr and stdout) is scanned, while it runs and again after it stopped,
for each key in every encoding we can think of (PKCS#8 and PKCS#1 DER and
the base64 lines of their PEM, d, p, q and the CRT values as big-endian
bytes and d in hex), for the PFX passwords (ASCII, and UTF-16 as PKCS#12
encodes them), and for the key-bearing files themselves as they were sent
or handed out. The modulus is public and is not looked for.

Keys and certificates come from tests/tools/testca.py; the daemon-made key
is read out of its own export with the openssl command.
"""
import os
import re
import subprocess
import sys
import tempfile

import pytest

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SUFFIX = "vpro.example.com"
UPLOAD_PASSWORD = "Upl0ad-Pfx-Secret-4f1c9e"
UPLOAD_PASSWORD_FORM = "Upl0ad-Form-Secret-d7e250"
EXPORT_PASSWORD = "Exp0rt-Compat-Secret-8a2d71"
EXPORT_PASSWORD_MODERN = "Exp0rt-Modern-Secret-3be604"


def run(args, input=None):
    p = subprocess.run(args, input=input, capture_output=True)
    assert p.returncode == 0, (args, p.stderr.decode(errors="replace"))
    return p.stdout


# ---- needles ------------------------------------------------------------------

RSA_FIELDS = {"privateExponent": "d", "prime1": "p", "prime2": "q", "exponent1": "dP", "exponent2": "dQ",
              "coefficient": "qInv"}


def rsa_private_numbers(key_pem):
    """{'d': int, 'p': int, ...} from `openssl rsa -text -noout`."""
    text = run(["openssl", "rsa", "-text", "-noout"], input=key_pem.encode()).decode()
    out, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^(\w+):\s*$", line)
        if m:
            cur = RSA_FIELDS.get(m.group(1))
            if cur:
                out[cur] = ""
            continue
        if cur and re.match(r"^\s+[0-9a-fA-F:]+$", line):
            out[cur] += line.strip().replace(":", "")
        else:
            cur = None
    assert set(out) == set(RSA_FIELDS.values()), text[:400]
    return {k: int(v, 16) for k, v in out.items()}


def big_endian(n):
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def pem_body_lines(pem):
    return [line.encode() for line in pem.splitlines() if line and not line.startswith("-----") and len(line) >= 16]


def chunks(label, data, public=(), size=32):
    """data cut in size-byte pieces. SQLite spreads a long value over pages
    (4 KiB, each overflow page starts with a pointer), so a stored copy of a
    long secret need not be contiguous in the file; its pieces are. Pieces
    that also occur in public material (a certificate inside a PFX) are
    left out."""
    out = []
    for i in range(0, len(data) - size + 1, size):
        c = data[i:i + size]
        if not any(c in p for p in public):
            out.append(("%s [bytes %d-%d]" % (label, i, i + size), c))
    return out


def key_needles(label, key_pem):
    """Every clear encoding of an RSA private key we look for."""
    pkcs8_der = run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-outform", "DER"], input=key_pem.encode())
    pkcs1_der = run(["openssl", "rsa", "-traditional", "-outform", "DER"], input=key_pem.encode())
    pkcs8_pem = run(["openssl", "pkcs8", "-topk8", "-nocrypt"], input=key_pem.encode()).decode()
    pkcs1_pem = run(["openssl", "rsa", "-traditional"], input=key_pem.encode()).decode()
    assert pkcs8_der != pkcs1_der and len(pkcs1_der) > 1000
    out = [("%s: PKCS#8 DER" % label, pkcs8_der), ("%s: PKCS#1 DER" % label, pkcs1_der)]
    for kind, pem in (("PKCS#8", pkcs8_pem), ("PKCS#1", pkcs1_pem)):
        for i, line in enumerate(pem_body_lines(pem)):
            out.append(("%s: %s PEM line %d" % (label, kind, i + 1), line))
    nums = rsa_private_numbers(key_pem)
    for name, n in sorted(nums.items()):
        assert n.bit_length() > 500, (name, n.bit_length())  # 2048-bit key: no short, accidental matches
        out.append(("%s: %s (big-endian)" % (label, name), big_endian(n)))
        out += chunks("%s: %s (big-endian)" % (label, name), big_endian(n))
    out.append(("%s: d (hex)" % label, ("%x" % nums["d"]).encode()))
    out.append(("%s: d (HEX)" % label, ("%X" % nums["d"]).encode()))
    return out


def password_needles(label, pw):
    return [("%s (ASCII)" % label, pw.encode()),
            ("%s (UTF-16BE, as PKCS#12 encodes it)" % label, pw.encode("utf-16-be")),
            ("%s (UTF-16LE)" % label, pw.encode("utf-16-le"))]


def file_needles(label, data, public):
    """A key-bearing file: whole, and in pieces (see chunks)."""
    return [("%s, as is" % label, data)] + chunks(label, data, public)


# ---- the scanner ---------------------------------------------------------------

def files_under(*roots):
    """Every regular file under roots, once."""
    seen = set()
    for root in roots:
        walk = [(os.path.dirname(root), [], [os.path.basename(root)])] if os.path.isfile(root) else os.walk(root)
        for d, _dirs, names in walk:
            for n in names:
                p = os.path.join(d, n)
                if os.path.isfile(p) and not os.path.islink(p) and os.path.realpath(p) not in seen:
                    seen.add(os.path.realpath(p))
                    yield p


def scan(paths, needles, extra=()):
    """[(needle label, where, offset)] for every needle found in a file
    under paths, or in the (name, bytes) pairs of extra."""
    hits = []
    blobs = list(extra)
    for p in paths:
        with open(p, "rb") as f:
            blobs.append((p, f.read()))
    for where, data in blobs:
        for label, needle in needles:
            assert len(needle) >= 16, label  # a short needle would prove nothing
            at = data.find(needle)
            if at >= 0:
                hits.append((label, where, at))
    return hits


def where_in_db(db_path, needle):
    """table.column values of the database that hold needle (for the message)."""
    import sqlite3
    found = []
    try:
        con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    except sqlite3.Error:
        return found
    try:
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % t)]
            for c in cols:
                for (v,) in con.execute('SELECT "%s" FROM "%s"' % (c, t)):
                    b = v.encode() if isinstance(v, str) else v
                    if isinstance(b, bytes) and needle in b:
                        found.append("%s.%s" % (t, c))
                        break
    finally:
        con.close()
    return found


def report(hits, needles, db_path=None):
    """One line per needle (pieces of one secret counted together)."""
    by_label = dict(needles)
    groups = {}
    for label, where, at in hits:
        base = re.sub(r"( \[bytes \d+-\d+\]| line \d+)$", "", label)
        groups.setdefault((base, where), []).append((label, at))
    lines = []
    for (base, where), found in sorted(groups.items()):
        label, at = found[0]
        extra = ""
        if db_path and os.path.basename(where) == os.path.basename(db_path) and os.path.exists(db_path):
            extra = " (%s)" % ",".join(where_in_db(db_path, by_label[label]))
        pieces = " (%d of its needles)" % len(found) if len(found) > 1 else ""
        lines.append("%s%s: in %s at offset %d%s" % (base, pieces, where, at, extra))
    return "\n".join(lines)


def test_the_scanner_finds_a_planted_needle():
    """The scan can fail: a key's prime hidden in junk, a password in
    UTF-16, a PEM line, a PKCS#8 DER, each in its own file, are all found;
    so is d cut in two by 4 foreign bytes (as an SQLite page boundary
    would), through its pieces; a file without them is clean."""
    key = testca.make_key()
    needles = key_needles("planted key", key) + password_needles("planted password", "Pl4nted-Needle-Pw")
    want = {"planted key: p (big-endian)", "planted password (UTF-16BE, as PKCS#12 encodes it)",
            "planted key: PKCS#8 PEM line 3", "planted key: PKCS#8 DER"}
    by_label = dict(needles)
    d_bytes = by_label["planted key: d (big-endian)"]
    with tempfile.TemporaryDirectory(prefix="amtc-scan-") as d:
        os.mkdir(os.path.join(d, "sub"))
        for i, label in enumerate(sorted(want)):
            with open(os.path.join(d, "sub" if i % 2 else "", "f%d.bin" % i), "wb") as f:
                f.write(os.urandom(1000) + by_label[label] + os.urandom(1000))
        with open(os.path.join(d, "split.bin"), "wb") as f:
            f.write(os.urandom(500) + d_bytes[:100] + b"\0\0\0\x07" + d_bytes[100:] + os.urandom(500))
        with open(os.path.join(d, "clean.bin"), "wb") as f:
            f.write(os.urandom(4000) + key.encode()[:20])
        hits = scan(files_under(d), needles)
        found = {label for label, _where, _at in hits}
        assert want <= found, (want - found, hits)
        split = [h for h in hits if h[1].endswith("split.bin")]
        assert split and all("[bytes" in h[0] and ": d (big-endian)" in h[0] for h in split), split
        assert "planted key: d (big-endian)" not in {h[0] for h in split}
        assert "planted key: d (big-endian)" in report(split, needles)
        assert not [h for h in hits if h[1].endswith("clean.bin")], hits
        assert scan([os.path.join(d, "clean.bin")], needles) == []
        # and in the extra blobs (the daemon's stdout)
        assert scan([], needles, [("<stdout>", b"log: " + by_label["planted key: d (hex)"])])


# ---- the scenario ----------------------------------------------------------------

def upload(d, oid, data, ctype, headers=None):
    h = {"Content-Type": ctype}
    h.update(headers or {})
    return d.request("POST", "/api/v1/orders/%s/uploads" % oid, body=data, headers=h)


def multipart(name, data, password):
    boundary = "----amtcertdsecrets5Vq2XnLw"
    out = ("--%s\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\n%s\r\n" % (boundary, password)).encode()
    out += ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name)).encode() + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode()
    return out, "multipart/form-data; boundary=" + boundary


def new_order(d, **body):
    body.setdefault("dns_suffix", SUFFIX)
    r = d.post("/api/v1/orders", body)
    assert r.status == 201, r
    return r.json()


@pytest.fixture(scope="module")
def scanned():
    """Runs the scenario on a daemon of its own, scans while it runs, stops
    it, scans again. Returns the needles and both results."""
    with tempfile.TemporaryDirectory(prefix="amtc-secrets-") as work:
        ca = testca.TestCA(os.path.join(work, "ca"))
        d = amtc.Daemon()
        try:
            out = _scenario(d, ca, work)
            roots = [d.tmp.name, d.state_dir]
            stdout = ("<stdout>", "".join(d.stdout_lines).encode())
            out["running"] = scan(files_under(*roots), out["needles"], [stdout])
            out["files_running"] = sorted(os.path.relpath(p, d.tmp.name) for p in files_under(*roots))
            d.stop_checked(cleanup=False)
            stdout = ("<stdout>", "".join(d.stdout_lines).encode())
            out["stopped"] = scan(files_under(*roots), out["needles"], [stdout])
            out["files_stopped"] = sorted(os.path.relpath(p, d.tmp.name) for p in files_under(*roots))
            out["db_path"] = d.db_path
            out["report"] = lambda hits: report(hits, out["needles"], d.db_path)
            yield out
        finally:
            d.cleanup()


def _scenario(d, ca, work):
    needles, public = [], [ca.root_der, ca.inter_der]
    r = d.post("/api/v1/amt/trusted-roots", {"name": "secrets test root", "sha256": ca.root_sha256})
    assert r.status == 201, r

    # 1. a PKCS#12 with its key, for an order made around a CSR
    key1, csr1 = testca.make_key_and_csr("pfx." + SUFFIX, sans=["pfx." + SUFFIX], workdir=work)
    o1 = new_order(d, csr=csr1)
    assert o1["has_key"] is False
    leaf1 = ca.sign_csr(csr1)
    public.append(testca.pem_to_der(leaf1))
    pfx1 = ca.delivery_pfx(key1, leaf1, os.path.join(work, "upload.pfx"), UPLOAD_PASSWORD)
    r = upload(d, o1["id"], pfx1, "application/x-pkcs12", {"X-PKCS12-Password": UPLOAD_PASSWORD})
    assert r.status == 201, r
    assert r.json()["key_imported"] is True and r.json()["state"] == "issued", r
    certs = d.get("/api/v1/orders/%s/certificates" % o1["id"]).json()["items"]
    assert testca.sha256_of_pem(leaf1) in [c["sha256"] for c in certs], certs
    assert d.get("/api/v1/orders/" + o1["id"]).json()["has_key"] is True
    needles += key_needles("key in the uploaded PKCS#12", key1)
    needles += password_needles("PKCS#12 upload password", UPLOAD_PASSWORD)
    needles += file_needles("the uploaded PKCS#12 (it holds the key)", pfx1, public)
    # the same key again, as the dashboard sends it: multipart, the password
    # as a form field, the PKCS#12 in the legacy 3DES layout
    pfx1b = ca.delivery_pfx(key1, leaf1, os.path.join(work, "upload-form.pfx"), UPLOAD_PASSWORD_FORM, legacy=True)
    body, ctype = multipart("rcs.pfx", pfx1b, UPLOAD_PASSWORD_FORM)
    r = upload(d, o1["id"], body, ctype)
    assert r.status == 201, r
    needles += password_needles("PKCS#12 upload password (form field)", UPLOAD_PASSWORD_FORM)
    needles += file_needles("the uploaded legacy PKCS#12 (it holds the key)", pfx1b, public)

    # 2. a PEM file with the leaf and its private key (imported)
    key2, csr2 = testca.make_key_and_csr("pem." + SUFFIX, sans=["pem." + SUFFIX], workdir=work)
    o2 = new_order(d, csr=csr2)
    leaf2 = ca.sign_csr(csr2)
    r = upload(d, o2["id"], (leaf2 + key2 + ca.chain_pem).encode(), "application/x-pem-file")
    # the order's key: imported (sealed), and the raw file sealed too
    assert r.status == 201 and r.json()["private_key"] == "imported", r
    assert d.get("/api/v1/orders/" + o2["id"]).json()["key"]["origin"] == "pem"
    needles += key_needles("key in the uploaded PEM", key2)

    # 3. a key the daemon made: issued, ready, exported
    o3 = new_order(d, subject={"common_name": "gen." + SUFFIX, "organization": "Example Inc", "country": "US"})
    assert o3["has_key"] is True
    leaf3 = ca.sign_csr(o3["csr"])
    public.append(testca.pem_to_der(leaf3))
    r = upload(d, o3["id"], (leaf3 + ca.chain_pem).encode(), "application/x-pem-file")
    assert r.status == 201 and r.json()["state"] == "issued", r
    r = d.post("/api/v1/orders/%s/verify" % o3["id"], {})
    assert r.status == 200 and r.json()["order_state"] == "ready", r
    pfx3 = {}
    for profile, pw in (("compat", EXPORT_PASSWORD), ("modern", EXPORT_PASSWORD_MODERN)):
        r = d.post("/api/v1/orders/%s/exports" % o3["id"], {"format": "pkcs12", "profile": profile, "password": pw})
        assert r.status == 200 and r.header("Content-Type") == "application/x-pkcs12", r
        pfx3[profile] = r.body
        needles += password_needles("PKCS#12 export password (%s)" % profile, pw)
        needles += file_needles("the exported PKCS#12 (%s)" % profile, r.body, public)
    r = d.post("/api/v1/orders/%s/exports" % o3["id"], {"format": "pem-chain"})
    assert r.status == 200 and len(testca.split_pem(r.body, "CERTIFICATE")) == 3, r
    path = os.path.join(work, "export.pfx")
    with open(path, "wb") as f:
        f.write(pfx3["compat"])
    key3 = run(["openssl", "pkcs12", "-nocerts", "-nodes", "-passin", "pass:" + EXPORT_PASSWORD, "-in", path])
    key3 = testca.split_pem(key3, "PRIVATE KEY")[0]
    assert testca.spki_sha256(key3) == o3["public_key_sha256"] == testca.spki_sha256(leaf3)
    needles += key_needles("the daemon-made key", key3)

    labels = [label for label, _n in needles]
    assert len(labels) == len(set(labels))
    return {"needles": needles}


def test_the_scan_covered_the_store(scanned):
    """The scan looked where the secrets would be: the database (and its
    WAL while the daemon ran), and the log."""
    for name in ("state/amtcertd.db", "stderr.log"):
        assert name in scanned["files_running"], scanned["files_running"]
        assert name in scanned["files_stopped"], scanned["files_stopped"]
    assert "state/amtcertd.db-wal" in scanned["files_running"], scanned["files_running"]
    assert len(scanned["needles"]) > 60


def test_no_secret_at_rest_while_the_daemon_runs(scanned):
    hits = scanned["running"]
    assert not hits, "found in clear while the daemon ran:\n" + scanned["report"](hits)


def test_no_secret_at_rest_after_the_daemon_stopped(scanned):
    hits = scanned["stopped"]
    assert not hits, "found in clear after the daemon stopped:\n" + scanned["report"](hits)
