"""Orders API against the real daemon: every route and its documented
errors."""
import json
import subprocess
import tempfile

import pytest


def problem(r, status, code):
    assert r.status == status, r
    assert r.header("Content-Type") == "application/problem+json", r.headers
    p = r.json()
    assert p["code"] == code, p
    assert p["status"] == status
    assert p["detail"]
    return p


def test_healthz_needs_no_token(daemon):
    r = daemon.get("/healthz", token=None)
    assert r.status == 200
    assert r.json()["status"] == "ok"
    assert r.json()["schema_version"] >= 1


def test_openapi_is_the_repository_file(daemon):
    import amtc
    import os
    r = daemon.get("/openapi.yaml", token=None)
    assert r.status == 200
    with open(os.path.join(amtc.SRC, "openapi.yaml"), "rb") as f:
        assert r.body == f.read()


def test_api_needs_a_valid_token(daemon):
    problem(daemon.get("/api/v1/orders", token=None), 401, "unauthorized")
    r = daemon.get("/api/v1/orders", token="amtc_wrong")
    problem(r, 401, "unauthorized")
    assert r.header("WWW-Authenticate").startswith("Bearer")
    r = daemon.get("/api/v1/orders", headers={"Authorization": "Basic Zm9vOmJhcg=="}, token=None)
    problem(r, 401, "unauthorized")


def test_create_order_generates_key_and_csr(daemon):
    r = daemon.create_order(cn="rcs.example.com", san=["rcs2.example.com"],
                            dns_suffix="example.com", external_ref="INC-1",
                            vendor={"name": "Sectigo", "product": "AMT SSL Certificate", "validity_days": 200},
                            notes="first")
    assert r.status == 201, r
    o = r.json()
    assert o["state"] == "key_ready"
    assert o["has_key"] is True and o["key"]["stored"] is True
    assert o["key"]["algorithm"] == "rsa" and o["key"]["bits"] == 2048
    assert o["profile"] == "amt"
    assert o["san"] == ["rcs.example.com", "rcs2.example.com"]
    assert o["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert len(o["public_key_sha256"]) == 64
    assert r.header("Location") == "/api/v1/orders/" + o["id"]
    assert r.header("ETag") == '"v%d"' % o["version"]
    assert o["allowed_transitions"] == ["submitted", "issued", "cancelled"]
    # no key material anywhere in the answer
    assert "PRIVATE KEY" not in r.body.decode()
    g = daemon.get("/api/v1/orders/" + o["id"])
    assert g.status == 200
    assert g.json()["csr"] == o["csr"]
    assert "PRIVATE" not in g.body.decode()


def test_create_defaults_and_warnings(daemon):
    r = daemon.post("/api/v1/orders", {"subject": {"common_name": "amt.example.org", "state": "CA",
                                                   "organizational_unit": "IT"},
                                       "key": {"bits": 4096}})
    assert r.status == 201, r
    rules = {w["rule"] for w in r.json()["warnings"]}
    assert rules == {"state_spelled_out", "ou_dropped", "rsa_4096_slow"}
    assert r.json()["key"]["bits"] == 4096


def test_csr_download(daemon):
    o = daemon.create_order(cn="*.vpro.example.com").json()
    r = daemon.get("/api/v1/orders/%s/csr" % o["id"])
    assert r.status == 200
    assert r.header("Content-Type") == "application/pkcs10"
    assert r.header("Content-Disposition") == 'attachment; filename="wildcard.vpro.example.com.csr"'
    assert r.body.decode() == o["csr"]


def make_csr(tmp, cn="ext.example.com", bits=2048, iis=False, key="rsa"):
    keyf = tmp + "/k.pem"
    if key == "rsa":
        subprocess.run(["openssl", "genrsa", "-out", keyf, str(bits)], check=True, capture_output=True)
    else:
        subprocess.run(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", keyf],
                       check=True, capture_output=True)
    out = subprocess.run(["openssl", "req", "-new", "-key", keyf, "-subj",
                          "/C=DE/ST=Bayern/L=Muenchen/O=Beispiel GmbH/CN=" + cn,
                          "-addext", "subjectAltName=DNS:" + cn, "-sha256"],
                         check=True, capture_output=True).stdout.decode()
    if iis:
        out = out.replace("CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST").replace("\n", "\r\n")
        out = "Some IIS text before\r\n" + out + "\r\nand after\r\n"
    return out


def test_order_around_an_imported_csr(daemon):
    with tempfile.TemporaryDirectory() as tmp:
        for iis in (False, True):
            csr = make_csr(tmp, iis=iis)
            r = daemon.post("/api/v1/orders", {"csr": csr, "dns_suffix": "example.com"})
            assert r.status == 201, r
            o = r.json()
            assert o["has_key"] is False and o["key"]["stored"] is False
            assert "made elsewhere" in o["key"]["source"]
            assert o["csr_source"] == "imported"
            assert o["subject"]["common_name"] == "ext.example.com"
            assert o["subject"]["country"] == "DE"
            assert o["csr"].startswith("-----BEGIN CERTIFICATE REQUEST-----")


def test_imported_csr_with_bad_signature(daemon):
    with tempfile.TemporaryDirectory() as tmp:
        csr = make_csr(tmp)
    lines = csr.strip().split("\n")
    body = lines[-2]
    lines[-2] = body[:-6] + ("A" if body[-6] != "A" else "B") + body[-5:]
    r = daemon.post("/api/v1/orders", {"csr": "\n".join(lines) + "\n"})
    problem(r, 422, "invalid_csr")


def test_imported_csr_rules(daemon):
    with tempfile.TemporaryDirectory() as tmp:
        small = make_csr(tmp, bits=1024)
        ec = make_csr(tmp, key="ec")
    p = problem(daemon.post("/api/v1/orders", {"csr": small}), 422, "validation_failed")
    assert p["errors"][0]["rule"] == "rsa_min_2048"
    p = problem(daemon.post("/api/v1/orders", {"csr": ec}), 422, "validation_failed")
    assert p["errors"][0]["rule"] == "rsa_required"


@pytest.mark.parametrize("body,field,rule", [
    ({"subject": {"common_name": "not a host"}}, "subject.common_name", "fqdn"),
    ({"subject": {"common_name": "rcs"}}, "subject.common_name", "fqdn"),
    ({"subject": {"common_name": "rcs.example.*"}}, "subject.common_name", "fqdn"),
    ({"subject": {"common_name": "a.*.example.com"}}, "subject.common_name", "fqdn"),
    ({"subject": {"common_name": "rcs.corp.local"}}, "subject.common_name", "public_domain"),
    ({"subject": {"common_name": "rcs.example.com", "country": "USA"}}, "subject.country", "iso3166"),
    ({"subject": {"common_name": "rcs.example.com", "country": "UK"}}, "subject.country", "iso3166"),
    ({"subject": {"common_name": "rcs.example.com", "country": "us"}}, "subject.country", "iso3166"),
    ({"subject": {"common_name": "rcs.example.com"}, "key": {"bits": 1024}}, "key.bits", "rsa_min_2048"),
    ({"subject": {"common_name": "rcs.example.com"}, "key": {"bits": 2560}}, "key.bits", "rsa_bits"),
    ({"subject": {"common_name": "rcs.example.com"}, "key": {"algorithm": "ecdsa"}}, "key.algorithm", "rsa_required"),
    ({"subject": {"common_name": "rcs.other.com"}, "dns_suffix": "example.com"}, "subject.common_name", "amt_suffix"),
    ({"subject": {"common_name": "rcs.badexample.com"}, "dns_suffix": "example.io"}, "subject.common_name", "amt_suffix"),
    ({"subject": {"common_name": "rcs.example.com"}, "dns_suffix": "not a domain"}, "dns_suffix", "fqdn"),
    ({"subject": {"common_name": "rcs.example.com"}, "san": ["bad name"]}, "san[0]", "fqdn"),
    ({"subject": {"common_name": "x" * 60 + ".example.com"}}, "subject.common_name", "max_length"),
    ({"subject": {"common_name": "rcs.example.com", "organization": "O" * 65}}, "subject.organization", "max_length"),
    ({"subject": {"common_name": "rcs.example.com"}, "notes": "n" * 4097}, "notes", "max_length"),
    ({"subject": {"common_name": "rcs.example.com"}, "vendor": {"validity_days": 0}}, "vendor.validity_days", "range"),
    ({"subject": {"common_name": "rcs.example.com"}, "vendor": {"dcv_method": "fax"}}, "vendor.dcv_method", "enum"),
    ({"subject": {"common_name": "rcs.example.com"}, "profile": "web"}, "profile", "enum"),
    ({}, "subject", "required"),
    ({"subject": {"organization": "Example"}}, "subject.common_name", "required"),
    ({"subject": {"common_name": "rcs.example.com"}, "csr": "x"}, "csr", "csr_exclusive"),
])
def test_validation_422(daemon, body, field, rule):
    before = daemon.db_snapshot()
    r = daemon.post("/api/v1/orders", body)
    p = problem(r, 422, "validation_failed")
    assert any(e["field"] == field and e["rule"] == rule for e in p["errors"]), p
    for e in p["errors"]:
        assert e["message"] and e["fix"]
    assert daemon.db_snapshot() == before


def test_suffix_rules(daemon):
    # Intel's rule: .com may share only the last two labels
    r = daemon.create_order(cn="csa.ftl.intel.com", dns_suffix="dev.intel.com")
    assert r.status == 201, r
    # mismatch allowed explicitly: a warning instead of an error
    r = daemon.create_order(cn="rcs.other.com", dns_suffix="example.com", allow_suffix_mismatch=True)
    assert r.status == 201, r
    assert any(w["rule"] == "amt_suffix" for w in r.json()["warnings"])
    # co.uk: Intel needs three labels; RPS's two-label rule would accept it
    p = problem(daemon.create_order(cn="a.example.co.uk", dns_suffix="b.other.co.uk"), 422, "validation_failed")
    assert "RPS" in p["errors"][0]["message"]


def test_list_filters_and_pagination(daemon):
    ids = []
    for i in range(5):
        r = daemon.create_order(cn="page%d.list.example.com" % i, external_ref="LIST-%d" % (i % 2))
        ids.append(r.json()["id"])
    seen = []
    cursor = None
    while True:
        path = "/api/v1/orders?q=LIST.example&limit=2" + ("&cursor=" + cursor if cursor else "")
        r = daemon.get(path)
        assert r.status == 200, r
        page = r.json()
        assert len(page["items"]) <= 2
        seen += [o["id"] for o in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    r = daemon.get("/api/v1/orders?external_ref=LIST-1")
    assert {o["id"] for o in r.json()["items"]} == {ids[1], ids[3]}
    r = daemon.get("/api/v1/orders?state=cancelled&q=list.example")
    assert r.json()["items"] == []
    problem(daemon.get("/api/v1/orders?state=nonsense"), 400, "invalid_parameter")
    problem(daemon.get("/api/v1/orders?limit=0"), 400, "invalid_parameter")
    problem(daemon.get("/api/v1/orders?limit=201"), 400, "invalid_parameter")
    problem(daemon.get("/api/v1/orders?cursor=zzz"), 400, "invalid_parameter")
    problem(daemon.get("/api/v1/orders?sortby=cn"), 400, "unknown_parameter")


def test_patch_with_etag(daemon):
    o = daemon.create_order(cn="patch.example.com").json()
    path = "/api/v1/orders/" + o["id"]
    r = daemon.request("PATCH", path, json_body={"vendor": {"order_id": "123456", "dcv_method": "email",
                                                            "approver": "admin@example.com"},
                                                 "external_ref": "CHG-9"},
                       headers={"If-Match": '"v%d"' % o["version"]})
    assert r.status == 200, r
    p = r.json()
    assert p["vendor"]["order_id"] == "123456" and p["external_ref"] == "CHG-9"
    assert p["version"] == o["version"] + 1
    # the old ETag no longer matches
    r = daemon.request("PATCH", path, json_body={"notes": "x"}, headers={"If-Match": '"v%d"' % o["version"]})
    problem(r, 412, "etag_mismatch")
    problem(daemon.request("PATCH", path, json_body={"notes": "x"}, headers={"If-Match": "garbage"}), 412,
            "etag_mismatch")
    # merge-patch: null clears; no If-Match is allowed
    r = daemon.request("PATCH", path, body=json.dumps({"external_ref": None}),
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status == 200 and r.json()["external_ref"] is None
    problem(daemon.request("PATCH", path, json_body={"state": "ready"}), 400, "unknown_field")
    problem(daemon.request("PATCH", path, json_body={"vendor": {"order_id": 5}}), 400, "invalid_type")
    problem(daemon.request("PATCH", "/api/v1/orders/ord_nope", json_body={"notes": "x"}), 404, "order_not_found")
    ev = daemon.get(path + "/events").json()["items"]
    assert [e["type"] for e in ev] == ["created", "updated", "updated"]
    assert "vendor_order_id" in ev[1]["detail"]


def test_cancel_and_events(daemon):
    o = daemon.create_order(cn="cancel.example.com").json()
    path = "/api/v1/orders/" + o["id"]
    r = daemon.post(path + "/cancel", {"reason": "duplicate purchase"})
    assert r.status == 200, r
    assert r.json()["state"] == "cancelled"
    assert r.json()["allowed_transitions"] == []
    p = problem(daemon.post(path + "/cancel"), 409, "invalid_transition")
    assert p["state"] == "cancelled" and p["allowed_transitions"] == []
    ev = daemon.get(path + "/events").json()["items"]
    assert [(e["type"], e["from_state"], e["to_state"]) for e in ev] == [
        ("created", None, "key_ready"), ("state", "key_ready", "cancelled")]
    assert ev[1]["detail"] == "duplicate purchase"
    assert ev[1]["actor"] == "token:admin"
    problem(daemon.post("/api/v1/orders/ord_nope/cancel"), 404, "order_not_found")
    problem(daemon.get("/api/v1/orders/ord_nope/events"), 404, "order_not_found")
    problem(daemon.get("/api/v1/orders/ord_nope/csr"), 404, "order_not_found")
    problem(daemon.get("/api/v1/orders/ord_nope"), 404, "order_not_found")


def test_idempotency_key(daemon):
    body = {"subject": {"common_name": "idem.example.com"}}
    h = {"Idempotency-Key": "ticket-4711"}
    before = daemon.db_snapshot()["orders"]
    r1 = daemon.request("POST", "/api/v1/orders", json_body=body, headers=h)
    r2 = daemon.request("POST", "/api/v1/orders", json_body=body, headers=h)
    assert r1.status == 201 and r2.status == 201
    assert r1.json()["id"] == r2.json()["id"]
    assert r2.header("Idempotent-Replayed") == "true"
    assert r1.json()["csr"] == r2.json()["csr"]
    assert daemon.db_snapshot()["orders"] == before + 1
    # same key, other body: refused, nothing stored
    r3 = daemon.request("POST", "/api/v1/orders", json_body={"subject": {"common_name": "other.example.com"}},
                        headers=h)
    problem(r3, 422, "idempotency_key_reused")
    assert daemon.db_snapshot()["orders"] == before + 1
    problem(daemon.request("POST", "/api/v1/orders", json_body=body, headers={"Idempotency-Key": "a b"}), 400,
            "invalid_header")


def test_concurrent_same_idempotency_key(daemon):
    import threading
    body = {"subject": {"common_name": "twin.example.com"}}
    out = []

    def go():
        out.append(daemon.request("POST", "/api/v1/orders", json_body=body, headers={"Idempotency-Key": "twins"}))
    th = [threading.Thread(target=go) for _ in range(4)]
    [t.start() for t in th]
    [t.join() for t in th]
    assert all(r.status == 201 for r in out), out
    assert len({r.json()["id"] for r in out}) == 1


def test_routing_404_405(daemon):
    problem(daemon.get("/api/v1/nothing"), 404, "not_found")
    r = daemon.request("DELETE", "/api/v1/orders")
    p = problem(r, 405, "method_not_allowed")
    assert r.header("Allow") == "POST, GET"
    r = daemon.request("PUT", "/api/v1/orders/ord_x")
    problem(r, 405, "method_not_allowed")
    assert r.header("Allow") == "GET, PATCH"
    r = daemon.request("POST", "/healthz", token=None)
    problem(r, 405, "method_not_allowed")
    assert p["allow"] == "POST, GET"


def test_security_headers(daemon):
    for path in ("/", "/api/v1/orders", "/healthz"):
        r = daemon.get(path)
        assert r.header("X-Content-Type-Options") == "nosniff"
        assert "frame-ancestors 'none'" in r.header("Content-Security-Policy")
        assert r.header("X-Request-Id").startswith("r-")
    r = daemon.get("/")
    assert r.status == 200 and b"amtcertd" in r.body
    assert "script-src 'self'" in r.header("Content-Security-Policy")


def test_login_code_is_one_time(daemon):
    problem(daemon.post("/api/v1/login", {"code": "wrong"}, token=None), 401, "unauthorized")
    r = daemon.post("/api/v1/login", {"code": daemon.login_code}, token=None)
    assert r.status == 201, r
    tok = r.json()["token"]
    assert daemon.get("/api/v1/orders", token=tok).status == 200
    problem(daemon.post("/api/v1/login", {"code": daemon.login_code}, token=None), 401, "unauthorized")
    problem(daemon.post("/api/v1/login", {"code": 5}, token=None), 400, "invalid_type")
