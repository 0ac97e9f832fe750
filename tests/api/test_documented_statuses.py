"""Every status the daemon answers is listed in openapi.yaml for that
operation.

Self-contained: the test starts its own daemon and drives every documented
operation through the ways a request goes wrong (no token, a wrong token,
an unknown id, malformed JSON, a wrong Content-Type, a body over the cap,
a state that forbids it) and through the normal life of an order, then
checks each (operation, status) it saw against the spec. It does not
depend on which tests ran before it or in what order; the harness checks
every answer of the other API tests as they happen (tests/lib/amtc.py).
"""
import json
import os
import re
import sys
import tempfile

import pytest
import yaml

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SUFFIX = "vpro.example.com"
SUBJECT = {"common_name": "rcs." + SUFFIX, "organization": "Example Inc", "locality": "Portland",
           "state": "Oregon", "country": "US"}
PASSWORD = "Corr3ct-Horse-Battery"
MAX_BODY = 2048
MAX_UPLOAD = 65536


METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


# ---- the check ---------------------------------------------------------

def spec():
    with open(os.path.join(amtc.SRC, "openapi.yaml")) as f:
        return yaml.safe_load(f)


def operations(s):
    """{(METHOD, template): set of documented statuses as strings}."""
    ops = {}
    for t, item in s["paths"].items():
        for m, op in item.items():
            if m in METHODS:
                ops[(m.upper(), t)] = set(str(k) for k in op["responses"])
    return ops


def template_of(path, templates):
    """The spec path a concrete path answers to; concrete paths win over
    templated ones ("/healthz" before "/{file}")."""
    path = path.split("?")[0]
    for t in sorted(templates, key=lambda t: ("{" in t, -len(t))):
        if re.match("^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$", path):
            return t
    return None


def undocumented(seen, ops):
    """The (METHOD, template, status) of seen that the spec does not list.
    A method a path does not have (405) and an unknown path (404) are not
    operations, so they are not checked here (test_openapi.py checks 405)."""
    templates = {t for _m, t in ops}
    missing = set()
    for method, path, status in seen:
        t = template_of(path, templates)
        if t is None or (method, t) not in ops:
            continue
        if status == 404 and t == "/{file}":
            continue
        documented = ops[(method, t)]
        if str(status) not in documented and "default" not in documented:
            missing.add((method, t, status))
    return sorted(missing)


def test_the_check_reports_what_the_spec_does_not_list():
    ops = {("POST", "/api/v1/orders"): {"201", "422"}, ("GET", "/api/v1/orders/{id}"): {"200", "404"},
           ("GET", "/healthz"): {"200"}, ("GET", "/{file}"): {"200", "404"}}
    seen = [("POST", "/api/v1/orders", 201), ("POST", "/api/v1/orders", 418),
            ("GET", "/api/v1/orders/ord_1?x=1", 404), ("GET", "/api/v1/orders/ord_1", 500),
            ("GET", "/healthz", 503), ("GET", "/app.js", 404), ("DELETE", "/api/v1/orders/ord_1", 405),
            ("GET", "/api/v1/nothing/here", 404)]
    assert undocumented(seen, ops) == [("GET", "/api/v1/orders/{id}", 500), ("GET", "/healthz", 503),
                                       ("POST", "/api/v1/orders", 418)]


# ---- the traffic -------------------------------------------------------

class Client:
    """Requests to one daemon through the harness (so every answer is also
    checked against its schema), recording (method, path, status)."""

    def __init__(self, d):
        self.d = d
        self.seen = []

    def send(self, method, path, body=None, ctype="application/json", token=True, headers=None):
        h = {}
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            if ctype:
                h["Content-Type"] = ctype
        h.update(headers or {})
        r = self.d.request(method, path, body=body, headers=h, token=token)
        self.seen.append((method, path, r.status))
        data = r.body
        try:
            payload = json.loads(data) if data[:1] in (b"{", b"[") else data
        except ValueError:
            payload = data
        return r.status, payload


def concrete(template, ids):
    return re.sub(r"\{([^}]+)\}", lambda m: ids[m.group(1)], template)


def the_life_of_orders(c, ca):
    """The normal paths, each of which must end in 2xx for the coverage
    check below. Returns the ids that exist afterwards."""
    st, _ = c.send("GET", "/healthz", token=None)
    c.send("GET", "/openapi.yaml", token=None)
    c.send("GET", "/", token=None)
    c.send("GET", "/app.js", token=None)
    c.send("GET", "/no-such-file.js", token=None)
    c.send("POST", "/api/v1/login", {"code": "wrong"}, token=None)
    c.send("POST", "/api/v1/login", {"code": c.d.login_code}, token=None)

    # roots and the CA pool
    c.send("GET", "/api/v1/amt/trusted-roots")
    st, root = c.send("POST", "/api/v1/amt/trusted-roots", {"name": "status test root", "sha256": ca.root_sha256})
    assert st == 201, root
    c.send("POST", "/api/v1/amt/trusted-roots", {"name": "again", "sha256": ca.root_sha256})
    c.send("PATCH", "/api/v1/amt/trusted-roots/" + root["id"], {"enabled": True})
    items = c.send("GET", "/api/v1/amt/trusted-roots")[1]["items"]
    seed = [i for i in items if i.get("source") == "seed"][0]
    c.send("DELETE", "/api/v1/amt/trusted-roots/" + seed["id"])
    st, lab = c.send("POST", "/api/v1/amt/trusted-roots", {"name": "lab root", "sha384": "ab" * 48})
    assert st == 201, lab
    c.send("DELETE", "/api/v1/amt/trusted-roots/" + lab["id"])
    text = "Certificate Hashes\t:\nLab Root (Custom, Active)\n   SHA256: %s\n" % ("cd" * 32)
    c.send("POST", "/api/v1/amt/trusted-roots/device-list", {"device": "PC-1", "text": text})
    c.send("POST", "/api/v1/amt/trusted-roots/device-list", {"text": "no hashes"})
    c.send("GET", "/api/v1/ca-certificates")
    c.send("POST", "/api/v1/ca-certificates", ca.inter_pem, ctype="application/x-pem-file")
    c.send("POST", "/api/v1/ca-certificates", b"not a certificate", ctype="application/x-pem-file")
    c.send("DELETE", "/api/v1/ca-certificates/" + testca.sha256_of_pem(ca.inter_pem))

    # an order from key to revocation
    st, o = c.send("POST", "/api/v1/orders", {"subject": SUBJECT, "dns_suffix": SUFFIX})
    assert st == 201, o
    oid = o["id"]
    c.send("POST", "/api/v1/orders", {"subject": dict(SUBJECT, common_name="not a host name")})
    c.send("GET", "/api/v1/orders")
    c.send("GET", "/api/v1/orders?state=nonsense")
    c.send("GET", "/api/v1/orders/" + oid)
    c.send("PATCH", "/api/v1/orders/" + oid, {"notes": "x"}, headers={"If-Match": '"v999"'})
    c.send("PATCH", "/api/v1/orders/" + oid, {"notes": "checked"}, headers={"If-Match": '"v%d"' % o["version"]})
    c.send("GET", "/api/v1/orders/%s/csr" % oid)
    c.send("POST", "/api/v1/orders/%s/verify" % oid, {})  # no leaf yet
    c.send("GET", "/api/v1/orders/%s/verification" % oid)
    c.send("POST", "/api/v1/orders/%s/exports" % oid, {"format": "pkcs12", "password": PASSWORD})
    c.send("POST", "/api/v1/orders/%s/submitted" % oid, {"vendor_order_id": "S-1"})
    c.send("POST", "/api/v1/orders/%s/deployed" % oid, {"target": "rps"})  # not ready
    leaf = ca.sign_csr(o["csr"])
    c.send("POST", "/api/v1/orders/%s/uploads" % oid, b"garbage", ctype="application/octet-stream")
    st, up = c.send("POST", "/api/v1/orders/%s/uploads" % oid, (leaf + ca.chain_pem).encode(),
                    ctype="application/x-pem-file")
    assert st == 201, up
    c.send("GET", "/api/v1/orders/%s/certificates" % oid)
    c.send("GET", "/api/v1/order-states")
    # detach: the current leaf is refused, an intermediate goes, then back
    c.send("DELETE", "/api/v1/orders/%s/certificates/%s" % (oid, up["leaf_sha256"]))
    st, det = c.send("DELETE", "/api/v1/orders/%s/certificates/%s" % (oid, testca.sha256_of_pem(ca.inter_pem)))
    assert st == 200, det
    c.send("POST", "/api/v1/orders/%s/uploads" % oid, ca.chain_pem.encode(), ctype="application/x-pem-file")
    st, rep = c.send("POST", "/api/v1/orders/%s/verify" % oid, {})
    assert st == 200, rep
    c.send("GET", "/api/v1/orders/%s/verification" % oid)
    c.send("POST", "/api/v1/orders/%s/exports" % oid, {"format": "pkcs12", "password": PASSWORD})
    c.send("POST", "/api/v1/orders/%s/exports" % oid, {"format": "pkcs12", "password": "\u00e9"})
    c.send("POST", "/api/v1/orders/%s/deployed" % oid, {"target": "rps", "where": "rps.example.com"})
    c.send("POST", "/api/v1/jobs/expiry-check", {"dry_run": True})
    c.send("POST", "/api/v1/jobs/expiry-check", {"at": "2027-13-01T00:00:00Z"})
    c.send("POST", "/api/v1/orders/%s/renew" % oid, {})
    c.send("POST", "/api/v1/orders/%s/revoked" % oid, {"reason": "status test"})
    c.send("POST", "/api/v1/orders/%s/revoked" % oid, {})
    c.send("POST", "/api/v1/orders/%s/cancel" % oid, {})
    c.send("GET", "/api/v1/orders/%s/events" % oid)

    # one to cancel
    st, o2 = c.send("POST", "/api/v1/orders", {"subject": dict(SUBJECT, common_name="c." + SUFFIX)})
    assert st == 201, o2
    c.send("POST", "/api/v1/orders/%s/cancel" % o2["id"], {"reason": "duplicate"})
    c.send("POST", "/api/v1/orders/%s/cancel" % o2["id"], {"reason": "again"})

    # inspect
    c.send("POST", "/api/v1/inspect", (leaf + ca.chain_pem).encode(), ctype="application/x-pem-file")
    c.send("POST", "/api/v1/inspect", b"hello", ctype="text/plain")
    return {"id": oid, "sha256": ca.root_sha256, "file": "app.js"}


def what_goes_wrong(c, ops, ids):
    """Every operation, every way a request can be refused."""
    unknown = {"id": "ord_000000000000000000000000", "sha256": "0" * 64, "file": "nope.js"}
    for method, t in sorted(ops):
        real, missing = concrete(t, ids), concrete(t, unknown)
        write = method in ("POST", "PATCH", "PUT")
        body = {} if write else None
        c.send(method, real, body, token=None)
        c.send(method, real, body, token="amtc_wrong_token")
        c.send(method, missing, body)
        if write:
            c.send(method, real, b"{", ctype="application/json")
            c.send(method, real, b"[1, 2]", ctype="application/json")
            c.send(method, real, b'{"no_such_field": 1}', ctype="application/json")
            c.send(method, real, b"plain", ctype="text/plain")
            c.send(method, real, b"x" * (MAX_UPLOAD + 1024), ctype="application/octet-stream")
            c.send(method, real, b"{" + b" " * (MAX_BODY + 10) + b"}", ctype="application/json")
            c.send(method, real, body)


@pytest.fixture(scope="module")
def traffic():
    with tempfile.TemporaryDirectory(prefix="amtc-statuses-") as work:
        ca = testca.TestCA(os.path.join(work, "ca"))
        d = amtc.Daemon(extra_args=["--max-body", str(MAX_BODY), "--max-upload", str(MAX_UPLOAD)])
        try:
            c = Client(d)
            ops = operations(spec())
            ids = the_life_of_orders(c, ca)
            what_goes_wrong(c, ops, ids)
        finally:
            rc = d.stop()
            err = d.read_stderr()
            d.tmp.cleanup()
        assert rc == 0, err[-4000:]
        assert "ERROR: AddressSanitizer" not in err and "runtime error:" not in err
        yield ops, c.seen


def test_every_status_answered_is_documented(traffic):
    ops, seen = traffic
    missing = undocumented(seen, ops)
    assert not missing, missing


def test_the_traffic_reached_every_operation(traffic):
    """Not vacuous: every operation answered, each with a success at least
    once, and every operation behind a token refused one without it."""
    ops, seen = traffic
    templates = {t for _m, t in ops}
    by_op = {}
    for method, path, status in seen:
        t = template_of(path, templates)
        if (method, t) in ops:
            by_op.setdefault((method, t), set()).add(status)
    assert set(by_op) == set(ops), sorted(set(ops) - set(by_op))
    no_success = sorted(op for op, st in by_op.items() if not any(200 <= s < 300 for s in st))
    assert not no_success, no_success
    no_401 = sorted(op for op, st in by_op.items() if "401" in ops[op] and 401 not in st)
    assert not no_401, no_401
    assert len({(m, template_of(p, templates), s) for m, p, s in seen}) > 3 * len(ops)
