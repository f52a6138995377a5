"""Property-based fuzzing of the HTTP boundary (hypothesis, fixed budget): whatever arrives at
POST /api/messages, the Telegram and Zalo webhooks (with their valid secret) or Open311, the
answer is never a 5xx and the server keeps serving. Served by uvicorn against the Bot API
emulators, as in production."""
from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings as hsettings, strategies as st

from tests.channel_helpers import Running
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.zalo import ZaloEmulator

# A fixed budget: no shrinking (a failure prints the example as generated), same examples each run.
BUDGET = dict(max_examples=40, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])

# Any Unicode, lone surrogates and NUL included (json.dumps escapes them as \\udXXX, \\u0000).
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
weird_numbers = st.one_of(
    st.integers(), st.integers(min_value=10 ** 18, max_value=10 ** 40), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2 ** 63, -(2 ** 63) - 1, 1e308, -0.0]))
scalars = st.one_of(st.none(), st.booleans(), weird_numbers, any_text)
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(any_text, inner, max_size=4)),
                           max_leaves=12)


def _body(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


@pytest.fixture(scope="module")
def emulators():
    tg, zl = TelegramEmulator().start(), ZaloEmulator().start()
    yield tg, zl
    tg.stop()
    zl.stop()


@pytest.fixture
def running(make_app, settings, emulators):
    from dataclasses import replace
    tg, zl = emulators
    tg.reset()
    zl.reset()
    with Running(make_app, replace(settings, open311_api_keys=["fuzz-key"]), webhook=True, telegram=tg, zalo=zl) as r:
        yield r, tg, zl


def _alive(r) -> None:
    assert httpx.get(r.url + "/healthz", timeout=30).status_code == 200


message_bodies = st.one_of(
    st.fixed_dictionaries({}, optional={
        "chat_id": scalars, "user_id": scalars, "text": scalars, "button": scalars, "message_id": scalars,
        "user_name": scalars,
        "location": st.one_of(scalars, st.fixed_dictionaries({"lat": scalars, "lon": scalars}))}).map(_body),
    json_values.map(_body),
    st.binary(max_size=200),
)


def test_fuzz_api_messages(running):
    r, _, _ = running

    @hsettings(**BUDGET)
    @given(body=message_bodies, session=st.one_of(st.none(), st.text(st.characters(codec="ascii"), max_size=50)))
    def check(body, session):
        headers = {"content-type": "application/json"}
        if session:
            headers["X-Session"] = session.replace("\r", "").replace("\n", "")
        try:
            resp = httpx.post(r.url + "/api/messages", content=body, headers=headers, timeout=60)
        except httpx.LocalProtocolError:
            return  # a header value httpx itself refuses to send
        assert resp.status_code < 500, (body[:200], resp.text[:300])
        data = resp.json()
        if resp.status_code == 200:
            assert set(data) == {"replies", "session"} and all(isinstance(x["text"], str) for x in data["replies"])
        else:
            assert data["error"]

    check()
    _alive(r)


def _tg_update(tg):
    base = tg.message(42, text="/start")
    fields = st.fixed_dictionaries({}, optional={
        "text": scalars, "caption": scalars, "message_id": scalars, "chat": st.one_of(scalars, st.fixed_dictionaries(
            {"id": scalars, "type": scalars})), "from": st.one_of(scalars, st.fixed_dictionaries(
                {"id": scalars, "is_bot": scalars, "first_name": scalars})),
        "location": st.one_of(scalars, st.fixed_dictionaries({"latitude": scalars, "longitude": scalars})),
        "photo": st.one_of(scalars, st.lists(st.dictionaries(st.sampled_from(["file_id", "file_size", "width", "height"]),
                                                             scalars), max_size=2))})
    return st.one_of(
        fields.map(lambda f: {"update_id": 7, "message": {**base, **f}}),
        st.fixed_dictionaries({"update_id": scalars, "message": json_values}),
        st.fixed_dictionaries({"update_id": st.integers(1, 10 ** 6), "callback_query": st.fixed_dictionaries(
            {"id": scalars, "data": scalars, "from": st.just(base["from"]), "message": st.just(base)})}),
        json_values,
    )


def test_fuzz_telegram_webhook(running):
    r, tg, _ = running
    secret = r.telegram.secret

    @hsettings(**BUDGET)
    @given(update=_tg_update(tg))
    def check(update):
        resp = httpx.post(r.url + "/webhook/telegram", content=_body(update), timeout=60,
                          headers={"content-type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret})
        assert resp.status_code < 500, (repr(update)[:300], resp.text[:300])

    check()
    _alive(r)


def test_fuzz_zalo_webhook(running):
    r, _, zl = running
    secret = r.zalo.secret
    base = zl.event("zu-1", "message.text.received", text="/start")
    events = st.sampled_from(["message.text.received", "message.image.received", "message.sticker.received",
                              "message.unsupported.received", "x"])
    message = st.fixed_dictionaries({}, optional={
        "text": scalars, "caption": scalars, "photo": scalars, "sticker": scalars, "message_id": scalars,
        "chat": st.one_of(scalars, st.fixed_dictionaries({"id": scalars, "chat_type": scalars})),
        "from": st.one_of(scalars, st.fixed_dictionaries({"id": scalars, "display_name": scalars, "is_bot": scalars})),
        "location": st.one_of(scalars, st.fixed_dictionaries({"latitude": scalars, "longitude": scalars}))})
    updates = st.one_of(
        st.tuples(events, message).map(lambda t: {"ok": True, "result": {
            **base, "event_name": t[0], "message": {**base["message"], **t[1]}}}),
        st.fixed_dictionaries({"ok": scalars, "result": json_values}),
        json_values)

    @hsettings(**BUDGET)
    @given(update=updates)
    def check(update):
        resp = httpx.post(r.url + "/webhook/zalo", content=_body(update), timeout=60,
                          headers={"content-type": "application/json", "X-Bot-Api-Secret-Token": secret})
        assert resp.status_code < 500, (repr(update)[:300], resp.text[:300])

    check()
    _alive(r)


open311_params = st.dictionaries(
    st.sampled_from(["service_request_id", "service_code", "start_date", "end_date", "status", "limit", "page",
                     "lat", "long"]),
    st.one_of(any_text, st.sampled_from(["0001-01-01", "9999-12-31T23:59:59Z", "²", "9" * 5000, "-1", "0",
                                         "2026-11-23", "open", "rac-thai", "PA-2026-000001", "1e999"])),
    max_size=4)


def test_fuzz_open311(running):
    r, _, _ = running
    base = r.url + "/open311/v2"

    @hsettings(**BUDGET)
    @given(params=open311_params, rid=any_text, form=st.dictionaries(
        st.sampled_from(["service_code", "lat", "long", "address_string", "description", "email", "phone",
                         "first_name", "media_url", "publish_description", "account_id"]), any_text, max_size=6),
        keyed=st.booleans())
    def check(params, rid, form, keyed):
        headers = {"X-Api-Key": "fuzz-key"} if keyed else {}
        safe = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in params.items()}
        resp = httpx.get(base + "/requests.json", params=safe, headers=headers, timeout=60)
        assert resp.status_code < 500, (params, resp.text[:300])
        path_id = base + "/requests/" + quote(rid.encode("utf-8", "surrogatepass"), safe="") + ".json"
        assert httpx.get(path_id, headers=headers, timeout=60).status_code < 500
        body = {"api_key": "fuzz-key", **{k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
                                          for k, v in form.items()}}
        resp = httpx.post(base + "/requests.json", data=body, timeout=60)
        assert resp.status_code < 500, (form, resp.text[:300])

    check()
    _alive(r)
