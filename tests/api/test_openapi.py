"""openapi.yaml describes exactly what the server does: the same routes as
the routing table, each answering on the running daemon, and every answer
the tests get held to it by amtc.Contract (status, media type, body
schema). The last tests here show that the contract check can fail."""
import copy
import json
import os
import re

import amtc

METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def spec():
    return amtc.contract().spec


def spec_operations():
    ops = set()
    for path, item in spec()["paths"].items():
        for m in item:
            if m in METHODS:
                ops.add((m.upper(), path))
    return ops


def router_operations():
    with open(os.path.join(amtc.SRC, "api", "router.c")) as f:
        src = f.read()
    table = src[src.index("static const struct route routes[]"):]
    table = table[:table.index("};")]
    ops = set(re.findall(r'\{\s*"([A-Z]+)",\s*"([^"]+)"', table))
    # the dashboard's static files, served outside the table
    ops |= {("GET", "/"), ("GET", "/{file}")}
    return ops


def test_spec_and_router_list_the_same_routes():
    assert spec_operations() == router_operations()


def concrete(path):
    return path.replace("{id}", "ord_000000000000000000000000").replace("{file}", "app.js").replace(
        "{sha256}", "0" * 64)


def test_every_documented_operation_is_routed(daemon):
    for method, path in sorted(spec_operations()):
        r = daemon.request(method, concrete(path), body=b"{}" if method in ("POST", "PATCH") else None,
                           headers={"Content-Type": "application/json"} if method in ("POST", "PATCH") else {})
        assert r.status != 405, (method, path, r)
        if r.status == 404:
            # a resource that does not exist, not a route that does not
            code = r.json()["code"]
            assert code != "not_found" and code.endswith("_not_found"), (method, path, r)


def test_undocumented_methods_are_405(daemon):
    paths = {}
    for m, p in spec_operations():
        paths.setdefault(p, set()).add(m)
    def routed_elsewhere(path, m):
        # "/x/device-list" is also "/x/{id}" for the methods {id} has
        for other, ms in paths.items():
            if other != path and m in ms and re.match("^" + re.sub(r"\{[^}]+\}", "[^/]+", other) + "$", path):
                return True
        return False

    for path, methods in paths.items():
        for m in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            if m in methods or (path == "/{file}" or path == "/") and m == "GET":
                continue
            if routed_elsewhere(path, m):
                continue
            r = daemon.request(m, concrete(path))
            assert r.status == 405, (m, path, r)
            allow = {a.strip() for a in r.header("Allow").split(",")}
            assert methods <= allow, (path, allow)


def test_every_operation_documents_its_errors():
    s = spec()
    for path, item in s["paths"].items():
        for m, op in item.items():
            if m not in METHODS:
                continue
            codes = set(op["responses"])
            secured = op.get("security", s.get("security")) != []
            if secured:
                assert "401" in codes, (m, path)
            if "{id}" in path:
                assert "404" in codes, (m, path)
            if "requestBody" in op:
                assert {"400", "413", "415"} <= codes, (m, path)


# ---- the contract check itself ---------------------------------------------

def broken(check):
    """The faults amtc.Contract finds in one answer."""
    return amtc.contract().check(*check)


def test_contract_picks_the_operation_by_method_and_most_literal_template():
    c = amtc.contract()
    assert c.operation("POST", "/api/v1/amt/trusted-roots/device-list")[0] == "/api/v1/amt/trusted-roots/device-list"
    assert c.operation("DELETE", "/api/v1/amt/trusted-roots/device-list")[0] == "/api/v1/amt/trusted-roots/{id}"
    assert c.operation("GET", "/healthz?x=1")[0] == "/healthz"
    assert c.operation("GET", "/app.js")[0] == "/{file}"
    assert c.operation("PUT", "/api/v1/orders") is None
    assert c.operation("GET", "/api/v1/orders/a/b/c") is None


def test_contract_accepts_real_answers_and_refuses_broken_ones(daemon):
    r = daemon.create_order(cn="contract.example.com", dns_suffix="example.com")
    assert r.status == 201, r
    order = r.json()
    path, ctype = "/api/v1/orders", "application/json"

    def faults(body, status=201, media=ctype, method="POST", where=path):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return broken((method, where, status, media, raw))

    assert faults(order) == []
    assert faults(order, media="application/json; charset=utf-8") == []
    for mutate, why in [
        (lambda o: o["subject"].update(organizational_unit=5), "organizational_unit"),
        (lambda o: o["vendor"].update(dcv_method="fax"), "dcv_method"),
        (lambda o: o.update(surprise=True), "surprise"),
        (lambda o: o.pop("state"), "state"),
        (lambda o: o.update(state="shipped"), "shipped"),
        (lambda o: o.update(created_at="yesterday"), "created_at"),
        (lambda o: o.update(renewal_of=None, leaf_sha256="beef"), "leaf_sha256"),
    ]:
        bad = copy.deepcopy(order)
        mutate(bad)
        found = faults(bad)
        assert found and why in " ".join(found), (why, found)
    assert "not JSON" in " ".join(faults(b"{oops"))
    assert "418 is not documented" in " ".join(faults(order, status=418))
    assert "Content-Type 'text/plain'" in " ".join(faults(order, media="text/plain"))
    # a problem must be a Problem
    problem = {"type": "t", "title": "Bad Request", "status": 400, "code": "invalid_json",
               "detail": "d", "request_id": "r-1"}
    assert faults(problem, status=400, media="application/problem+json") == []
    assert faults(dict(problem, request_id=None), status=400, media="application/problem+json")
    # 204 carries nothing
    assert faults(b"", status=204, method="DELETE", where="/api/v1/ca-certificates/" + "0" * 64) == []
    assert faults(b"{}", status=204, method="DELETE", where="/api/v1/ca-certificates/" + "0" * 64)
    # outside every operation: only a 4xx problem
    assert faults(problem, status=404, media="application/problem+json", method="GET", where="/api/v2/x") == []
    assert faults(problem, status=200, media="application/problem+json", method="GET", where="/api/v2/x")
    assert faults(b"nope", status=404, media="text/plain", method="GET", where="/api/v2/x")


def test_a_broken_answer_fails_the_request(daemon, monkeypatch):
    """The check runs inside amtc.Daemon.request: a spec that no longer
    allows a real answer makes the request raise."""
    c = amtc.contract()
    strict = copy.deepcopy(c)
    strict._validators = {}
    strict._root["components"]["schemas"]["Order"]["properties"]["id"] = {"type": "integer"}
    monkeypatch.setattr(amtc, "_contract", strict)
    seen = len(amtc.VIOLATIONS)
    try:
        daemon.create_order(cn="strict.example.com")
    except amtc.ContractViolation as e:
        assert "$.id" in str(e)
    else:
        raise AssertionError("the answer was not checked")
    del amtc.VIOLATIONS[seen:]
