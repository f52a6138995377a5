"""The Zalo OA channel end to end: the bot's real HTTP app and database against the OA emulator
(signed webhook events, OAuth v4 tokens that expire and rotate, windows and quotas)."""
from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot.channels.zalo_oa import BUTTON_PREFIX, UNSUPPORTED
from bot.channels.zalo_oa_models import WebhookInbox, ZaloOaFallback, ZaloOaToken, ZaloOaUser
from bot.core import Button, Reply
from bot.models import OutboxMessage, Person, ProcessedUpdate
from tests.channel_helpers import Running, count_rows

PHOTO = b"\xff\xd8\xff\xe0" + b"JFIF-test-photo-" * 300


def _token_row(app) -> ZaloOaToken:
    with app.db.session() as s:
        return s.get(ZaloOaToken, 1)


def _replies_done(app) -> None:
    """Before the test moves the clocks: the direct replies' journal rows are gone (else a jump of
    days makes them look like an interrupted send, and the outbox sends them again)."""
    _wait(lambda: count_rows(app, OutboxMessage, kind="reply") == 0)


def _wait(pred, timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_a_signed_question_is_answered_as_a_free_reply_after_the_expired_token_is_refreshed(make_app, settings, oa):
    with Running(make_app, settings, zalo_oa=oa) as r:
        first_rt = oa.refresh_token
        oa.expire_access_token()
        ev = oa.text("u1001", "làm giấy khai sinh cho con cần gì")
        [answer] = oa.wait_sent("u1001")
        assert "khai sinh" in answer.text.lower()
        # Sent through /cs as a reply to the resident's message, with a refreshed token.
        assert answer.path == "/v3.0/oa/message/cs" and answer.kind == "reply"
        assert answer.body["recipient"] == {"message_id": ev["message"]["msg_id"]}
        assert answer.token == oa.access_token != r.settings.zalo_oa_access_token
        assert -216 in [code for _, code in oa.calls]  # user/detail or cs met the expired token first
        assert oa.used_refresh == [first_rt]
        row = _token_row(r.app)
        assert (row.access_token, row.refresh_token) == (oa.access_token, oa.refresh_token)
        assert row.source == "refresh" and row.access_expires_at is not None

        # A second expiry: the rotated refresh token (the first one is dead) is used.
        oa.expire_access_token()
        oa.text("u1001", "xin chào")
        oa.wait_sent("u1001", 2)
        assert len(oa.used_refresh) == 2 and oa.used_refresh[1] != first_rt
        assert _token_row(r.app).refresh_token == oa.refresh_token
        # The display name came from user/detail, once.
        assert count_rows(r.app, Person, channel="zalo_oa", display_name=oa.users["u1001"].display_name) == 1
        assert [c for c in oa.calls if c[0] == "/v3.0/oa/user/detail"][-1:] == [("/v3.0/oa/user/detail", 0)]
        assert len([c for c in oa.calls if c == ("/v3.0/oa/user/detail", 0)]) == 1
        assert all(status == 200 and secs < 2 for status, secs in oa.acks)


def test_bad_signatures_are_refused_and_nothing_is_processed(make_app, settings, oa):
    with Running(make_app, settings, zalo_oa=oa) as r:
        ev = oa.event("u2", "user_send_text", text="/start")
        assert oa.post(ev, signature=None).status_code == 401
        assert oa.post(ev, signature="mac=" + "0" * 64).status_code == 403
        assert oa.post(ev, signature="").status_code == 403
        # Signed with the app secret instead of the OA secret key, or the body altered.
        body = json.dumps(ev).encode()
        import hashlib
        wrong = hashlib.sha256(oa.app_id.encode() + body + ev["timestamp"].encode() + oa.app_secret.encode()).hexdigest()
        assert httpx.post(oa.webhook_url, content=body, headers={"X-ZEvent-Signature": f"mac={wrong}"}).status_code == 403
        good = oa.sign(body, ev["timestamp"])
        tampered = body.replace(b"/start", b"/help!")
        assert httpx.post(oa.webhook_url, content=tampered, headers={"X-ZEvent-Signature": good}).status_code == 403
        time.sleep(0.3)
        assert count_rows(r.app, WebhookInbox) == 0 and count_rows(r.app, ProcessedUpdate) == 0
        assert count_rows(r.app, Person) == 0 and not oa.sent
        # The genuine event goes through.
        assert httpx.post(oa.webhook_url, content=body, headers={"X-ZEvent-Signature": good}).status_code == 200
        assert "Xin chào" in oa.wait_sent("u2")[0].text


def test_redelivery_is_answered_once_and_echoes_are_ignored(make_app, settings, oa):
    with Running(make_app, settings, zalo_oa=oa) as r:
        ev = oa.text("u3", "/start")
        assert oa.post(ev).status_code == 200
        oa.wait_sent("u3")
        assert oa.post(ev).status_code == 200  # after the answer too
        # The OA echoes its own answer as oa_send_text: the bot must not answer itself.
        _wait(lambda: len([a for a in oa.acks]) >= 3)
        time.sleep(0.5)
        assert len(oa.sent_to("u3")) == 1
        assert count_rows(r.app, WebhookInbox) == 1
        assert count_rows(r.app, ProcessedUpdate, channel="zalo_oa") == 1


def test_location_with_string_coordinates_image_file_sticker(make_app, settings, oa):
    seen = []

    def setup(app):
        def spy(ctx):
            seen.append((list(ctx.msg.photos), list(ctx.msg.files), ctx.msg.location))
            return False
        app.router.media_handlers.insert(0, spy)

    with Running(make_app, settings, zalo_oa=oa, setup=setup) as r:
        oa.location("u4", 16.0678, 108.2208, "45 Trần Phú")
        assert oa.wait_sent("u4")[0].text
        assert seen[0][2].lat == 16.0678 and seen[0][2].lon == 108.2208
        oa.image("u5", PHOTO)
        assert oa.wait_sent("u5")
        [photo] = seen[1][0]
        assert photo.path and open(photo.path, "rb").read() == PHOTO
        assert str(r.settings.data_dir / "media" / "zalo_oa") in photo.path
        oa.file("u6", b"%PDF-1.4 test", "don.pdf")
        oa.wait_sent("u6")
        [f] = seen[2][1]
        assert f.kind == "file" and f.name == "don.pdf" and open(f.path, "rb").read() == b"%PDF-1.4 test"
        oa.sticker("u7")
        oa.wait_sent("u7")
        assert seen[3][1][0].kind == "sticker"
        oa.post(oa.event("u8", "user_send_audio", attachments=[{"type": "audio", "payload": {"url": "x"}}]))
        assert oa.wait_sent("u8")[0].text == UNSUPPORTED


def test_buttons_are_real_oa_buttons_and_their_payload_presses_them(make_app, settings, oa):
    with Running(make_app, settings, zalo_oa=oa) as r:
        oa.text("u9", "/hoicanbo")
        oa.wait_sent("u9")
        oa.text("u9", "Cho hỏi lệ phí chứng thực bản sao?")
        ask = oa.wait_sent("u9", 2)[-1]
        [skip] = ask.buttons
        assert skip["type"] == "oa.query.hide" and skip["payload"] == BUTTON_PREFIX + "handoff:skip"
        assert "1. " not in ask.text  # not a numbered list
        oa.press("u9", skip)
        confirm = oa.wait_sent("u9", 3)[-1]
        assert [b["payload"] for b in confirm.buttons] == [BUTTON_PREFIX + "handoff:send", BUTTON_PREFIX + "handoff:cancel"]
        assert [b["title"] for b in confirm.buttons] == ["Gửi", "Hủy"]
        oa.press("u9", confirm.buttons[0])
        assert "Đã gửi câu hỏi" in oa.wait_sent("u9", 4)[-1].text


def test_a_long_answer_is_split_at_2000(make_app, settings, oa):
    long = "\n".join(f"Dòng {i}: " + "thủ tục hành chính " * 8 for i in range(60))

    def setup(app):
        app.router.command("dai", "long")(lambda ctx, args: ctx.reply(long, buttons=[("Xong", "erase:no")]))

    with Running(make_app, settings, zalo_oa=oa, setup=setup):
        oa.text("u10", "/dai")
        _wait(lambda: sum(len(t) for t in oa.texts("u10")) >= len(long) - 200)
        time.sleep(0.3)
        parts = oa.sent_to("u10")
        assert len(parts) >= 3 and all(len(p.text) <= 2000 for p in parts)
        assert "\n".join(p.text for p in parts).replace("\n", "") == long.replace("\n", "")
        assert not any(p.buttons for p in parts[:-1]) and parts[-1].buttons[0]["title"] == "Xong"
        assert all(p.kind == "reply" for p in parts)


def test_follow_gets_welcome_and_privacy_unfollow_stops_notices(make_app, settings, oa, clock):
    from bot.outbox import enqueue
    with Running(make_app, settings, zalo_oa=oa) as r:
        oa.follow("u11")
        got = oa.wait_sent("u11", 2)
        assert "Xin chào" in got[0].text and ("dữ liệu" in got[1].text.lower())
        oa.unfollow("u11")
        _wait(lambda: count_rows(r.app, ZaloOaUser, user_id="u11", followed=False) == 1)
        with r.app.db.session() as s:
            enqueue(s, "zalo_oa", "u11", Reply("Lớp học mới"), clock.now())
        r.app.wake_outbox()
        _wait(lambda: count_rows(r.app, OutboxMessage, chat_id="u11", status="blocked") == 1)
        assert len(oa.sent_to("u11")) == 2


def test_proactive_notices_respect_windows_and_quota_with_fallbacks(make_app, settings, oa, clock):
    from bot.outbox import enqueue
    from dataclasses import replace
    with Running(make_app, replace(settings, zalo_zns_template_id="tpl-1"), zalo_oa=oa) as r:
        for uid in ("p1", "p2", "p3"):
            oa.text(uid, "/start")
            oa.wait_sent(uid)
        oa.submit_info("p2", "Trần B", "0905111222")  # consents to be contacted by phone
        oa.wait_sent("p2", 2)
        # p3 also uses Telegram with the same phone (a Person there).
        with r.app.db.session() as s:
            s.add(Person(channel="web", channel_user_id="w-p3", chat_id="w-p3", phone="0905333444"))
            p = s.exec(select(Person).where(Person.channel_user_id == "p3")).one()
            p.phone = "0905333444"
            s.add(p)
        # Inside the 48 h window: a free reply referring to the last message.
        with r.app.db.session() as s:
            enqueue(s, "zalo_oa", "p1", Reply("Phản ánh đã được tiếp nhận"), clock.now())
        r.app.wake_outbox()
        assert oa.wait_sent("p1", 2)[-1].kind == "reply"
        # Eight days later nobody is in a window any more.
        _replies_done(r.app)
        oa.advance(days=8)
        clock.advance(days=8)
        with r.app.db.session() as s:
            for uid in ("p1", "p2", "p3"):
                enqueue(s, "zalo_oa", uid, Reply(f"Lớp học mới cho {uid}"), clock.now())
        r.app.wake_outbox()
        _wait(lambda: count_rows(r.app, ZaloOaFallback) == 3 and count_rows(r.app, OutboxMessage, status="sending") == 0
              and count_rows(r.app, OutboxMessage, channel="zalo_oa", status="pending") == 0)
        with r.app.db.session() as s:
            routes = {f.user_id: f.route for f in s.exec(select(ZaloOaFallback))}
            rows = {o.chat_id: o for o in s.exec(select(OutboxMessage).where(
                OutboxMessage.channel == "zalo_oa", OutboxMessage.kind == "notice").order_by(OutboxMessage.id))}
        assert routes == {"p1": "held", "p2": "zns", "p3": "channel:web"}
        assert rows["p1"].status == "failed" and "held" in rows["p1"].last_error and rows["p1"].attempts == 1
        assert rows["p2"].status == "sent" and rows["p3"].status == "sent"
        assert oa.zns[0]["phone"] == "84905111222" and "Lớp học mới cho p2" in oa.zns[0]["template_data"]["message"]
        # Window errors are never retried: one refused cs call per message.
        assert len([s for s in oa.sent if s.status == -213]) == 3
        _wait(lambda: count_rows(r.app, OutboxMessage, channel="web", chat_id="w-p3") == 1)


def test_quota_exhausted_is_final(make_app, settings, oa, clock):
    from bot.outbox import enqueue
    with Running(make_app, settings, zalo_oa=oa) as r:
        oa.text("q1", "/start")
        oa.wait_sent("q1")
        _replies_done(r.app)
        oa.advance(hours=49)
        clock.advance(hours=49)
        oa.quota = 0
        with r.app.db.session() as s:
            enqueue(s, "zalo_oa", "q1", Reply("Nhắc lịch"), clock.now())
        r.app.wake_outbox()
        _wait(lambda: count_rows(r.app, OutboxMessage, chat_id="q1", status="failed") == 1)
        time.sleep(0.3)
        assert [s.status for s in oa.sent if s.status] == [-211]


def test_tokens_refresh_before_expiry_once_and_staff_are_warned(make_app, settings, oa, clock):
    with Running(make_app, settings, zalo_oa=oa) as r:
        ch = r.zalo_oa
        oa.expire_access_token()
        oa.text("t1", "/start")
        oa.wait_sent("t1")
        row = _token_row(r.app)
        assert row.access_expires_at is not None
        # 20 minutes before expiry, concurrent checks refresh exactly once.
        clock.set(row.access_expires_at - timedelta(minutes=20))
        import threading
        ts = [threading.Thread(target=ch.tokens.check) for _ in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        assert len(oa.used_refresh) == 2
        # Near the refresh token's end, staff get one warning.
        row = _token_row(r.app)
        clock.set(row.refresh_expires_at - timedelta(days=10))
        ch.tokens.check()
        ch.tokens.check()
        staff = r.app.profile.staff_chat
        with r.app.db.session() as s:
            warnings = list(s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == staff.chat_id)))
        assert len(warnings) == 1 and "connect" in warnings[0].payload["text"]


def test_consent_flow_with_pkce_gets_the_first_tokens(make_app, settings, oa):
    from dataclasses import replace
    from bot.channels.zalo_oa import start_consent
    s = replace(settings)
    with Running(make_app, s, zalo_oa=oa) as r:
        r.app.settings.public_url = r.url
        url = start_consent(r.app)
        assert url.startswith(oa.url + "/v4/oa/permission?") and "code_challenge=" in url
        # The admin opens the URL; Zalo sends the browser back to our callback.
        page = httpx.get(url, follow_redirects=True)
        assert page.status_code == 200 and "Đã kết nối" in page.text
        row = _token_row(r.app)
        assert row.source == "consent" and row.access_token == oa.access_token and row.pkce_verifier is None
        # A replayed or forged callback is refused.
        assert httpx.get(r.url + "/zalo-oa/oauth/callback", params={"code": "x", "state": "y"}).status_code == 400


def test_the_served_bot_seen_from_the_emulator_two_workers_one_refresher(settings, oa):
    """`python -m bot serve` configured only by the environment, twice on one database (two
    workers), driven from the outside by the OA emulator: what issue 13's "Done when" lists."""
    from concurrent.futures import ThreadPoolExecutor
    from tests.helpers import Server
    env = dict(ZALO_OA_APP_ID=oa.app_id, ZALO_OA_SECRET_KEY=oa.oa_secret_key, ZALO_APP_SECRET=oa.app_secret,
               ZALO_OA_ACCESS_TOKEN=oa.access_token, ZALO_OA_REFRESH_TOKEN=oa.refresh_token,
               ZALO_OA_API_URL=oa.url, ZALO_OAUTH_URL=oa.url)
    first_rt = oa.refresh_token
    srv, srv2 = Server(settings, **env).start(), Server(settings, **env).start()
    try:
        oa.webhook_url = srv.url + "/webhook/zalo-oa"
        oa.expire_access_token()
        # Both workers meet the expired token at the same moment: one refresh between them.
        ev1 = oa.event("r1", "user_send_text", text="làm giấy khai sinh cho con cần gì")
        ev2 = oa.event("r2", "user_send_text", text="/start")
        with ThreadPoolExecutor(2) as pool:
            acks = list(pool.map(lambda a: oa.post(a[0], url=a[1] + "/webhook/zalo-oa"), [(ev1, srv.url), (ev2, srv2.url)]))
        assert [a.status_code for a in acks] == [200, 200]
        [a1], [a2] = oa.wait_sent("r1", timeout=60), oa.wait_sent("r2", timeout=60)
        assert "khai sinh" in a1.text.lower() and "Xin chào" in a2.text
        assert a1.path == "/v3.0/oa/message/cs" and a1.body["recipient"] == {"message_id": ev1["message"]["msg_id"]}
        assert a1.token == a2.token == oa.access_token
        assert oa.used_refresh == [first_rt] and len(oa.refresh_calls) == 1
        # The same event again, to either worker: answered once.
        oa.post(ev1)
        oa.post(ev1, url=srv2.url + "/webhook/zalo-oa")
        # Unsigned and wrongly signed events are refused.
        bad = oa.event("r9", "user_send_text", text="/start")
        assert oa.post(bad, signature=None).status_code == 401
        assert oa.post(bad, signature="mac=deadbeef").status_code == 403
        # A second expiry is handled with the rotated refresh token.
        oa.expire_access_token()
        oa.text("r1", "cảm ơn")
        oa.wait_sent("r1", 2, timeout=60)
        assert len(oa.used_refresh) == 2 and oa.used_refresh[1] not in (first_rt,) and len(oa.refresh_calls) == 2
        # A location with string coordinates is answered.
        oa.location("r3", 16.0678, 108.2208, "Kiệt 45 Trần Phú")
        assert oa.wait_sent("r3", timeout=60)[0].text
        time.sleep(1.0)  # echoes of every answer reached the webhook by now
        assert len(oa.sent_to("r1")) == 2 and len(oa.sent_to("r2")) == 1 and not oa.sent_to("r9")
        echoes = len(oa.sent)  # each answer was echoed as oa_send_text and not answered
        assert echoes == 4
        ok = [secs for status, secs in oa.acks if status == 200]
        assert len(ok) >= 9 and max(ok) < 2.0, ok
        assert sorted({status for status, _ in oa.acks}) == [200, 401, 403]
    finally:
        srv.stop()
        srv2.stop()


@pytest.mark.parametrize("field", ["staff_chat", "leadership_chat", "units.0.chat"])
@pytest.mark.parametrize("channel", ["zalo", "zalo_oa"])
def test_the_ward_profile_refuses_a_zalo_group_chat(tmp_path, field, channel):
    import yaml
    from bot.config import ROOT
    from bot.profile import ProfileError, load_profile
    d = yaml.safe_load((ROOT / "knowledge" / "ward.yaml").read_text(encoding="utf-8"))
    ref = {"channel": channel, "chat_id": "g-123"}
    if field.startswith("units"):
        d["units"][0]["chat"] = ref
    else:
        d[field] = ref
    p = tmp_path / "ward.yaml"
    p.write_text(yaml.safe_dump(d, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        load_profile(p)
    assert f"{field}.channel" in str(e.value) and "không tham gia được nhóm" in str(e.value)


def test_events_stored_before_a_restart_are_handled_at_the_next_start(make_app, settings, oa, clock):
    """The inbox row is written before the acknowledgement: a crash right after it loses nothing."""
    ev = oa.event("s1", "user_send_text", text="/start")
    oa.user("s1").messages[ev["message"]["msg_id"]] = [oa.now(), 0]
    oa.user("s1").last_interaction = oa.now()
    app = make_app()
    with app.db.session() as s:
        s.add(WebhookInbox(channel="zalo_oa", event_key=ev["message"]["msg_id"], body=json.dumps(ev),
                           received_at=clock.now()))
    app.close()
    with Running(make_app, settings, zalo_oa=oa) as r:
        assert "Xin chào" in oa.wait_sent("s1")[0].text
        _wait(lambda: count_rows(r.app, WebhookInbox, done_at=None) == 0)


def test_photos_are_uploaded_or_linked_and_documents_linked(make_app, settings, oa, tmp_path):
    small, big = tmp_path / "small.jpg", tmp_path / "big.jpg"
    small.write_bytes(PHOTO)
    big.write_bytes(b"\xff\xd8\xff\xe0" + b"x" * (1024 * 1024 + 10))

    def setup(app):
        (app.settings.data_dir / "media").mkdir(parents=True, exist_ok=True)
        inside = app.settings.data_dir / "media" / "big.jpg"
        inside.write_bytes(big.read_bytes())
        app.router.command("anh", "photo")(lambda ctx, args: ctx.reply("Ảnh hiện trường", photo=str(small)))
        app.router.command("anhlon", "big photo")(lambda ctx, args: ctx.reply("Ảnh lớn", photo=str(inside)))

    with Running(make_app, settings, zalo_oa=oa, setup=setup) as r:
        oa.text("m1", "/anh")
        photo, text = oa.wait_sent("m1", 2)
        [el] = photo.body["message"]["attachment"]["payload"]["elements"]
        assert oa.uploads[el["attachment_id"]] == PHOTO and text.text == "Ảnh hiện trường"
        # Over 1 MB: not uploadable; with PUBLIC_URL it goes as a signed link the OA fetches.
        r.zalo_oa.public_url = r.url
        oa.text("m1", "/anhlon")
        photo = oa.wait_sent("m1", 4)[2]
        [el] = photo.body["message"]["attachment"]["payload"]["elements"]
        assert el["url"].startswith(r.url + "/files/zalo-oa/") and len(httpx.get(el["url"]).content) == big.stat().st_size
        assert httpx.get(el["url"].replace("/files/zalo-oa/", "/files/zalo-oa/x")).status_code == 404
        # The same expiring links as the other channels (bot/signing.py): media and reports only.
        assert r.zalo_oa.file_url(str(settings.data_dir / "bot.db")) is None
        assert r.zalo_oa.file_url(str(settings.data_dir / ".link-signing-key")) is None


def test_held_messages_are_listed_for_staff(make_app, settings, oa, clock):
    from bot.outbox import enqueue
    from tests.conftest import Chat
    from tests.reports_helpers import make_staff
    with Running(make_app, settings, zalo_oa=oa) as r:
        oa.text("h1", "/start")
        oa.wait_sent("h1")
        _replies_done(r.app)
        oa.advance(days=8)
        clock.advance(days=8)
        with r.app.db.session() as s:
            enqueue(s, "zalo_oa", "h1", Reply("Lịch tiêm chủng tuần sau"), clock.now())
        r.app.wake_outbox()
        _wait(lambda: count_rows(r.app, ZaloOaFallback, route="held") == 1)
        staff = make_staff(r.app, clock)
        out = Chat(r.app, chat_id="staff-1", user_id="staff-1").say("/oachuagui")[0].text
        assert "h1" in out and "Lịch tiêm chủng tuần sau" in out
        assert Chat(r.app, chat_id="staff-1", user_id="staff-1").say("/oachuagui")[0].text.startswith("Không có")
        resident = Chat(r.app, chat_id="x9", user_id="x9").say("/oachuagui")[0].text
        assert "h1" not in resident


def test_a_configured_transaction_template_carries_notices_outside_the_window(make_app, settings, oa, clock):
    from dataclasses import replace
    from bot.outbox import enqueue
    with Running(make_app, replace(settings, zalo_oa_transaction_template="transaction_event"), zalo_oa=oa) as r:
        oa.text("tx1", "/start")
        oa.wait_sent("tx1")
        _replies_done(r.app)
        oa.advance(days=30)
        clock.advance(days=30)
        with r.app.db.session() as s:
            enqueue(s, "zalo_oa", "tx1", Reply("Phản ánh PA-2026-000001 đã được xử lý xong"), clock.now())
        r.app.wake_outbox()
        tx = oa.wait_sent("tx1", 2)[-1]
        assert tx.path == "/v3.0/oa/message/transaction"
        payload = tx.body["message"]["attachment"]["payload"]
        assert payload["template_type"] == "transaction_event"
        assert "PA-2026-000001" in payload["elements"][-1]["content"]
        _wait(lambda: count_rows(r.app, OutboxMessage, chat_id="tx1", status="sent") == 1)
        assert count_rows(r.app, ZaloOaFallback, route="transaction") == 1


def test_handled_events_keep_only_their_key_and_are_purged_after_a_week(make_app, settings, oa, clock):
    from handlers.retention import purge
    with Running(make_app, settings, zalo_oa=oa) as r:
        ev = oa.text("k1", "số điện thoại của tôi là 0905 123 456")
        oa.wait_sent("k1")
        _wait(lambda: count_rows(r.app, WebhookInbox, done_at=None) == 0)
        with r.app.db.session() as s:
            [row] = s.exec(select(WebhookInbox)).all()
            assert row.event_key == ev["message"]["msg_id"] and row.body == ""
        assert oa.post(ev).status_code == 200  # still recognised
        time.sleep(0.3)
        assert len(oa.sent_to("k1")) == 1
        with r.app.db.session() as s:
            purge(r.app, s, clock.now() + timedelta(days=8))
        assert count_rows(r.app, WebhookInbox) == 0


def test_the_report_form_offers_the_oa_contact_form_and_the_submitted_phone_fills_it(make_app, settings, oa):
    with Running(make_app, settings, zalo_oa=oa) as r:
        uid = "rp1"
        oa.text(uid, "/phananh Rác đổ đống ở đầu kiệt 45 Trần Phú mấy ngày không ai dọn, bốc mùi")

        def press(data: str) -> None:
            last = [s for s in oa.sent_to(uid) if s.buttons][-1]
            oa.press(uid, next(b for b in last.buttons if b["payload"] == BUTTON_PREFIX + data))

        def wait_for(n: int):
            return oa.wait_sent(uid, n)

        n = len(wait_for(1))
        steps = [("press", "phananh:catok"), ("loc", None), ("text", "1")]
        for kind, arg in steps:
            if kind == "press":
                press(arg)
            elif kind == "loc":
                oa.location(uid, 16.0678, 108.2208, "Kiệt 45 Trần Phú")
            else:
                oa.text(uid, arg)
            got = wait_for(n + 1)
            n = len(got)
            time.sleep(0.3)
            n = len(oa.sent_to(uid))
        def is_form(sent) -> bool:
            att = sent.body["message"].get("attachment") or {}
            return (att.get("payload") or {}).get("template_type") == "request_user_info"

        _wait(lambda: any(is_form(x) for x in oa.sent_to(uid)), timeout=20)
        time.sleep(0.3)
        n = len(oa.sent_to(uid))
        assert is_form(oa.sent_to(uid)[-1]) and oa.sent_to(uid)[-2].buttons  # beside the contact buttons
        oa.submit_info(uid, "Trần Thị B", "0905 111 222", "45 Trần Phú")
        assert "công khai" in oa.wait_sent(uid, n + 1)[-1].text  # consent to publish the description
        press("phananh:pub:no")
        summary = oa.wait_sent(uid, n + 2)[-1]
        assert "gọi lại số 0905111222" in summary.text
        with r.app.db.session() as s:
            u = s.get(ZaloOaUser, uid)
            assert u.phone == "0905111222" and u.info_consent_at is not None and u.info_name == "Trần Thị B"
            assert s.exec(select(Person).where(Person.channel_user_id == uid)).one().phone == "0905111222"


def test_odd_signed_events_are_acknowledged_without_harm(make_app, settings, oa):
    with Running(make_app, settings, zalo_oa=oa) as r:
        odd = [{"event_name": "user_send_text", "timestamp": "1", "sender": "u-x", "message": {"msg_id": "a1"}},
               {"event_name": "user_send_image", "timestamp": "2", "sender": {"id": "u-y"},
                "message": {"msg_id": "a2", "attachments": [{"type": "image", "payload": ["x"]}]}},
               {"event_name": "user_send_location", "timestamp": "3", "sender": {"id": "u-z"},
                "message": {"msg_id": "a3", "attachments": [{"payload": {"coordinates": {"latitude": "abc"}}}]}},
               {"event_name": 5, "timestamp": "4"}, {"timestamp": "5"}]
        for ev in odd:
            assert oa.post(ev).status_code == 200
        assert oa.post(["not", "an", "object"]).status_code == 400
        assert "chưa xem được" in oa.wait_sent("u-z")[0].text  # unreadable coordinates: a polite answer
        assert httpx.get(r.url + "/healthz").status_code == 200
