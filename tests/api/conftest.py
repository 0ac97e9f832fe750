import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import amtc  # noqa: E402


@pytest.fixture(autouse=True)
def answers_keep_the_contract():
    """Every request fails on an answer that breaks openapi.yaml (amtc.Contract);
    this catches those made in other threads, where the error may be lost."""
    seen = len(amtc.VIOLATIONS)
    yield
    lost = [msg for main, msg in amtc.VIOLATIONS[seen:] if not main]
    assert not lost, "\n".join(lost)


@pytest.fixture(scope="module")
def daemon():
    d = amtc.Daemon()
    yield d
    rc = d.stop()
    err = d.read_stderr()
    d.tmp.cleanup()
    # A clean SIGTERM exit, and no sanitizer report in the log.
    assert rc == 0, err[-4000:]
    assert "ERROR: AddressSanitizer" not in err
    assert "runtime error:" not in err
