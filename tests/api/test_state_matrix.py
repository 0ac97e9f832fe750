"""Issue 8: a rolled-back transaction can never answer 2xx.

Every order state is driven through every write route on an order, and the
answer is compared with what the daemon stored: the SQLite database in the
state directory is read (read-only; WAL makes that safe while the daemon
runs) before and after each call.

- 2xx: something was stored: at least one new event for the order, and the
  rows the route promises (an upload row, a verification, the new state...).
- 4xx: nothing changed at all, in any table.
- never 5xx.

A certificate download (exports, format pem-chain) is a read: its 2xx may
add an audit event and nothing else.

Where the contract fixes the outcome (status and state after) it is
asserted too; elsewhere only the three rules above apply.

Each (state, route) case gets its own order, built once for the module by
the `cases` fixture: one CSR made here that most orders wrap (the PFX
export cases get a key the daemon makes), leaves signed by the test CA
(tests/tools/testca.py), the CA's root trusted through
/api/v1/amt/trusted-roots, one expiry sweep (with `at`) for renewal_due and
expired.

`draft` is not reachable through the API (an order is born key_ready: its
key and CSR are made, or its CSR imported, in the create request), yet it is
a state of the schema and of the transition table, so every route must still
keep the rules for it: the fixture makes key_ready orders and moves them to
draft with one SQL UPDATE (the only write this file makes behind the
daemon's back).
"""
import datetime as dt
import os
import sqlite3
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SUFFIX = "vpro.example.com"
SUBJECT = {"organization": "Example Inc", "locality": "Portland", "state": "Oregon", "country": "US"}
PASSWORD = "Matrix-Export-Pass-1"
NOTE = "state matrix note"

STATES = ["draft", "key_ready", "submitted", "issued", "ready", "deployed", "renewal_due",
          "expired", "revoked", "cancelled"]
ROUTES = ["patch", "cancel", "upload_leaf", "upload_ca", "upload_other_key", "verify",
          "export_pkcs12", "export_pem", "submitted", "deployed", "revoked", "renew", "detach"]

# The transition table (design: "An order's life"; explicit calls may only
# follow it, anything else is 409 with the allowed ones listed).
TABLE = {
    "draft": {"key_ready", "cancelled"},
    "key_ready": {"submitted", "issued", "cancelled"},
    "submitted": {"issued", "cancelled"},
    "issued": {"ready", "revoked", "cancelled"},
    "ready": {"deployed", "renewal_due", "expired", "revoked", "issued", "cancelled"},
    "deployed": {"deployed", "renewal_due", "expired", "revoked", "cancelled"},
    "renewal_due": {"expired", "revoked", "cancelled"},
    "expired": set(),
    "revoked": set(),
    "cancelled": set(),
}
EXPLICIT = {"cancel": "cancelled", "submitted": "submitted", "deployed": "deployed", "revoked": "revoked"}
TERMINAL = {"expired", "revoked", "cancelled"}
NO_LEAF = {"draft", "key_ready", "submitted"}
HAS_LEAF_LIVE = {"issued", "ready", "deployed", "renewal_due"}
KEY_LEAVES = {"ready", "deployed", "renewal_due"}  # a PFX may be exported
RENEWABLE = {"issued", "ready", "deployed", "renewal_due", "expired", "revoked"}

# Only this column may change without a write route being called (it is
# refreshed at most once a minute when a token is used).
VOLATILE = {("api_tokens", "last_used_at")}


def expected(state, route):
    """(status, state after) where the contract fixes them, else None."""
    if route in EXPLICIT:
        to = EXPLICIT[route]
        return (200, to) if to in TABLE[state] else (409, state)
    if route == "upload_leaf":
        if state in ("key_ready", "submitted"):
            return (201, "issued")
        if state in HAS_LEAF_LIVE:
            return (201, state)
        if state in TERMINAL:
            return (409, state)
        return None  # draft: only the rules
    if route == "upload_ca":
        if state in TERMINAL:
            return (409, state)
        return None if state == "draft" else (201, state)
    if route == "upload_other_key":
        return (409, state) if state in TERMINAL else (422, state)
    if route == "verify":
        if state in NO_LEAF:
            return (409, state)
        if state in ("issued", "ready"):
            return (200, "ready")
        return None
    if route == "export_pkcs12":
        return (200, state) if state in KEY_LEAVES else (409, state)
    if route == "export_pem":
        if state in NO_LEAF or state == "issued":
            return (409, state)  # no leaf / no verification yet
        return (200, state) if state in KEY_LEAVES else None
    if route == "renew":
        return (201, state) if state in RENEWABLE else (409, state)
    if route == "detach":
        return (409, state) if state in TERMINAL else (200, state)
    return None  # patch


# ---- the store, read behind the daemon -----------------------------------

def dump(db_path):
    """Every row of every table: {table: (columns, frozenset of rows)}."""
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True, timeout=30)
    try:
        out = {}
        tables = [r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        for t in tables:
            cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % t)]
            keep = [c for c in cols if (t, c) not in VOLATILE]
            rows = con.execute("SELECT %s FROM \"%s\"" % (", ".join('"%s"' % c for c in keep), t)).fetchall()
            out[t] = (tuple(keep), frozenset(rows))
        return out
    finally:
        con.close()


class Diff:
    """What changed between two dumps, table by table."""

    def __init__(self, before, after):
        self.after = after
        self.added, self.removed = {}, {}
        for t in set(before) | set(after):
            b = before.get(t, ((), frozenset()))[1]
            a = after.get(t, ((), frozenset()))[1]
            if a - b:
                self.added[t] = a - b
            if b - a:
                self.removed[t] = b - a
        if set(before) != set(after):
            self.added.setdefault("_tables", frozenset(set(after) - set(before)))
            self.removed.setdefault("_tables", frozenset(set(before) - set(after)))

    @property
    def empty(self):
        return not self.added and not self.removed

    def rows(self, table, which="added"):
        """The added (or removed) rows of table, as dicts."""
        cols = self.after.get(table, ((),))[0]
        return [dict(zip(cols, r)) for r in getattr(self, which).get(table, ())]

    def describe(self):
        def short(v):
            return "<%d bytes>" % len(v) if isinstance(v, bytes) else (v[:80] if isinstance(v, str) else v)
        lines = []
        for which in ("added", "removed"):
            for t, rows in sorted(getattr(self, which).items()):
                for r in list(rows)[:5]:
                    lines.append("%s %s: %s" % (which, t, tuple(short(v) for v in r)))
        return "\n".join(lines) or "(no change)"


def table_rows(snap, table):
    cols, rows = snap.get(table, ((), frozenset()))
    return [dict(zip(cols, r)) for r in rows]


def order_row(snap, oid):
    rows = [r for r in table_rows(snap, "orders") if r["id"] == oid]
    assert len(rows) == 1, "order %s is not in the store" % oid
    return rows[0]


# ---- HTTP helpers ----------------------------------------------------------

def iso(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def create(daemon, cn):
    r = daemon.post("/api/v1/orders", {"subject": dict(SUBJECT, common_name=cn), "dns_suffix": SUFFIX})
    assert r.status == 201, r
    return r.json()


def get(daemon, oid):
    r = daemon.get("/api/v1/orders/" + oid)
    assert r.status == 200, r
    return r.json()


def upload(daemon, oid, data):
    return daemon.request("POST", "/api/v1/orders/%s/uploads" % oid, body=data.encode(),
                          headers={"Content-Type": "application/x-pem-file"})


def linked(daemon, oid):
    r = daemon.get("/api/v1/orders/%s/certificates" % oid)
    assert r.status == 200, r
    return {c["sha256"]: c["role"] for c in r.json()["items"]}


def sha256_of(pem):
    return testca.sha256_of_pem(pem)


def move(daemon, oid, path, body, want):
    r = daemon.post("/api/v1/orders/%s/%s" % (oid, path), body)
    assert r.status == 200, r
    assert r.json().get("state", r.json().get("order_state")) == want, r
    return r


# ---- building one order per case ---------------------------------------------

class Case:
    def __init__(self, state, route, oid, leaf):
        self.state, self.route, self.oid, self.leaf = state, route, oid, leaf


@pytest.fixture(scope="module")
def stray(work):
    """A CA certificate from another hierarchy: wrongly uploaded, detachable."""
    return testca.TestCA(os.path.join(work, "stray"), root_cn="Stray Root", inter_cn="Stray Issuing CA").inter_pem


@pytest.fixture(scope="module")
def other_leaf(ca):
    """A leaf for a key no order holds."""
    return ca.issue("other." + SUFFIX)[1]


@pytest.fixture(scope="module")
def trusted(daemon, ca):
    r = daemon.post("/api/v1/amt/trusted-roots", {"name": "matrix test root", "sha256": ca.root_sha256})
    assert r.status in (201, 409), r


@pytest.fixture(scope="module")
def cases(daemon, ca, stray, trusted, work):
    """One order per (state, route). Keys are slow to make, so only the
    orders whose key must leave (export_pkcs12) get a key the daemon makes;
    the others wrap one CSR made here, and share its leaves."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    sweep_at = now + dt.timedelta(days=10)
    # leaf validity: renewal_due orders end inside the 30-day window of the
    # sweep, expired ones before it; the others are far from both.
    not_after = {"renewal_due": now + dt.timedelta(days=35), "expired": now + dt.timedelta(days=5)}
    _key, csr = testca.make_key_and_csr("shared." + SUFFIX, sans=["shared." + SUFFIX], workdir=work)
    shared = {}

    def leaf_for(state, csr_pem, own):
        na = not_after.get(state, now + dt.timedelta(days=200))
        if own:
            return ca.sign_csr(csr_pem, not_before=now - dt.timedelta(hours=2), not_after=na)
        if na not in shared:
            shared[na] = ca.sign_csr(csr_pem, not_before=now - dt.timedelta(hours=2), not_after=na)
        return shared[na]

    out, drafts = {}, []
    n = 0
    for state in STATES:
        for route in ROUTES:
            n += 1
            own = route == "export_pkcs12"
            if own:
                o = create(daemon, "m%d.%s" % (n, SUFFIX))
            else:
                r = daemon.post("/api/v1/orders", {"csr": csr, "dns_suffix": SUFFIX})
                assert r.status == 201, r
                o = r.json()
            oid = o["id"]
            leaf = leaf_for(state, o["csr"], own)
            if route == "detach":  # something detachable in every state
                r = upload(daemon, oid, stray)
                assert r.status == 201 and r.json()["state"] == "key_ready", r
            if state == "draft":
                drafts.append(oid)
            elif state == "submitted":
                move(daemon, oid, "submitted", {"vendor_order_id": "M-%d" % n}, "submitted")
            elif state != "key_ready":
                r = upload(daemon, oid, leaf + ca.chain_pem)
                assert r.status == 201 and r.json()["state"] == "issued", r
                if state != "issued":
                    move(daemon, oid, "verify", {}, "ready")
                if state == "deployed":
                    move(daemon, oid, "deployed", {"target": "rps"}, "deployed")
                elif state == "revoked":
                    move(daemon, oid, "revoked", {"reason": "matrix"}, "revoked")
                elif state == "cancelled":
                    move(daemon, oid, "cancel", {"reason": "matrix"}, "cancelled")
            out[(state, route)] = Case(state, route, oid, leaf)
    r = daemon.post("/api/v1/jobs/expiry-check", {"at": iso(sweep_at)})
    assert r.status == 200, r
    want_due = sorted(c.oid for c in out.values() if c.state == "renewal_due")
    want_expired = sorted(c.oid for c in out.values() if c.state == "expired")
    assert sorted(r.json()["renewal_due"]) == want_due, r.json()
    assert sorted(r.json()["expired"]) == want_expired, r.json()
    con = sqlite3.connect(daemon.db_path, timeout=30)
    try:
        with con:
            for oid in drafts:
                assert con.execute("UPDATE orders SET state = 'draft' WHERE id = ? AND state = 'key_ready'",
                                   (oid,)).rowcount == 1
    finally:
        con.close()
    for c in out.values():
        assert get(daemon, c.oid)["state"] == c.state, (c.state, c.route)
    return out


def call(daemon, case, ca, stray, other_leaf):
    oid = case.oid
    if case.route == "patch":
        return daemon.request("PATCH", "/api/v1/orders/" + oid, json_body={"notes": NOTE})
    if case.route == "cancel":
        return daemon.post("/api/v1/orders/%s/cancel" % oid, {"reason": "matrix"})
    if case.route == "upload_leaf":
        return upload(daemon, oid, case.leaf + ca.chain_pem)
    if case.route == "upload_ca":
        return upload(daemon, oid, ca.chain_pem)
    if case.route == "upload_other_key":
        return upload(daemon, oid, other_leaf + ca.chain_pem)
    if case.route == "verify":
        return daemon.post("/api/v1/orders/%s/verify" % oid, {})
    if case.route == "export_pkcs12":
        return daemon.post("/api/v1/orders/%s/exports" % oid, {"format": "pkcs12", "password": PASSWORD})
    if case.route == "export_pem":
        return daemon.post("/api/v1/orders/%s/exports" % oid, {"format": "pem-chain"})
    if case.route == "submitted":
        return daemon.post("/api/v1/orders/%s/submitted" % oid, {"vendor_order_id": "M-again"})
    if case.route == "deployed":
        return daemon.post("/api/v1/orders/%s/deployed" % oid, {"target": "rps"})
    if case.route == "revoked":
        return daemon.post("/api/v1/orders/%s/revoked" % oid, {"reason": "matrix"})
    if case.route == "renew":
        return daemon.post("/api/v1/orders/%s/renew" % oid, {})
    if case.route == "detach":
        return daemon.request("DELETE", "/api/v1/orders/%s/certificates/%s" % (oid, sha256_of(stray)))
    raise AssertionError(case.route)


# ---- the matrix ----------------------------------------------------------------

@pytest.mark.parametrize("state,route", [(s, r) for s in STATES for r in ROUTES],
                         ids=["%s-%s" % (s, r) for s in STATES for r in ROUTES])
def test_answer_matches_store(daemon, cases, ca, stray, other_leaf, state, route):
    case = cases[(state, route)]
    oid = case.oid
    before = dump(daemon.db_path)
    assert order_row(before, oid)["state"] == state
    linked_before = linked(daemon, oid)
    r = call(daemon, case, ca, stray, other_leaf)
    after = dump(daemon.db_path)
    d = Diff(before, after)
    ctx = "%s %s -> %r\nstore:\n%s" % (state, route, r, d.describe())

    assert r.status < 500, ctx
    want = expected(state, route)
    if want:
        assert r.status == want[0], ctx
    now_state = order_row(after, oid)["state"]
    if want:
        assert now_state == want[1], ctx

    if r.status >= 400:
        assert r.header("Content-Type") == "application/problem+json", ctx
        assert d.empty, "a %d changed the store:\n%s" % (r.status, ctx)
        assert linked(daemon, oid) == linked_before, ctx
        if route in EXPLICIT and r.status == 409:
            p = r.json()
            assert p["code"] == "invalid_transition", p
            assert p["state"] == state and p["requested"] == EXPLICIT[route], p
            assert EXPLICIT[route] not in p["allowed_transitions"], p
            assert sorted(p["allowed_transitions"]) == sorted(get(daemon, oid)["allowed_transitions"]), p
        return

    # a 2xx: the rows that say so
    events = [e for e in d.rows("events") if e["order_id"] == oid]
    if route == "export_pem":
        # a certificate download is a read: at most an audit event
        assert set(d.added) <= {"events"} and not d.removed, ctx
        assert all(e["order_id"] == oid for e in d.rows("events")), ctx
        assert testca.split_pem(r.body, "CERTIFICATE"), ctx
        return
    assert events, "a %d stored no event for the order:\n%s" % (r.status, ctx)
    if route in EXPLICIT:
        assert any(e["to_state"] == EXPLICIT[route] for e in events), ctx
        assert r.json()["state"] == EXPLICIT[route], ctx
    elif route == "patch":
        assert order_row(after, oid)["notes"] == NOTE, ctx
    elif route.startswith("upload"):
        check_upload(daemon, case, r, d, after, events, ca, ctx)
    elif route == "verify":
        assert [v for v in d.rows("verifications") if v["order_id"] == oid], ctx
        assert any(e["type"] == "verified" for e in events), ctx
        assert r.json()["order_state"] == now_state, ctx
    elif route == "export_pkcs12":
        assert any(e["type"] == "key_export" for e in events), ctx
        assert r.header("Content-Type") == "application/x-pkcs12" and r.body, ctx
    elif route == "renew":
        n = r.json()
        new = [o for o in d.rows("orders") if o["id"] == n["id"]]
        assert len(new) == 1 and new[0]["renewal_of"] == oid, ctx
        assert any(e["type"] == "renewed" for e in events), ctx
    elif route == "detach":
        body = r.json()
        sha = sha256_of(stray)
        assert body["detached"]["sha256"] == sha, body
        assert body["detached"]["role"] == linked_before[sha], body
        assert body["order"]["id"] == oid and body["order"]["state"] == now_state, body
        assert any(e["type"] == "certificate_detached" for e in events), ctx
        assert not [x for x in table_rows(after, "order_certificates")
                    if x["order_id"] == oid and x["cert_sha256"] == sha], ctx
        assert sha not in linked(daemon, oid), ctx


def check_upload(daemon, case, r, d, after, events, ca, ctx):
    oid, state = case.oid, case.state
    body = r.json()
    assert [u for u in d.rows("uploads") if u["order_id"] == oid], "no upload row:\n" + ctx
    assert any(e["type"] == "upload" for e in events), ctx
    sent = {sha256_of(p) for p in testca.split_pem(ca.chain_pem + (case.leaf if case.route == "upload_leaf" else ""),
                                                   "CERTIFICATE")}
    stored = {c["sha256"] for c in table_rows(after, "certificates")}
    links = {x["cert_sha256"] for x in table_rows(after, "order_certificates") if x["order_id"] == oid}
    assert sent <= stored and sent <= links, ctx
    assert sent <= set(linked(daemon, oid)), ctx
    now_state = order_row(after, oid)["state"]
    assert body["state"] == now_state, body
    if state in HAS_LEAF_LIVE:
        assert body.get("state_changed") is False, "the answer must say the state stayed: %r" % body
        assert now_state == state, body
    elif "state_changed" in body:
        assert body["state_changed"] == (now_state != state), body
    if case.route == "upload_leaf" and now_state != "draft":
        assert order_row(after, oid)["leaf_sha256"] == sha256_of(case.leaf), ctx


# ---- a reissue, and what detach refuses ------------------------------------------

def ready_order(daemon, ca, cn, not_before):
    o = create(daemon, cn)
    leaf = ca.sign_csr(o["csr"], not_before=not_before)
    r = upload(daemon, o["id"], leaf + ca.chain_pem)
    assert r.status == 201 and r.json()["state"] == "issued", r
    move(daemon, o["id"], "verify", {}, "ready")
    return o, leaf


def test_reissue_for_the_same_key_is_stored_and_reverified(daemon, trusted, ca):
    """The CA signs the same CSR again (a later notBefore): the new leaf is
    stored, becomes the order's leaf, and the order is verified again."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    o, first = ready_order(daemon, ca, "reissue." + SUFFIX, now - dt.timedelta(hours=3))
    oid = o["id"]
    second = ca.sign_csr(o["csr"], not_before=now - dt.timedelta(hours=1))
    assert sha256_of(second) != sha256_of(first)
    assert testca.spki_sha256(second) == testca.spki_sha256(first) == o["public_key_sha256"]
    before = dump(daemon.db_path)
    r = upload(daemon, oid, second + ca.chain_pem)
    after = dump(daemon.db_path)
    d = Diff(before, after)
    ctx = "%r\n%s" % (r, d.describe())
    assert r.status == 201, ctx
    new_leaf = [c for c in d.rows("certificates") if c["sha256"] == sha256_of(second)]
    assert new_leaf, "the new leaf is not stored:\n" + ctx
    assert [u for u in d.rows("uploads") if u["order_id"] == oid], ctx
    assert [v for v in d.rows("verifications") if v["order_id"] == oid], "not verified again:\n" + ctx
    types = [e["type"] for e in d.rows("events") if e["order_id"] == oid]
    assert "upload" in types and "verified" in types, ctx
    assert order_row(after, oid)["leaf_sha256"] == sha256_of(second), ctx
    assert order_row(after, oid)["state"] == "ready", ctx
    body = r.json()
    assert body["leaf_sha256"] == sha256_of(second), body
    assert body["state"] == "ready" and body.get("state_changed") is False, body
    assert body.get("reverified") is True, body
    got = get(daemon, oid)
    assert got["leaf_sha256"] == sha256_of(second) and got["state"] == "ready", got
    roles = linked(daemon, oid)
    assert roles[sha256_of(second)] == "leaf", roles
    # the export now carries the new leaf
    r = daemon.post("/api/v1/orders/%s/exports" % oid, {"format": "pem-leaf"})
    assert r.status == 200, r
    assert [testca.pem_to_der(p) for p in testca.split_pem(r.body, "CERTIFICATE")] == [testca.pem_to_der(second)]


def test_detach_refusals_change_nothing(daemon, trusted, ca, stray):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    o, leaf = ready_order(daemon, ca, "detach." + SUFFIX, now - dt.timedelta(hours=1))
    oid = o["id"]
    before = dump(daemon.db_path)
    refusals = [
        (oid, sha256_of(leaf), 409),                   # the order's current leaf
        ("ord_doesnotexist", sha256_of(ca.inter_pem), 404),  # no such order
        (oid, sha256_of(stray), 404),                  # a certificate the order does not hold
        (oid, "00" * 32, 404),                         # a certificate nobody holds
    ]
    for order_id, sha, status in refusals:
        r = daemon.request("DELETE", "/api/v1/orders/%s/certificates/%s" % (order_id, sha))
        assert r.status == status, (order_id, sha, r)
        assert r.header("Content-Type") == "application/problem+json", r
        if order_id != oid:
            assert r.json()["code"] == "order_not_found", r
        d = Diff(before, dump(daemon.db_path))
        assert d.empty, d.describe()
    assert sha256_of(leaf) in linked(daemon, oid)
    assert get(daemon, oid)["state"] == "ready"
    # the intermediate is no leaf: it goes, with an event, and is listed no more
    r = daemon.request("DELETE", "/api/v1/orders/%s/certificates/%s" % (oid, sha256_of(ca.inter_pem)))
    assert r.status == 200, r
    assert r.json()["detached"] == {"sha256": sha256_of(ca.inter_pem), "role": "intermediate"}, r.json()
    assert sha256_of(ca.inter_pem) not in linked(daemon, oid)
    ev = daemon.get("/api/v1/orders/%s/events" % oid).json()["items"]
    assert [e for e in ev if e["type"] == "certificate_detached"], ev


def test_the_store_dump_sees_a_write(daemon):
    """The snapshot can fail: one PATCH shows up as a changed order row and
    a new event."""
    oid = create(daemon, "selfcheck." + SUFFIX)["id"]
    before = dump(daemon.db_path)
    r = daemon.request("PATCH", "/api/v1/orders/" + oid, json_body={"external_ref": "SELF-CHECK"})
    assert r.status == 200, r
    d = Diff(before, dump(daemon.db_path))
    assert [o for o in d.rows("orders") if o["id"] == oid and o["external_ref"] == "SELF-CHECK"], d.describe()
    assert [o for o in d.rows("orders", "removed") if o["id"] == oid], d.describe()
    assert [e for e in d.rows("events") if e["order_id"] == oid], d.describe()
