#!/usr/bin/env python3
"""Benchmark: inspections per second of a 4-certificate chain (leaf,
issuing CA, cross-signed CA, old root) with amtcertd's POST /api/v1/inspect,
against cfssl's /api/v1/cfssl/bundle on the same chain (Debian
golang-cfssl, started here on loopback with the old root as its CA bundle).

Load comes from wrk (Debian wrk), -t2 with 8 and with 64 connections, the
same settings for both servers. Every run's non-2xx answers and socket
errors are printed: a fast error is no inspection. Prints req/s and the
ratio ours/cfssl for each setting in one run; asserts nothing about time.

Run: tests/bench/run.sh, or alone:
  AMTCERTD_BIN=build-bench/amtcertd AMTCERTD_SRC=. python3 tests/bench/inspect.py
BENCH_INSPECT_SECONDS (default 10) is the length of each wrk run.
"""
import os
import sys

# This file's name shadows the standard library's inspect module, which
# jsonschema (through amtc) imports: keep this folder off the search path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import http.client  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.join(_HERE, "..", "lib"))
sys.path.insert(0, os.path.join(_HERE, "..", "tools"))
import amtc  # noqa: E402
import benchwrk  # noqa: E402
from benchwrk import free_port  # noqa: E402
import testca  # noqa: E402

CONNECTIONS = (8, 64)
THREADS = 2


def post_raw(port, path, body, headers, want=200):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != want:
        raise RuntimeError("%s: %d %s" % (path, r.status, data[:300]))
    return data


def lua_string(s):
    """s as a Lua long string literal that cannot end early."""
    eq = "="
    while ("]" + eq + "]") in s:
        eq += "="
    return "[" + eq + "[\n" + s + "]" + eq + "]"


def wrk_script(d, name, body, headers):
    """A wrk Lua script that POSTs body with headers."""
    lines = ['wrk.method = "POST"', "wrk.body = " + lua_string(body)]
    for k, v in headers.items():
        lines.append("wrk.headers[%s] = %s" % (json.dumps(k), json.dumps(v)))
    path = os.path.join(d, name + ".lua")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def wrk(url, script, conns, seconds, pid):
    """One wrk run (THREADS threads) against process pid; see benchwrk.wrk."""
    return benchwrk.wrk(url, conns, seconds, THREADS, script=script, pid=pid)


def wait_port(port):
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listens on port %d" % port)


def main():
    seconds = int(os.environ.get("BENCH_INSPECT_SECONDS", "10"))
    if not shutil.which("wrk") or not shutil.which("cfssl"):
        sys.exit("inspect bench: wrk and cfssl are needed (scripts/deps.sh bench)")
    with tempfile.TemporaryDirectory() as d:
        old = testca.TestCA(os.path.join(d, "old"), root_cn="Bench Old Root")
        new = testca.TestCA(os.path.join(d, "new"), root_cn="Bench New Root")
        cross = new.cross_signed_by(old)
        _k, leaf = new.issue("rcs.bench.example.com")
        chain = leaf + new.inter_pem + cross + old.root_pem
        ca_bundle = os.path.join(d, "ca.pem")
        int_bundle = os.path.join(d, "int.pem")
        with open(ca_bundle, "w") as f:
            f.write(old.root_pem)
        with open(int_bundle, "w") as f:
            f.write(new.inter_pem + cross)

        dmn = amtc.Daemon(extra_args=["--log-level", "warn"])
        port = free_port()
        cf = subprocess.Popen(["cfssl", "serve", "-address", "127.0.0.1", "-port", str(port),
                               "-ca-bundle", ca_bundle, "-int-bundle", int_bundle],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port)
            hdr = {"Authorization": "Bearer " + dmn.token, "Content-Type": "application/x-pem-file"}
            rep = json.loads(post_raw(dmn.port, "/api/v1/inspect", chain.encode(), hdr))
            assert len(rep["chain"]) == 4, [c["subject"] for c in rep["chain"]]
            req = json.dumps({"certificate": leaf + new.inter_pem + cross, "flavor": "ubiquitous"})
            cf_hdr = {"Content-Type": "application/json"}
            out = json.loads(post_raw(port, "/api/v1/cfssl/bundle", req, cf_hdr))
            assert out["success"], out
            ours_lua = wrk_script(d, "ours", chain, hdr)
            theirs_lua = wrk_script(d, "cfssl", req, cf_hdr)
            ours_url = "http://127.0.0.1:%d/api/v1/inspect" % dmn.port
            theirs_url = "http://127.0.0.1:%d/api/v1/cfssl/bundle" % port
            # one short warm-up each (page cache, Go runtime, first connections)
            wrk(ours_url, ours_lua, 8, 1, dmn.proc.pid)
            wrk(theirs_url, theirs_lua, 8, 1, cf.pid)
            print("3. chain inspection, 4 certificates (leaf, CA, cross-signed CA, old root),"
                  " wrk -t%d, %d s per run" % (THREADS, seconds))
            print("   amtcertd %s; machine: %d cores, load %.1f %.1f %.1f" % (
                (amtc.BIN, os.cpu_count()) + os.getloadavg()))
            print("%-6s %-32s %10s %8s %8s %8s %12s  %s" % ("conns", "", "req/s", "p50 ms", "p99 ms",
                                                           "non-2xx", "CPU us/req", "socket errors"))
            ratios = []
            for conns in CONNECTIONS:
                rows = (("amtcertd POST /api/v1/inspect", wrk(ours_url, ours_lua, conns, seconds, dmn.proc.pid)),
                        ("cfssl /api/v1/cfssl/bundle", wrk(theirs_url, theirs_lua, conns, seconds, cf.pid)))
                for label, (rps, p50, p99, bad, errs, cpu) in rows:
                    print("%-6d %-32s %10.1f %8.2f %8.2f %8d %12.0f  %s" % (conns, label, rps, p50, p99,
                                                                           bad, cpu, errs or "-"))
                ratios.append((conns, rows[0][1][0] / rows[1][1][0], rows[1][1][5] / rows[0][1][5]))
            for conns, r, c in ratios:
                print("   wrk -t%d -c%d: ratio amtcertd/cfssl %.2fx req/s; server CPU per request"
                      " cfssl/amtcertd %.2fx" % (THREADS, conns, r, c))
            print("   (req/s depend on what else the machine runs, wrk included; CPU per request"
                  " much less. amtcertd also runs the AMT checks, ranks every path and reads the"
                  " CA pool and the AMT root list. Both keep CA certificates parsed across"
                  " requests: cfssl its -ca-bundle and -int-bundle, amtcertd every CA"
                  " certificate it has read (pki/certcache.c); the leaf is parsed and checked"
                  " for every request. amtcertd answers this small PEM upload on its event"
                  " loop, as it does any of at most 8 PEM certificates with bounded keys in"
                  " 16 KiB; zips, PFX files and larger uploads go to its handler pool)")
        finally:
            cf.kill()
            cf.wait()
            dmn.cleanup()


if __name__ == "__main__":
    main()
