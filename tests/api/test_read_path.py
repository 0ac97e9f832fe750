"""The read path made cheaper (issue 9): a GET's token check and its answer
read in one read transaction, the order's JSON written as text, one
write(2) per access-log line. None of it may serve stale data: a PATCH is
seen by the next GET, a token revoked is refused on the next request, and
every string comes back as it was stored."""
import http.client
import json
import os
import re
import subprocess
import threading
import time

import amtc

WEIRD = [
    "quote\" back\\slash /slash",
    "tab\tnl\ncr\r bs\b ff\f",
    "ctl\x01\x1f\x7f",
    "caf\u00e9 \u20ac \u4e2d\u6587",
    "emoji \U0001F600 \U00010000 \U0010FFFF",
    "\u2028\u2029 <script>",
]


def cli(*args):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AMTCERTD_")}
    return subprocess.run([amtc.BIN] + list(args), capture_output=True, text=True, env=e, timeout=60)


class Hammer:
    """Threads that GET path on keep-alive connections as fast as they can,
    recording (sent, status, body) of every answer."""

    def __init__(self, port, path, token, threads=3):
        self.port, self.path, self.token = port, path, token
        self.stop = threading.Event()
        self.seen = []
        self.lock = threading.Lock()
        self.errors = []
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def run(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            while not self.stop.is_set():
                sent = time.monotonic()
                c.request("GET", self.path, headers={"Authorization": "Bearer " + self.token})
                r = c.getresponse()
                body = r.read()
                with self.lock:
                    self.seen.append((sent, r.status, body))
        except Exception as e:  # noqa: BLE001 (reported by the test)
            self.errors.append(repr(e))
        finally:
            c.close()

    def __enter__(self):
        [t.start() for t in self.threads]
        time.sleep(0.2)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        [t.join() for t in self.threads]


def test_order_json_strings_come_back_as_stored(daemon):
    r = daemon.create_order(cn="json.example.com", external_ref="ref \"1\"",
                            vendor={"name": "V\u00e9", "price": "1.00", "validity_days": 199})
    assert r.status == 201
    oid = r.json()["id"]
    for w in WEIRD:
        r = daemon.request("PATCH", "/api/v1/orders/" + oid,
                           json_body={"notes": w, "vendor": {"approver": w, "invoice": w[::-1]}})
        assert r.status == 200, r
        g = daemon.get("/api/v1/orders/" + oid)
        assert g.status == 200
        # the PATCH answer is the GET answer and its warnings, in ASCII
        assert r.body.startswith(g.body[:-1] + b',"warnings":[')
        g.body.decode("ascii")
        o = g.json()
        assert o["notes"] == w
        assert o["vendor"]["approver"] == w and o["vendor"]["invoice"] == w[::-1]
        assert o["vendor"]["name"] == "V\u00e9" and o["external_ref"] == "ref \"1\""
        assert g.header("ETag") == '"v%d"' % o["version"]
        assert o["links"]["self"] == "/api/v1/orders/" + oid
        # no raw control character or non-ASCII byte: JSON's escapes
        assert not re.search(rb"[\x00-\x1f\x80-\xff]", g.body)
        if "\U0001F600" in w:
            assert b"\\uD83D\\uDE00" in g.body
        if "\n" in w:
            assert b"\\n" in g.body and b"\\u0001" not in g.body
        if "\x01" in w:
            assert b"\\u0001" in g.body and b"\\u001F" in g.body


def test_patch_is_seen_by_the_next_get(daemon):
    oid = daemon.create_order(cn="fresh.example.com").json()["id"]
    path = "/api/v1/orders/" + oid
    acked = []  # (time the PATCH's answer arrived, version it made)
    with Hammer(daemon.port, path, daemon.token) as h:
        for i in range(40):
            r = daemon.request("PATCH", path, json_body={"notes": "n%d" % i})
            assert r.status == 200
            v = r.json()["version"]
            acked.append((time.monotonic(), v))
            g = daemon.get(path)
            assert g.json()["notes"] == "n%d" % i and g.json()["version"] == v
    assert not h.errors, h.errors
    assert len(h.seen) > 100
    # every GET sent after a PATCH was answered shows that PATCH or a later one
    checked = 0
    for sent, status, body in h.seen:
        assert status == 200
        want = max([v for t, v in acked if t < sent], default=0)
        got = json.loads(body)["version"]
        assert got >= want, (got, want)
        checked += want > 0
    assert checked > 50


def test_revoked_token_is_refused_at_once(daemon):
    oid = daemon.create_order(cn="revoke.example.com").json()["id"]
    path = "/api/v1/orders/" + oid
    for round_ in range(3):
        r = cli("token", "create", "--name", "reader-%d" % round_, "--state-dir", daemon.state_dir)
        assert r.returncode == 0, r.stderr
        fields = dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())
        tok, tid = fields["token"], fields["id"]
        with Hammer(daemon.port, path, tok) as h:
            time.sleep(0.3)
            r = cli("token", "revoke", tid, "--state-dir", daemon.state_dir)
            assert r.returncode == 0, r.stderr
            revoked = time.monotonic()
            assert daemon.get(path, token=tok).status == 401
            time.sleep(0.3)
        assert not h.errors, h.errors
        before = [s for t, s, _ in h.seen if t < revoked]
        after = [s for t, s, _ in h.seen if t > revoked]
        assert before and after
        assert set(after) == {401}, "a GET sent after the revocation was answered %r" % set(after)
        # the admin token was never affected
        assert daemon.get(path).status == 200


def test_one_log_line_per_request(daemon):
    oid = daemon.create_order(cn="log.example.com").json()["id"]
    path = "/api/v1/orders/" + oid
    with Hammer(daemon.port, path, daemon.token, threads=4) as h:
        time.sleep(0.5)
    assert not h.errors
    deadline = time.time() + 10
    while True:
        log = daemon.read_stderr()
        lines = [line for line in log.splitlines() if ("http: GET %s 200" % path) in line]
        if len(lines) >= len(h.seen) or time.time() > deadline:
            break
        time.sleep(0.2)
    assert len(lines) == len(h.seen)
    line_re = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ level=info req=r-[0-9a-f]{12} '
                         r'msg="http: GET %s 200 \d+ms"$' % re.escape(path))
    for line in lines:
        assert line_re.match(line), line
    assert len(set(line.split(" req=")[1].split(" ")[0] for line in lines)) == len(lines)
