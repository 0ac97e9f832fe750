"""Runs last in tests/api: every (operation, status) that the API tests saw
the daemon answer must be listed in openapi.yaml for that operation."""
import re

import pytest

import amtc
from test_openapi import spec, METHODS


def template_of(path, templates):
    for t in templates:
        rx = "^" + re.sub(r"\{[^}]+\}", "[^/]+", t) + "$"
        if re.match(rx, path):
            return t
    return None


def test_seen_statuses_are_documented():
    if not amtc.SEEN:
        pytest.skip("run with the whole tests/api suite")
    s = spec()
    # concrete paths first: "/healthz" before "/{file}"
    templates = sorted(s["paths"], key=lambda t: ("{" in t, -len(t)))
    missing = set()
    for method, path, status in amtc.SEEN:
        t = template_of(path, templates)
        if t is None or method.lower() not in s["paths"][t]:
            continue  # 404/405 on a path or method that is no operation
        if status in (404, 405) and t == "/{file}":
            continue
        if str(status) not in s["paths"][t][method.lower()]["responses"]:
            missing.add((method, t, status))
    assert not missing, sorted(missing)
    assert len(amtc.SEEN) > 100
