"""Malformed requests: each gets the right 4xx as problem+json, leaves the
database exactly as it was, and the daemon stays up."""
import json

import pytest

GOOD = {"subject": {"common_name": "rcs.example.com"}}
ORD = "/api/v1/orders"


def body(obj):
    return json.dumps(obj).encode()


def raw_http(port, method, path, headers, payload=b""):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port, "Connection: close"]
    lines += ["%s: %s" % kv for kv in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def chunked(data, size=1000):
    out = b""
    for i in range(0, len(data), size):
        c = data[i:i + size]
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return out + b"0\r\n\r\n"


# (name, method, path, content-type, payload, expected status, expected code)
CASES = [
    ("empty body", "POST", ORD, "application/json", b"", 400, "invalid_json"),
    ("truncated json", "POST", ORD, "application/json", b'{"subject": {', 400, "invalid_json"),
    ("trailing garbage", "POST", ORD, "application/json", body(GOOD) + b"xx", 400, "invalid_json"),
    ("json array", "POST", ORD, "application/json", b"[1,2]", 400, "invalid_json"),
    ("json string", "POST", ORD, "application/json", b'"hello"', 400, "invalid_json"),
    ("json null", "POST", ORD, "application/json", b"null", 400, "invalid_json"),
    ("duplicate keys", "POST", ORD, "application/json", b'{"notes":"a","notes":"b","subject":{"common_name":"a.example.com"}}', 400, "invalid_json"),
    ("bad utf-8", "POST", ORD, "application/json", b'{"subject":{"common_name":"\xff\xfe.example.com"}}', 400, "invalid_json"),
    ("overlong utf-8", "POST", ORD, "application/json", b'{"notes":"\xc0\xaf","subject":{"common_name":"a.example.com"}}', 400, "invalid_json"),
    ("nul escape", "POST", ORD, "application/json", b'{"notes":"a\\u0000b","subject":{"common_name":"a.example.com"}}', 400, "invalid_json"),
    ("lone surrogate", "POST", ORD, "application/json", b'{"notes":"\\ud800","subject":{"common_name":"a.example.com"}}', 400, "invalid_json"),
    ("deep nesting", "POST", ORD, "application/json", b"[" * 5000 + b"]" * 5000, 400, "invalid_json"),
    ("unknown top field", "POST", ORD, "application/json", body(dict(GOOD, colour="red")), 400, "unknown_field"),
    ("unknown subject field", "POST", ORD, "application/json", body({"subject": {"common_name": "a.example.com", "email": "x"}}), 400, "unknown_field"),
    ("unknown key field", "POST", ORD, "application/json", body(dict(GOOD, key={"bits": 2048, "curve": "p256"})), 400, "unknown_field"),
    ("unknown vendor field", "POST", ORD, "application/json", body(dict(GOOD, vendor={"colour": "x"})), 400, "unknown_field"),
    ("subject not object", "POST", ORD, "application/json", body({"subject": "rcs.example.com"}), 400, "invalid_type"),
    ("cn number", "POST", ORD, "application/json", body({"subject": {"common_name": 42}}), 400, "invalid_type"),
    ("bits string", "POST", ORD, "application/json", body(dict(GOOD, key={"bits": "2048"})), 400, "invalid_type"),
    ("bits float", "POST", ORD, "application/json", body(dict(GOOD, key={"bits": 2048.5})), 400, "invalid_type"),
    ("san not array", "POST", ORD, "application/json", body(dict(GOOD, san="a.example.com")), 400, "invalid_type"),
    ("san item number", "POST", ORD, "application/json", body(dict(GOOD, san=[1])), 400, "invalid_type"),
    ("allow_mismatch string", "POST", ORD, "application/json", body(dict(GOOD, allow_suffix_mismatch="yes")), 400, "invalid_type"),
    ("vendor array", "POST", ORD, "application/json", body(dict(GOOD, vendor=[])), 400, "invalid_type"),
    ("validity string", "POST", ORD, "application/json", body(dict(GOOD, vendor={"validity_days": "200"})), 400, "invalid_type"),
    ("csr number", "POST", ORD, "application/json", body({"csr": 7}), 400, "invalid_type"),
    ("huge cn", "POST", ORD, "application/json", body({"subject": {"common_name": "a" * 5000 + ".example.com"}}), 422, "validation_failed"),
    ("too many sans", "POST", ORD, "application/json", body(dict(GOOD, san=["h%d.example.com" % i for i in range(101)])), 422, "validation_failed"),
    ("huge notes", "POST", ORD, "application/json", body(dict(GOOD, notes="n" * 5000)), 422, "validation_failed"),
    ("huge external_ref", "POST", ORD, "application/json", body(dict(GOOD, external_ref="r" * 300)), 422, "validation_failed"),
    ("csr not pem", "POST", ORD, "application/json", body({"csr": "hello world"}), 422, "invalid_csr"),
    ("csr bad base64", "POST", ORD, "application/json", body({"csr": "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n"}), 422, "invalid_csr"),
    ("csr random der", "POST", ORD, "application/json", body({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END CERTIFICATE REQUEST-----\n"}), 422, "invalid_csr"),
    ("csr unterminated", "POST", ORD, "application/json", body({"csr": "-----BEGIN CERTIFICATE REQUEST-----\nMIIB"}), 422, "invalid_csr"),
    ("csr is a certificate", "POST", ORD, "application/json", body({"csr": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}), 422, "invalid_csr"),
    ("text/plain", "POST", ORD, "text/plain", body(GOOD), 415, "unsupported_media_type"),
    ("form encoded", "POST", ORD, "application/x-www-form-urlencoded", b"subject=x", 415, "unsupported_media_type"),
    ("no content type", "POST", ORD, None, body(GOOD), 415, "unsupported_media_type"),
    ("json-ish type", "POST", ORD, "application/jsonx", body(GOOD), 415, "unsupported_media_type"),
    ("oversized body", "POST", ORD, "application/json", b'{"notes":"' + b"x" * 200000 + b'"}', 413, "body_too_large"),
    ("oversized patch", "PATCH", ORD + "/ord_000000000000000000000000", "application/json", b'{"notes":"' + b"x" * 200000 + b'"}', 413, "body_too_large"),
    ("path traversal", "GET", "/api/v1/orders/../../etc/passwd", None, b"", 404, "not_found"),
    ("encoded traversal", "GET", "/api/v1/orders/..%2f..%2fetc%2fpasswd", None, b"", 404, "not_found"),
    ("web traversal", "GET", "/..%2fCMakeLists.txt", None, b"", 404, "not_found"),
    ("dotfile", "GET", "/.git", None, b"", 404, "not_found"),
    ("double slash", "GET", "/api/v1//orders", None, b"", 404, "not_found"),
    ("trailing slash", "GET", "/api/v1/orders/", None, b"", 404, "not_found"),
    ("id with quote", "GET", "/api/v1/orders/ord'--", None, b"", 404, "not_found"),
    ("id too long", "GET", "/api/v1/orders/" + "a" * 100, None, b"", 404, "not_found"),
    ("wrong method", "DELETE", ORD, None, b"", 405, "method_not_allowed"),
    ("cancel text body", "POST", ORD + "/ord_000000000000000000000000/cancel", "text/plain", b"x", 415, "unsupported_media_type"),
    ("patch bad json", "PATCH", ORD + "/ord_000000000000000000000000", "application/json", b"{", 400, "invalid_json"),
    ("login bad json", "POST", "/api/v1/login", "application/json", b"{", 400, "invalid_json"),
    ("login unknown field", "POST", "/api/v1/login", "application/json", b'{"code":"x","user":"y"}', 400, "unknown_field"),
]


@pytest.mark.parametrize("name,method,path,ctype,payload,status,code", CASES, ids=[c[0] for c in CASES])
def test_malformed(daemon, name, method, path, ctype, payload, status, code):
    before = daemon.db_snapshot()
    headers = {"Content-Type": ctype} if ctype else {}
    if path.startswith("/api/v1/orders") and "%2f" in path:
        # send the encoded path untouched
        pass
    r = daemon.request(method, path, body=payload if payload else None, headers=headers)
    assert r.status == status, r
    assert r.header("Content-Type") == "application/problem+json"
    assert r.json()["code"] == code, r.json()
    assert daemon.db_snapshot() == before
    assert daemon.alive()
    assert daemon.get("/healthz", token=None).status == 200


def test_chunked_oversized_body(daemon):
    before = daemon.db_snapshot()
    payload = chunked(b'{"notes":"' + b"x" * 300000 + b'"}')
    st, out = daemon.raw(raw_http(daemon.port, "POST", ORD, [
        ("Authorization", "Bearer " + daemon.token), ("Content-Type", "application/json"),
        ("Transfer-Encoding", "chunked")], payload))
    assert st == 413, out[:500]
    assert b"body_too_large" in out
    assert daemon.db_snapshot() == before
    assert daemon.get("/healthz", token=None).status == 200


def test_chunked_small_body_works(daemon):
    payload = chunked(body({"subject": {"common_name": "chunked.example.com"}}), size=7)
    st, out = daemon.raw(raw_http(daemon.port, "POST", ORD, [
        ("Authorization", "Bearer " + daemon.token), ("Content-Type", "application/json"),
        ("Transfer-Encoding", "chunked")], payload))
    assert st == 201, out[:500]


def test_lying_content_length(daemon):
    before = daemon.db_snapshot()
    st, out = daemon.raw(raw_http(daemon.port, "POST", ORD, [
        ("Authorization", "Bearer " + daemon.token), ("Content-Type", "application/json"),
        ("Content-Length", "99999999999999999999")], b"{}"))
    assert st in (400, 413), out[:300]
    assert daemon.db_snapshot() == before
    assert daemon.get("/healthz", token=None).status == 200


def test_garbage_request_line(daemon):
    st, out = daemon.raw(b"\x00\x01\x02 garbage\r\n\r\n")
    assert st == 400 or st == 0
    st, out = daemon.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Long: " + b"a" * 100000 + b"\r\n\r\n")
    assert st in (0, 400, 413, 431)
    assert daemon.get("/healthz", token=None).status == 200


def test_many_cases(daemon):
    assert len(CASES) + 4 >= 40
