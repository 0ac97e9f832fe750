"""Hostile neighbours and bad days (issue 10, items 1, 4, 5, 6, 7): what a
local process or a web page can do to the daemon without a token, and what
the daemon says when its disk fills up.

- A request body trickled a byte at a time is cut at the body deadline.
- DNS rebinding: a request whose Host is not one of the daemon's names is
  answered 421 on every route, static files and /healthz included.
- A second daemon on the same state directory refuses to start and names
  the running one.
- A full disk: writes answer 507 storage_full, /healthz 503, and both
  recover once space is freed (a real 2 MiB tmpfs; skipped without root).
- A chunked body over the cap gets its 413 while it is still arriving.
- The one-time login link is not printed when stdout is not a terminal;
  `amtcertd login-link` mints one for the running daemon, usable once.

The timeouts given to the daemon are short so that each test takes
seconds; the bounds the tests check are generous (correctness, not speed).
Flags that an older daemon would refuse are given as environment variables
where that keeps the test meaningful against it (an unknown variable is
ignored, an unknown flag is not).
"""
import http.client
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time

import pytest

import amtc


def raw_status(port, head, timeout=10):
    """Sends a request head (bytes), returns (status, answer bytes)."""
    return amtc.raw_request(port, head, timeout)


def get_with_host(port, path, host, token=None):
    head = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (path, host)
    if token:
        head += "Authorization: Bearer %s\r\n" % token
    return raw_status(port, (head + "\r\n").encode())


# ---- item 1: slow bodies --------------------------------------------------

def test_a_trickled_body_is_cut_at_the_body_deadline():
    d = amtc.Daemon(extra_args=["--header-timeout", "2"], env={"AMTCERTD_BODY_TIMEOUT": "2"})
    s = None
    try:
        oid = d.create_order(cn="trickle.example.com").json()["id"]
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(("PATCH /api/v1/orders/%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: 1000\r\n\r\n" % (oid, d.port, d.token)).encode())
        s.settimeout(1.0)
        t0 = time.monotonic()
        closed = False
        # one byte a second: the idle timeout (30 s) never fires
        while time.monotonic() - t0 < 15:
            try:
                s.send(b" ")
            except OSError:
                closed = True
                break
            try:
                if s.recv(4096) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
        took = time.monotonic() - t0
        assert closed, "a body trickled for 15 s was not cut"
        assert 1.5 <= took < 8, took
        # the watchdog logs after it has shut the socket: wait for the line
        line = "whose request body did not arrive within 2s"
        until = time.monotonic() + 5
        while line not in d.read_stderr() and time.monotonic() < until:
            time.sleep(0.05)
        assert line in d.read_stderr()
        # and the daemon serves on
        assert d.get("/api/v1/orders/" + oid).status == 200
        d.stop_checked(cleanup=False)
    finally:
        if s:
            s.close()
        d.cleanup()


def test_a_body_sent_in_time_is_not_cut():
    """Bytes arriving within the deadline, slowly: the request completes."""
    d = amtc.Daemon(extra_args=["--header-timeout", "2"], env={"AMTCERTD_BODY_TIMEOUT": "3"})
    try:
        body = b'{"subject": {"common_name": "slowbody.example.com"}}'
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(("POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
                   "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                   "Content-Length: %d\r\n\r\n" % (d.port, d.token, len(body))).encode())
        for i in range(0, len(body), 13):
            s.sendall(body[i:i + 13])
            time.sleep(0.3)
        out = b""
        while True:
            c = s.recv(65536)
            if not c:
                break
            out += c
        s.close()
        assert out.startswith(b"HTTP/1.1 201"), out[:200]
        d.stop_checked(cleanup=False)
    finally:
        d.cleanup()


# ---- item 4: DNS rebinding ------------------------------------------------

def test_a_foreign_host_is_misdirected_on_every_route(daemon):
    before = daemon.db_snapshot()
    for path, token in (("/healthz", None), ("/", None), ("/index.html", None),
                        ("/openapi.yaml", None), ("/api/v1/orders", daemon.token)):
        for host in ("evil.example", "evil.example:%d" % daemon.port, "127.0.0.1.evil.example",
                     "localhost.", "127.0.0.2:%d" % daemon.port):
            st, out = get_with_host(daemon.port, path, host, token)
            assert st == 421, (path, host, out[:300])
            assert b"application/problem+json" in out and b'"code":"wrong_host"' in out
    # a write is refused before it runs
    body = b'{"subject": {"common_name": "rebind.example.com"}}'
    st, out = raw_status(daemon.port, (
        "POST /api/v1/orders HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n"
        "Authorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
        % (daemon.token, len(body))).encode() + body)
    assert st == 421, out[:300]
    st, out = raw_status(daemon.port, b"POST /api/v1/login HTTP/1.1\r\nHost: evil.example\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 10\r\n"
                         b"Connection: close\r\n\r\n{\"code\":1}")
    assert st == 421
    assert daemon.db_snapshot() == before


def test_the_daemons_own_names_are_served(daemon):
    for host in ("127.0.0.1", "127.0.0.1:%d" % daemon.port, "localhost", "LOCALHOST:%d" % daemon.port,
                 "[::1]", "[::1]:%d" % daemon.port):
        st, out = get_with_host(daemon.port, "/healthz", host)
        assert st == 200, (host, out[:300])
    c = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    c.request("GET", "/healthz", headers={"Host": "evil.example"})
    r = c.getresponse()
    assert r.status == 421 and r.getheader("Content-Type") == "application/problem+json"
    r.read()
    c.close()


def test_http_1_0_without_host_is_served(daemon):
    """A browser always sends Host, so a request without one cannot be a
    rebinding page: HTTP/1.0 clients that omit it are served."""
    st, out = raw_status(daemon.port, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert st == 200, out[:300]


def test_names_the_admin_allows():
    d = amtc.Daemon(env={"AMTCERTD_ALLOW_HOST": "certs.example.com, proxy.example:8443"})
    try:
        for host, want in (("certs.example.com", 200), ("certs.example.com:443", 200),
                           ("CERTS.example.com", 200), ("proxy.example:8443", 200),
                           ("proxy.example", 421), ("proxy.example:8444", 421),
                           ("certs.example.com.evil", 421), ("evil.example", 421)):
            st, out = get_with_host(d.port, "/healthz", host)
            assert st == want, (host, out[:300])
        d.stop_checked(cleanup=False)
    finally:
        d.cleanup()
    # the flag, repeatable
    d = amtc.Daemon(extra_args=["--allow-host", "a.example", "--allow-host", "b.example:80"])
    try:
        assert get_with_host(d.port, "/", "a.example:1234")[0] == 200
        assert get_with_host(d.port, "/", "b.example:80")[0] == 200
        assert get_with_host(d.port, "/", "b.example")[0] == 421
        d.stop_checked(cleanup=False)
    finally:
        d.cleanup()
    r = subprocess.run([amtc.BIN, "serve", "--allow-host", "bad host/"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 2 and "--allow-host" in r.stderr


# ---- item 5: one daemon per state directory -------------------------------

def test_a_second_daemon_on_the_same_state_refuses_to_start(daemon):
    before = daemon.db_snapshot()
    r = subprocess.run([amtc.BIN, "serve", "--listen", "127.0.0.1:0", "--state-dir", daemon.state_dir],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stdout
    assert "pid %d" % daemon.proc.pid in r.stderr, r.stderr
    assert "http://127.0.0.1:%d/" % daemon.port in r.stderr, r.stderr
    assert "listening on" not in r.stdout
    with open(os.path.join(daemon.state_dir, "amtcertd.lock")) as f:
        text = f.read()
    assert "pid %d\n" % daemon.proc.pid in text and "url http://127.0.0.1:%d/" % daemon.port in text
    # the running one is untouched
    assert daemon.get("/healthz", token=None).status == 200
    assert daemon.db_snapshot() == before


def test_the_lock_goes_with_the_daemon():
    with tempfile.TemporaryDirectory() as tmp:
        sd = os.path.join(tmp, "s")
        d = amtc.Daemon(state_dir=sd)
        assert d.stop() == 0
        d.cleanup()
        # a stale lock file does not keep the next one out
        d = amtc.Daemon(state_dir=sd)
        try:
            assert d.get("/healthz", token=None).status == 200
            d.stop_checked(cleanup=False)
        finally:
            d.cleanup()


# ---- item 6: a full disk --------------------------------------------------

@pytest.fixture
def small_disk():
    """A 2 MiB tmpfs, mounted for the test (root only)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a small tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="amtc-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.strip())
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", mnt])
        os.rmdir(mnt)


def fill(path):
    """Writes zeros into path until the disk is full."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_a_full_disk_is_507_and_healthz_says_so(small_disk):
    d = amtc.Daemon(state_dir=os.path.join(small_disk, "state"))
    try:
        oid = d.create_order(cn="before.example.com").json()["id"]
        assert d.get("/healthz", token=None).status == 200
        filler = os.path.join(small_disk, "filler")
        fill(filler)
        seen = []
        # a write that needs new pages meets the full disk (the WAL may
        # have room left for the first few)
        for i in range(40):
            r = d.create_order(cn="full%d.example.com" % i)
            seen.append(r.status)
            if r.status == 507:
                break
        assert seen[-1] == 507, seen
        assert set(seen) <= {201, 507}, seen  # never 500
        p = r.json()
        assert p["code"] == "storage_full"
        assert "the disk holding the state directory is full" in p["detail"]
        h = d.get("/healthz", token=None)
        assert h.status == 503 and h.json()["code"] == "storage_full", h.text
        # reads go on
        assert d.get("/api/v1/orders/" + oid).status == 200
        # free the space: health and writes come back
        os.unlink(filler)
        assert d.get("/healthz", token=None).status == 200
        r = d.create_order(cn="after.example.com")
        assert r.status == 201, r.text
        assert "the disk is full" in d.read_stderr()
        d.stop_checked(cleanup=False)
    finally:
        d.cleanup()
    # the store is whole
    con = sqlite3.connect(os.path.join(small_disk, "state", "amtcertd.db"))
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


# ---- item 7: chunked bodies over the cap, the login link ------------------

def test_a_chunked_body_over_the_cap_gets_413_while_it_arrives(daemon):
    """The 413 comes once the cap (64 KiB of JSON) is passed, not at the
    end of the body, and not never (a client sending past 16 MiB)."""
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=10)
    try:
        s.sendall(("POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                   % (daemon.port, daemon.token)).encode())
        s.setblocking(False)
        chunk = b"%x\r\n" % 65536 + b" " * 65536 + b"\r\n"
        sent, got, pending = 0, b"", b""
        t0 = time.monotonic()
        # up to 20 MiB, never the last chunk; read as we go
        while sent < (20 << 20) and time.monotonic() - t0 < 20 and b"\r\n\r\n" not in got:
            if not pending:
                pending = chunk
            try:
                n = s.send(pending)
                sent += n
                pending = pending[n:]
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                break
            try:
                got += s.recv(65536)
            except BlockingIOError:
                pass
            except OSError:
                break
        s.settimeout(5)
        try:
            while b"}" not in got:
                c = s.recv(65536)
                if not c:
                    break
                got += c
        except OSError:
            pass
        assert got.startswith(b"HTTP/1.1 413 "), (sent, got[:300])
        assert b"Connection: close" in got and b'"code":"body_too_large"' in got
        assert sent < (4 << 20), "the 413 came only after %d bytes" % sent
    finally:
        s.close()
    assert daemon.get("/healthz", token=None).status == 200


def test_the_login_link_stays_off_a_pipe_and_login_link_mints_one():
    d = amtc.Daemon()
    try:
        out = "".join(d.stdout_lines)
        assert "#login=" not in out, out
        assert "amtcertd login-link --state-dir %s" % d.state_dir in out
        r = subprocess.run([amtc.BIN, "login-link", "--state-dir", d.state_dir], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        link = r.stdout.split()[0]
        assert link.startswith("http://127.0.0.1:%d/#login=" % d.port), r.stdout
        code = link.split("#login=")[1]
        # only a hash of it is kept on disk
        with open(os.path.join(d.state_dir, "login-code")) as f:
            assert code not in f.read()
        assert os.stat(os.path.join(d.state_dir, "login-code")).st_mode & 0o077 == 0
        r1 = d.post("/api/v1/login", {"code": code}, token=None)
        assert r1.status == 201, r1.text
        assert d.get("/api/v1/orders", token=r1.json()["token"]).status == 200
        # once
        r2 = d.post("/api/v1/login", {"code": code}, token=None)
        assert r2.status == 401
        assert not os.path.exists(os.path.join(d.state_dir, "login-code"))
        # a newer link replaces an older one
        old = subprocess.run([amtc.BIN, "login-link", "--state-dir", d.state_dir], capture_output=True,
                             text=True, timeout=30, check=True).stdout.split("#login=")[1].split()[0]
        new = subprocess.run([amtc.BIN, "login-link", "--state-dir", d.state_dir], capture_output=True,
                             text=True, timeout=30, check=True).stdout.split("#login=")[1].split()[0]
        assert d.post("/api/v1/login", {"code": old}, token=None).status == 401
        assert d.post("/api/v1/login", {"code": new}, token=None).status == 201
        # the link is a secret: not in the daemon's log
        assert code not in d.read_stderr() and new not in d.read_stderr()
        d.stop_checked(cleanup=False)
        # no daemon, no link
        r = subprocess.run([amtc.BIN, "login-link", "--state-dir", d.state_dir], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 1 and "no amtcertd serves" in r.stderr
    finally:
        d.cleanup()


def test_an_expired_login_code_is_refused(daemon):
    """The file holds the code's hash and its expiry; one in the past is
    refused and removed."""
    r = subprocess.run([amtc.BIN, "login-link", "--state-dir", daemon.state_dir], capture_output=True,
                       text=True, timeout=30, check=True)
    code = r.stdout.split("#login=")[1].split()[0]
    path = os.path.join(daemon.state_dir, "login-code")
    with open(path) as f:
        h, exp = f.read().split()
    with open(path, "w") as f:
        f.write("%s %d\n" % (h, int(time.time()) - 1))
    assert daemon.post("/api/v1/login", {"code": code}, token=None).status == 401
    assert not os.path.exists(path)
