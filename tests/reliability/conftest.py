import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import amtc  # noqa: E402
from fixtures import ca, daemon, work  # noqa: E402,F401


@pytest.fixture(autouse=True)
def answers_keep_the_contract():
    """Every answer, in any thread, keeps openapi.yaml (amtc.Contract)."""
    seen = len(amtc.VIOLATIONS)
    yield
    lost = [msg for main, msg in amtc.VIOLATIONS[seen:] if not main]
    assert not lost, "\n".join(lost)
