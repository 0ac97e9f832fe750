"""The orders list and its counts (GET /api/v1/orders, GET
/api/v1/orders/summary) against the real daemon: summaries instead of whole
orders, every sort both ways at several page sizes, the filters (q matches
the external reference too), cursors that stay put while orders are
created, counts equal to a full scan. Every answer is also held to
openapi.yaml by the harness (OrderSummary, OrderCounts).

The expected orders come from here: every order read whole with GET
/api/v1/orders/{id}, sorted in Python by what openapi.yaml says each sort
is; the creation order is the order this file created them in."""
import datetime as dt
import os
import subprocess
import urllib.parse

import pytest

SUFFIX = "list.example.com"
N_IMPORTED = 56  # more than a default page of 50
SORTS = ("created", "updated", "needs_action", "expiry", "cn")
INF = float("inf")


def problem(r, status, code, field=None):
    assert r.status == status, r
    p = r.json()
    assert p["code"] == code, p
    if field:
        assert p.get("field") == field, p
    return p


def run(args, data=None):
    p = subprocess.run(args, input=data, capture_output=True)
    assert p.returncode == 0, (args, p.stderr.decode(errors="replace"))
    return p.stdout


class Fleet:
    """Orders in every group: CSRs made here (one key, so quickly), some
    moved along by the API and by the test CA's certificates."""

    def __init__(self, daemon, ca, work):
        self.d = daemon
        self.ids = []  # in creation order
        self.key = os.path.join(work, "list-key.pem")
        run(["openssl", "genrsa", "-out", self.key, "2048"])
        self.n = 0

    def csr(self, cn):
        return run(["openssl", "req", "-new", "-key", self.key, "-subj", "/O=Example Corp/CN=" + cn,
                    "-addext", "subjectAltName=DNS:" + cn]).decode()

    def create(self, cn, external_ref=None, vendor=None):
        body = {"csr": self.csr(cn), "dns_suffix": SUFFIX}
        if external_ref:
            body["external_ref"] = external_ref
        if vendor:
            body["vendor"] = vendor
        r = self.d.post("/api/v1/orders", body)
        assert r.status == 201, r
        o = r.json()
        self.ids.append(o["id"])
        self.n += 1
        return o


def move(d, oid, what, body=None):
    r = d.post("/api/v1/orders/%s/%s" % (oid, what), body or {})
    assert r.status == 200, r
    return r.json()


def issue(d, ca, o, days):
    leaf = ca.sign_csr(o["csr"], days=days)
    r = d.request("POST", "/api/v1/orders/%s/uploads" % o["id"], body=(leaf + ca.chain_pem).encode(),
                  headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 201 and r.json()["state"] == "issued", r


@pytest.fixture(scope="module")
def fleet(daemon, ca, work):
    f = Fleet(daemon, ca, work)
    for i in range(N_IMPORTED):
        # CNs that differ in case only, references shared by several orders
        # and references that hold text no CN has
        cn = ("Host%02d" if i % 3 == 0 else "host%02d") % ((i * 29) % N_IMPORTED) + "." + SUFFIX
        if i % 9 == 4:
            cn = ("DUP." if i % 2 else "dup.") + SUFFIX
        ref = None if i % 5 == 0 else ("CHG-%d" % (i % 4) if i % 7 else "TICKET-ZQX-%d" % i)
        vendor = {"name": "Sectigo", "order_id": "SO-%04d" % i} if i % 2 else None
        o = f.create(cn, ref, vendor)
        if i % 5 == 1:
            move(daemon, o["id"], "submitted", {"vendor_order_id": "DC-%04d" % i})
        elif i % 5 == 2:
            move(daemon, o["id"], "cancel", {"reason": "list test"})
    # the CA's certificates: issued, ready (two expiries), deployed,
    # revoked, and two the sweep moves (renewal due, expired)
    r = daemon.post("/api/v1/amt/trusted-roots", {"name": "list test root", "sha256": ca.root_sha256})
    assert r.status in (201, 409), r
    plan = (("issued", 200), ("ready", 300), ("ready", 100), ("deployed", 200), ("revoked", 250),
            ("renewal_due", 20), ("expired", 5))
    f.expect = {}
    for n, (state, days) in enumerate(plan):
        o = f.create("ca%d.%s" % (n, SUFFIX), "CA-%d" % n)
        issue(daemon, ca, o, days)
        if state != "issued":
            r = daemon.post("/api/v1/orders/%s/verify" % o["id"], {})
            assert r.status == 200 and r.json()["order_state"] == "ready", r
        if state == "deployed":
            move(daemon, o["id"], "deployed", {"target": "rps"})
        if state == "revoked":
            move(daemon, o["id"], "revoked", {"reason": "key compromise"})
        f.expect[o["id"]] = state
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=10)
    r = daemon.post("/api/v1/jobs/expiry-check", {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert r.status == 200, r
    for oid, state in f.expect.items():
        assert whole(daemon, oid)["state"] == state
    return f


# ---- the oracle ------------------------------------------------------------

def whole(d, oid):
    r = d.get("/api/v1/orders/" + oid)
    assert r.status == 200, r
    return r.json()


def when(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc).timestamp()


def expiry(o):
    ts = [when(o[k]) for k in ("leaf_not_after", "chain_not_after") if o[k]]
    return min(ts) if ts else INF


def summary(d, query=""):
    r = d.get("/api/v1/orders/summary" + ("?" + query if query else ""))
    assert r.status == 200, r
    return r.json()


def snapshot(d, fleet):
    """Every order, whole, with its place in the creation order."""
    orders = [whole(d, oid) for oid in fleet.ids]
    for seq, o in enumerate(orders):
        o["_seq"] = seq
    return orders


def sort_key(o, sort, rank):
    if sort == "created":
        k = ()
    elif sort == "updated":
        k = (when(o["updated_at"]),)
    elif sort == "needs_action":
        k = (rank[o["state"]], expiry(o))
    elif sort == "expiry":
        k = (expiry(o),)
    else:  # cn: ASCII case folding, compared as UTF-8 bytes, none first
        k = ((o["subject"]["common_name"] or "").encode().lower(),)
    return k + (o["_seq"],)


def matches(o, state=None, external_ref=None, q=None):
    if state and o["state"] != state:
        return False
    if external_ref and o["external_ref"] != external_ref:
        return False
    if q:
        low = q.encode().lower()
        return any(low in (v or "").encode().lower() for v in (o["subject"]["common_name"], o["external_ref"]))
    return True


def expected(orders, sort, desc, rank, **flt):
    sel = [o for o in orders if matches(o, **flt)]
    return [o["id"] for o in sorted(sel, key=lambda o: sort_key(o, sort, rank), reverse=desc)]


def walk(d, query, limit, between=None):
    """Every page of the list; between(page number) runs after each page
    that has a next one."""
    ids, cursor, page = [], None, 0
    while True:
        path = "/api/v1/orders?%s&limit=%d" % (query, limit)
        if cursor:
            path += "&cursor=" + urllib.parse.quote(cursor, safe="")
        r = d.get(path)
        assert r.status == 200, r
        body = r.json()
        assert len(body["items"]) <= limit
        ids += [o["id"] for o in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            return ids
        assert len(body["items"]) == limit, "a page before the last one is full"
        if between:
            between(page)
        page += 1


def ranks(d):
    return {s["state"]: i for i, s in enumerate(summary(d)["states"])}


# ---- tests -----------------------------------------------------------------

def test_items_are_summaries_of_the_order(daemon, fleet):
    r = daemon.get("/api/v1/orders?limit=200")
    assert r.status == 200, r
    items = r.json()["items"]
    assert [o["id"] for o in items] == list(reversed(fleet.ids)), "default: newest first"
    groups = {s["state"]: (s["group"], s["next_action"]) for s in summary(daemon)["states"]}
    for it in items:
        o = whole(daemon, it["id"])
        assert "csr" not in it and "san" not in it and "subject" not in it
        assert it["common_name"] == o["subject"]["common_name"]
        for k in ("state", "dns_suffix", "external_ref", "renewal_of", "created_at", "updated_at", "version",
                  "leaf_not_after", "chain_not_after"):
            assert it[k] == o[k], k
        assert it["vendor"] == {"name": o["vendor"]["name"], "order_id": o["vendor"]["order_id"]}
        assert (it["group"], it["next_action"]) == groups[o["state"]]
        assert it["links"]["self"] == "/api/v1/orders/" + o["id"]
        ts = [t for t in (o["leaf_not_after"], o["chain_not_after"]) if t]
        assert it["expires_at"] == (min(ts, key=when) if ts else None)
    # a page of summaries is a fraction of the whole orders
    whole_size = sum(len(daemon.get("/api/v1/orders/" + i["id"]).body) for i in items[:50])
    page = daemon.get("/api/v1/orders?limit=50").body
    assert len(page) * 3 < whole_size, (len(page), whole_size)


def test_default_page_is_50_and_at_most_200(daemon, fleet):
    assert len(fleet.ids) > 50
    r = daemon.get("/api/v1/orders")
    assert len(r.json()["items"]) == 50 and r.json()["next_cursor"]
    assert len(daemon.get("/api/v1/orders?limit=200").json()["items"]) == len(fleet.ids)
    problem(daemon.get("/api/v1/orders?limit=201"), 400, "invalid_parameter", "limit")
    problem(daemon.get("/api/v1/orders?limit=0"), 400, "invalid_parameter", "limit")


def test_created_is_the_creation_order(daemon, fleet):
    assert walk(daemon, "sort=created&order=asc", 7) == fleet.ids
    assert walk(daemon, "sort=created", 7) == list(reversed(fleet.ids))


@pytest.mark.parametrize("sort", SORTS)
def test_every_sort_both_ways_every_page_size(daemon, fleet, sort):
    orders = snapshot(daemon, fleet)
    rank = ranks(daemon)
    for order in ("asc", "desc"):
        want = expected(orders, sort, order == "desc", rank)
        assert len(want) == len(fleet.ids)
        for limit in (1, 3, 7, 50, 200):
            assert walk(daemon, "sort=%s&order=%s" % (sort, order), limit) == want, (sort, order, limit)
    # the default direction: newest / latest first for times, else ascending
    default_desc = sort in ("created", "updated")
    assert walk(daemon, "sort=" + sort, 200) == expected(orders, sort, default_desc, rank)


def test_needs_action_first_follows_the_published_order(daemon, fleet):
    states = [s["state"] for s in summary(daemon)["states"]]
    items = daemon.get("/api/v1/orders?sort=needs_action&limit=200").json()["items"]
    seen = [it["state"] for it in items]
    assert seen == sorted(seen, key=states.index)
    groups = [it["group"] for it in items]
    first = {g: groups.index(g) for g in set(groups)}
    assert sorted(first, key=first.get) == [g for g in ("needs_action", "waiting", "in_use", "closed") if g in first]
    assert items[0]["state"] == "renewal_due" and items[0]["next_action"] == "renew"
    assert items[-1]["group"] == "closed"


FILTERS = (
    {"state": "cancelled"},
    {"state": "ready"},
    {"external_ref": "CHG-1"},
    {"external_ref": "CHG-1", "state": "submitted"},
    {"q": "HOST1"},
    {"q": "dup."},
    {"q": "zqx"},  # only in external references
    {"q": "chg-3", "state": "key_ready"},
    {"q": "%"},  # literal, not a LIKE wildcard
    {"q": "_"},
    {"state": "expired", "q": "ca"},
)


@pytest.mark.parametrize("flt", FILTERS, ids=lambda f: "&".join("%s=%s" % kv for kv in sorted(f.items())))
def test_filters_with_every_sort(daemon, fleet, flt):
    orders = snapshot(daemon, fleet)
    rank = ranks(daemon)
    query = urllib.parse.urlencode(flt)
    for sort in SORTS:
        for order in ("asc", "desc"):
            want = expected(orders, sort, order == "desc", rank, **flt)
            assert walk(daemon, "%s&sort=%s&order=%s" % (query, sort, order), 4) == want, (flt, sort, order)


def test_q_matches_the_external_reference(daemon, fleet):
    items = daemon.get("/api/v1/orders?q=TICKET-zqx&limit=200").json()["items"]
    assert items and all("TICKET-ZQX" in it["external_ref"] for it in items)
    assert all("zqx" not in it["common_name"].lower() for it in items)
    assert daemon.get("/api/v1/orders?q=%25&limit=200").json()["items"] == []
    assert daemon.get("/api/v1/orders?q=no-such-text").json() == {"items": [], "next_cursor": None}


def test_counts_equal_a_full_scan(daemon, fleet):
    orders = snapshot(daemon, fleet)
    s = summary(daemon)
    assert [x["state"] for x in s["states"]] == list(dict.fromkeys(x["state"] for x in s["states"]))
    assert len(s["states"]) == 10
    group_of = {x["state"]: x["group"] for x in s["states"]}
    for flt in ({},) + FILTERS:
        s = summary(daemon, urllib.parse.urlencode(flt))
        sel = [o for o in orders if matches(o, **flt)]
        assert s["total"] == len(sel), flt
        by_state = {x["state"]: x["count"] for x in s["states"]}
        for st in by_state:
            assert by_state[st] == sum(1 for o in sel if o["state"] == st), (flt, st)
        for g in ("needs_action", "waiting", "in_use", "closed"):
            assert s["groups"][g] == sum(1 for o in sel if group_of[o["state"]] == g), (flt, g)
        # the list agrees: all its pages hold as many orders
        query = urllib.parse.urlencode(dict(flt, sort="needs_action"))
        assert len(walk(daemon, query, 50)) == s["total"]
    s = summary(daemon)
    assert all(s["groups"][g] > 0 for g in s["groups"]), s["groups"]


def test_state_table_publishes_the_same_order(daemon, fleet):
    """GET /api/v1/order-states names each state's group, next action and
    place in needs-action order: the same as the counts and the list."""
    states = daemon.get("/api/v1/order-states").json()["states"]
    assert sorted(s["priority"] for s in states) == list(range(len(states)))
    counted = summary(daemon)["states"]
    assert [s["name"] for s in sorted(states, key=lambda s: s["priority"])] == [c["state"] for c in counted]
    for s, c in zip(sorted(states, key=lambda s: s["priority"]), counted):
        assert (s["group"], s["next_action"]) == (c["group"], c["next_action"])
        assert (s["group"] == "closed") == s["terminal"]


def test_bad_parameters(daemon, fleet):
    p = "/api/v1/orders?"
    problem(daemon.get(p + "sort=state"), 400, "invalid_parameter", "sort")
    problem(daemon.get(p + "sort="), 400, "invalid_parameter", "sort")
    problem(daemon.get(p + "order=up"), 400, "invalid_parameter", "order")
    problem(daemon.get(p + "sortby=cn"), 400, "unknown_parameter")
    problem(daemon.get(p + "state=nonsense"), 400, "invalid_parameter", "state")
    problem(daemon.get(p + "q=" + "x" * 257), 400, "invalid_parameter", "q")
    cur = daemon.get(p + "sort=cn&limit=2").json()["next_cursor"]
    assert cur
    # a cursor belongs to its sort and direction
    problem(daemon.get(p + "sort=cn&order=desc&limit=2&cursor=" + cur), 400, "invalid_parameter", "cursor")
    problem(daemon.get(p + "sort=created&limit=2&cursor=" + cur), 400, "invalid_parameter", "cursor")
    assert daemon.get(p + "sort=cn&order=asc&limit=2&cursor=" + cur).status == 200
    for bad in ("zzz", "c12", "created.d.0.0.0.", "created.d.0.0.5", "created.d.0.0.5.6162",
                "created.d.-1.0.5.", "needs_action.a.10.0.5.", "cn.a.0.0.5.6", "cn.a.0.0.5.zz",
                "cn.a.0.0.5.6100", "created.d.0.0.+5.", "created.d.0.0. 5.", "created.d.0.0.5..",
                "created.d.0.0.99999999999999999999."):
        sort = bad.split(".")[0] if "." in bad else "created"
        order = "asc" if ".a." in bad else "desc"
        problem(daemon.get(p + "sort=%s&order=%s&cursor=%s" % (sort, order, urllib.parse.quote(bad))), 400,
                "invalid_parameter", "cursor")
    s = "/api/v1/orders/summary?"
    problem(daemon.get(s + "state=nonsense"), 400, "invalid_parameter", "state")
    problem(daemon.get(s + "limit=5"), 400, "unknown_parameter")
    problem(daemon.get(s + "external_ref=" + "x" * 257), 400, "invalid_parameter", "external_ref")
    problem(daemon.get("/api/v1/orders/summary", token=None), 401, "unauthorized")
    assert daemon.request("POST", "/api/v1/orders/summary", json_body={}).status == 405


@pytest.mark.parametrize("sort", SORTS)
def test_pages_stay_put_while_orders_are_created(daemon, fleet, sort):
    """Orders created between two pages neither repeat nor hide those
    that were there: each comes once, and what a client sees is in order.
    (Runs last: it adds orders.)"""
    before = set(fleet.ids)

    def create_two(page):
        # during the first pages: one that sorts first by CN, one last
        if page < 3:
            for prefix in ("0", "zz"):
                fleet.create("%snew%03d.%s" % (prefix, fleet.n, SUFFIX), "NEW-%s" % sort)

    for order in ("asc", "desc"):
        seen = walk(daemon, "sort=%s&order=%s" % (sort, order), 6, create_two)
        assert len(seen) == len(set(seen)), "an order came twice"
        assert before <= set(seen), "an order that was there was not seen"
        rank = ranks(daemon)
        orders = {o["id"]: o for o in snapshot(daemon, fleet)}
        keys = [sort_key(orders[i], sort, rank) for i in seen]
        assert keys == sorted(keys, reverse=order == "desc")
        before = set(fleet.ids)
