"""The daemon process: CLI, state directory, tokens, systemd variables,
logging hygiene and graceful stop."""
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import stat
import subprocess
import tempfile
import time

import amtc


# A CSR that is DER but not a CSR: GnuTLS refuses it, and the daemon logs
# the library's reason at debug level only.
NOT_A_CSR = "-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQA=\n-----END CERTIFICATE REQUEST-----\n"


def run(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AMTCERTD_")}
    e.update(env or {})
    return subprocess.run([amtc.BIN] + list(args), capture_output=True, text=True, env=e, timeout=60)


def test_help_and_version():
    r = run("--help")
    assert r.returncode == 0 and "amtcertd serve" in r.stdout and "--listen" in r.stdout
    assert "AMTCERTD_STATE_DIR" in r.stdout
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("amtcertd ")
    r = run("serve", "--bogus")
    assert r.returncode == 2 and "unknown option" in r.stderr
    r = run("serve", "--listen", "nonsense")
    assert r.returncode == 2 and "HOST:PORT" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2


def test_state_files_and_modes():
    with amtc.Daemon() as d:
        assert stat.S_IMODE(os.stat(d.state_dir).st_mode) == 0o700
        for f in ("amtcertd.db", "master.key", "admin.token"):
            assert stat.S_IMODE(os.stat(os.path.join(d.state_dir, f)).st_mode) == 0o600, f
        assert os.path.getsize(os.path.join(d.state_dir, "master.key")) == 32
        assert d.token.startswith("amtc_")
        assert any("one-time login link" in l for l in d.stdout_lines)
        assert d.get("/api/v1/orders").status == 200


def test_restart_keeps_token_and_orders():
    with tempfile.TemporaryDirectory() as tmp:
        sd = os.path.join(tmp, "s")
        d = amtc.Daemon(state_dir=sd)
        oid = d.create_order(cn="keep.example.com").json()["id"]
        tok = d.token
        assert d.stop() == 0
        d2 = amtc.Daemon(state_dir=sd)
        try:
            assert d2.token == tok
            r = d2.get("/api/v1/orders/" + oid)
            assert r.status == 200 and r.json()["subject"]["common_name"] == "keep.example.com"
        finally:
            assert d2.stop() == 0


def test_token_cli_create_list_revoke():
    with amtc.Daemon() as d:
        r = run("token", "create", "--name", "ticketing", "--state-dir", d.state_dir)
        assert r.returncode == 0, r.stderr
        fields = dict(l.split(": ", 1) for l in r.stdout.strip().splitlines())
        tok, tid = fields["token"], fields["id"]
        assert d.get("/api/v1/orders", token=tok).status == 200
        r = run("token", "create", "--name", "ticketing", "--state-dir", d.state_dir)
        assert r.returncode == 1 and "exists" in r.stderr
        r = run("token", "list", "--state-dir", d.state_dir)
        assert r.returncode == 0 and "ticketing" in r.stdout and "admin" in r.stdout
        assert tok not in r.stdout
        r = run("token", "revoke", tid, "--state-dir", d.state_dir)
        assert r.returncode == 0
        assert d.get("/api/v1/orders", token=tok).status == 401
        r = run("token", "revoke", tid, "--state-dir", d.state_dir)
        assert r.returncode == 1
        # only hashes are stored
        with open(d.db_path, "rb") as f:
            data = f.read()
        assert tok.encode() not in data and d.token.encode() not in data


def test_environment_variables_and_systemd():
    with tempfile.TemporaryDirectory() as tmp:
        creds = os.path.join(tmp, "creds")
        os.mkdir(creds)
        with open(os.path.join(creds, "master.key"), "w") as f:
            f.write("00" * 32 + "\n")
        sd = os.path.join(tmp, "systemd-state")
        env = {"STATE_DIRECTORY": sd, "CREDENTIALS_DIRECTORY": creds, "AMTCERTD_MAX_BODY": "2048",
               "AMTCERTD_LOG_LEVEL": "debug"}
        e = {k: v for k, v in os.environ.items() if not k.startswith("AMTCERTD_")}
        e.update(env)
        p = subprocess.Popen([amtc.BIN, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e)
        try:
            line = p.stdout.readline().decode()
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            assert m, line
            port = int(m.group(1))
            # STATE_DIRECTORY is the state directory
            assert os.path.exists(os.path.join(sd, "amtcertd.db"))
            # the credential was used: no master.key was made in the state dir
            assert not os.path.exists(os.path.join(sd, "master.key"))
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("POST", "/api/v1/orders", body=b'{"notes":"' + b"x" * 3000 + b'"}',
                      headers={"Content-Type": "application/json"})
            assert c.getresponse().status == 413  # AMTCERTD_MAX_BODY applied
            c.close()
            with open(os.path.join(sd, "admin.token")) as f:
                token = f.read().strip()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            c.request("POST", "/api/v1/orders", body=json.dumps({"csr": NOT_A_CSR}),
                      headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
            assert c.getresponse().status == 422
            c.close()
        finally:
            p.send_signal(signal.SIGTERM)
            _out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-4000:]
        assert b" level=debug " in err and b"crq_import" in err, err[-4000:]  # AMTCERTD_LOG_LEVEL applied

        # The key really comes from CREDENTIALS_DIRECTORY: a malformed one
        # is refused by name, not replaced by a new key.
        with open(os.path.join(creds, "master.key"), "w") as f:
            f.write("not a key\n")
        p = subprocess.run([amtc.BIN, "serve", "--listen", "127.0.0.1:0"], capture_output=True, text=True,
                           env=e, timeout=60)
        assert p.returncode == 1, (p.returncode, p.stderr)
        assert os.path.join(creds, "master.key") in p.stderr, p.stderr
        assert not os.path.exists(os.path.join(sd, "master.key"))


def test_logs_never_hold_secrets():
    with amtc.Daemon(extra_args=["--log-level", "debug"]) as d:
        d.create_order(cn="log.example.com")
        d.get("/api/v1/orders", token="amtc_not_a_real_token_but_secret")
        r = d.post("/api/v1/login", {"code": d.login_code}, token=None)
        new_tok = r.json()["token"]
        d.get("/api/v1/orders", token=new_tok)
        assert d.post("/api/v1/orders", {"csr": NOT_A_CSR}).status == 422
        assert d.stop() == 0
        log = d.read_stderr()
        # the requests above were logged, at debug level too: the checks
        # below look at a real log
        assert "http: GET /api/v1/orders 401" in log and "http: POST /api/v1/login 201" in log, log
        assert " level=debug " in log and "crq_import" in log
        for secret in (d.token, new_tok, d.login_code, "amtc_not_a_real_token_but_secret"):
            assert secret not in log
        assert "PRIVATE KEY" not in log
        for line in log.strip().splitlines():
            assert " level=" in line and " req=" in line, line
        assert "req=r-" in log


def read_until(sock, marker, limit=1 << 20):
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        assert len(data) < limit
    return data


def wait_for_log(d, text, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in d.read_stderr():
            return True
        time.sleep(0.02)
    return False


def test_sigterm_finishes_in_flight_request():
    """SIGTERM arrives while a request is inside the daemon (its headers
    read, its body not yet sent, a 4096-bit key still to make): new
    connections are refused at once, and the request still gets its real
    answer, stored, before the daemon exits 0."""
    d = amtc.Daemon()
    try:
        body = json.dumps({"subject": {"common_name": "slow.example.com"}, "key": {"bits": 4096}}).encode()
        s = socket.create_connection(("127.0.0.1", d.port), timeout=120)
        s.sendall(("POST /api/v1/orders HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                   "Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n"
                   "Connection: close\r\n\r\n" % (d.token, len(body))).encode())
        # "100 Continue" comes only after the daemon has taken the request
        # in: from here on it is in flight.
        interim = read_until(s, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 "), interim

        d.proc.send_signal(signal.SIGTERM)
        assert wait_for_log(d, "finishing in-flight requests"), d.read_stderr()
        # no new connection while it drains
        refused = False
        deadline = time.time() + 10
        while not refused and time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", d.port), timeout=5).close()
                time.sleep(0.02)
            except ConnectionRefusedError:
                refused = True
            except ConnectionResetError:
                pass  # caught in the backlog as the listener closed
        assert refused, "new connections still accepted after SIGTERM"
        assert d.alive(), "the daemon exited with a request in flight"

        # the rest of the request: the daemon answers it for real
        s.sendall(body)
        raw = read_until(s, b"\x00")  # until the daemon closes
        s.close()
        head, _, payload = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 201 "), raw[:500]
        o = json.loads(payload)
        assert o["subject"]["common_name"] == "slow.example.com"
        assert o["key"]["bits"] == 4096 and o["has_key"] is True, o
        assert d.proc.wait(timeout=120) == 0
        log = d.read_stderr()
        # the answer was given after the signal, and nothing was cut short
        assert log.index("finishing in-flight requests") < log.index("http: POST /api/v1/orders 201"), log
        assert "still running at shutdown" not in log and "(aborted)" not in log, log
        assert log.rstrip().endswith('msg="serve: stopped"'), log[-2000:]
        # and it was stored
        con = sqlite3.connect("file:%s?mode=ro" % d.db_path, uri=True)
        try:
            assert con.execute("SELECT count(*) FROM orders WHERE id = ?", (o["id"],)).fetchone()[0] == 1
        finally:
            con.close()
    finally:
        d.cleanup()


def test_port_in_use_fails_cleanly():
    with amtc.Daemon() as d:
        r = run("serve", "--listen", "127.0.0.1:%d" % d.port, "--state-dir", d.state_dir + "-2")
        assert r.returncode == 1
        assert "cannot listen" in r.stderr


def test_slow_work_runs_at_the_lowest_priority():
    """The key and PKCS#12 workers run at nice 19 so that a busy machine
    answers requests first; the threads that answer stay at nice 0."""
    d = amtc.Daemon(extra_args=["--workers", "3"])
    try:
        nices = []
        for tid in os.listdir("/proc/%d/task" % d.proc.pid):
            with open("/proc/%d/task/%s/stat" % (d.proc.pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            nices.append(int(fields[16]))  # field 19 of stat: nice
        assert nices.count(19) == 3, nices
        assert nices.count(0) == len(nices) - 3, nices
        d.stop_checked()
    finally:
        d.cleanup()
