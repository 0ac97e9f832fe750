#!/usr/bin/env python3
"""Benchmark: what a PFX costs to make, and what it costs the consoles.

1. amtcertd's export time per PFX: POST /api/v1/orders/{id}/exports, which
   unseals the key, builds the PFX (OpenSSL) and re-reads it (GnuTLS)
   before answering; BENCH_PFX_N requests per profile (default 20) at the
   default iteration count (goal: under 50 ms).
2. node-forge decode time (read as Open AMT RPS and MeshCentral read it,
   tests/interop/forge/check.js) of our PFX against one `openssl pkcs12
   -export` makes from the same key and chain: OpenSSL 3's defaults
   (PBES2 AES-256-CBC, hmacWithSHA256, SHA-256 MAC, 2,048 iterations) for
   `modern`, and with 3DES for `compat`. BENCH_ROUNDS rounds (default 3)
   alternate the two files, BENCH_FORGE_N timed decodes each (default 10,
   after one untimed); the ratio is of the medians of the round means
   (goal: at most 1.5x). The iteration counts and algorithms are those
   `openssl pkcs12 -info` shows.
3. What the iteration count costs node-forge: decode time of our PFX at
   the default and at BENCH_PFX_ITER (default 100,000) iterations, and
   the slope in ms per 1,000 iterations (the figure openapi.yaml quotes).

Prints numbers only; asserts nothing about time. Run: tests/bench/run.sh
(or AMTCERTD_BIN=build-bench/amtcertd AMTCERTD_SRC=. python3 tests/bench/pfx.py).
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# tests/bench/inspect.py would shadow the standard library's inspect
# module (jsonschema, through amtc, imports it): keep this folder off the path.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import amtc  # noqa: E402
import testca  # noqa: E402

CHECK_JS = os.path.join(HERE, "..", "interop", "forge", "check.js")
PASSWORD = "Bench-Password-2026"
SUFFIX = "vpro.example.com"
PROFILES = ("compat", "modern")
DEFAULT_ITER = 2048


def run(args, **kw):
    p = subprocess.run(args, capture_output=True, **kw)
    if p.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args[:3]), p.stderr.decode(errors="replace")[-2000:]))
    return p.stdout


def ready_order(d, ca):
    r = d.post("/api/v1/orders", {"subject": {"common_name": "rcs." + SUFFIX, "organization": "Example Inc",
                                              "country": "US"}, "dns_suffix": SUFFIX})
    assert r.status == 201, r
    o = r.json()
    leaf = ca.sign_csr(o["csr"])
    r = d.request("POST", "/api/v1/orders/%s/uploads" % o["id"], body=(leaf + ca.chain_pem).encode(),
                  headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 201, r
    assert d.post("/api/v1/amt/trusted-roots", {"name": "bench", "sha256": ca.root_sha256}).status == 201
    r = d.post("/api/v1/orders/%s/verify" % o["id"], {})
    assert r.status == 200 and r.json()["order_state"] == "ready", r
    return o["id"], leaf


def export(d, oid, profile, iterations=None):
    body = {"format": "pkcs12", "profile": profile, "password": PASSWORD}
    if iterations is not None:
        body["iterations"] = iterations
    t0 = time.perf_counter()
    r = d.post("/api/v1/orders/%s/exports" % oid, body)
    t = time.perf_counter() - t0
    assert r.status == 200, r
    return r.body, t


def info(path):
    """{'mac': n, 'certs': n, 'key': n, 'algs': [...]} from openssl pkcs12 -info."""
    p = subprocess.run(["openssl", "pkcs12", "-info", "-nokeys", "-nocerts", "-passin", "pass:" + PASSWORD,
                        "-in", path], capture_output=True, text=True)
    text = p.stdout + p.stderr
    out = {}
    for label, rx in (("mac", r"^MAC: .*Iteration (\d+)"), ("certs", r"^PKCS7 Encrypted data: .*Iteration (\d+)"),
                      ("key", r"^Shrouded Keybag: .*Iteration (\d+)")):
        m = re.search(rx, text, re.M)
        out[label] = int(m.group(1)) if m else None
    algs = set()
    for line in re.findall(r"^(?:PKCS7 Encrypted data|Shrouded Keybag): (.*)$", text, re.M):
        alg = line.split(", Iteration")[0]
        prf = re.search(r"PRF (\S+)", line)
        algs.add(alg + (" " + prf.group(1) if prf else ""))
    mac = re.search(r"^MAC: (\w+)", text, re.M)
    out["algs"] = sorted(algs) + (["MAC " + mac.group(1)] if mac else [])
    return out


def forge_decode(path, n):
    """Mean ms of n decodes (after one untimed) in one node process."""
    p = subprocess.run(["node", CHECK_JS, path, PASSWORD, "--repeat", str(n)], capture_output=True, text=True)
    s = json.loads(p.stdout) if p.stdout.strip() else {"ok": False, "error": p.stderr}
    if not s.get("ok"):
        raise RuntimeError("node-forge could not read %s: %s" % (path, s.get("error")))
    return s["mean_ms"]


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    n_export = int(os.environ.get("BENCH_PFX_N", "20"))
    n_forge = int(os.environ.get("BENCH_FORGE_N", "10"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    high = int(os.environ.get("BENCH_PFX_ITER", "100000"))
    if not os.path.isdir(os.path.join(HERE, "..", "interop", "forge", "node_modules", "node-forge")):
        sys.exit("pfx.py: node-forge is missing: npm ci --prefix tests/interop/forge")
    with tempfile.TemporaryDirectory(prefix="amtc-bench-pfx-") as tmp:
        ca = testca.TestCA(os.path.join(tmp, "ca"))
        d = amtc.Daemon(extra_args=["--log-level", "warn"])
        times, ours, ours_high, high_s = {}, {}, {}, {}
        try:
            oid, leaf = ready_order(d, ca)
            for profile in PROFILES:
                export(d, oid, profile)  # warm-up
                times[profile] = []
                for _ in range(n_export):
                    body, t = export(d, oid, profile)
                    times[profile].append(t)
                ours[profile] = write(os.path.join(tmp, "amtcertd-%s.pfx" % profile), body)
                body, high_s[profile] = export(d, oid, profile, high)
                ours_high[profile] = write(os.path.join(tmp, "amtcertd-%s-%d.pfx" % (profile, high)), body)
        finally:
            d.cleanup()

        # the same key and chain, packed by openssl pkcs12 -export
        key = run(["openssl", "pkcs12", "-nocerts", "-nodes", "-passin", "pass:" + PASSWORD,
                   "-in", ours["compat"]])
        kpath = write(os.path.join(tmp, "key.pem"), key)
        lpath = write(os.path.join(tmp, "leaf.pem"), leaf.encode())
        cpath = write(os.path.join(tmp, "chain.pem"), (ca.inter_pem + ca.root_pem).encode())
        theirs = {}
        for name, extra in (("modern", []),
                            ("compat", ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha256"])):
            theirs[name] = os.path.join(tmp, "openssl-%s.pfx" % name)
            run(["openssl", "pkcs12", "-export", "-inkey", kpath, "-in", lpath, "-certfile", cpath,
                 "-name", "rcs." + SUFFIX, "-passout", "pass:" + PASSWORD, "-out", theirs[name]] + extra)

        print()  # run.sh prints the benchmarks one after the other
        print("4. PFX export (POST /api/v1/orders/{id}/exports: unseal, build with OpenSSL, re-read with GnuTLS),"
              " %d requests per profile after one warm-up, %d iterations" % (n_export, DEFAULT_ITER))
        print("%-10s %10s %10s %10s   goal" % ("profile", "mean ms", "median ms", "max ms"))
        for profile in PROFILES:
            ms = [t * 1000 for t in times[profile]]
            print("%-10s %10.1f %10.1f %10.1f   < 50 ms" % (profile, statistics.mean(ms), statistics.median(ms),
                                                           max(ms)))
        print()
        print("   node-forge decode (asn1.fromDer + pkcs12FromAsn1 + getBags, as RPS and MeshCentral),")
        print("   %d rounds alternating the files, each the mean of %d decodes after one untimed; median round"
              % (rounds, n_forge))
        print("%-10s %-30s %-20s %10s %16s" % ("profile", "file", "iter mac/certs/key", "decode ms", "ratio (goal<=1.5)"))
        for profile in PROFILES:
            a, b = [], []
            for _ in range(rounds):
                a.append(forge_decode(ours[profile], n_forge))
                b.append(forge_decode(theirs[profile], n_forge))
            ma, mb = statistics.median(a), statistics.median(b)
            ia, ib = info(ours[profile]), info(theirs[profile])
            print("%-10s %-30s %-20s %10.1f" % (profile, "amtcertd (OpenSSL writer)",
                                                "%s/%s/%s" % (ia["mac"], ia["certs"], ia["key"]), ma))
            print("%-10s %-30s %-20s %10.1f %15.2fx" % ("", "openssl pkcs12 -export" +
                                                        (" 3DES" if profile == "compat" else ""),
                                                        "%s/%s/%s" % (ib["mac"], ib["certs"], ib["key"]), mb,
                                                        ma / mb))
            print("%-10s rounds ms: amtcertd %s; openssl %s" % ("", " ".join("%.1f" % x for x in a),
                                                                 " ".join("%.1f" % x for x in b)))
            print("%-10s algorithms: amtcertd %s; openssl %s" % ("", ", ".join(ia["algs"]), ", ".join(ib["algs"])))
        print("   ratio = amtcertd decode time / openssl's, same key and chain")
        print()
        print("   what the iteration count costs node-forge (our PFX, one node process each)")
        print("%-10s %12s %12s %14s %16s" % ("profile", "iterations", "decode ms", "export ms", "ms per 1,000 it"))
        for profile in PROFILES:
            lo = forge_decode(ours[profile], n_forge)
            hi = forge_decode(ours_high[profile], max(2, n_forge // 5))
            slope = (hi - lo) / ((high - DEFAULT_ITER) / 1000.0)
            print("%-10s %12d %12.1f %14.1f" % (profile, DEFAULT_ITER, lo, statistics.median(times[profile]) * 1000))
            print("%-10s %12d %12.1f %14.1f %16.2f" % ("", high, hi, high_s[profile] * 1000, slope))


if __name__ == "__main__":
    main()
