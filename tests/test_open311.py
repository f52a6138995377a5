"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), JSON format, tested from the
standard: service list, service requests (GET list with filters, GET one, POST), status values,
w3c datetimes, and errors as a list of {code, description}."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot.models import ScheduledTask
from handlers.reports.models import Report
from tests.helpers import Server
from tests.reports_helpers import make_staff, outbox

KEY = "k-test-123"
BASE = "/open311/v2"
FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
          "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
          "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}


@pytest.fixture
def app(make_app, settings):
    return make_app(settings=replace(settings, open311_api_keys=["other-key", KEY]))


@pytest.fixture
def client(app):
    from bot.server import create_api
    return TestClient(create_api(app, background=False))


def post(client, **fields):
    data = {"api_key": KEY, "service_code": "rac-thai", "lat": "16.0671", "long": "108.2231",
            "description": "Rác chất đống trước chợ"}
    data.update(fields)
    return client.post(BASE + "/requests.json", data={k: v for k, v in data.items() if v is not None})


def assert_error(resp, code):
    assert resp.status_code == code, resp.text
    body = resp.json()
    assert isinstance(body, list) and len(body) == 1 and body[0]["code"] == code and body[0]["description"]


def test_services_one_per_category(client, app):
    r = client.get(BASE + "/services.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    services = r.json()
    assert [s["service_code"] for s in services] == list(app.categories)
    s = next(x for x in services if x["service_code"] == "tieng-on")
    assert s["service_name"] == "Tiếng ồn" and s["metadata"] is False and s["type"] == "realtime"
    assert s["group"] == "Công an phường" and isinstance(s["keywords"], str) and s["description"]


def test_post_creates_a_request_that_enters_the_lifecycle(client, app):
    r = post(client, address_string="Chợ Hàn, 119 Trần Phú", media_url="https://example.org/a.jpg",
             email="an@example.org", first_name="An", last_name="Nguyễn", phone="0905123456",
             device_id="dev-1", account_id="acc-9")
    assert r.status_code == 200, r.text
    (body,) = r.json()
    assert set(body) == {"service_request_id", "service_notice", "account_id"}
    assert body["service_request_id"] == "PA-2026-000001" and body["account_id"] == "acc-9"
    card = outbox(app, "-1001000000001", "report:1:card")[0].payload["text"]  # same routing as the chat
    assert "Open311" in card and "https://example.org/a.jpg" in card and "An Nguyễn" in card
    with app.db.session() as s:
        assert {t.key for t in s.exec(select(ScheduledTask).where(ScheduledTask.key.startswith("report:")))} == {"report:1:remind", "report:1:escalate"}
        rep = s.get(Report, 1)
        assert (rep.source, rep.contact_email, rep.external_account_id) == ("open311", "an@example.org", "acc-9")
    (got,) = client.get(BASE + "/requests/PA-2026-000001.json", headers={"X-Api-Key": KEY}).json()  # full detail
    assert FIELDS <= set(got)
    assert got["status"] == "open" and got["service_code"] == "rac-thai" and got["lat"] == 16.0671
    assert got["long"] == 108.2231 and got["address"] == "Chợ Hàn, 119 Trần Phú"
    assert got["agency_responsible"] == "Phòng Kinh tế, Hạ tầng và Đô thị phường"
    assert got["media_url"] == "https://example.org/a.jpg"
    req = datetime.fromisoformat(got["requested_datetime"])
    exp = datetime.fromisoformat(got["expected_datetime"])
    assert req.utcoffset() == timedelta(hours=7) and exp - req == timedelta(hours=48)


def test_address_alone_is_a_location(client):
    assert post(client, lat=None, long=None, address_string="12 Lê Lợi").status_code == 200


@pytest.mark.parametrize("fields,code", [
    ({"api_key": None}, 401),
    ({"api_key": "wrong"}, 403),
    ({"api_key": KEY[:-1]}, 403),
    ({"service_code": None}, 400),
    ({"service_code": "graffiti"}, 400),
    ({"lat": None, "long": None}, 400),
    ({"lat": "abc"}, 400),
    ({"long": None}, 400),
    ({"lat": "21.0285", "long": "105.8542"}, 400),  # outside the ward
    ({"email": "not-an-email"}, 400),
    ({"media_url": "javascript:alert(1)"}, 400),
    ({"description": "x" * 4001}, 413),
])
def test_post_errors(client, app, fields, code):
    assert_error(post(client, **fields), code)
    with app.db.session() as s:
        assert s.exec(select(Report)).first() is None


def test_post_needs_form_encoding_and_configured_keys(client, make_app, settings):
    r = client.post(BASE + "/requests.json", json={"api_key": KEY, "service_code": "rac-thai"})
    assert_error(r, 400)
    assert post(client, description="x" * 4000).status_code == 200  # exactly the limit is fine
    from bot.server import create_api
    no_keys = TestClient(create_api(make_app(settings=replace(settings, open311_api_keys=[])), background=False))
    assert_error(post(no_keys), 403)


def test_get_one_unknown_is_404(client):
    assert_error(client.get(BASE + "/requests/PA-2026-424242.json"), 404)


def test_get_requests_filters(client, app, clock):
    post(client)  # 1: rac-thai, today
    post(client, service_code="chieu-sang", lat="16.0700", long="108.2300")  # 2
    clock.advance(days=2)
    post(client, service_code="tieng-on", lat="16.0600", long="108.2200")  # 3
    ids = lambda r: [x["service_request_id"] for x in r.json()]  # noqa: E731
    assert ids(client.get(BASE + "/requests.json")) == ["PA-2026-000003", "PA-2026-000002", "PA-2026-000001"]
    assert ids(client.get(BASE + "/requests.json", params={"service_code": "rac-thai,tieng-on"})) == [
        "PA-2026-000003", "PA-2026-000001"]
    assert ids(client.get(BASE + "/requests.json",
                          params={"service_request_id": "PA-2026-000001,PA-2026-000003",
                                  "service_code": "chieu-sang"})) == ["PA-2026-000001", "PA-2026-000003"]
    start = (clock.local() - timedelta(days=1)).isoformat(timespec="seconds")
    assert ids(client.get(BASE + "/requests.json", params={"start_date": start})) == ["PA-2026-000003"]
    end = (clock.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")  # UTC with Z
    assert ids(client.get(BASE + "/requests.json", params={"end_date": end})) == [
        "PA-2026-000002", "PA-2026-000001"]
    assert ids(client.get(BASE + "/requests.json", params={"limit": "1"})) == ["PA-2026-000003"]
    # status: open until handled, then closed with the staff's note
    staff = make_staff(app, clock)
    staff.press("pa:rej:2")
    staff.say("Đèn thuộc dự án đang thi công, chủ đầu tư chịu trách nhiệm.")
    closed = client.get(BASE + "/requests.json", params={"status": "closed"}).json()
    assert [x["service_request_id"] for x in closed] == ["PA-2026-000002"]
    assert closed[0]["status"] == "closed" and "chủ đầu tư" in closed[0]["status_notes"]
    assert ids(client.get(BASE + "/requests.json", params={"status": "open"})) == [
        "PA-2026-000003", "PA-2026-000001"]
    # the default window is the last 90 days
    clock.advance(days=91)
    assert client.get(BASE + "/requests.json").json() == []
    assert len(client.get(BASE + "/requests.json", params={"start_date": "2026-01-01"}).json()) == 3


@pytest.mark.parametrize("params", [
    {"start_date": "yesterday"}, {"end_date": "2026-13-45"}, {"status": "pending"},
    {"service_code": "graffiti"}, {"start_date": "2026-11-20", "end_date": "2026-11-01"}, {"limit": "-3"},
])
def test_get_requests_bad_filters(client, params):
    assert_error(client.get(BASE + "/requests.json", params=params), 400)


def test_real_http_server(settings):
    """The real server as a subprocess: POST form-encoded, then read it back."""
    srv = Server(settings, OPEN311_API_KEYS="a-key,another").start()
    try:
        r = httpx.post(srv.url + BASE + "/requests.json", timeout=30,
                       data={"api_key": "another", "service_code": "cay-xanh", "address_string": "25 Bạch Đằng",
                             "description": "Cành cây gãy treo lơ lửng trên vỉa hè"})
        assert r.status_code == 200, r.text
        rid = r.json()[0]["service_request_id"]
        got = httpx.get(f"{srv.url}{BASE}/requests/{rid}.json", timeout=30).json()
        assert got[0]["status"] == "open" and got[0]["service_name"].startswith("Cây xanh")
        bad = httpx.post(srv.url + BASE + "/requests.json", timeout=30,
                         data={"api_key": "nope", "service_code": "cay-xanh", "address_string": "x y z"})
        assert bad.status_code == 403 and bad.json()[0]["code"] == 403
        assert httpx.get(srv.url + BASE + "/services.json", timeout=30).json()[0]["service_code"] == "rac-thai"
    finally:
        srv.stop()
