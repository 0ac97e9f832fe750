"""Crash consistency (issue 10): writers keep the daemon busy (new orders
with generated keys, orders around a CSR given their key by a PFX upload,
deliveries, PATCHes, key exports) while it is killed with SIGKILL at random
moments, RELIABILITY_KILLS times (default 10). After each kill, before the
restart: SQLite's integrity_check is ok (the file opened read-only) and
`amtcertd check` finds nothing wrong (every sealed key and upload decrypts
with the master key and every key is its order's CSR's and certificate's).
After the restart every write that was acknowledged (a 2xx received) is
there with its content. The figures are printed for the closing note."""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

KILLS = int(os.environ.get("RELIABILITY_KILLS", "10"))
SEED = int(os.environ.get("RELIABILITY_SEED", str(int(time.time()))))
SUFFIX = "vpro.example.com"
PFX_PASSWORD = "crash-test-pfx"
EXPORT_PASSWORD = "crash-test-export"
SUBJECT = {"organization": "Example", "country": "US"}


class Gone(Exception):
    """The daemon did not answer (killed, or not started again yet)."""


class Cluster:
    """The one state directory and whichever daemon serves it now."""

    def __init__(self, state_dir):
        self.state_dir = state_dir
        self.d = None
        self.up = threading.Event()
        self.stop = threading.Event()
        self.start()

    def start(self, resume=True):
        """A daemon on the state directory; the writers wait until resume."""
        self.d = amtc.Daemon(state_dir=self.state_dir, extra_args=["--workers", "2"])
        if resume:
            self.up.set()

    def kill(self):
        self.up.clear()
        self.d.proc.send_signal(signal.SIGKILL)
        self.d.proc.wait()
        self.d.stderr.close()

    def req(self, method, path, **kw):
        """The answer, or Gone when the daemon was down or died."""
        if not self.up.wait(30):
            raise Gone()
        d = self.d
        try:
            return d.request(method, path, timeout=60, **kw)
        except amtc.ContractViolation:
            raise
        except OSError as e:
            raise Gone() from e
        except Exception as e:  # http.client errors on a cut connection
            if d.proc.poll() is not None or not self.up.is_set():
                raise Gone() from e
            raise


class Ledger:
    """What the writers were told was done."""

    def __init__(self):
        self.lock = threading.Lock()
        self.orders = {}        # id -> {"external_ref", "cn", "has_key"}
        self.uploads = []       # (order id, sha256 of the file)
        self.keys = set()       # order ids given a key by a PFX upload
        self.patches = {}       # order id -> (acknowledged notes, [values tried since])
        self.exports = {}       # order id -> key exports acknowledged
        self.writes = 0
        self.refused = []       # unexpected answers

    def add(self, kind, *a):
        with self.lock:
            self.writes += 1
            if kind == "order":
                oid, ref, cn, has_key = a
                self.orders[oid] = {"external_ref": ref, "cn": cn, "has_key": has_key}
            elif kind == "upload":
                self.uploads.append(a)
            elif kind == "key":
                self.keys.add(a[0])
            elif kind == "export":
                self.exports[a[0]] = self.exports.get(a[0], 0) + 1

    def bad(self, what, r):
        with self.lock:
            self.refused.append("%s: %r" % (what, r))


# ---- writers: each loops until told to stop; Gone = not acknowledged ----

def writer(cluster, ledger, name, step):
    n = 0
    while not cluster.stop.is_set():
        n += 1
        try:
            step(n)
        except Gone:
            time.sleep(0.05)
        except Exception as e:  # a broken answer: the test fails with it
            ledger.bad("writer %s" % name, e)
            return


def create_orders(cluster, ledger):
    def step(n):
        ref = "gen-%d-%d" % (SEED, n)
        cn = "gen%d.%s" % (n, SUFFIX)
        r = cluster.req("POST", "/api/v1/orders", json_body={
            "subject": dict(SUBJECT, common_name=cn), "dns_suffix": SUFFIX, "external_ref": ref})
        if r.status == 201:
            ledger.add("order", r.json()["id"], ref, cn, True)
        elif r.status != 503:
            ledger.bad("create", r)
    return step


def csr_orders_with_pfx(cluster, ledger, pairs):
    """An order around a CSR, then the PFX that gives it its key."""
    def step(n):
        key_pem, csr, pfx = pairs[n % len(pairs)]
        ref = "csr-%d-%d" % (SEED, n)
        r = cluster.req("POST", "/api/v1/orders", json_body={"csr": csr, "dns_suffix": SUFFIX,
                                                              "external_ref": ref})
        if r.status != 201:
            if r.status != 503:
                ledger.bad("csr order", r)
            return
        oid = r.json()["id"]
        ledger.add("order", oid, ref, None, False)
        r = cluster.req("POST", "/api/v1/orders/%s/uploads" % oid, body=pfx, headers={
            "Content-Type": "application/octet-stream", "X-PKCS12-Password": PFX_PASSWORD})
        if r.status == 201 and r.json()["key_imported"]:
            ledger.add("upload", oid, hashlib.sha256(pfx).hexdigest())
            ledger.add("key", oid)
        elif r.status != 503:
            ledger.bad("pfx upload", r)
    return step


def deliveries(cluster, ledger, ready, chain_pem):
    """The chain again, each time a different file (a note before it)."""
    def step(n):
        oid = ready[n % len(ready)]
        data = ("delivery %d of run %d\n" % (n, SEED)).encode() + chain_pem.encode()
        r = cluster.req("POST", "/api/v1/orders/%s/uploads" % oid, body=data,
                        headers={"Content-Type": "application/x-pem-file"})
        if r.status == 201:
            ledger.add("upload", oid, hashlib.sha256(data).hexdigest())
        elif r.status != 503:
            ledger.bad("delivery", r)
    return step


def patches(cluster, ledger, targets):
    def step(n):
        oid = targets[n % len(targets)]
        value = "patch %d of run %d" % (n, SEED)
        with ledger.lock:
            acked, tried = ledger.patches.setdefault(oid, (None, []))
            tried.append(value)
        r = cluster.req("PATCH", "/api/v1/orders/%s" % oid, json_body={"notes": value})
        if r.status == 200:
            assert r.json()["notes"] == value
            with ledger.lock:
                ledger.patches[oid] = (value, [])
                ledger.writes += 1
        elif r.status != 503:
            ledger.bad("patch", r)
    return step


def exports(cluster, ledger, ready):
    def step(n):
        oid = ready[n % len(ready)]
        r = cluster.req("POST", "/api/v1/orders/%s/exports" % oid, json_body={
            "format": "pkcs12", "profile": "modern" if n % 2 else "compat",
            "password": EXPORT_PASSWORD, "iterations": 1000})
        if r.status == 200 and r.body[:1] == b"\x30":
            ledger.add("export", oid)
        elif r.status != 503:
            ledger.bad("export", r)
    return step


# ---- checks after each kill ------------------------------------------------

def integrity(db_path):
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    try:
        return [r[0] for r in con.execute("PRAGMA integrity_check")]
    finally:
        con.close()


def amtcertd_check(state_dir):
    p = subprocess.run([amtc.BIN, "check", "--state-dir", state_dir], capture_output=True,
                       text=True, timeout=300,
                       env={k: v for k, v in os.environ.items() if not k.startswith("AMTCERTD_")})
    figures = dict((k, int(v)) for k, v in re.findall(r"^(sealed keys|uploads|orders|problems): (\d+)",
                                                       p.stdout, re.M))
    return p.returncode, p.stdout + p.stderr, figures


def acknowledged_present(db_path, ledger):
    """Every acknowledged write, read from the database; returns (checked, lost)."""
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    lost = []
    checked = 0
    try:
        with ledger.lock:
            orders = dict(ledger.orders)
            uploads = list(ledger.uploads)
            keys = set(ledger.keys)
            pats = {k: (v[0], list(v[1])) for k, v in ledger.patches.items()}
            exps = dict(ledger.exports)
        for oid, o in orders.items():
            row = con.execute("SELECT external_ref, common_name, has_key, csr_pem FROM orders WHERE id = ?",
                              (oid,)).fetchone()
            checked += 1
            if not row or row[0] != o["external_ref"] or (o["cn"] and row[1] != o["cn"]) or not row[3]:
                lost.append("order %s: %r" % (oid, row))
                continue
            has_key = o["has_key"] or oid in keys
            nkeys = con.execute("SELECT count(*) FROM order_keys WHERE order_id = ?", (oid,)).fetchone()[0]
            if has_key and (row[2] != 1 or nkeys != 1):
                lost.append("key of order %s: has_key %r, %d sealed keys" % (oid, row[2], nkeys))
        for oid, sha in uploads:
            checked += 1
            if not con.execute("SELECT 1 FROM uploads WHERE order_id = ? AND sha256 = ? AND sealed = 1",
                               (oid, sha)).fetchone():
                lost.append("upload %s to %s" % (sha, oid))
        for oid, (acked, tried) in pats.items():
            if acked is None:
                continue
            checked += 1
            notes = con.execute("SELECT notes FROM orders WHERE id = ?", (oid,)).fetchone()[0]
            # the acknowledged value, or one sent after it whose answer the kill cut off
            if notes != acked and notes not in tried:
                lost.append("patch of %s: %r, acknowledged %r" % (oid, notes, acked))
        for oid, n in exps.items():
            checked += n
            got = con.execute("SELECT count(*) FROM events WHERE order_id = ? AND type = 'key_export'",
                              (oid,)).fetchone()[0]
            if got < n:
                lost.append("key_export events of %s: %d, %d acknowledged" % (oid, got, n))
    finally:
        con.close()
    return checked, lost


# ---- setup: a CA, ready orders to deliver to and export, PFX pairs -------

def prepare(cluster, work):
    ca = testca.TestCA(os.path.join(work, "ca"))
    d = cluster.d
    r = d.post("/api/v1/amt/trusted-roots", {"name": "crash test root", "sha256": ca.root_sha256})
    assert r.status == 201, r
    ready = []
    for i in range(3):
        r = d.post("/api/v1/orders", {"subject": dict(SUBJECT, common_name="ready%d.%s" % (i, SUFFIX)),
                                      "dns_suffix": SUFFIX})
        assert r.status == 201, r
        o = r.json()
        leaf = ca.sign_csr(o["csr"])
        r = d.request("POST", "/api/v1/orders/%s/uploads" % o["id"], body=ca.bundle_pem(leaf),
                      headers={"Content-Type": "application/x-pem-file"})
        assert r.status == 201, r
        r = d.post("/api/v1/orders/%s/verify" % o["id"], {})
        assert r.status == 200 and r.json()["order_state"] == "ready", r
        ready.append(o["id"])
    pairs = []
    for i in range(2):
        cn = "csr%d.%s" % (i, SUFFIX)
        key_pem, csr = testca.make_key_and_csr(cn, sans=[cn], subject="/C=US/O=Example/CN=" + cn)
        leaf = ca.sign_csr(csr)
        pfx = ca.delivery_pfx(key_pem, leaf, os.path.join(work, "p%d.pfx" % i), PFX_PASSWORD)
        pairs.append((key_pem, csr, pfx))
    return ca, ready, pairs


def test_kill_nine_loses_nothing(capsys):
    rng = random.Random(SEED)
    work = tempfile.mkdtemp(prefix="amtc-crash-")
    state = os.path.join(work, "state")
    cluster = Cluster(state)
    ledger = Ledger()
    started = time.time()
    threads = []
    kills = checked = checks = 0
    lost = []
    try:
        ca, ready, pairs = prepare(cluster, work)
        chain_pem = ca.inter_pem + ca.root_pem
        steps = [create_orders(cluster, ledger), create_orders(cluster, ledger),
                 csr_orders_with_pfx(cluster, ledger, pairs), deliveries(cluster, ledger, ready, chain_pem),
                 patches(cluster, ledger, ready), exports(cluster, ledger, ready)]
        threads = [threading.Thread(target=writer, args=(cluster, ledger, i, s), daemon=True)
                   for i, s in enumerate(steps)]
        for t in threads:
            t.start()
        for k in range(KILLS):
            time.sleep(rng.uniform(0.4, 2.0))
            cluster.kill()
            kills += 1
            # the store as the kill left it, before any daemon opens it
            res = integrity(cluster.d.db_path)
            assert res == ["ok"], "kill %d: integrity_check: %r" % (kills, res)
            rc, out, fig = amtcertd_check(state)
            assert rc == 0 and fig.get("problems") == 0, "kill %d: amtcertd check:\n%s" % (kills, out)
            old = cluster.d
            cluster.start(resume=False)
            old.tmp.cleanup()
            # restarted, the writers still held: what it was told it did is there
            n, missing = acknowledged_present(cluster.d.db_path, ledger)
            checked = n
            checks += n
            with ledger.lock:
                ids = sorted(ledger.orders)
            for oid in rng.sample(ids, min(5, len(ids))):
                r = cluster.d.get("/api/v1/orders/" + oid)
                if r.status != 200 or r.json()["external_ref"] != ledger.orders[oid]["external_ref"]:
                    missing.append("GET order %s: %r" % (oid, r))
            lost += ["after kill %d: %s" % (kills, m) for m in missing]
            assert not lost, "\n".join(lost)
            cluster.up.set()
        cluster.stop.set()
        for t in threads:
            t.join(60)
        # the writes acknowledged since the last kill, and the last check
        checked, missing = acknowledged_present(cluster.d.db_path, ledger)
        checks += checked
        lost += missing
        rc, out, fig = amtcertd_check(state)
        assert rc == 0 and fig.get("problems") == 0, out
    finally:
        cluster.stop.set()
        cluster.up.set()
        if cluster.d:
            cluster.d.stop_checked()
        shutil.rmtree(work, ignore_errors=True)
    assert not ledger.refused, "\n".join(ledger.refused[:10])
    assert not lost, "\n".join(lost)
    kinds = {"orders": len(ledger.orders), "uploads": len(ledger.uploads), "keys imported": len(ledger.keys),
             "patched orders": len([1 for v in ledger.patches.values() if v[0]]),
             "key exports": sum(ledger.exports.values())}
    assert kinds["orders"] > KILLS and kinds["uploads"] > 0 and kinds["key exports"] > 0, kinds
    with capsys.disabled():
        print("\nreliability: crash: %d kills survived, %d acknowledged writes checked (%s; %d checks "
              "over all restarts), sealed keys %d and uploads %d decrypt and match (amtcertd check), "
              "lost: 0, seed %d, %.0f s" % (kills, checked, json.dumps(kinds), checks,
                                            fig.get("sealed keys", 0), fig.get("uploads", 0), SEED,
                                            time.time() - started))
