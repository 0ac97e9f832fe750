#!/usr/bin/env python3
"""Benchmark: the orders list at fleet size, and GET one order.

A state directory with 10,000 orders is made first: the daemon creates it
(schema, master key, admin token) and one order through the API (a key
made here, the order GET one order reads); then, with the daemon stopped,
the other orders are written straight into its SQLite file the way
db_order_insert() writes them (the order row, its SAN, its "created"
event, and a "state" event for those seeded past key_ready), each around
its own real CSR (imported: one RSA key signs them all, so seeding takes
seconds, not the hours 10,000 keys would). States follow a fleet's mix;
orders past issued carry the expiry dates verification would have stored.
The daemon is then started again on that directory.

Measured with wrk (Debian wrk), each run BENCH_ORDERS_SECONDS (default 10):
1. a page of 50 out of 10,000: the first page (newest first, and "needs
   action first" when the daemon sorts), a page from the middle (by the
   cursor), a page of a search, and the counts (GET /api/v1/orders/summary
   when the daemon has it); wrk -t1 -c1 (latency) and -t2 -c8;
2. GET one order, wrk -t2 -c64, on its own and while four 4096-bit
   key+CSR requests are always in flight (POST /api/v1/orders, key.bits
   4096, four client threads in a loop).
Prints req/s, p50, p99, the daemon's CPU time per request (user + system,
from /proc: what a request costs, whatever else the machine is running)
and the answer's size; asserts nothing about time (goals: page p99 < 20
ms; one order >= 30,000 req/s with p99 < 10 ms). While four keys are made,
the CPU per request also counts the key generation.

Run: tests/bench/run.sh, or alone:
  AMTCERTD_BIN=build-bench/amtcertd AMTCERTD_SRC=. python3 tests/bench/orders.py
BENCH_ORDERS_COUNT (default 10000) is the number of orders.
"""
import hashlib
import http.client
import json
import os
import random
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse

# tests/bench/inspect.py shadows the standard library's inspect module,
# which jsonschema (through amtc) imports: keep this folder off the path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]
sys.path.insert(0, os.path.join(_HERE, "..", "lib"))
import amtc  # noqa: E402
import benchwrk  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

DAY = 86400
# A fleet's mix of states (weights), as the sweep and people leave them.
STATE_MIX = (("key_ready", 8), ("submitted", 7), ("issued", 3), ("ready", 4), ("deployed", 58),
             ("renewal_due", 3), ("expired", 6), ("revoked", 2), ("cancelled", 9))
PAST_ISSUED = {"ready", "deployed", "renewal_due", "expired", "revoked"}
VENDORS = ("Sectigo", "DigiCert", "GoDaddy", "Entrust")


def get(port, path, token):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("GET", path, headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def csr_factory():
    """(cn -> (pem, spki sha256 hex)) with one 2048-bit key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    spki_hex = hashlib.sha256(spki).hexdigest()

    def make(cn):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Corp"),
                          x509.NameAttribute(NameOID.LOCALITY_NAME, "Portland"),
                          x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Oregon"),
                          x509.NameAttribute(NameOID.COUNTRY_NAME, "US")])
        csr = (x509.CertificateSigningRequestBuilder().subject_name(name)
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
               .sign(key, hashes.SHA256()))
        return csr.public_bytes(serialization.Encoding.PEM).decode(), spki_hex
    return make


def seed(db_path, n, now):
    """Writes n orders into the stopped daemon's database; returns seconds."""
    t0 = time.perf_counter()
    rnd = random.Random(9)
    make_csr = csr_factory()
    states = [s for s, w in STATE_MIX for _ in range(w)]
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA foreign_keys = ON")
    orders, sans, events = [], [], []
    for i in range(n):
        site = i % 97
        cn = "amt%05d.site%02d.vpro.example.com" % (i, site)
        oid = "ord_%024x" % rnd.getrandbits(96)
        st = rnd.choice(states)
        created = now - rnd.randrange(2 * 365 * DAY)
        updated = min(now, created + rnd.randrange(200 * DAY))
        leaf = chain = None
        if st in PAST_ISSUED:
            if st == "expired":
                leaf = now - rnd.randrange(1, 300) * DAY
            elif st == "renewal_due":
                leaf = now + rnd.randrange(1, 30) * DAY
            else:
                leaf = now + rnd.randrange(31, 398) * DAY
            chain = leaf + rnd.randrange(365 * DAY, 10 * 365 * DAY)
        pem, spki = make_csr(cn)
        vendor = VENDORS[i % len(VENDORS)] if st != "key_ready" else None
        orders.append((oid, st, cn, "Example Corp", None, "Portland", "Oregon", "US", "rsa", 2048, 0,
                       "imported", "amt", "vpro.example.com", 0, "CHG-%04d" % (i % 4000),
                       None, vendor, "AMT SSL Certificate" if vendor else None,
                       ("%s-%06d" % (vendor[:2].upper(), i)) if vendor else None,
                       None, None, None, None, 200 if vendor else 0, pem, spki, None,
                       created, updated, 1 if st == "key_ready" else 2, leaf, chain))
        sans.append((oid, 0, cn))
        events.append((oid, created, "bench", "created", None, "key_ready", None))
        if st != "key_ready":
            events.append((oid, updated, "bench", "state", "key_ready", st, "seeded"))
    with con:
        con.executemany(
            "INSERT INTO orders (id, state, common_name, organization, organizational_unit, "
            "locality, state_province, country, key_algorithm, key_bits, has_key, csr_source, "
            "profile, dns_suffix, allow_suffix_mismatch, external_ref, notes, vendor_name, "
            "vendor_product, vendor_order_id, vendor_invoice, vendor_approver, vendor_dcv_method, "
            "vendor_price, vendor_validity_days, csr_pem, public_key_sha256, renewal_of, "
            "created_at, updated_at, version, leaf_not_after, chain_not_after) VALUES "
            "(" + ", ".join("?" * 33) + ")", orders)
        con.executemany("INSERT INTO order_sans (order_id, pos, name) VALUES (?, ?, ?)", sans)
        con.executemany("INSERT INTO events (order_id, at, actor, type, from_state, to_state, detail) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", events)
    con.close()
    return time.perf_counter() - t0


def wrk(url, token, threads, conns, seconds, pid):
    """One wrk run; like benchwrk.wrk but the daemon's CPU in ms per request."""
    res = benchwrk.wrk(url, conns, seconds, threads, token=token, pid=pid)
    return res[:5] + (res[5] / 1000.0,)


def row(label, conns, res, size=None):
    rps, p50, p99, bad, errs, cpu = res
    print("  %-52s %5d %10.1f %8.2f %8.2f %8.3f %9s %7d  %s" % (
        label, conns, rps, p50, p99, cpu, "-" if size is None else "%.1f" % (size / 1024.0), bad,
        errs or "-"))


class KeyMakers:
    """Four threads, each POSTing a 4096-bit order in a loop until stopped."""

    def __init__(self, port, token, n=4):
        self.port, self.token, self.stop, self.made = port, token, threading.Event(), 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.loop, args=(k,)) for k in range(n)]

    def loop(self, k):
        i = 0
        while not self.stop.is_set():
            body = {"subject": {"common_name": "k%d-%d.vpro.example.com" % (k, i), "organization": "Example Corp",
                                "locality": "Portland", "state": "Oregon", "country": "US"},
                    "key": {"bits": 4096}, "dns_suffix": "vpro.example.com"}
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
            c.request("POST", "/api/v1/orders", body=json.dumps(body),
                      headers={"Authorization": "Bearer " + self.token, "Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status != 201:
                raise RuntimeError("POST /api/v1/orders (4096): %d" % r.status)
            with self.lock:
                self.made += 1
            i += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(1.0)  # every thread has a key in the making
        return self

    def __exit__(self, *a):
        self.stop.set()
        for t in self.threads:
            t.join()


def main():
    n = int(os.environ.get("BENCH_ORDERS_COUNT", "10000"))
    seconds = int(os.environ.get("BENCH_ORDERS_SECONDS", "10"))
    if not shutil.which("wrk"):
        sys.exit("orders bench: wrk is needed (scripts/deps.sh bench)")
    with tempfile.TemporaryDirectory(prefix="amtc-bench-orders-") as d:
        state = os.path.join(d, "state")
        dmn = amtc.Daemon(extra_args=["--log-level", "warn"], state_dir=state)
        try:
            r = dmn.create_order(cn="one.vpro.example.com", dns_suffix="vpro.example.com",
                                 external_ref="CHG-BENCH")
            assert r.status == 201, r
            one = r.json()["id"]
            schema = dmn.get("/healthz", token=None).json()["schema_version"]
        finally:
            dmn.cleanup()
        secs = seed(os.path.join(state, "amtcertd.db"), n - 1, int(time.time()))
        dmn = amtc.Daemon(extra_args=["--log-level", "warn"], state_dir=state)
        try:
            port, tok = dmn.port, dmn.token
            base = "http://127.0.0.1:%d" % port
            total = sqlite3.connect("file:%s?mode=ro" % dmn.db_path, uri=True).execute(
                "SELECT count(*) FROM orders").fetchone()[0]
            print("4. orders at fleet size: %d orders (%d seeded in %.1f s), schema %d, %d s per run"
                  % (total, n - 1, secs, schema, seconds))
            print("   amtcertd %s; machine: %d cores" % (amtc.BIN, os.cpu_count()))

            orders = [("newest first", "/api/v1/orders?limit=50")]
            status, _ = get(port, "/api/v1/orders?limit=50&sort=needs_action", tok)
            if status == 200:
                orders.append(("needs action first", "/api/v1/orders?limit=50&sort=needs_action"))
            else:
                print("   (no sort=needs_action: %d)" % status)
            pages = []
            for name, path in orders:
                pages.append(("first page, " + name, path))
                # a page from the middle: follow the cursor half way
                cursor = None
                for _ in range(total // 100):
                    status, body = get(port, path + ("&cursor=" + urllib.parse.quote(cursor) if cursor else ""),
                                       tok)
                    cursor = json.loads(body)["next_cursor"]
                pages.append(("page %d of %d, %s" % (total // 100 + 1, (total + 49) // 50, name),
                              path + "&cursor=" + urllib.parse.quote(cursor)))
            pages.append(("first page of a search (q=site42), " + orders[-1][0], orders[-1][1] + "&q=site42"))
            status, _ = get(port, "/api/v1/orders/summary", tok)
            if status == 200:
                pages.append(("counts (GET /api/v1/orders/summary)", "/api/v1/orders/summary"))
            else:
                print("   (no GET /api/v1/orders/summary: %d)" % status)

            print("  %-52s %5s %10s %8s %8s %8s %9s %7s  %s" % ("GET", "conns", "req/s", "p50 ms", "p99 ms",
                                                                "CPU ms", "body KiB", "non-2xx", "socket errors"))
            pid = dmn.proc.pid
            wrk(base + pages[0][1], tok, 1, 1, 1, pid)  # warm-up (page cache, first connections)
            for label, p in pages:
                status, body = get(port, p, tok)
                assert status == 200, (p, status, body[:200])
                for threads, conns in ((1, 1), (2, 8)):
                    row(label, conns, wrk(base + p, tok, threads, conns, seconds, pid), len(body))
            one_path = "/api/v1/orders/" + one
            status, body = get(port, one_path, tok)
            assert status == 200, (status, body[:200])
            row("one order", 64, wrk(base + one_path, tok, 2, 64, seconds, pid), len(body))
            with KeyMakers(port, tok) as km:
                res = wrk(base + one_path, tok, 2, 64, seconds, pid)
            row("one order, 4 RSA-4096 keys in the making", 64, res, len(body))
            print("   (%d 4096-bit keys made during that run)" % km.made)
            print("   goals: a page of 50 p99 < 20 ms; one order >= 30,000 req/s, p99 < 10 ms")
        finally:
            dmn.cleanup()


if __name__ == "__main__":
    main()
