"""Fixtures the API and interop suites share; their conftest.py imports
them. Module-scoped: each test file gets its own daemon, work directory and
test CA."""
import os
import sys
import tempfile

import pytest

import amtc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import testca  # noqa: E402


@pytest.fixture(scope="module")
def daemon():
    d = amtc.Daemon()
    yield d
    d.stop_checked()


@pytest.fixture(scope="module")
def work():
    with tempfile.TemporaryDirectory(prefix="amtc-") as d:
        yield d


@pytest.fixture(scope="module")
def ca(work):
    return testca.TestCA(os.path.join(work, "ca"))
