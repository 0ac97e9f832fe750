"""Test harness: starts the real amtcertd process on an ephemeral port with
a temporary state directory, and talks HTTP to it.

Every answer is held to openapi.yaml (see Contract): its status must be
documented for the operation, its Content-Type must be one the response
lists, and a JSON body must validate against the response's schema. A
broken answer fails the request that got it. Every (method, path, status)
is also recorded for tests/api/test_zz_documented_statuses.py.
"""
import copy
import datetime
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

import jsonschema
import yaml

BIN = os.environ.get("AMTCERTD_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "build", "amtcertd"))
SRC = os.environ.get("AMTCERTD_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))

SEEN = []  # (method, path, status)
VIOLATIONS = []  # (in the main thread?, message): answers that broke openapi.yaml
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


def raw_request(port, data, timeout=30):
    """Sends raw bytes to 127.0.0.1:port and reads until the server closes
    or goes quiet. Returns (status, headers+body bytes); status 0 when the
    answer is no HTTP/1.x status line."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
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
        self._login_code = None
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            self.stdout_lines.append(line)
            m = re.search(r"listening on http://127\.0\.0\.1:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
            if line.startswith("API token for scripts:"):
                break  # the last line it prints at start
        if not self.port:
            self.proc.kill()
            raise RuntimeError("daemon did not start: %s" % self.read_stderr())
        # Drain stdout so the daemon never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        with open(os.path.join(self.state_dir, "admin.token")) as f:
            self.token = f.read().strip()

    @property
    def login_code(self):
        """A one-time dashboard login code, minted by `amtcertd login-link`
        (the daemon prints its own link only on a terminal)."""
        if self._login_code is None:
            out = subprocess.run([BIN, "login-link", "--state-dir", self.state_dir],
                                 capture_output=True, text=True, timeout=30, check=True).stdout
            self._login_code = re.search(r"#login=([A-Za-z0-9_-]+)", out).group(1)
        return self._login_code

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

    def stop_checked(self, cleanup=True):
        """Stops the daemon and asserts a clean SIGTERM exit with no
        sanitizer report in its log; removes its files unless told not to."""
        rc = self.stop()
        err = self.read_stderr()
        if cleanup:
            self.tmp.cleanup()
        assert rc == 0, err[-4000:]
        assert "ERROR: AddressSanitizer" not in err and "runtime error:" not in err

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
        problems = contract().check(method, path, resp.status, resp.header("Content-Type"), resp.body)
        if problems:
            msg = "%s %s answered %d against openapi.yaml:\n  %s" % (method, path, resp.status,
                                                                      "\n  ".join(problems))
            with _seen_lock:
                VIOLATIONS.append((threading.current_thread() is threading.main_thread(), msg))
            raise ContractViolation(msg)
        return resp

    def raw(self, data, timeout=30):
        """Sends raw bytes, returns (status, headers+body bytes)."""
        return raw_request(self.port, data, timeout)

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


# ---- openapi.yaml as the contract of every answer ------------------------

class ContractViolation(AssertionError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        keys = set()
        for k, _v in node.value:
            key = self.construct_object(k, deep=True)
            if key in keys:
                raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), k.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep)


def _pointer(*parts):
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _nullable_as_json_schema(node):
    """OpenAPI 3.0's `nullable: true` adds null to the type named beside
    it (only then; enum still has to list null itself). JSON Schema says
    that with a type list."""
    if isinstance(node, dict):
        if node.get("nullable") is True and isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
        for v in node.values():
            _nullable_as_json_schema(v)
    elif isinstance(node, list):
        for v in node:
            _nullable_as_json_schema(v)
    return node


_RFC3339 = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _formats():
    fc = jsonschema.FormatChecker(formats=())

    @fc.checks("date-time", raises=ValueError)
    def date_time(value):
        if not isinstance(value, str):
            return True
        m = _RFC3339.match(value)
        if not m:
            raise ValueError("not an RFC 3339 date-time")
        datetime.datetime.strptime(m.group(1) + "T" + m.group(2), "%Y-%m-%dT%H:%M:%S")
        return True

    @fc.checks("date", raises=ValueError)
    def date(value):
        if isinstance(value, str):
            datetime.datetime.strptime(value, "%Y-%m-%d")
        return True

    return fc


class Contract:
    """openapi.yaml read as the rules for real answers.

    An answer to an operation must use a status the operation lists (or
    `default`), a Content-Type its response lists (none when it lists no
    content), and a JSON body (application/json, */*+json) must validate
    against that media type's schema: OpenAPI 3.0 schema objects checked as
    JSON Schema draft 4 (its base), $refs resolved inside the document,
    `nullable` as described above, date-time checked. A request that is no
    operation (unknown path or method) must get a 4xx problem+json that is
    a valid #/components/schemas/Problem."""

    def __init__(self, path):
        with open(path) as f:
            self.spec = yaml.load(f, Loader=_UniqueKeyLoader)
        # the document itself is the root that every $ref resolves in
        self._root = _nullable_as_json_schema(copy.deepcopy(self.spec))
        self._validators = {}
        self._formats = _formats()
        self._templates = []
        for t in self.spec.get("paths", {}):
            parts = t.strip("/").split("/") if t != "/" else []
            rx = "^/" + "/".join("[^/]+" if re.fullmatch(r"\{[^}]+\}", p) else re.escape(p) for p in parts) + "$"
            literal = sum(1 for p in parts if not p.startswith("{"))
            self._templates.append((t, re.compile(rx), literal))

    def resolve(self, obj, ptr):
        """Follows $ref chains; returns (object, its pointer)."""
        seen = set()
        while isinstance(obj, dict) and "$ref" in obj:
            ptr = obj["$ref"]
            if not ptr.startswith("#/") or ptr in seen:
                raise ValueError("cannot resolve %s" % ptr)
            seen.add(ptr)
            obj = self.spec
            for part in ptr[2:].split("/"):
                obj = obj[part.replace("~1", "/").replace("~0", "~")]
        return obj, ptr

    def operation(self, method, path):
        """(path template, method, operation) serving method on path, the
        template with the most literal segments winning; None if none."""
        path, m = path.split("?", 1)[0], method.lower()
        best = None
        for t, rx, literal in self._templates:
            if rx.match(path) and m in self.spec["paths"][t] and (best is None or literal > best[1]):
                best = (t, literal)
        return (best[0], m, self.spec["paths"][best[0]][m]) if best else None

    def _schema_errors(self, ptr, instance):
        v = self._validators.get(ptr)
        if v is None:
            root = dict(self._root)
            root["$ref"] = ptr
            v = self._validators[ptr] = jsonschema.Draft4Validator(root, format_checker=self._formats)
        out = []
        for e in sorted(v.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])[:8]:
            where = "$" + "".join("[%d]" % p if isinstance(p, int) else "." + str(p) for p in e.absolute_path)
            msg = e.message if len(e.message) < 300 else e.message[:300] + "..."
            out.append("%s: %s (schema %s)" % (where, msg, "/".join(str(p) for p in e.absolute_schema_path)))
        return out

    def check(self, method, path, status, content_type, body):
        """Every way this answer breaks the contract (empty when it keeps it)."""
        head = method.upper() == "HEAD"
        found = self.operation(method, path) or (head and self.operation("GET", path))
        media = (content_type or "").split(";", 1)[0].strip().lower()
        if not found:
            if not 400 <= status < 500:
                return ["no operation serves %s %s, yet it answered %d" % (method, path, status)]
            if media != "application/problem+json":
                return ["an answer outside every operation is application/problem+json, not %r" % media]
            return self._body_errors(_pointer("components", "schemas", "Problem"), media, body, head)
        template, m, op = found
        responses = op.get("responses", {})
        key = next((k for k in (str(status), "%dXX" % (status // 100), "default") if k in responses), None)
        if key is None:
            return ["%d is not documented for %s %s (documented: %s)" % (
                status, method.upper(), template, ", ".join(sorted(responses)))]
        resp, ptr = self.resolve(responses[key], _pointer("paths", template, m, "responses", key))
        content = resp.get("content") or {}
        if not content:
            if body:
                return ["%s %s %s documents no body, got %d bytes of %r" % (method.upper(), template, key, len(body), media)]
            return []
        mt = media if media in content else next(
            (m for m in (media.split("/")[0] + "/*", "*/*") if m in content), None)
        if mt is None:
            return ["Content-Type %r is not documented for %s %s %s (documented: %s)" % (
                media, method.upper(), template, key, ", ".join(content))]
        if "schema" not in content[mt]:
            return []
        return self._body_errors(ptr + "/content/" + mt.replace("~", "~0").replace("/", "~1") + "/schema", mt, body, head)

    def _body_errors(self, schema_ptr, media, body, head):
        if head or not (media == "application/json" or media.endswith("+json")):
            return []
        try:
            doc = json.loads(body)
        except ValueError as e:
            return ["the body is not JSON (%s): %r" % (e, body[:200])]
        return self._schema_errors(schema_ptr, doc)


_contract = None


def contract():
    """openapi.yaml of the tree under test, read once."""
    global _contract
    if _contract is None:
        _contract = Contract(os.path.join(SRC, "openapi.yaml"))
    return _contract
