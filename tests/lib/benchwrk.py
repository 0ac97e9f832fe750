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


def load_average():
    """The 1-minute load average (the machine is shared: say it with a figure)."""
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wrk_run(url, conns, seconds, threads=2, token=None, script=None, pid=None):
    """Runs wrk with --latency (a bearer token and a Lua script optional);
    returns a dict: rps, p50 and p99 (ms), non2xx, errors (socket errors),
    requests, cpu_us (the CPU time of process pid per request in
    microseconds, None without pid), wrk_us (wrk's own CPU time per request:
    on a machine where wrk shares the cores, what the server can have is
    what wrk leaves), load (the load average at the start)."""
    args = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--latency"]
    if token:
        args += ["-H", "Authorization: Bearer " + token]
    if script:
        args += ["-s", script]
    load = load_average()
    c0 = cpu_seconds(pid) if pid else 0
    t0 = os.times()
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    t1 = os.times()
    cpu = cpu_seconds(pid) - c0 if pid else None
    n = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errs = re.search(r"Socket errors:\s+(.*)", out)
    wrk_cpu = (t1.children_user - t0.children_user) + (t1.children_system - t0.children_system)

    def pct(q):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % q, out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errs.group(1).strip() if errs else "", "requests": n,
            "cpu_us": cpu * 1e6 / max(n, 1) if cpu is not None else None,
            "wrk_us": wrk_cpu * 1e6 / max(n, 1), "load": load}


def wrk(url, conns, seconds, threads=2, token=None, script=None, pid=None):
    """wrk_run() as a tuple: (req/s, p50 ms, p99 ms, non-2xx, socket errors,
    the CPU time of process pid per request in microseconds, or None
    without pid)."""
    r = wrk_run(url, conns, seconds, threads, token=token, script=script, pid=pid)
    return (r["rps"], r["p50"], r["p99"], r["non2xx"], r["errors"], r["cpu_us"])
