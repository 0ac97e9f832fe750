"""The bad-input corpus (issue 10): every case of corpus/cases.json against
a live daemon. Each must get its expected status (and problem code), leave
every row of the database as it was (api_tokens.last_used_at aside: using
a token is not a write of the request), write nothing where a file name
in it points, and leave the daemon answering."""
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
with open(os.path.join(CORPUS, "cases.json")) as _f:
    CASES = json.load(_f)["cases"]
TRIED = []  # (name, status) of each case run


@pytest.fixture(scope="module")
def big():
    """The big files, made by make.py for this run."""
    with tempfile.TemporaryDirectory(prefix="amtc-corpus-") as d:
        subprocess.run([sys.executable, os.path.join(CORPUS, "make.py"), d], check=True,
                       capture_output=True)
        yield d


@pytest.fixture(scope="module")
def order(daemon):
    r = daemon.post("/api/v1/orders", {"subject": {"common_name": "rcs.vpro.example.com", "organization": "Example",
                                                   "country": "US"}, "dns_suffix": "vpro.example.com"})
    assert r.status == 201, r
    return r.json()["id"]


def dump(db_path):
    """Every row of every table, api_tokens.last_used_at left out."""
    con = sqlite3.connect("file:%s?mode=ro" % db_path, uri=True)
    try:
        out = {}
        for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
            cols = [r[1] for r in con.execute('PRAGMA table_info("%s")' % t)
                    if not (t == "api_tokens" and r[1] == "last_used_at")]
            out[t] = con.execute('SELECT %s FROM "%s" ORDER BY 1' % (
                ", ".join('"%s"' % c for c in cols), t)).fetchall()
        return out
    finally:
        con.close()


def payload(case, big):
    if case.get("body") is not None:
        return case["body"].encode()
    if not case.get("file"):
        return b""
    for d in (os.path.join(CORPUS, "files"), big):
        p = os.path.join(d, case["file"])
        if os.path.exists(p):
            with open(p, "rb") as f:
                return f.read()
    raise AssertionError("no file %s: run corpus/make.py" % case["file"])


def multipart(name, data):
    b = "----amtcertdcorpus"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % (b, name)).encode() + data
    return body + ("\r\n--%s--\r\n" % b).encode(), "multipart/form-data; boundary=" + b


def chunked(data, size=65536):
    out = bytearray()
    for i in range(0, len(data), size):
        c = data[i:i + size]
        out += b"%x\r\n" % len(c) + c + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def send_raw(daemon, case, path, body, timeout):
    host = case.get("host", "127.0.0.1:{port}")
    lines = ["%s %s HTTP/%s" % (case["method"], path, case.get("http", "1.1")), "Connection: close"]
    if host is not None:
        lines.append("Host: " + host.replace("{port}", str(daemon.port)))
    if case.get("token", True):
        lines.append("Authorization: Bearer " + daemon.token)
    if case.get("content_type"):
        lines.append("Content-Type: " + case["content_type"])
    for k, v in case.get("headers", {}).items():
        lines.append("%s: %s" % (k, v))
    if case.get("chunked"):
        lines.append("Transfer-Encoding: chunked")
        body = chunked(body)
    elif body or case["method"] in ("POST", "PATCH"):
        lines.append("Content-Length: %d" % len(body))
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=timeout)
    out = b""
    try:
        try:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole body was sent: read the answer
        while True:
            try:
                c = s.recv(65536)
            except ConnectionResetError:
                break
            if not c:
                break
            out += c
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
    head, _, rest = out.partition(b"\r\n\r\n")
    code = re.search(rb'"code"\s*:\s*"([a-z_]+)"', rest)
    return (int(m.group(1)) if m else 0), (code.group(1).decode() if code else None), out[:600]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input(daemon, order, big, case):
    path = case["route"].replace("{order}", order)
    body = payload(case, big)
    timeout = case.get("timeout", 120)
    expect = case["expect"] if isinstance(case["expect"], list) else [case["expect"]]
    before = dump(daemon.db_path)
    status = 0
    try:
        if case.get("raw"):
            status, code, seen = send_raw(daemon, case, path, body, timeout)
        else:
            headers = dict(case.get("headers", {}))
            if case.get("multipart"):
                body, headers["Content-Type"] = multipart(case["multipart"], body)
            elif case.get("content_type"):
                headers["Content-Type"] = case["content_type"]
            r = daemon.request(case["method"], path, body=body, headers=headers, token=case.get("token", True),
                               timeout=timeout)
            status, seen = r.status, r
            code = r.json().get("code") if r.header("Content-Type") == "application/problem+json" else None
    except socket.timeout:
        raise AssertionError("%s: no answer within %d s" % (case["name"], timeout))
    finally:
        TRIED.append((case["name"], status))
    assert status in expect, "%s: answered %d, expected %s: %r" % (case["name"], status, expect, seen)
    if case.get("code"):
        assert code == case["code"], "%s: code %r, expected %r: %r" % (case["name"], code, case["code"], seen)
    assert dump(daemon.db_path) == before, "%s changed the database" % case["name"]
    for p in case.get("absent", []):
        assert not os.path.exists(p), "%s wrote %s" % (case["name"], p)
    assert daemon.alive()
    assert daemon.get("/healthz", token=None).status == 200


def test_corpus_figures(capsys):
    """The figures for the closing note (runs after the cases)."""
    assert TRIED, "no case ran"
    with capsys.disabled():
        print("\nreliability: corpus: %d of %d bad inputs tried (%d answered 4xx)" % (
            len(TRIED), len(CASES), sum(1 for _, s in TRIED if 400 <= s < 500)))
