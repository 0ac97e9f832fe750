"""Test harness: starts the real amtcertd process on an ephemeral port with
a temporary state directory, and talks HTTP to it (stdlib only).

Every response seen is recorded so that tests/api/test_openapi.py can check
that each (route, method, status) is documented in openapi.yaml.
"""
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("AMTCERTD_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "amtcertd"))
SRC = os.environ.get("AMTCERTD_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))

SEEN = []  # (method, path, status)
_seen_lock = threading.Lock()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


class Daemon:
    """One amtcertd process. Use as a context manager or call stop()."""

    def __init__(self, extra_args=(), env=None, state_dir=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="amtc-")
        self.state_dir = state_dir or os.path.join(self.tmp.name, "state")
        self.stderr_path = os.path.join(self.tmp.name, "stderr.log")
        e = {k: v for k, v in os.environ.items() if not k.startswith("AMTCERTD_")}
        e["AMTCERTD_BIN"] = BIN
        e.update(env or {})
        args = [BIN, "serve", "--listen", "127.0.0.1:0", "--state-dir", self.state_dir] + list(extra_args)
        self.stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr, env=e)
        self.stdout_lines = []
        deadline = time.time() + 60
        self.port = None
        self.login_code = None
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            self.stdout_lines.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
            m = re.search(r"#login=([A-Za-z0-9_-]+)", line)
            if m:
                self.login_code = m.group(1)
                break
        if not self.port:
            self.proc.kill()
            raise RuntimeError("daemon did not start: %s" % self.read_stderr())
        # Drain stdout so the daemon never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        with open(os.path.join(self.state_dir, "admin.token")) as f:
            self.token = f.read().strip()

    def _drain(self):
        for line in self.proc.stdout:
            self.stdout_lines.append(line.decode(errors="replace"))

    def read_stderr(self):
        if not self.stderr.closed:
            self.stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode(errors="replace")

    @property
    def db_path(self):
        return os.path.join(self.state_dir, "amtcertd.db")

    def db_snapshot(self):
        """Row counts of every table, read from the database file."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db_path, uri=True)
        try:
            tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            counts = {t: con.execute('SELECT count(*) FROM "%s"' % t).fetchone()[0] for t in tables}
            counts["_max_version"] = con.execute("SELECT coalesce(sum(version),0) FROM orders").fetchone()[0]
            return counts
        finally:
            con.close()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.cleanup()

    # ---- HTTP ------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, token=True, json_body=None, timeout=120):
        hdrs = {}
        if token is True:
            hdrs["Authorization"] = "Bearer " + self.token
        elif token:
            hdrs["Authorization"] = "Bearer " + token
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        if isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()
        record(method, path, resp.status)
        return resp

    def raw(self, data, timeout=30):
        """Sends raw bytes, returns (status, headers+body bytes)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        try:
            s.sendall(data)
            chunks = []
            while True:
                try:
                    c = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not c:
                    break
                chunks.append(c)
        finally:
            s.close()
        out = b"".join(chunks)
        m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
        return (int(m.group(1)) if m else 0), out

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json_body=None, **kw):
        return self.request("POST", path, json_body=json_body, **kw)

    def create_order(self, cn="rcs.example.com", **extra):
        body = {"subject": {"common_name": cn, "organization": "Example Corp", "locality": "Portland",
                            "state": "Oregon", "country": "US"}}
        body.update(extra)
        return self.post("/api/v1/orders", body)


def record(method, path, status):
    with _seen_lock:
        SEEN.append((method, path.split("?")[0], status))
