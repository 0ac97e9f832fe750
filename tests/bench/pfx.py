#!/usr/bin/env python3
"""Benchmark: what a PFX costs.

1. amtcertd's export time per profile: POST /api/v1/orders/{id}/exports,
   which builds the PFX and re-reads it before answering (BENCH_PFX_N
   requests per profile, default 5; mean and median).
2. What the file costs the consoles that read it with node-forge (Open AMT
   RPS, MeshCentral): decode time of our PFX against one that
   `openssl pkcs12 -export` makes from the same key and chain, with
   OpenSSL 3's defaults (PBES2 AES-256-CBC, hmacWithSHA256, SHA-256 MAC,
   2,048 iterations) and with 3DES (the compat equivalent), printed as a
   ratio, with the iteration counts `openssl pkcs12 -info` shows. GnuTLS
   fixes its iteration count when it is built (600,000 on Debian 12), so
   the ratio is mostly that count. BENCH_FORGE_N timed decodes per file
   (default 2, after one untimed).

Prints numbers only; asserts nothing about time. Run: tests/bench/run.sh
(or AMTCERTD_BIN=build-gcc/amtcertd AMTCERTD_SRC=. python3 tests/bench/pfx.py).
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
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import amtc  # noqa: E402
import testca  # noqa: E402

CHECK_JS = os.path.join(HERE, "..", "interop", "forge", "check.js")
PASSWORD = "Bench-Password-2026"
SUFFIX = "vpro.example.com"


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


def iterations(path):
    """{'mac': n, 'certs': n, 'key': n} from openssl pkcs12 -info."""
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
    p = subprocess.run(["node", CHECK_JS, path, PASSWORD, "--repeat", str(n)], capture_output=True, text=True)
    s = json.loads(p.stdout) if p.stdout.strip() else {"ok": False, "error": p.stderr}
    if not s.get("ok"):
        raise RuntimeError("node-forge could not read %s: %s" % (path, s.get("error")))
    return s["mean_ms"]


def main():
    n_export = int(os.environ.get("BENCH_PFX_N", "5"))
    n_forge = int(os.environ.get("BENCH_FORGE_N", "2"))
    if not os.path.isdir(os.path.join(HERE, "..", "interop", "forge", "node_modules", "node-forge")):
        sys.exit("pfx.py: node-forge is missing: npm ci --prefix tests/interop/forge")
    with tempfile.TemporaryDirectory(prefix="amtc-bench-pfx-") as tmp:
        ca = testca.TestCA(os.path.join(tmp, "ca"))
        d = amtc.Daemon(extra_args=["--log-level", "warn"])
        try:
            oid, leaf = ready_order(d, ca)
            times = {}
            ours = {}
            for profile in ("compat", "modern"):
                times[profile] = []
                for _ in range(n_export):
                    t0 = time.perf_counter()
                    r = d.post("/api/v1/orders/%s/exports" % oid,
                               {"format": "pkcs12", "profile": profile, "password": PASSWORD})
                    times[profile].append(time.perf_counter() - t0)
                    assert r.status == 200, r
                ours[profile] = os.path.join(tmp, "amtcertd-%s.pfx" % profile)
                with open(ours[profile], "wb") as f:
                    f.write(r.body)
        finally:
            d.cleanup()

        # the same key and chain, packed by openssl pkcs12 -export
        key = run(["openssl", "pkcs12", "-nocerts", "-nodes", "-passin", "pass:" + PASSWORD,
                   "-in", ours["compat"]])
        kpath, lpath, cpath = (os.path.join(tmp, n) for n in ("key.pem", "leaf.pem", "chain.pem"))
        with open(kpath, "wb") as f:
            f.write(key)
        with open(lpath, "w") as f:
            f.write(leaf)
        with open(cpath, "w") as f:
            f.write(ca.inter_pem + ca.root_pem)
        theirs = {}
        for name, extra in (("modern", []),
                            ("compat", ["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha256"])):
            theirs[name] = os.path.join(tmp, "openssl-%s.pfx" % name)
            run(["openssl", "pkcs12", "-export", "-inkey", kpath, "-in", lpath, "-certfile", cpath,
                 "-passout", "pass:" + PASSWORD, "-out", theirs[name]] + extra)

        print()  # run.sh prints the benchmarks one after the other
        print("4. PFX export (POST /api/v1/orders/{id}/exports, build + re-read), %d requests per profile"
              % n_export)
        print("%-10s %10s %10s" % ("profile", "mean ms", "median ms"))
        for profile in ("compat", "modern"):
            ms = [t * 1000 for t in times[profile]]
            print("%-10s %10.1f %10.1f" % (profile, statistics.mean(ms), statistics.median(ms)))
        print()
        print("   node-forge decode (pkcs12FromAsn1, as RPS and MeshCentral), mean of %d after one untimed"
              % n_forge)
        print("%-10s %-30s %-22s %12s %12s" % ("profile", "file", "iterations mac/certs/key", "decode ms",
                                               "ratio"))
        for profile in ("compat", "modern"):
            a = forge_decode(ours[profile], n_forge)
            b = forge_decode(theirs[profile], max(n_forge, 5))
            ia, ib = iterations(ours[profile]), iterations(theirs[profile])
            print("%-10s %-30s %-22s %12.1f" % (profile, "amtcertd (GnuTLS)",
                                                "%s/%s/%s" % (ia["mac"], ia["certs"], ia["key"]), a))
            print("%-10s %-30s %-22s %12.1f %11.0fx" % ("", "openssl pkcs12 -export" +
                                                        (" 3DES" if profile == "compat" else ""),
                                                        "%s/%s/%s" % (ib["mac"], ib["certs"], ib["key"]), b, a / b))
            print("%-10s algorithms: amtcertd %s; openssl %s" % ("", ", ".join(ia["algs"]), ", ".join(ib["algs"])))
        print("   ratio = amtcertd decode time / openssl's, same key and chain; the iteration count"
              " is fixed when GnuTLS is built")


if __name__ == "__main__":
    main()
