#!/usr/bin/env python3
"""Benchmark: key+CSR generation, and read latency while keys are made.

1. keys+CSRs per second (RSA 2048 and 4096, 2 clients) for amtcertd's
   POST /api/v1/orders and for cfssl's /api/v1/cfssl/newkey (Debian
   golang-cfssl, started here on loopback), printed as a ratio.
2. p50/p99 latency of GET /api/v1/orders/{id} on an idle daemon and while
   four 4096-bit key+CSR requests are always in flight.

Run: tests/bench/run.sh (installs cfssl if missing and builds first).
Nothing here asserts a time; it prints numbers.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import amtc  # noqa: E402
from benchwrk import free_port  # noqa: E402

SUBJECT = {"common_name": "rcs.example.com", "organization": "Example", "locality": "Portland",
           "state": "Oregon", "country": "US"}


def post(port, path, body, headers):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request("POST", path, body=json.dumps(body), headers=dict(headers, **{"Content-Type": "application/json"}))
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status not in (200, 201):
        raise RuntimeError("%s %s: %d %s" % (path, body, r.status, data[:200]))


def throughput(fn, n, clients=2):
    """Runs fn n times over `clients` threads; returns calls per second."""
    left = [n]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if left[0] == 0:
                    return
                left[0] -= 1
            fn()
    t0 = time.perf_counter()
    th = [threading.Thread(target=worker) for _ in range(clients)]
    [t.start() for t in th]
    [t.join() for t in th]
    return n / (time.perf_counter() - t0)


def start_cfssl():
    port = free_port()
    p = subprocess.Popen(["cfssl", "serve", "-address", "127.0.0.1", "-port", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p, port
        except OSError:
            time.sleep(0.1)
    p.kill()
    raise RuntimeError("cfssl serve did not start")


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def read_latency(d, oid, seconds):
    lat = []
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        conn.request("GET", "/api/v1/orders/" + oid, headers={"Authorization": "Bearer " + d.token})
        r = conn.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        assert r.status == 200
    conn.close()
    return lat


def main():
    n2048 = int(os.environ.get("BENCH_N2048", "40"))
    n4096 = int(os.environ.get("BENCH_N4096", "8"))
    d = amtc.Daemon()
    cf, cfport = start_cfssl()
    auth = {"Authorization": "Bearer " + d.token}
    print("machine: %d cores; amtcertd %s" % (os.cpu_count(), amtc.BIN))
    print()
    print("1. key + CSR generation, 2 concurrent clients")
    print("%-8s %14s %14s %10s" % ("RSA", "amtcertd /s", "cfssl /s", "ratio"))
    try:
        for bits, n in ((2048, n2048), (4096, n4096)):
            ours = throughput(lambda: post(d.port, "/api/v1/orders",
                                           {"subject": SUBJECT, "key": {"bits": bits}}, auth), n)
            theirs = throughput(lambda: post(cfport, "/api/v1/cfssl/newkey", {
                "CN": "rcs.example.com", "hosts": ["rcs.example.com"],
                "names": [{"C": "US", "ST": "Oregon", "L": "Portland", "O": "Example"}],
                "key": {"algo": "rsa", "size": bits}}, {}), n)
            print("%-8d %14.2f %14.2f %9.2fx" % (bits, ours, theirs, ours / theirs))
        print("   (ratio > 1: amtcertd makes more keys+CSRs per second than cfssl;"
              " amtcertd also seals the key and commits the order durably)")
        print()
        oid = json.loads(d.create_order().body)["id"]
        idle = read_latency(d, oid, 3)
        stop = threading.Event()
        made = [0]

        def keep_busy():
            while not stop.is_set():
                post(d.port, "/api/v1/orders", {"subject": SUBJECT, "key": {"bits": 4096}}, auth)
                made[0] += 1
        busy = [threading.Thread(target=keep_busy) for _ in range(4)]
        [t.start() for t in busy]
        time.sleep(0.5)
        loaded = read_latency(d, oid, float(os.environ.get("BENCH_SECONDS", "10")))
        stop.set()
        [t.join() for t in busy]
        print("2. GET /api/v1/orders/{id} latency (ms)")
        print("%-34s %8s %8s %8s %8s" % ("", "n", "p50", "p99", "max"))
        print("%-34s %8d %8.2f %8.2f %8.2f" % ("idle", len(idle), pct(idle, .5), pct(idle, .99), max(idle)))
        print("%-34s %8d %8.2f %8.2f %8.2f" % ("4 x RSA-4096 key+CSR in flight", len(loaded), pct(loaded, .5),
                                               pct(loaded, .99), max(loaded)))
        print("   (%d 4096-bit orders completed during the loaded run; p99 ratio loaded/idle %.1fx)"
              % (made[0], pct(loaded, .99) / pct(idle, .99)))
    finally:
        cf.kill()
        d.cleanup()


if __name__ == "__main__":
    main()
