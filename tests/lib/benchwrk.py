"""What the benchmarks in tests/bench/ share: a free port, a process's CPU
time, and one wrk run read back into numbers. Benchmarks only: nothing here
asserts anything about time."""
import os
import re
import socket
import subprocess


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    """User + system CPU time process pid has used (all its threads)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, conns, seconds, threads=2, token=None, script=None, pid=None):
    """Runs wrk with --latency (a bearer token and a Lua script optional);
    returns (req/s, p50 ms, p99 ms, non-2xx, socket errors, the CPU time of
    process pid per request in microseconds, or None without pid)."""
    args = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    if script:
        args += ["-s", script]
    c0 = cpu_seconds(pid) if pid else 0
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(pid) - c0 if pid else None
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors:\s+(.*)", out)

    def pct(q):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % q, out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    return (rps, pct(50), pct(99), int(non2xx.group(1)) if non2xx else 0,
            errs.group(1).strip() if errs else "",
            cpu * 1e6 / max(n, 1) if cpu is not None else None)
