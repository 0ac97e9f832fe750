"""The daemon process: CLI, state directory, tokens, systemd variables,
logging hygiene and graceful stop."""
import os
import signal
import stat
import subprocess
import tempfile
import threading
import time

import amtc


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
        e = dict(os.environ, **env)
        p = subprocess.Popen([amtc.BIN, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=e)
        try:
            line = p.stdout.readline().decode()
            port = int(line.rsplit(":", 1)[1].strip().strip("/"))
            assert os.path.exists(os.path.join(sd, "amtcertd.db"))
            # the credential was used: no master.key was made in the state dir
            assert not os.path.exists(os.path.join(sd, "master.key"))
            import http.client
            c = http.client.HTTPConnection("127.0.0.1", port)
            c.request("POST", "/api/v1/orders", body=b'{"notes":"' + b"x" * 3000 + b'"}',
                      headers={"Content-Type": "application/json"})
            assert c.getresponse().status == 413  # AMTCERTD_MAX_BODY applied
        finally:
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=60) == 0


def test_logs_never_hold_secrets():
    with amtc.Daemon(extra_args=["--log-level", "debug"]) as d:
        d.create_order(cn="log.example.com")
        d.get("/api/v1/orders", token="amtc_not_a_real_token_but_secret")
        r = d.post("/api/v1/login", {"code": d.login_code}, token=None)
        new_tok = r.json()["token"]
        d.get("/api/v1/orders", token=new_tok)
        d.stop()
        log = d.read_stderr()
        for secret in (d.token, new_tok, d.login_code, "amtc_not_a_real_token_but_secret"):
            assert secret not in log
        assert "PRIVATE KEY" not in log
        for line in log.strip().splitlines():
            assert " level=" in line and " req=" in line, line
        assert "req=r-" in log


def test_sigterm_finishes_in_flight_request():
    d = amtc.Daemon()
    try:
        result = {}

        def slow():
            result["r"] = d.post("/api/v1/orders", {"subject": {"common_name": "slow.example.com"},
                                                    "key": {"bits": 4096}})
        t = threading.Thread(target=slow)
        t.start()
        # wait until the request is inside the daemon (key generation)
        deadline = time.time() + 30
        while time.time() < deadline and "POST /api/v1/orders" not in d.read_stderr() \
                and d.db_snapshot()["orders"] == 0:
            time.sleep(0.05)
            if t.is_alive() is False:
                break
        d.proc.send_signal(signal.SIGTERM)
        t.join(timeout=120)
        assert result["r"].status == 201, result["r"]
        assert d.proc.wait(timeout=60) == 0
    finally:
        d.cleanup()
    assert "stopped" in d.read_stderr() if not d.stderr.closed else True


def test_port_in_use_fails_cleanly():
    with amtc.Daemon() as d:
        r = run("serve", "--listen", "127.0.0.1:%d" % d.port, "--state-dir", d.state_dir + "-2")
        assert r.returncode == 1
        assert "cannot listen" in r.stderr
