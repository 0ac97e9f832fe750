"""openapi.yaml describes exactly what the server does: the same routes as
the routing table, each answering on the running daemon, and (see
test_zz_documented_statuses.py) no status the spec does not list."""
import os
import re

import yaml

import amtc

METHODS = {"get", "post", "put", "patch", "delete", "head", "options"}


def spec():
    with open(os.path.join(amtc.SRC, "openapi.yaml")) as f:
        return yaml.safe_load(f)


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
