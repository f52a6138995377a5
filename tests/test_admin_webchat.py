"""The web chat's photo upload: a real photo starts or feeds a report like a photo sent on Zalo;
anything else gets a clear Vietnamese 4xx. And the page itself carries what a phone needs."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from bot.config import ROOT
from tests.browser_helpers import jpeg


try:
    import bot.web_session  # noqa: F401
    HAS_SESSIONS = True
except ImportError:
    HAS_SESSIONS = False


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


def test_real_size_photo_is_accepted(client, app, tmp_path):
    """A phone photo is a few MB: the upload route must take it (the API's small body limit is
    for JSON, not photos)."""
    import random

    from PIL import Image
    rnd = random.Random(1)
    img = Image.frombytes("RGB", (1200, 900), bytes(rnd.getrandbits(8) for _ in range(1200 * 900 * 3)))
    img.save(tmp_path / "big.jpg", "JPEG", quality=95)
    data = (tmp_path / "big.jpg").read_bytes()
    assert len(data) > 1024 * 1024
    r = client.post("/api/messages/photo", data={"chat_id": "web-big"}, files={"photo": ("big.jpg", data, "image/jpeg")})
    assert r.status_code == 200, r.text


def test_photo_goes_to_the_callers_own_session(client, app, tmp_path):
    if not HAS_SESSIONS:
        pytest.skip("no server-issued web sessions in this tree")
    first = client.post("/api/messages", json={"text": "/phananh"})
    token = first.json()["session"]
    photo = jpeg(tmp_path / "a.jpg").read_bytes()
    r = client.post("/api/messages/photo", headers={"X-Session": token}, files={"photo": ("a.jpg", photo, "image/jpeg")})
    assert r.status_code == 200 and r.json()["session"] == token
    from sqlmodel import select

    from bot.models import Conversation
    with app.db.session() as s:
        chats = {c.chat_id for c in s.exec(select(Conversation).where(Conversation.channel == "web"))}
    assert len(chats) == 1 and next(iter(chats)).startswith("s-")


def test_photo_upload_refuses_bad_input(client):
    assert client.post("/api/messages/photo", json={"chat_id": "x"}).status_code == 415
    r = client.post("/api/messages/photo", data={"chat_id": "x"}, files={"photo": ("a.txt", b"hello", "text/plain")})
    assert r.status_code == 415 and "JPEG" in r.json()["error"]
    if not HAS_SESSIONS:  # the older API: the page names its chat
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
