"""`amtcertd check`: clean on a store the daemon wrote, and each kind of
damage it exists to find makes it say what and exit 1: a sealed key or
upload that does not decrypt, keys swapped between orders, a key that is
not its CSR's, an upload that decrypts to other bytes, one kept in clear,
the wrong master key, a damaged database file."""
import os
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SUFFIX = "vpro.example.com"
PFX_PASSWORD = "check-test-pfx"


def run_check(state):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMTCERTD_")}
    p = subprocess.run([amtc.BIN, "check", "--state-dir", state], capture_output=True, text=True,
                       timeout=300, env=env)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture(scope="module")
def store(ca, work):
    """A state directory with generated keys, an imported key and uploads."""
    d = amtc.Daemon()
    try:
        ids = []
        for i in range(2):
            r = d.post("/api/v1/orders", {"subject": {"common_name": "chk%d.%s" % (i, SUFFIX),
                                                      "organization": "Example", "country": "US"},
                                          "dns_suffix": SUFFIX})
            assert r.status == 201, r
            o = r.json()
            leaf = ca.sign_csr(o["csr"])
            r = d.request("POST", "/api/v1/orders/%s/uploads" % o["id"], body=ca.bundle_pem(leaf),
                          headers={"Content-Type": "application/x-pem-file"})
            assert r.status == 201, r
            ids.append(o["id"])
        cn = "imported." + SUFFIX
        key_pem, csr = testca.make_key_and_csr(cn, sans=[cn], subject="/C=US/O=Example/CN=" + cn)
        r = d.post("/api/v1/orders", {"csr": csr, "dns_suffix": SUFFIX})
        assert r.status == 201, r
        oid = r.json()["id"]
        pfx = ca.delivery_pfx(key_pem, ca.sign_csr(csr), os.path.join(work, "k.pfx"), PFX_PASSWORD)
        r = d.request("POST", "/api/v1/orders/%s/uploads" % oid, body=pfx,
                      headers={"Content-Type": "application/x-pkcs12", "X-PKCS12-Password": PFX_PASSWORD})
        assert r.status == 201 and r.json()["key_imported"], r
        ids.append(oid)
        state = os.path.join(work, "clean-state")
        d.stop_checked(cleanup=False)
        shutil.copytree(d.state_dir, state)
    finally:
        d.cleanup()
    return state, ids


@pytest.fixture
def copy(store, tmp_path):
    state = str(tmp_path / "state")
    shutil.copytree(store[0], state)
    return state, store[1]


def sql(state, *stmts):
    con = sqlite3.connect(os.path.join(state, "amtcertd.db"))
    try:
        for s, args in stmts:
            con.execute(s, args)
        con.commit()
    finally:
        con.close()


def test_clean_store(store):
    rc, out = run_check(store[0])
    assert rc == 0, out
    assert "integrity: ok" in out
    assert re.search(r"sealed keys: 3 \(decrypt and match their order: 3\)", out), out
    assert re.search(r"orders: 3 \(CSRs matching their key: 3, certificates matching it: 3\)", out), out
    assert re.search(r"uploads: 3 \(decrypt to the recorded file: 3, in clear: 0\)", out), out
    assert "problems: 0" in out


def flip(blob, at=20):
    b = bytearray(blob)
    b[at] ^= 0x01
    return bytes(b)


def read_blob(state, q, args):
    con = sqlite3.connect(os.path.join(state, "amtcertd.db"))
    try:
        return con.execute(q, args).fetchone()[0]
    finally:
        con.close()


def test_damaged_key(copy):
    state, ids = copy
    blob = read_blob(state, "SELECT sealed FROM order_keys WHERE order_id = ?", (ids[0],))
    sql(state, ("UPDATE order_keys SET sealed = ? WHERE order_id = ?", (flip(blob), ids[0])))
    rc, out = run_check(state)
    assert rc == 1, out
    assert "problem: key of %s: does not decrypt with the master key" % ids[0] in out
    assert "problems: 1" in out


def test_keys_swapped_between_orders(copy):
    state, ids = copy
    a = read_blob(state, "SELECT sealed FROM order_keys WHERE order_id = ?", (ids[0],))
    b = read_blob(state, "SELECT sealed FROM order_keys WHERE order_id = ?", (ids[1],))
    sql(state, ("UPDATE order_keys SET sealed = ? WHERE order_id = ?", (b, ids[0])),
        ("UPDATE order_keys SET sealed = ? WHERE order_id = ?", (a, ids[1])))
    rc, out = run_check(state)
    assert rc == 1, out
    for oid in ids[:2]:
        assert "problem: key of %s: does not decrypt" % oid in out


def test_key_not_the_csrs(copy):
    state, ids = copy
    sql(state, ("UPDATE orders SET public_key_sha256 = ? WHERE id = ?", ("0" * 64, ids[2])))
    rc, out = run_check(state)
    assert rc == 1, out
    assert "problem: order %s: its CSR is for another public key" % ids[2] in out
    assert "problem: order %s: its sealed key is not the key of its CSR" % ids[2] in out
    assert "problem: order %s: its certificate is for another public key" % ids[2] in out


def test_key_missing(copy):
    state, ids = copy
    sql(state, ("DELETE FROM order_keys WHERE order_id = ?", (ids[1],)))
    rc, out = run_check(state)
    assert rc == 1 and "problem: order %s: has a key, but no sealed key is stored" % ids[1] in out, out


def test_damaged_upload(copy):
    state, ids = copy
    uid, blob = sqlite3.connect(os.path.join(state, "amtcertd.db")).execute(
        "SELECT id, data FROM uploads WHERE order_id = ?", (ids[0],)).fetchone()
    sql(state, ("UPDATE uploads SET data = ? WHERE id = ?", (flip(blob, len(blob) - 3), uid)))
    rc, out = run_check(state)
    assert rc == 1 and "problem: upload %s: does not decrypt with the master key" % uid in out, out


def test_upload_not_the_file_recorded(copy):
    state, ids = copy
    sql(state, ("UPDATE uploads SET sha256 = ? WHERE order_id = ?", ("f" * 64, ids[1])))
    rc, out = run_check(state)
    assert rc == 1 and "decrypts, but not to the file recorded" in out, out


def test_upload_in_clear(copy):
    state, ids = copy
    sql(state, ("UPDATE uploads SET data = ?, sealed = 0 WHERE order_id = ?", (b"-----BEGIN", ids[1])))
    rc, out = run_check(state)
    assert rc == 1 and "is stored in clear" in out and "in clear: 1" in out, out


def test_wrong_master_key(copy):
    state, ids = copy
    with open(os.path.join(state, "master.key"), "wb") as f:
        f.write(os.urandom(32))
    rc, out = run_check(state)
    assert rc == 1, out
    assert "problems: 6" in out  # 3 keys, 3 uploads


def test_damaged_database_file(copy):
    state, ids = copy
    path = os.path.join(state, "amtcertd.db")
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        for off in range(4096, size, 4096):  # every page but the first
            f.seek(off + 100)
            f.write(os.urandom(200))
    rc, out = run_check(state)
    assert rc == 1, out
    assert "integrity: FAILED" in out or "cannot open" in out or "stopped" in out, out


def test_no_state_and_usage(tmp_path):
    rc, out = run_check(str(tmp_path / "nothing"))
    assert rc == 1 and "no database" in out, out
    assert not os.path.exists(tmp_path / "nothing" / "master.key")
    p = subprocess.run([amtc.BIN, "check", "--no-such-flag"], capture_output=True, text=True)
    assert p.returncode == 2
