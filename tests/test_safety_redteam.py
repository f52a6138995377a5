"""Attacks on what landed after issue 10 was filed (transfer, reopen, late team sessions, answer
feedback, the back-office flash cookie, names): each test is one attack that once worked."""
from __future__ import annotations

import base64
import json

import pytest
from fastapi.testclient import TestClient


@pytest.fixture
def client(app):
    from bot.server import create_api
    with TestClient(create_api(app, background=False), raise_server_exceptions=False) as c:
        yield c


def _flash(value) -> str:
    return base64.urlsafe_b64encode(value if isinstance(value, bytes) else json.dumps(value).encode()).decode()


def test_a_crafted_flash_cookie_is_ignored_never_a_500_and_never_html(client):
    """Anyone can send any bo_flash cookie to /admin/login: nesting, lone surrogates, NUL or
    markup must neither crash the page nor inject HTML."""
    for value in (b"[" * 2900, ["err", "\ud800x"], ["ok", "a\u0000b"], b'["err", NaN]', b"1" + b"0" * 3000,
                  {"ok": 1, "err": 2}, "ok", ["err", "<script>alert(1)</script>"], b"\xff\xfe", "x" * 5000):
        client.cookies.set("bo_flash", _flash(value), path="/admin")
        r = client.get("/admin/login")
        assert r.status_code == 200, (value if len(str(value)) < 80 else str(value)[:80], r.status_code)
        assert "<script>alert" not in r.text
    client.cookies.set("bo_flash", "%%%not-base64", path="/admin")
    assert client.get("/admin/login").status_code == 200
