"""Issue 9: inspect and verify read the CA pool and the AMT root list from
a cache in core/, rebuilt after every change made through the API. Each
change must show in the very next answer, and inspections running while
the pool changes must each see the pool as it was before or after a
change, never something else."""
import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

SUFFIX = "vpro.example.com"


def inspect(daemon, pem, at=None):
    path = "/api/v1/inspect" + ("?at=" + at if at else "")
    r = daemon.request("POST", path, body=pem.encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 200, r
    return r.json()


def checks(rep):
    return {c["id"]: c["status"] for c in rep["checks"]}


def pool_add(daemon, pem):
    r = daemon.request("POST", "/api/v1/ca-certificates", body=pem.encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 201, r
    return r.json()["added"]


def pool_remove(daemon, sha256):
    assert daemon.request("DELETE", "/api/v1/ca-certificates/" + sha256).status == 204


def chain(rep):
    return [(c["sha256"], c["origin"]) for c in rep["chain"]]


@pytest.fixture(scope="module")
def pool_ca(work):
    return testca.TestCA(os.path.join(work, "cache-pool"), root_cn="Cache Pool Root",
                         inter_cn="Cache Pool Issuing CA")


@pytest.fixture(scope="module")
def trust_ca(work):
    return testca.TestCA(os.path.join(work, "cache-trust"), root_cn="Cache Trust Root",
                         inter_cn="Cache Trust Issuing CA")


def test_pool_changes_show_in_the_next_inspect_and_verify(daemon, pool_ca):
    _k, leaf = pool_ca.issue("leaf.cache.example.com")
    inter, root = testca.sha256_of_pem(pool_ca.inter_pem), pool_ca.root_sha256
    leaf_sha = testca.sha256_of_pem(leaf)
    # read once, so that a stale cache would have something to serve
    rep = inspect(daemon, leaf)
    assert chain(rep) == [(leaf_sha, "delivery")]
    assert checks(rep)["chain_complete"] == "fail"

    assert pool_add(daemon, pool_ca.chain_pem) == 2
    rep = inspect(daemon, leaf)
    assert chain(rep) == [(leaf_sha, "delivery"), (inter, "ca-pool"), (root, "ca-pool")]
    assert checks(rep)["chain_complete"] == "pass"
    assert [c["role"] for c in rep["chain"]] == ["leaf", "intermediate", "root"]

    # an order's verification reads the same pool
    o = daemon.post("/api/v1/orders", {"subject": {"common_name": "rcs." + SUFFIX, "organization": "Example",
                                                   "country": "US"}, "dns_suffix": SUFFIX}).json()
    r = daemon.request("POST", "/api/v1/orders/%s/uploads" % o["id"],
                       body=pool_ca.sign_csr(o["csr"]).encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 201, r
    r = daemon.post("/api/v1/orders/%s/verify" % o["id"], {})
    assert r.status == 200, r
    assert [c["origin"] for c in r.json()["chain"]] == ["delivery", "ca-pool", "ca-pool"]

    pool_remove(daemon, root)
    rep = inspect(daemon, leaf)
    assert chain(rep) == [(leaf_sha, "delivery"), (inter, "ca-pool")]
    assert checks(rep)["chain_complete"] == "fail"
    r = daemon.post("/api/v1/orders/%s/verify" % o["id"], {})
    assert [c["origin"] for c in r.json()["chain"]] == ["delivery", "ca-pool"]
    assert r.json()["overall"] == "fail"

    pool_remove(daemon, inter)
    rep = inspect(daemon, leaf)
    assert chain(rep) == [(leaf_sha, "delivery")]

    # a refused addition changes nothing
    r = daemon.request("POST", "/api/v1/ca-certificates", body=leaf.encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 422 and r.json()["code"] == "not_a_ca"
    assert chain(inspect(daemon, leaf)) == [(leaf_sha, "delivery")]


def test_trusted_root_changes_show_in_the_next_inspect(daemon, trust_ca):
    _k, leaf = trust_ca.issue("trust.cache.example.com")
    material = leaf + trust_ca.chain_pem

    def root_of():
        rep = inspect(daemon, material)
        return rep["root"]["amt_trusted"], rep["root"]["amt_entry"], checks(rep)["root_trusted"]

    assert root_of() == (False, None, "fail")
    r = daemon.post("/api/v1/amt/trusted-roots", {"name": "Cache test root", "sha256": trust_ca.root_sha256})
    assert r.status == 201, r
    rid = r.json()["id"]
    assert root_of() == (True, "Cache test root", "pass")

    r = daemon.request("PATCH", "/api/v1/amt/trusted-roots/" + rid, json_body={"enabled": False})
    assert r.status == 200
    trusted, entry, status = root_of()
    assert (trusted, entry) == (False, "Cache test root") and status != "pass"
    r = daemon.request("PATCH", "/api/v1/amt/trusted-roots/" + rid, json_body={"enabled": True})
    assert r.status == 200
    assert root_of() == (True, "Cache test root", "pass")

    assert daemon.request("DELETE", "/api/v1/amt/trusted-roots/" + rid).status == 204
    assert root_of() == (False, None, "fail")

    # a device's own list: the hash arrives as a device entry, enabled
    text = "Certificate Hashes\t:\nCache Lab (Custom, Active)\n   SHA256: %s\n" % trust_ca.root_sha256.upper()
    r = daemon.post("/api/v1/amt/trusted-roots/device-list", {"device": "PC-CACHE", "text": text})
    assert r.status == 200 and r.json()["added"] == 1, r
    trusted, entry, status = root_of()
    assert trusted and "PC-CACHE" in entry and status == "pass"
    assert daemon.request("DELETE", "/api/v1/amt/trusted-roots/" + r.json()["ids"][0]).status == 204
    assert root_of() == (False, None, "fail")


def test_inspections_during_pool_changes_see_a_state_that_was(daemon, work):
    ca = testca.TestCA(os.path.join(work, "cache-race"), root_cn="Cache Race Root",
                       inter_cn="Cache Race Issuing CA")
    _k, leaf = ca.issue("race.cache.example.com")
    leaf_sha = testca.sha256_of_pem(leaf)
    inter, root = testca.sha256_of_pem(ca.inter_pem), ca.root_sha256
    states = {
        "none": [(leaf_sha, "delivery")],
        "both": [(leaf_sha, "delivery"), (inter, "ca-pool"), (root, "ca-pool")],
        "inter": [(leaf_sha, "delivery"), (inter, "ca-pool")],
    }
    seen = {tuple(v): k for k, v in states.items()}
    log = []  # writer: (start, end, state after)
    answers = []  # readers: (sent, received, state seen)
    errors = []
    stop = threading.Event()

    def reader():
        try:
            while not stop.is_set():
                t0 = time.monotonic()
                rep = inspect(daemon, leaf)
                t1 = time.monotonic()
                state = seen.get(tuple(chain(rep)))
                assert state, chain(rep)
                # the checks agree with the chain they were run on
                assert checks(rep)["chain_complete"] == ("pass" if state == "both" else "fail")
                answers.append((t0, t1, state))
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)
            stop.set()

    def answered_since(t):
        """Waits until an inspection sent after t is answered."""
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            if any(sent > t for sent, _r, _s in list(answers)):
                return
            time.sleep(0.005)

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for _ in range(5):
            for op, state in ((lambda: pool_add(daemon, ca.chain_pem), "both"),
                              (lambda: pool_remove(daemon, root), "inter"),
                              (lambda: pool_remove(daemon, inter), "none")):
                if stop.is_set():
                    break
                t0 = time.monotonic()
                op()
                log.append((t0, time.monotonic(), state))
                answered_since(log[-1][1])
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert not errors, errors[0]
    # an inspection sent after a change ended and answered before the next
    # one began saw exactly the pool that change left
    exact = 0
    for i, (_s, end, state) in enumerate(log):
        nxt = log[i + 1][0] if i + 1 < len(log) else float("inf")
        for sent, received, got in answers:
            if sent > end and received < nxt:
                assert got == state, (state, got)
                exact += 1
    assert exact >= len(log), (exact, len(log))
    # and the last change shows in the next answer
    assert chain(inspect(daemon, leaf)) == states[log[-1][2]]


# ---- parsed CA certificates shared between requests (pki/certcache.c) ------

def answer(rep):
    rep = dict(rep)
    rep.pop("evaluated_at", None)
    return rep


def test_shared_ca_certificates_give_every_thread_the_same_answers(daemon, work):
    """The same intermediates and roots in every upload are parsed once and
    shared: answers from many threads at once equal the first ones, and a
    damaged copy of a shared intermediate is its own certificate."""
    old = testca.TestCA(os.path.join(work, "share-old"), root_cn="Share Old Root")
    new = testca.TestCA(os.path.join(work, "share-new"), root_cn="Share New Root")
    cross = new.cross_signed_by(old)
    leaves = [new.issue("share%d.cache.example.com" % i)[1] for i in range(3)]
    bodies = [leaves[0] + new.inter_pem + cross + old.root_pem,
              leaves[1] + new.inter_pem + new.root_pem,
              leaves[2] + new.inter_pem + cross + new.root_pem + old.root_pem,
              leaves[0]]
    # one moment for every answer: the validity message names it
    at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 86400))
    want = [answer(inspect(daemon, b, at)) for b in bodies]
    assert [len(w["chain"]) for w in want] == [4, 3, 3, 1]
    errors = []

    def worker(k):
        try:
            for n in range(12):
                i = (n + k) % len(bodies)
                assert answer(inspect(daemon, bodies[i], at)) == want[i], i
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]

    # the intermediate with one bit of its signature flipped: the leaf still
    # verifies with its key, but no root signed it any more
    der = bytearray(testca.pem_to_der(new.inter_pem))
    der[-1] ^= 1
    bad = testca.der_to_pem(bytes(der))
    rep = inspect(daemon, leaves[1] + bad + new.root_pem)
    assert [c["sha256"] for c in rep["chain"]] == [
        testca.sha256_of_pem(leaves[1]), testca.sha256_of_pem(bad)]
    assert checks(rep)["chain_complete"] == "fail"
    # and the good one is still what it was
    assert answer(inspect(daemon, bodies[1], at)) == want[1]


def test_names_are_escaped_as_jansson_escapes_them(daemon, work):
    """The inspect answer is written without Jansson's dump: names with
    quotes, backslashes, controls and non-ASCII characters come out as
    json_dumps(JSON_COMPACT | JSON_ENSURE_ASCII) writes them (upper-case
    \\uXXXX, surrogate pairs, DEL as is), and read back to the same text."""
    ca = testca.TestCA(os.path.join(work, "escape"), root_cn="Escape Root")
    cn = "w\u00e9\"ird\\name \U0001F600 tab\there\x7fdel \u4e2d"
    _k, csr = testca.make_key_and_csr("x", subject="/CN=" + cn.replace("\\", "\\\\"))
    leaf = ca.sign_csr(csr, sans=("escape.cache.example.com",))
    r = daemon.request("POST", "/api/v1/inspect", body=(leaf + ca.chain_pem).encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 200, r
    raw = r.body
    assert all(b < 0x80 for b in raw)
    got = r.json()["chain"][0]["common_name"]
    assert got == cn, (got, cn)
    assert b"w\\u00E9\\\"ird\\\\name \\uD83D\\uDE00 tab\\there\x7fdel \\u4E2D" in raw, raw[:600]
