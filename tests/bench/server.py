#!/usr/bin/env python3
"""Benchmark: the server itself (connections, threads, the read path).

1. GET /api/v1/orders/{id} of one order with wrk (Debian wrk), -t2 -c64:
   req/s, p50, p99 (goal: >= 30,000 req/s, p99 < 10 ms), with the
   daemon's CPU time per request, wrk's own, and the load average; once as
   configured and once more with --log-level warn (no access-log line per
   request) for comparison; with BENCH_SERVER_BEFORE=<an older amtcertd>,
   that binary too, back to back, and ours over it. wrk runs on the same
   cores: cores / (daemon + wrk CPU per request) is the most this machine
   can answer, printed as "ceiling";
2. the same while four 4096-bit key+CSR requests (POST /api/v1/orders) are
   always in flight, and how many keys were made meanwhile;
3. the daemon's resident memory (VmRSS) and thread count idle after start,
   and after each of three rounds of wrk -c256 on the same GET (measured
   3 s after wrk has closed its connections), with the peaks seen during each
   round: RSS should come back close to idle, with no growth from round to
   round.

Every wrk run's non-2xx answers and socket errors are printed (a fast error
is not an answer). Nothing here asserts a time; it prints numbers.

Run: tests/bench/run.sh, or alone:
  AMTCERTD_BIN=build-bench/amtcertd AMTCERTD_SRC=. python3 tests/bench/server.py
BENCH_SERVER_SECONDS (default 10): length of the runs of 1 and 2;
BENCH_RSS_SECONDS (default 60) and BENCH_RSS_ROUNDS (default 3): part 3;
BENCH_SERVER_ARGS: extra daemon flags (e.g. "--log-level warn");
BENCH_SERVER_BEFORE: an older amtcertd binary to compare run 1 with.
"""
import os
import sys

# tests/bench/inspect.py shadows the standard library's inspect module, which
# jsonschema (through amtc) imports: keep this folder off the search path.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import http.client  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

sys.path.insert(0, os.path.join(_HERE, "..", "lib"))
import amtc  # noqa: E402
import benchwrk  # noqa: E402

SUBJECT = {"common_name": "rcs.example.com", "organization": "Example", "locality": "Portland",
           "state": "Oregon", "country": "US"}
THREADS = 2


def wrk(url, token, conns, seconds, pid=None):
    """One wrk run (THREADS threads); see benchwrk.wrk."""
    return benchwrk.wrk(url, conns, seconds, THREADS, token=token, pid=pid)


def proc_status(pid):
    """(VmRSS in MiB, threads) of process pid."""
    with open("/proc/%d/status" % pid) as f:
        s = f.read()
    rss = int(re.search(r"^VmRSS:\s+(\d+) kB", s, re.M).group(1)) / 1024.0
    thr = int(re.search(r"^Threads:\s+(\d+)", s, re.M).group(1))
    return rss, thr


def post_order(port, token, bits):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request("POST", "/api/v1/orders", body=json.dumps({"subject": SUBJECT, "key": {"bits": bits}}),
              headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 201:
        raise RuntimeError("POST /api/v1/orders: %d %s" % (r.status, data[:200]))


def row(label, res):
    rps, p50, p99, bad, errs, cpu = res
    print("%-40s %10.0f %8.2f %8.2f %8s %8d  %s" % (label, rps, p50, p99,
                                                    "%.1f" % cpu if cpu is not None else "-",
                                                    bad, errs or "-"))


def row1(label, r):
    """A row of part 1, from benchwrk.wrk_run."""
    print("%-40s %10.0f %8.2f %8.2f %8.1f %8.1f %6.1f %8d  %s" % (
        label, r["rps"], r["p50"], r["p99"], r["cpu_us"], r["wrk_us"], r["load"], r["non2xx"],
        r["errors"] or "-"))


def ceiling(r):
    """The most req/s this machine's cores give when wrk and the daemon
    share them and nothing else runs: cores / (both CPU times per request)."""
    return os.cpu_count() * 1e6 / (r["cpu_us"] + r["wrk_us"])


def get_one(binary, extra, seconds):
    """Part 1 on a fresh daemon of binary: wrk_run of GET one order."""
    saved = amtc.BIN
    amtc.BIN = binary
    try:
        q = amtc.Daemon(extra_args=extra)
    finally:
        amtc.BIN = saved
    try:
        qid = json.loads(q.create_order().body)["id"]
        qurl = "http://127.0.0.1:%d/api/v1/orders/%s" % (q.port, qid)
        wrk(qurl, q.token, 64, 1)  # warm-up
        return benchwrk.wrk_run(qurl, 64, seconds, THREADS, token=q.token, pid=q.proc.pid)
    finally:
        q.cleanup()


def settle(pid, seconds=3.0):
    """Gives the daemon `seconds` after the load (connections closed, idle
    memory handed back), and longer while its thread count still changes."""
    last = None
    end = time.time() + seconds
    while True:
        cur = proc_status(pid)[1]
        if cur == last and time.time() >= end:
            break
        last = cur
        time.sleep(0.5)


def main():
    seconds = int(os.environ.get("BENCH_SERVER_SECONDS", "10"))
    rss_seconds = int(os.environ.get("BENCH_RSS_SECONDS", "60"))
    rounds = int(os.environ.get("BENCH_RSS_ROUNDS", "3"))
    extra = os.environ.get("BENCH_SERVER_ARGS", "").split()
    if not shutil.which("wrk"):
        sys.exit("server bench: wrk is needed (scripts/deps.sh bench)")
    d = amtc.Daemon(extra_args=extra)
    pid = d.proc.pid
    try:
        time.sleep(1)
        idle_rss, idle_thr = proc_status(pid)
        oid = json.loads(d.create_order().body)["id"]
        url = "http://127.0.0.1:%d/api/v1/orders/%s" % (d.port, oid)
        print("server: amtcertd %s %s; machine: %d cores; wrk -t%d"
              % (amtc.BIN, " ".join(extra), os.cpu_count(), THREADS))
        wrk(url, d.token, 64, 1)  # warm-up
        print("%-40s %10s %8s %8s %8s %8s %6s %8s  %s" % (
            "GET /api/v1/orders/{id}, -c64, %d s" % seconds, "req/s", "p50 ms", "p99 ms", "us CPU",
            "us wrk", "load", "non-2xx", "socket errors"))
        ours = benchwrk.wrk_run(url, 64, seconds, THREADS, token=d.token, pid=pid)
        row1("1. idle daemon", ours)
        before = os.environ.get("BENCH_SERVER_BEFORE")
        if before:
            old = get_one(before, extra, seconds)
            row1("1c. before: %s" % os.path.basename(os.path.dirname(before)), old)
        if "--log-level" not in extra:
            row1("1b. idle daemon, --log-level warn", get_one(amtc.BIN, extra + ["--log-level", "warn"], seconds))
        print("   ceiling of run 1 (cores / (us CPU + us wrk)): %.0f req/s" % ceiling(ours))
        if before:
            print("   ours / before: req/s %.2fx, CPU per request %.2fx (ceiling before: %.0f req/s)"
                  % (ours["rps"] / old["rps"], ours["cpu_us"] / old["cpu_us"], ceiling(old)))

        stop = threading.Event()
        made = [0]
        failed = []

        def keep_busy():
            while not stop.is_set():
                try:
                    post_order(d.port, d.token, 4096)
                    made[0] += 1
                except Exception as e:  # noqa: BLE001 (printed below)
                    failed.append(str(e))
                    return
        busy = [threading.Thread(target=keep_busy) for _ in range(4)]
        [t.start() for t in busy]
        time.sleep(0.5)
        res = wrk(url, d.token, 64, seconds)  # (its CPU time is mostly keys)
        stop.set()
        [t.join() for t in busy]
        row("2. 4 x RSA-4096 key+CSR in flight", res)
        print("   (%d 4096-bit orders made during run 2%s)"
              % (made[0], "; failed: " + failed[0] if failed else ""))
        print("   goal: >= 30000 req/s and p99 < 10 ms; us CPU: the daemon's CPU time per request,")
        print("   us wrk: wrk's own; load: the 1-minute load average when the run began")
        print()

        print("3. memory: wrk -c256 on the same GET, %d s per round" % rss_seconds)
        print("%-28s %10s %10s %8s %10s %12s" % ("", "req/s", "RSS MiB", "threads", "peak MiB",
                                                 "peak threads"))
        print("%-28s %10s %10.1f %8d %10s %12s" % ("idle after start", "", idle_rss, idle_thr, "", ""))
        for i in range(rounds):
            peak = [0.0, 0]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    r, t = proc_status(pid)
                    peak[0] = max(peak[0], r)
                    peak[1] = max(peak[1], t)
                    done.wait(0.5)
            s = threading.Thread(target=sample)
            s.start()
            res = wrk(url, d.token, 256, rss_seconds)
            done.set()
            s.join()
            settle(pid)
            rss, thr = proc_status(pid)
            extra_txt = "" if not res[3] and not res[4] else "  non-2xx %d, socket errors %s" % (res[3], res[4])
            print("%-28s %10.0f %10.1f %8d %10.1f %12d%s" % ("after round %d" % (i + 1), res[0], rss, thr,
                                                             peak[0], peak[1], extra_txt))
        print("   goal: RSS after each round close to idle, no growth across rounds")
    finally:
        d.cleanup()


if __name__ == "__main__":
    main()
