"""The daemon's signature-and-validity verdict on each test chain agrees
with `openssl verify` on the same certificates at the same time."""
import calendar
import datetime as dt
import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def tamper(pem):
    der = bytearray(testca.pem_to_der(pem))
    der[-3] ^= 0x01  # inside the signature value
    return testca.der_to_pem(bytes(der))


@pytest.fixture(scope="module")
def pkis():
    with tempfile.TemporaryDirectory(prefix="amtc-interop-") as d:
        good = testca.TestCA(os.path.join(d, "good"))
        old = testca.TestCA(os.path.join(d, "old"), root_cn="Old Root", inter_cn="Old Issuing CA",
                            inter_not_before=dt.datetime(2020, 1, 1), inter_not_after=dt.datetime(2021, 1, 1))
        _k, leaf = good.issue("ok.example.com")
        _k, future = good.issue("future.example.com", not_before=NOW + dt.timedelta(days=30),
                                not_after=NOW + dt.timedelta(days=200))
        _k, old_leaf = old.issue("old.example.com", not_before=dt.datetime(2020, 2, 1),
                                 not_after=dt.datetime(2020, 12, 1))
        _k, expired_leaf = good.issue("gone.example.com", not_before=dt.datetime(2024, 1, 1),
                                      not_after=dt.datetime(2024, 6, 1))
        yield {
            # name: (leaf, intermediates, root, [times to evaluate at])
            "good": (leaf, good.inter_pem, good.root_pem, [NOW, NOW + dt.timedelta(days=400)]),
            "not yet valid leaf": (future, good.inter_pem, good.root_pem, [NOW, NOW + dt.timedelta(days=60)]),
            "expired leaf": (expired_leaf, good.inter_pem, good.root_pem, [NOW, dt.datetime(2024, 3, 1)]),
            "expired intermediate": (old_leaf, old.inter_pem, old.root_pem,
                                     [NOW, dt.datetime(2020, 6, 1), dt.datetime(2020, 12, 15)]),
            "bad leaf signature": (tamper(leaf), good.inter_pem, good.root_pem, [NOW]),
            "bad intermediate signature": (leaf, tamper(good.inter_pem), good.root_pem, [NOW]),
            "wrong intermediate": (leaf, old.inter_pem, good.root_pem, [NOW]),
        }


def daemon_verdict(daemon, leaf, inter, root, at):
    r = daemon.request("POST", "/api/v1/inspect?at=" + iso(at), body=(leaf + inter + root).encode(),
                       headers={"Content-Type": "application/x-pem-file"})
    assert r.status == 200, r
    checks = {c["id"]: c["status"] for c in r.json()["checks"]}
    return all(checks[c] == "pass" for c in ("chain_complete", "signatures", "validity")), checks


def openssl_verdict(leaf, inter, root, at):
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    with tempfile.TemporaryDirectory() as d:
        files = {}
        for name, pem in (("leaf", leaf), ("inter", inter), ("root", root)):
            files[name] = os.path.join(d, name + ".pem")
            with open(files[name], "w") as f:
                f.write(pem)
        import subprocess
        r = subprocess.run(["openssl", "verify", "-attime", str(calendar.timegm(at.utctimetuple())),
                            "-CAfile", files["root"], "-untrusted", files["inter"], files["leaf"]],
                           capture_output=True, text=True)
        return r.returncode == 0, r.stdout + r.stderr


def test_daemon_agrees_with_openssl(daemon, pkis):
    seen = set()
    for name, (leaf, inter, root, times) in pkis.items():
        for at in times:
            ours, checks = daemon_verdict(daemon, leaf, inter, root, at)
            theirs, out = openssl_verdict(leaf, inter, root, at)
            assert ours == theirs, (name, iso(at), checks, out)
            seen.add(ours)
    assert seen == {True, False}  # both verdicts were exercised
