"""What the public can read: Open311 without a key (no personal data, rounded locations,
descriptions only with consent), credentials never in URLs, files only through expiring
signed links, and hostile Open311 / class API / download parameters answered with a 4xx."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import pytest
from fastapi.testclient import TestClient

from bot import signing
from handlers.reports.models import Report
from handlers.reports.open311 import mask_personal
from tests.conftest import Chat
from tests.reports_helpers import FakeNLU, file_report

KEY = "k-privacy-1"
BASE = "/open311/v2"


@pytest.fixture
def app(make_app, settings, understander):
    return make_app(settings=replace(settings, open311_api_keys=[KEY]), understander=FakeNLU(understander))


@pytest.fixture
def client(app):
    from bot.server import create_api
    return TestClient(create_api(app, background=False))


def _post(client, **fields):
    data = {"api_key": KEY, "service_code": "rac-thai", "lat": "16.067123", "long": "108.223456",
            "description": "Rác trước nhà em, gọi 0905 123 456 hoặc an@example.org",
            "first_name": "An", "last_name": "Nguyễn", "phone": "0905123456", "email": "an@example.org",
            "address_string": "12 Lê Lợi", "media_url": "https://example.org/a.jpg"}
    data.update(fields)
    r = client.post(BASE + "/requests.json", data={k: v for k, v in data.items() if v is not None})
    assert r.status_code == 200, r.text
    return r.json()[0]["service_request_id"]


PERSONAL = ("0905", "123 456", "an@example.org", "Nguyễn", "12 Lê Lợi", "example.org/a.jpg", "trước nhà em")


def test_public_reads_carry_no_personal_data(client):
    rid = _post(client)  # no consent: the description stays private
    for got in (client.get(f"{BASE}/requests/{rid}.json").json()[0], client.get(BASE + "/requests.json").json()[0]):
        text = repr(got)
        assert not any(p in text for p in PERSONAL), text
        assert got["description"] is None and got["address"] is None and got["media_url"] is None
        assert (got["lat"], got["long"]) == (16.067, 108.223)  # about 100 m
        assert got["service_code"] == "rac-thai" and got["status"] == "open" and got["requested_datetime"]
    full = client.get(f"{BASE}/requests/{rid}.json", headers={"X-Api-Key": KEY}).json()[0]
    assert full["lat"] == 16.067123 and "trước nhà em" in full["description"] and full["address"] == "12 Lê Lợi"
    bearer = client.get(f"{BASE}/requests/{rid}.json", headers={"Authorization": f"Bearer {KEY}"}).json()[0]
    assert bearer == full
    assert client.get(f"{BASE}/requests/{rid}.json", headers={"X-Api-Key": "wrong"}).status_code == 403


def test_published_description_is_masked(client):
    rid = _post(client, publish_description="true")
    got = client.get(f"{BASE}/requests/{rid}.json").json()[0]
    assert got["description"].startswith("Rác trước nhà em, gọi [đã ẩn] hoặc [đã ẩn]")
    assert "0905" not in repr(got) and "an@example.org" not in repr(got)
    assert client.post(BASE + "/requests.json", data={"api_key": KEY, "service_code": "rac-thai",
                                                      "address_string": "x", "publish_description": "maybe"}
                       ).status_code == 400


def test_anonymous_chat_report_is_not_identifiable(app, client, tmp_path):
    resident = Chat(app, chat_id="r-anon", name="Trần Thị Bình")
    file_report(resident, "Rác thải chất đống ở hẻm 12 Lê Lợi, số 0914222333", tmp_path=tmp_path)
    with app.db.session() as s:
        rep = s.get(Report, 1)
        rep.anonymous, rep.contact_name, rep.contact_phone = True, None, None
        s.add(rep)
    got = client.get(BASE + "/requests.json").json()
    assert len(got) == 1
    text = repr(got)
    for p in ("Bình", "0914", "r-anon", "12 Lê Lợi", "/media/", ".jpg"):
        assert p not in text, text
    assert got[0]["description"] is None and got[0]["media_url"] is None


@pytest.mark.parametrize("text,masked", [
    ("gọi 0905123456 nhé", "gọi [đã ẩn] nhé"),
    ("SĐT 0905.123.456", "SĐT [đã ẩn]"),
    ("+84 905 123 456", "[đã ẩn]"),
    ("mail x.y@z.vn", "mail [đã ẩn]"),
    ("số nhà 123, tổ 4", "số nhà 123, tổ 4"),
])
def test_mask_personal(text, masked):
    assert mask_personal(text) == masked


@pytest.mark.parametrize("params", [
    {"start_date": "0001-01-01"}, {"start_date": "0001-01-01T00:00:00Z"}, {"end_date": "9999-12-31"},
    {"limit": "²"}, {"limit": "9" * 5000}, {"limit": "0"}, {"limit": "١٢"}, {"page": "²"}, {"page": "-1"},
    {"page": "9" * 30}, {"service_request_id": "PA-2026-²²²²²²"}, {"service_request_id": "9" * 40},
    {"service_code": "\x00"}, {"status": "open\x00"}, {"service_code": "a" * 5000},
])
def test_open311_hostile_queries_are_400(client, params):
    r = client.get(BASE + "/requests.json", params=params)
    assert r.status_code == 400, r.text
    assert r.json()[0]["description"]


@pytest.mark.parametrize("rid", ["²", "9" * 5000, "PA-2026-00000١", "%00", "..%2F..%2Fetc"])
def test_open311_hostile_ids_are_404(client, rid):
    assert client.get(f"{BASE}/requests/{rid}.json").status_code == 404


def test_open311_page(client, app):
    for _ in range(3):
        _post(client, lat=None, long=None, address_string=f"{_} Lê Lợi")
    ids = lambda r: [x["service_request_id"] for x in r.json()]  # noqa: E731
    assert ids(client.get(BASE + "/requests.json", params={"limit": "2", "page": "2"})) == ["PA-2026-000001"]
    assert ids(client.get(BASE + "/requests.json", params={"limit": "2", "page": "9"})) == []


@pytest.mark.parametrize("form", [
    {"description": "a\x00b"}, {"first_name": "\x00"}, {"lat": "nan", "long": "nan"}, {"lat": "inf", "long": "1"},
    {"lat": "1e999", "long": "1"}, {"lat": "9" * 5000, "long": "1"},
])
def test_open311_hostile_posts_are_4xx(client, app, form):
    data = {"api_key": KEY, "service_code": "rac-thai", "address_string": "1 Lê Lợi", **form}
    r = client.post(BASE + "/requests.json", data=data)
    assert 400 <= r.status_code < 500, r.text
    with app.db.session() as s:
        assert s.get(Report, 1) is None


# --- credentials in URLs ------------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "/reports/teams/2026/q1.xlsx?token=tk_abc", "/api/classes/1?token=tk_abc", "/open311/v2/requests.json?api_key=x",
    "/api/notifications?session=abc", "/healthz?access_token=1",
])
def test_credentials_in_the_url_are_refused(client, url):
    r = client.get(url)
    assert r.status_code == 400 and "Authorization" in r.json()["error"]


def test_open311_post_with_key_in_the_url_is_refused(client, app):
    r = client.post(BASE + "/requests.json?api_key=" + KEY,
                    data={"service_code": "rac-thai", "address_string": "1 Lê Lợi"})
    assert r.status_code == 400
    with app.db.session() as s:
        assert s.get(Report, 1) is None


def test_token_in_x_token_header_works(client, app):
    from bot import roles as R, tokens
    from bot.models import Person
    now = app.clock.now()
    with app.db.session() as s:
        p = Person(channel="telegram", channel_user_id="9", chat_id="9", created_at=now, last_seen_at=now)
        s.add(p)
        s.flush()
        R.grant(s, p, R.STAFF, now)
        tok, _ = tokens.issue(s, p.id, now)
    assert client.get("/api/classes/424242").status_code == 401
    assert client.get("/api/classes/424242", headers={"X-Token": tok}).status_code == 404
    assert client.get("/api/classes/424242", headers={"Authorization": f"Bearer {tok}"}).status_code == 404


# --- signed files -------------------------------------------------------------------------------
def test_signed_links_expire_and_cannot_be_forged(client, app, settings):
    media = settings.data_dir / "media" / "zalo"
    media.mkdir(parents=True, exist_ok=True)
    photo = media / "p.jpg"
    photo.write_bytes(b"\xff\xd8photo")
    (settings.data_dir / "secret.txt").write_text("nope")
    key = signing.load_key(settings.data_dir)
    assert signing.load_key(settings.data_dir) == key  # generated once, then kept
    link = signing.sign(key, settings.data_dir, photo, ttl=3600)
    assert client.get("/files/" + link).content == b"\xff\xd8photo"
    token = link.split("/")[0]
    enc, exp, sig = token.split(".")
    assert client.get(f"/files/{enc}.{int(exp) + 86400}.{sig}/p.jpg").status_code == 404  # extended
    assert client.get(f"/files/{enc}.{exp}.{'0' * 32}/p.jpg").status_code == 404  # forged
    assert signing.sign(key, settings.data_dir, settings.data_dir / "secret.txt", 3600) is None
    assert signing.sign(key, settings.data_dir, "/etc/passwd", 3600) is None
    assert signing.sign(key, settings.data_dir, settings.data_dir / "media" / ".." / "secret.txt", 3600) is None
    # A link for a traversal path signed with the real key still serves nothing outside media/reports.
    import base64, hmac, hashlib
    rel = "media/../secret.txt"
    e = base64.urlsafe_b64encode(rel.encode()).decode().rstrip("=")
    x = int(datetime.now(timezone.utc).timestamp()) + 3600
    s = hmac.new(key, f"{rel}\n{x}".encode(), hashlib.sha256).hexdigest()[:32]
    assert client.get(f"/files/{e}.{x}.{s}/secret.txt").status_code == 404
    # Expired: an hour-long link is dead two hours later.
    old = signing.sign(key, settings.data_dir, photo, ttl=3600, now=datetime.now(timezone.utc).timestamp() - 7200)
    r = client.get("/files/" + old)
    assert r.status_code == 404 and r.json()["error"]


# --- class API and downloads --------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/classes/²", "/api/classes/" + "9" * 30, "/api/classes/%00"])
def test_class_api_hostile_ids(client, path):
    assert client.get(path).status_code in (401, 404)
    assert client.post(path + "/confirm").status_code in (401, 404)


@pytest.mark.parametrize("path", ["/reports/teams/²/q1.xlsx", "/reports/teams/" + "9" * 5000 + "/q1.xlsx",
                                  "/reports/teams/2026/q²/x.xlsx", "/reports/teams/2026/q1/%00.xlsx",
                                  "/reports/teams/2026/q1/..%2F..%2Fbot.db"])
def test_team_download_hostile_paths(client, path):
    assert client.get(path).status_code in (400, 401, 404)


def test_idle_web_sessions_expire_and_are_purged(app, clock):
    from scheduler.core import run_due
    from bot import web_session as W
    with app.db.session() as s:
        row, tok = W.create(s, clock.now(), label="x")
    with app.db.session() as s:
        assert W.find(s, tok, clock.now()).id == row.id
    clock.advance(days=W.IDLE_DAYS + 1)
    with app.db.session() as s:
        assert W.find(s, tok, clock.now()) is None  # expired: the browser gets a new one
    run_due(app, prefix="retention:")
    with app.db.session() as s:
        assert s.get(W.WebSession, row.id) is None


def _staff_token(app) -> str:
    from bot import roles as R, tokens
    from bot.models import Person
    now = app.clock.now()
    with app.db.session() as s:
        p = Person(channel="telegram", channel_user_id="77", chat_id="77", created_at=now, last_seen_at=now)
        s.add(p)
        s.flush()
        R.grant(s, p, R.STAFF, now)
        return tokens.issue(s, p.id, now)[0]


GOOD_CLASS = {"topic": "vneid", "starts_at": "2026-11-29T08:00", "cultural_house": "tdp-01", "capacity": 20}


@pytest.mark.parametrize("patch", [
    {"starts_at": "0001-01-01T00:00"}, {"starts_at": "9999-12-31T23:59"}, {"starts_at": "0001-01-01T00:00+14:00"},
    {"starts_at": 20261129}, {"starts_at": ["x"]}, {"starts_at": "x" * 5000},
    {"repeat": {"until": "0001-01-01"}}, {"repeat": {"until": "31/12/99999"}}, {"repeat": {"until": "²/²"}},
    {"repeat": {"weeks": 10 ** 17}}, {"repeat": {"weeks": "3"}}, {"repeat": [1]},
    {"capacity": 10 ** 17}, {"capacity": 1.5}, {"capacity": True}, {"capacity": "20"},
    {"duration_minutes": 10 ** 17}, {"topic": {"a": 1}}, {"cultural_house": 1}, {"cultural_house": ["tdp-01"]},
    {"place": 5, "cultural_house": None}, {"audience": {"groups": "tdp-01"}}, {"audience": {"team": 5}},
    {"audience": {"groups": [1, 2]}}, {"audience": 7},
])
def test_class_api_hostile_bodies_are_400(client, app, patch):
    tok = _staff_token(app)
    body = {**GOOD_CLASS, **patch}
    r = client.post("/api/classes", json={k: v for k, v in body.items() if v is not None},
                    headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]


def test_class_api_hostile_json_is_400(client, app):
    tok = _staff_token(app)
    for raw in (b"[" * 5000, b'{"capacity": NaN}', b'{"capacity": ' + b"9" * 5000 + b"}", b'{"topic": "\\u0000"}'):
        r = client.post("/api/classes", content=raw, headers={"Authorization": f"Bearer {tok}",
                                                               "content-type": "application/json"})
        assert r.status_code == 400, r.text


def test_the_reporters_name_is_masked_in_public_notes_and_descriptions(app, client, clock):
    """Staff answer the resident by name ("Đã gọi chị Trần Thị Bích Ngọc...") and that note is the
    public status_notes; a consented description may say "tôi là ...". The reporter's own names
    (the one given, the channel's, the contact) are masked in public reads like phone numbers."""
    from tests.reports_helpers import make_staff
    resident = Chat(app, chat_id="r-named", name="Ngọc Trần")
    resident.say("/hoten Trần Thị Bích Ngọc")
    file_report(resident, "Tôi là Trần Thị Bích Ngọc, rác thải chất đống ở đầu kiệt, Ngọc Trần báo")
    with app.db.session() as s:
        rep = s.get(Report, 1)
        rep.publish_description = True
        s.add(rep)
    lan = make_staff(app, clock)
    lan.press("pa:res:1")
    lan.say("Đã gọi chị Trần Thị Bích Ngọc, tổ vệ sinh đã dọn; cảm ơn chị Bích Ngọc")
    lan.press("pastaff:skip")
    got = client.get(BASE + "/requests.json").json()[0]
    assert got["status"] == "closed" or got["status_notes"]
    text = repr(got)
    for p in ("Bích Ngọc", "Ngọc Trần"):
        assert p not in text, text
    assert "tổ vệ sinh đã dọn" in got["status_notes"] and "rác thải chất đống" in got["description"]
    full = client.get(BASE + "/requests.json", headers={"X-Api-Key": KEY}).json()[0]
    assert "Trần Thị Bích Ngọc" in full["status_notes"]  # ward systems see everything
