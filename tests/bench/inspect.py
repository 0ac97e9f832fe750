#!/usr/bin/env python3
"""Benchmark: inspections per second of a 4-certificate chain (leaf,
issuing CA, cross-signed CA, old root) with amtcertd's POST /api/v1/inspect,
against cfssl's /api/v1/cfssl/bundle on the same chain (Debian
golang-cfssl, started here on loopback with the old root as its CA bundle).
2 concurrent clients each. Prints the ratio; asserts nothing about time.
Run: tests/bench/run.sh
"""
import http.client
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import amtc  # noqa: E402
import testca  # noqa: E402
from keygen import free_port, start_cfssl, throughput  # noqa: E402,F401


def post_raw(port, path, body, headers, want=200):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", path, body=body, headers=headers)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != want:
        raise RuntimeError("%s: %d %s" % (path, r.status, data[:300]))
    return data


def main():
    n = int(os.environ.get("BENCH_INSPECT_N", "400"))
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
        import subprocess
        import socket
        import time
        port = free_port()
        cf = subprocess.Popen(["cfssl", "serve", "-address", "127.0.0.1", "-port", str(port),
                               "-ca-bundle", ca_bundle, "-int-bundle", int_bundle],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        try:
            hdr = {"Authorization": "Bearer " + dmn.token, "Content-Type": "application/x-pem-file"}
            rep = json.loads(post_raw(dmn.port, "/api/v1/inspect", chain.encode(), hdr))
            assert len(rep["chain"]) == 4, [c["subject"] for c in rep["chain"]]
            req = json.dumps({"certificate": leaf + new.inter_pem + cross, "flavor": "ubiquitous"})
            out = json.loads(post_raw(port, "/api/v1/cfssl/bundle", req, {"Content-Type": "application/json"}))
            assert out["success"], out
            ours = throughput(lambda: post_raw(dmn.port, "/api/v1/inspect", chain.encode(), hdr), n)
            theirs = throughput(lambda: post_raw(port, "/api/v1/cfssl/bundle", req,
                                                 {"Content-Type": "application/json"}), n)
            print("3. chain inspection, 4 certificates, 2 concurrent clients, %d requests each" % n)
            print("%-34s %10s" % ("", "per second"))
            print("%-34s %10.1f" % ("amtcertd POST /api/v1/inspect", ours))
            print("%-34s %10.1f" % ("cfssl /api/v1/cfssl/bundle", theirs))
            print("   ratio amtcertd/cfssl: %.2fx (amtcertd also runs the 14 AMT checks,"
                  " ranks every path and reads the CA pool)" % (ours / theirs))
        finally:
            cf.kill()
            dmn.cleanup()


if __name__ == "__main__":
    main()
