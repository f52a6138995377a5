"""The web chat's photo upload: a real photo starts or feeds a report like a photo sent on Zalo;
anything else gets a clear Vietnamese 4xx. And the page itself carries what a phone needs."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.config import ROOT
from tests.browser_helpers import jpeg


@pytest.fixture
def client(app):
    from bot.server import create_api
    with TestClient(create_api(app, background=False)) as c:
        yield c


def test_photo_upload_is_a_photo_message(client, app, tmp_path):
    photo = jpeg(tmp_path / "hien-truong.jpg").read_bytes()
    r = client.post("/api/messages/photo", data={"chat_id": "web-anh"}, files={"photo": ("a.jpg", photo, "image/jpeg")})
    assert r.status_code == 200, r.text
    text = "\n".join(x["text"] for x in r.json()["replies"])
    assert "ảnh" in text.lower() and ("phản ánh" in text.lower() or "Phản ánh" in text)
    stored = list((app.settings.data_dir / "media" / "web").iterdir())
    assert len(stored) == 1 and stored[0].read_bytes() == photo


def test_photo_upload_refuses_bad_input(client):
    assert client.post("/api/messages/photo", json={"chat_id": "x"}).status_code == 415
    r = client.post("/api/messages/photo", data={"chat_id": "x"}, files={"photo": ("a.txt", b"hello", "text/plain")})
    assert r.status_code == 415 and "JPEG" in r.json()["error"]
    r = client.post("/api/messages/photo", data={"chat_id": ""}, files={"photo": ("a.jpg", b"\xff\xd8\xff", "image/jpeg")})
    assert r.status_code == 400 and r.json()["error"]
    r = client.post("/api/messages/photo", data={"chat_id": "x"}, files={"caption": (None, "chỉ có chữ")})
    assert r.status_code == 400 and "ảnh" in r.json()["error"]
    big = b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024 + 10)
    r = client.post("/api/messages/photo", data={"chat_id": "x"}, files={"photo": ("a.jpg", big, "image/jpeg")})
    assert r.status_code == 413


def test_page_and_embed_snippet(client):
    page = client.get("/")
    assert page.status_code == 200
    for needle in ('name="viewport"', 'id="photo"', "geolocation", 'id="consent"', "/api/messages/photo"):
        assert needle in page.text
    js = client.get("/static/embed.js")
    assert js.status_code == 200 and "iframe" in js.text and 'allow = "geolocation"' in js.text
    assert (ROOT / "bot" / "static" / "leaflet" / "leaflet.js").stat().st_size > 100_000
