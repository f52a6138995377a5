"""Telegram and Zalo end to end: the real clients (python-telegram-bot, httpx) against local
emulators of both Bot APIs, the bot's real HTTP app, the real database."""
from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlmodel import select

from bot import texts
from bot.channels.render import numbered, split_text
from bot.core import Attachment, Button, Location, Reply
from bot.models import OutboxMessage, Person, ProcessedUpdate
from tests.channel_helpers import Running, count_rows, norm
from tests.conftest import Chat
from tests.emulators.telegram import TelegramEmulator
from tests.emulators.zalo import ZaloEmulator

PHOTO = b"\xff\xd8\xff\xe0" + b"JFIF-test-photo-" * 300


@pytest.fixture(scope="module")
def _tg_server():
    emu = TelegramEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def _zl_server():
    emu = ZaloEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def tg(_tg_server):
    _tg_server.reset()  # one emulator for the module, a clean one for each test
    return _tg_server


@pytest.fixture
def zl(_zl_server):
    _zl_server.reset()
    return _zl_server


def _buttons(call) -> list[str]:
    markup = call.params.get("reply_markup") or {}
    return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]


STEPS = [
    ("text", "/start"),
    ("text", "làm giấy khai sinh cho con cần gì"),
    ("text", "/hoicanbo"),
    ("text", "Cho hỏi lệ phí chứng thực bản sao?"),
    ("press", "handoff:skip"),
    ("press", "handoff:send"),
    ("photo", None),  # outside any form: "report what is in the photo?"
    ("press", "pamedia:yes"),
    ("text", "Rác đổ đống ở đầu kiệt 45 Trần Phú mấy ngày không ai dọn, bốc mùi"),
    ("press", "phananh:catok"),
    ("location", (16.0678, 108.2208)),  # at the photo step: photos done, here is the place
    ("press", "phananh:grp:tdp-01"),
    ("press", "phananh:chatonly"),
    ("press", "phananh:pub:no"),
    ("press", "phananh:send"),
]
PRESSES = sum(kind == "press" for kind, _ in STEPS)


def _close_open_reports(app) -> None:
    """A report at the same place within 48 h would be linked as a duplicate; each channel's run
    must file its own, so the previous one is closed quietly first."""
    from handlers.reports import service as RS
    from handlers.reports.models import OPEN_STATUSES, REJECTED, Report
    with app.db.session() as s:
        for rep in s.exec(select(Report).where(Report.status.in_(OPEN_STATUSES))):
            RS.transition(app, s, app.clock.now(), rep, REJECTED, None, "test", note="test", notify=False)


def test_same_conversation_same_answers_on_telegram_zalo_zalo_oa_and_local(make_app, settings, tg, zl, oa, tmp_path):
    media_seen = []

    def setup(app):
        def spy(ctx):  # sees what reaches the core, then lets the default answer through
            media_seen.append((ctx.msg.channel, list(ctx.msg.photos), ctx.msg.location))
            return False
        app.router.media_handlers.insert(0, spy)

    photo_file = tmp_path / "local.jpg"
    photo_file.write_bytes(PHOTO)
    with Running(make_app, settings, telegram=tg, zalo=zl, zalo_oa=oa, setup=setup) as r:
        local = Chat(r.app, chat_id="local-1", channel="web")
        expected: list[list[Reply]] = []
        for kind, arg in STEPS:
            if kind == "text":
                expected.append(local.say(arg))
            elif kind == "press":
                expected.append(local.press(arg))
            elif kind == "photo":
                expected.append(local.say(photos=[Attachment(kind="photo", path=str(photo_file))]))
            else:
                expected.append(local.say(location=Location(*arg)))
        assert "Giấy khai sinh" in expected[1][0].text or "khai sinh" in expected[1][0].text.lower()
        assert [b.data for b in expected[3][0].buttons] == ["handoff:skip"]
        assert "phản ánh sự việc trong ảnh" in expected[6][0].text
        assert "PA-" in expected[-1][0].text and "Phòng Kinh tế" in expected[-1][-1].text + expected[-1][0].text
        _close_open_reports(r.app)

        # Telegram: the same texts, buttons as an inline keyboard, presses as callback queries.
        for (kind, arg), replies in zip(STEPS, expected):
            before = len(tg.sent(42))
            if kind == "text":
                tg.text(42, arg)
            elif kind == "press":
                tg.press(42, arg)
            elif kind == "photo":
                tg.photo(42, PHOTO)
            else:
                tg.location(42, *arg)
            n = sum(len(split_text(x.text, 4096)) for x in replies)
            got = tg.wait_sent(42, before + n)[before:]
            assert norm("\n".join(c.params["text"] for c in got)) == norm("\n".join(x.text for x in replies))
            assert _buttons(got[-1]) == [b.data for b in replies[-1].buttons]
        assert len(tg.calls_of("answerCallbackQuery")) == PRESSES
        _close_open_reports(r.app)

        # Zalo: the same texts with the options numbered; "1" presses the first option.
        prev: list[Reply] = []
        for (kind, arg), replies in zip(STEPS, expected):
            before = len(zl.sent("zu-1"))
            if kind == "text":
                zl.text("zu-1", arg)
            elif kind == "press":
                options = [b.data for x in prev for b in x.buttons]
                zl.text("zu-1", str(options.index(arg) + 1))
            elif kind == "photo":
                zl.photo("zu-1", PHOTO)
            else:  # Zalo's Bot API has no location messages: residents paste a Maps link
                zl.text("zu-1", f"https://maps.google.com/?q={arg[0]},{arg[1]}")
            n = sum(len(split_text(numbered(x), 2000)) for x in replies)
            got = zl.wait_sent("zu-1", before + n)[before:]
            assert all(len(c.params["text"]) <= 2000 for c in got)
            assert norm("\n".join(c.params["text"] for c in got)) == norm("\n".join(numbered(x) for x in replies))
            prev = replies
        _close_open_reports(r.app)

        # Zalo OA: up to 5 options are real OA buttons whose payload comes back as the resident's
        # message; more are numbered. Photos and locations (string coordinates) are real events.
        from bot.channels.zalo_oa import BUTTON_PREFIX, CONTACT_BUTTON, MAX_BUTTONS

        def oa_text(x: Reply) -> str:
            return x.text if len(x.buttons) <= MAX_BUTTONS else numbered(x)

        prev_sent, prev = [], []
        for (kind, arg), replies in zip(STEPS, expected):
            before = len(oa.sent_to("ou-1"))
            if kind == "text":
                oa.text("ou-1", arg)
            elif kind == "press":
                real = [b for sent in prev_sent for b in sent.buttons if b["payload"] == BUTTON_PREFIX + arg]
                if real:
                    oa.press("ou-1", real[0])
                else:
                    options = [b.data for x in prev for b in x.buttons]
                    oa.text("ou-1", str(options.index(arg) + 1))
            elif kind == "photo":
                oa.image("ou-1", PHOTO)
            else:
                oa.location("ou-1", *arg)
            forms = sum(any(b.data == CONTACT_BUTTON for b in x.buttons) for x in replies)  # + contact form
            n = sum(len(split_text(oa_text(x), 2000)) for x in replies) + forms
            got = oa.wait_sent("ou-1", before + n)[before:]
            assert all(len(sent.text) <= 2000 and sent.kind == "reply" for sent in got)
            assert len([sent for sent in got if not sent.text]) == forms
            got = [sent for sent in got if sent.text]
            assert norm("\n".join(sent.text for sent in got)) == norm("\n".join(oa_text(x) for x in replies))
            last = replies[-1].buttons
            assert [b["payload"] for b in got[-1].buttons] == (
                [BUTTON_PREFIX + b.data for b in last] if len(last) <= MAX_BUTTONS else [])
            prev_sent, prev = got, replies
        time.sleep(0.2)
        assert len(tg.sent(42)) == sum(sum(len(split_text(x.text, 4096)) for x in rs) for rs in expected)

        # Photos were downloaded into BOT_DATA_DIR/media and reached the core; each channel's
        # report carries its photo and the shared location.
        from handlers.reports.models import Report
        by_channel = {}
        for channel, photos, loc in media_seen:
            by_channel.setdefault(channel, []).append((photos, loc))
        with r.app.db.session() as s:
            reports = {rep.channel: rep for rep in s.exec(select(Report))}
        assert set(reports) == {"web", "telegram", "zalo", "zalo_oa"}
        for channel in ("telegram", "zalo", "zalo_oa"):
            [(photos, _)] = by_channel[channel]
            assert len(photos) == 1 and Path(photos[0].path).read_bytes() == PHOTO
            assert Path(photos[0].path).is_relative_to(r.settings.data_dir / "media")
            rep = reports[channel]
            assert (rep.lat, rep.lon) == (16.0678, 108.2208) and rep.category == "rac-thai"
            assert [p["path"] for p in rep.photos] == [photos[0].path]
        # One person per channel user; the handoffs came from each channel's chat.
        assert count_rows(r.app, Person, channel="telegram") == 1 and count_rows(r.app, Person, channel="zalo") == 1
        assert count_rows(r.app, Person, channel="zalo_oa") == 1
    assert [c["command"] for c in tg.commands][:2] == ["start", "help"]
    assert all(c["description"] for c in tg.commands)


def test_webhook_mode_refuses_a_missing_or_wrong_secret(make_app, settings, tg, zl):
    with Running(make_app, settings, webhook=True, telegram=tg, zalo=zl) as r:
        assert tg.webhook_url == r.url + "/webhook/telegram" and tg.webhook_secret
        assert zl.webhook_url == r.url + "/webhook/zalo" and 8 <= len(zl.webhook_secret) <= 256
        upd = {"update_id": 1, "message": tg.message(42, text="/start")}
        zupd = {"ok": True, "result": zl.event("zu-1", "message.text.received", text="/start")}
        for path, body, header in (("/webhook/telegram", upd, "X-Telegram-Bot-Api-Secret-Token"),
                                   ("/webhook/zalo", zupd, "X-Bot-Api-Secret-Token")):
            assert httpx.post(r.url + path, json=body).status_code == 401
            assert httpx.post(r.url + path, json=body, headers={header: "wrong-secret"}).status_code == 403
            assert httpx.post(r.url + path, json=body, headers={header: ""}).status_code == 403
        assert count_rows(r.app, ProcessedUpdate) == 0 and count_rows(r.app, Person) == 0
        assert not tg.calls_of("sendMessage") and not zl.calls_of("sendMessage")
        # With the secret the platforms registered, the same updates are handled.
        tg.inject(upd)
        zl.inject(zupd["result"])
        assert tg.last_webhook_status == 200 and zl.last_webhook_status == 200
        assert "Xin chào" in tg.texts(42)[0] and "Xin chào" in zl.wait_sent("zu-1")[0].params["text"]
        assert not tg.calls_of("getUpdates") and not zl.calls_of("getUpdates")


def test_duplicate_delivery_is_handled_once(make_app, settings, tg, zl):
    with Running(make_app, settings, webhook=True, telegram=tg, zalo=zl) as r:
        upd = tg.text(42, "/start")
        tg.inject(upd)  # Telegram redelivers when it missed our 200
        press = tg.press(42, "erase:no")
        tg.inject(press)
        ev = zl.text("zu-1", "/start")
        zl.inject(ev)
        zl.wait_sent("zu-1")
        time.sleep(0.3)
        assert len(tg.sent(42)) == 2 and len(zl.sent("zu-1")) == 1
        assert tg.texts(42)[1] == "Đã giữ nguyên dữ liệu của bạn."
        assert count_rows(r.app, ProcessedUpdate, channel="telegram") == 2


def test_duplicate_delivery_in_polling_mode(make_app, settings, tg, zl):
    with Running(make_app, settings, telegram=tg, zalo=zl) as r:
        upd = {"update_id": 5000, "message": tg.message(42, text="/start")}
        tg.inject(upd)
        tg.inject({**upd, "update_id": 5001})  # same message in a new update: still one answer
        ev = zl.event("zu-1", "message.text.received", text="/start")
        zl.inject(ev)
        zl.inject(ev)
        tg.wait_sent(42)
        zl.wait_sent("zu-1")
        time.sleep(0.5)
        assert len(tg.sent(42)) == 1 and len(zl.sent("zu-1")) == 1
        # Both updates were confirmed: the next getUpdates asked for what comes after them.
        assert any(str(c.params.get("offset")) == "5002" for c in tg.calls_of("getUpdates"))
        assert count_rows(r.app, Person) == 2 and count_rows(r.app, ProcessedUpdate) == 2


@pytest.mark.parametrize("platform", ["telegram", "zalo"])
def test_429_500_and_a_dropped_connection_are_retried_and_delivered_once(make_app, settings, tg, zl, platform):
    emu, chat = (tg, 42) if platform == "telegram" else (zl, "zu-1")
    emu.fail("sendMessage", "429", **({"retry_after": 1} if platform == "telegram" else {}))
    emu.fail("sendMessage", "500")
    emu.fail("sendMessage", "drop")
    with Running(make_app, settings, telegram=tg, zalo=zl) as r:
        emu.text(chat, "/start")
        emu.wait_sent(chat)
        time.sleep(0.3)
        calls = emu.calls_of("sendMessage")
        assert [c.status for c in calls] == [429, 500, 0, 200]
        assert calls[1].t - calls[0].t >= 0.95  # waited the retry_after (Zalo sends none: our own wait)
        assert calls[2].t - calls[1].t >= 0.18 and calls[3].t - calls[2].t >= 0.38  # then backed off
        assert len(emu.sent(chat)) == 1 and "Xin chào" in emu.texts(chat)[0]
        # The reply's journal row is gone once delivered: nothing to resend, no copy kept.
        assert count_rows(r.app, OutboxMessage) == 0


def test_platform_outage_defers_the_reply_to_the_outbox(make_app, settings, tg, clock):
    tg.fail("sendMessage", "502", times=2)
    with Running(make_app, settings, telegram=tg) as r:
        r.telegram.direct_attempts = 2
        tg.text(42, "/start")
        tg.wait_sent(42, timeout=20)  # the outbox worker sent it once Telegram was back
        for _ in range(100):
            with r.app.db.session() as s:
                rows = list(s.exec(select(OutboxMessage)))
            if rows and rows[0].status == "sent":
                break
            time.sleep(0.05)
        assert len(rows) == 1 and rows[0].status == "sent" and rows[0].kind == "reply"
        assert "Xin chào" in tg.texts(42)[0] and len(tg.sent(42)) == 1


def _long_text() -> str:
    return "\n".join(f"Dòng {i}: hồ sơ gồm tờ khai, giấy tờ tùy thân và bản sao giấy chứng nhận." for i in range(130))


def test_a_long_answer_is_split_under_each_platforms_limit(make_app, settings, tg, zl):
    def setup(app):
        app.router.command("dai", "câu trả lời dài (thử nghiệm)")(
            lambda ctx, args: ctx.reply(_long_text(), buttons=[("Xong", "erase:no")]))
    with Running(make_app, settings, telegram=tg, zalo=zl, setup=setup):
        tg.text(42, "/dai")
        zl.text("zu-1", "/dai")
        parts = tg.wait_sent(42, 3)
        time.sleep(0.3)
        parts = tg.sent(42)
        assert len(parts) == 3 and all(len(p.params["text"]) <= 4096 for p in parts)
        assert "\n".join(p.params["text"] for p in parts) == _long_text()
        assert [_buttons(p) for p in parts] == [[], [], ["erase:no"]]  # the keyboard under the last part
        zparts = zl.wait_sent("zu-1", 5)
        time.sleep(0.3)
        zparts = zl.sent("zu-1")
        assert len(zparts) == len(split_text(numbered(Reply(_long_text(), [])) + "\n1. Xong\n(Trả lời bằng số thứ tự)",
                                             2000))
        assert all(len(p.params["text"]) <= 2000 for p in zparts)
        assert zparts[-1].params["text"].endswith("1. Xong\n(Trả lời bằng số thứ tự)")


def test_telegram_rates_are_respected_for_a_split_answer(make_app, settings, tg):
    def setup(app):
        app.router.command("dai", "câu trả lời dài (thử nghiệm)")(lambda ctx, args: ctx.reply(_long_text()))
    from bot.channels.telegram import telegram_limiter
    tg.enforce_limits = True  # the emulator answers 429 like Telegram's flood control
    with Running(make_app, settings, telegram=tg, setup=setup, limiter=telegram_limiter):
        tg.text(42, "/dai")
        parts = tg.wait_sent(42, 3)
        gaps = [b.t - a.t for a, b in zip(parts, parts[1:])]
        assert all(g >= 0.75 for g in gaps), gaps  # 1/s, give or take the trip to the API
        assert tg.limit_violations == 0


def test_flood_control_429s_are_waited_out(make_app, settings, tg):
    def setup(app):
        app.router.command("dai", "câu trả lời dài (thử nghiệm)")(lambda ctx, args: ctx.reply(_long_text()))
    tg.enforce_limits = True
    with Running(make_app, settings, telegram=tg, setup=setup):  # a limiter far too permissive
        tg.text(42, "/dai")
        parts = tg.wait_sent(42, 3)
        assert tg.limit_violations >= 2  # each part after the first hit flood control once...
        assert "\n".join(p.params["text"] for p in parts) == _long_text()  # ...and still arrived once


def test_outbox_notifications_go_out_through_the_channel_senders(make_app, settings, tg, zl, clock):
    with Running(make_app, settings, telegram=tg, zalo=zl) as r:
        assert set(r.app.senders) >= {"telegram", "zalo"}
        tg.block(99)
        tg.fail("sendMessage", "429", retry_after=1)
        from bot.outbox import enqueue
        with r.app.db.session() as s:
            enqueue(s, "telegram", "42", Reply("Cán bộ phường trả lời câu hỏi #1", [Button("Cảm ơn", "erase:no")]),
                    now=clock.now())
            enqueue(s, "telegram", "99", Reply("Thông báo lớp học"), now=clock.now())
            enqueue(s, "zalo", "zu-1", Reply("Phản ánh #3 đã được xử lý", [Button("Đánh giá", "erase:no")]),
                    now=clock.now())
        r.app.wake_outbox()
        zl.wait_sent("zu-1")
        deadline = time.time() + 10
        while time.time() < deadline:
            with r.app.db.session() as s:
                rows = {row.chat_id: row for row in s.exec(select(OutboxMessage))}
            if rows["99"].status == "blocked" and rows["42"].last_error:
                break
            time.sleep(0.05)
        assert rows["99"].status == "blocked"  # the resident blocked the bot: never retried
        flood, blocked = tg.calls_of("sendMessage")[:2]
        assert flood.status == 429 and blocked.status == 403
        # (the 403 was already in flight beside it: the dispatcher sends in parallel)
        # 429: rescheduled after retry_after, nothing sent. A delivery run's clock moves on with
        # real time, so on a slow machine the same run may already have retried it (checked below).
        if rows["42"].status == "pending":
            assert 1 <= (rows["42"].not_before - clock.now()).total_seconds() < 2  # retry_after, from the answer
        assert zl.texts("zu-1") == ["Phản ánh #3 đã được xử lý\n1. Đánh giá\n(Trả lời bằng số thứ tự)"]
        clock.advance(seconds=2)
        r.app.wake_outbox()
        got = tg.wait_sent(42)
        assert got[0].params["text"] == "Cán bộ phường trả lời câu hỏi #1" and _buttons(got[0]) == ["erase:no"]
        retry = [c for c in tg.calls_of("sendMessage") if c.params["chat_id"] == "42"][-1]
        assert retry.status == 200 and retry.t - flood.t >= 0.95  # the 429 slowed the whole sender
        assert [c.status for c in tg.calls_of("sendMessage") if c.params["chat_id"] == "42"] == [429, 200]


def test_typing_is_shown_before_a_slow_answer_only(make_app, settings, tg, zl):
    def setup(app):
        app.router.command("cham", "trả lời chậm (thử nghiệm)")(
            lambda ctx, args: (time.sleep(1.2), ctx.reply("Xong rồi."))[1])
    with Running(make_app, settings, telegram=tg, zalo=zl, setup=setup):
        tg.text(42, "/start")
        zl.text("zu-1", "/start")
        tg.wait_sent(42)
        zl.wait_sent("zu-1")
        assert not tg.calls_of("sendChatAction") and not zl.calls_of("sendChatAction")
        tg.text(42, "/cham")
        zl.text("zu-1", "/cham")
        tg.wait_sent(42, 2)
        zl.wait_sent("zu-1", 2)
        assert [c.params["action"] for c in tg.calls_of("sendChatAction")] == ["typing"]
        assert [c.params["action"] for c in zl.calls_of("sendChatAction")] == ["typing"]


def test_unreadable_messages_get_a_polite_answer(make_app, settings, tg, zl):
    with Running(make_app, settings, telegram=tg, zalo=zl):
        tg.inject({"message": tg.message(42, voice={"file_id": "v1", "file_unique_id": "v1", "duration": 3})})
        assert "chưa xem được" in tg.wait_sent(42)[0].params["text"]
        zl.inject(zl.event("zu-1", "message.voice.received", voice_url="https://x/y.aac"))
        assert "chưa xem được" in zl.wait_sent("zu-1")[0].params["text"]
        zl.sticker("zu-2")
        assert zl.wait_sent("zu-2")[0].params["text"] == texts.MEDIA_WITHOUT_CONTEXT
        zl.inject(zl.event("zu-3", "message.unsupported.received"))  # a shielded user: nothing sent
        tg.inject({"message": tg.message(42, contact={"phone_number": "0905111222", "first_name": "A"})})
        tg.wait_sent(42, 2)
        time.sleep(0.3)
        assert not zl.sent("zu-3")


def test_restart_between_two_messages_of_a_form_and_during_a_send_on_both_platforms(settings, tg, zl):
    from tests.helpers import Server
    env = dict(TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.url, ZALO_BOT_TOKEN=zl.token, ZALO_API_URL=zl.url)
    srv = Server(settings, **env).start()
    try:
        assert "Xin chào" in srv.texts("web-1", "/start")  # the web chat runs beside both channels
        tg.text(7, "/hoicanbo")
        zl.text("z7", "/hoicanbo")
        tg.wait_sent(7)
        zl.wait_sent("z7")
        tg.text(7, "Cho hỏi lệ phí chứng thực bản sao?")
        zl.text("z7", "Cho hỏi lệ phí chứng thực bản sao?")
        assert "số điện thoại" in tg.wait_sent(7, 2)[-1].params["text"]
        assert "1. Bỏ qua" in zl.wait_sent("z7", 2)[-1].params["text"]
        # Killed between two messages of the form, not in the milliseconds between a send and
        # its record (a kill there repeats that one message after the restart: at least once).
        time.sleep(0.5)
        # Meanwhile another resident's answer is held up by a long flood-control wait...
        tg.fail("sendMessage", "429", retry_after=60)
        zl.fail("sendMessage", "429", times=1000)  # Zalo names no wait: it keeps refusing
        tg.text(8, "/start")
        zl.text("z8", "/start")
        deadline = time.time() + 15
        while time.time() < deadline and not (len(tg.calls_of("sendMessage")) == 3
                                              and len(zl.calls_of("sendMessage")) >= 3):
            time.sleep(0.05)
        time.sleep(0.2)
    finally:
        srv.stop(hard=True)  # ...when the bot is killed
    assert not tg.sent(8) and not zl.sent("z8")
    zl.clear_failures()
    srv2 = Server(settings, **env).start()
    try:
        tg.text(7, "0905111222")
        zl.text("z7", "0905 111 222")
        confirm = tg.wait_sent(7, 3)[-1]
        assert "Cho hỏi lệ phí chứng thực" in confirm.params["text"] and "0905111222" in confirm.params["text"]
        assert _buttons(confirm) == ["handoff:send", "handoff:cancel"]
        assert "1. Gửi\n2. Hủy" in zl.wait_sent("z7", 3)[-1].params["text"]
        tg.press(7, "handoff:send")
        zl.text("z7", "1")
        assert "Đã gửi câu hỏi" in tg.wait_sent(7, 4)[-1].params["text"]
        assert "Đã gửi câu hỏi" in zl.wait_sent("z7", 4)[-1].params["text"]
        # The held-up answer went out after the restart, once; the redelivered update was skipped.
        assert "Xin chào" in tg.wait_sent(8)[0].params["text"]
        assert "Xin chào" in zl.wait_sent("z8")[0].params["text"]
        time.sleep(0.5)
        assert len(tg.sent(7)) == 4 and len(zl.sent("z7")) == 4  # nothing answered twice
        assert len(tg.sent(8)) == 1 and len(zl.sent("z8")) == 1
    finally:
        srv2.stop()


def test_photos_and_documents_in_replies(make_app, settings, tg, zl):
    reports = settings.data_dir / "reports"
    reports.mkdir(parents=True)
    (reports / "map.jpg").write_bytes(PHOTO)
    (reports / "q4.xlsx").write_bytes(b"PK\x03\x04 report")

    def setup(app):
        app.router.command("anh", "ảnh (thử nghiệm)")(
            lambda ctx, args: ctx.reply("Bản đồ khu vực", photo=str(reports / "map.jpg")))
        app.router.command("baocao", "tệp (thử nghiệm)")(
            lambda ctx, args: ctx.reply("Báo cáo quý.\n" + "Chi tiết " * 150, document=str(reports / "q4.xlsx"),
                                        document_name="bao-cao-quy-4.xlsx"))
    with Running(make_app, settings, webhook=True, telegram=tg, zalo=zl, setup=setup) as r:
        tg.text(42, "/anh")
        photo = tg.wait_sent(42)[0]
        assert photo.method == "sendPhoto" and photo.params["caption"] == "Bản đồ khu vực"
        assert photo.files["photo"][1] == len(PHOTO)
        tg.text(42, "/baocao")  # too long for a caption: the text, then the file
        text, doc = tg.wait_sent(42, 3)[1:]
        assert text.method == "sendMessage" and text.params["text"].startswith("Báo cáo quý.")
        assert doc.method == "sendDocument" and doc.files["document"][0] == "bao-cao-quy-4.xlsx"

        zl.text("zu-1", "/anh")  # Zalo takes photos by URL: a signed link to the file
        zphoto, ztext = zl.wait_sent("zu-1", 2)
        assert zphoto.method == "sendPhoto" and ztext.params["text"] == "Bản đồ khu vực"
        url = zphoto.params["photo"]
        assert url.startswith(r.url + "/files/zalo/") and httpx.get(url).content == PHOTO
        bad = url.replace("/files/zalo/", "/files/zalo/x")
        assert httpx.get(bad).status_code == 404
        zl.text("zu-1", "/baocao")
        ztext = zl.wait_sent("zu-1", 3)[-1]
        link = ztext.params["text"].rsplit("Tải tệp bao-cao-quy-4.xlsx: ", 1)[1]
        assert httpx.get(link).content == b"PK\x03\x04 report"


@pytest.mark.parametrize("text,loc", [
    ("16.0678, 108.2208", Location(16.0678, 108.2208)),
    ("https://maps.google.com/?q=16.0678,108.2208", Location(16.0678, 108.2208)),
    ("https://www.google.com/maps/place/X/@16.06123,108.22234,17z", Location(16.06123, 108.22234)),
    ("https://maps.google.com/maps?ll=16.0678%2C108.2208&z=15", Location(16.0678, 108.2208)),
    ("Cho hỏi lệ phí chứng thực bản sao?", None),
    ("0905111222", None),
    ("Rác ở 16.0678, 108.2208 lâu rồi", None),  # a sentence stays a sentence
    ("95.0000, 108.2208", None),
])
def test_a_pasted_location(text, loc):
    from bot.channels.base import location_from_text
    assert location_from_text(text) == loc


def test_group_chats_on_telegram(make_app, settings, tg):
    with Running(make_app, settings, telegram=tg) as r:
        tg.text(-100123, "/start@phuong_test_bot", user_id=555)
        assert "Xin chào" in tg.wait_sent(-100123)[0].params["text"]
        with r.app.db.session() as s:
            p = s.exec(select(Person).where(Person.channel == "telegram")).one()
        assert p.channel_user_id == "555"
        assert r.telegram.is_group("-100123") and not r.telegram.is_group("42")


def test_oversized_button_data_falls_back_to_numbered_options(make_app, settings, tg):
    def setup(app):
        app.router.command("nut", "nút dài (thử nghiệm)")(
            lambda ctx, args: ctx.reply("Chọn một:", buttons=[("Có", "erase:" + "x" * 70), ("Không", "erase:no")]))
    with Running(make_app, settings, telegram=tg, setup=setup):
        tg.text(42, "/nut")
        got = tg.wait_sent(42)[0]
        assert got.params["text"] == "Chọn một:\n1. Có\n2. Không\n(Trả lời bằng số thứ tự)" and not _buttons(got)
        tg.text(42, "2")  # the engine maps the number to the button
        assert tg.wait_sent(42, 2)[1].params["text"] == "Đã giữ nguyên dữ liệu của bạn."


def test_a_redelivered_photo_is_downloaded_and_handled_once(make_app, settings, tg, zl):
    with Running(make_app, settings, webhook=True, telegram=tg, zalo=zl) as r:
        upd = tg.photo(42, PHOTO)
        tg.inject(upd)
        ev = zl.photo("zu-1", PHOTO)
        zl.inject(ev)
        zl.wait_sent("zu-1")
        time.sleep(0.3)
        assert len(tg.sent(42)) == 1 and len(zl.sent("zu-1")) == 1
        assert len(tg.calls_of("getFile")) == 1
        media = r.settings.data_dir / "media"
        assert len(list((media / "telegram").iterdir())) == 1 and len(list((media / "zalo").iterdir())) == 1


def test_a_rejected_token_leaves_the_rest_of_the_server_running(make_app, settings, tg, zl):
    running = Running(make_app, settings, telegram=tg, zalo=zl, wait_ready=False)
    tg.token, zl.token = "5:revoked", "6:revoked"  # the platforms no longer accept our tokens
    with running as r:
        time.sleep(0.5)
        assert httpx.get(r.url + "/healthz").json()["status"] == "ok"
        body = httpx.post(r.url + "/api/messages", json={"chat_id": "w1", "text": "/start"}).json()
        assert "Xin chào" in body["replies"][0]["text"]
        assert "telegram" not in r.app.senders and "zalo" not in r.app.senders
        assert not r.telegram.ready.is_set() and not r.zalo.ready.is_set()
        assert [c.status for c in tg.calls_of("getMe")] == [401]
        assert [c.status for c in zl.calls_of("getMe")] == [401]


def test_zalo_webhook_takes_a_bare_event_too(make_app, settings, zl):
    with Running(make_app, settings, webhook=True, zalo=zl) as r:
        ev = zl.event("zu-9", "message.text.received", text="/start")
        resp = httpx.post(r.url + "/webhook/zalo", json=ev, headers={"X-Bot-Api-Secret-Token": zl.webhook_secret})
        assert resp.status_code == 200 and "Xin chào" in zl.wait_sent("zu-9")[0].params["text"]
        junk = httpx.post(r.url + "/webhook/zalo", json={"ok": True}, headers={"X-Bot-Api-Secret-Token": zl.webhook_secret})
        assert junk.status_code == 200  # a check or an unknown event: acknowledged, nothing sent
        assert len(zl.sent("zu-9")) == 1


def test_chat_serial_executor_keeps_each_chats_order():
    from bot.channels.base import ChatSerialExecutor
    ex = ChatSerialExecutor(workers=4)
    log, t0 = [], time.monotonic()

    def job(key, i, pause):
        def run():
            time.sleep(pause)
            log.append((key, i, time.monotonic() - t0))
        return run
    futs = [ex.submit("a", job("a", i, 0.1 if i == 0 else 0.0)) for i in range(5)]
    futs.append(ex.submit("b", job("b", 0, 0.0)))
    for f in futs:
        f.result(5)
    ex.shutdown()
    assert [i for k, i, _ in log if k == "a"] == [0, 1, 2, 3, 4]
    assert log[0][0] == "b"  # another chat did not wait behind the slow first job of "a"


def test_zalo_options_can_be_answered_with_their_words(make_app, settings, zl):
    with Running(make_app, settings, zalo=zl):
        for i, text in enumerate(["/hoicanbo", "Giờ làm việc thứ Bảy?", "bo qua", "Gửi"], 1):
            zl.text("zu-5", text)
            zl.wait_sent("zu-5", i)
        t = zl.texts("zu-5")
        assert t[1].endswith("1. Bỏ qua\n(Trả lời bằng số thứ tự)")
        assert t[2].startswith("Xác nhận gửi cán bộ phường") and "không để lại" in t[2]
        assert t[3].startswith("Đã gửi câu hỏi")


def test_a_refused_message_is_not_retried(make_app, settings, tg, zl):
    with Running(make_app, settings, telegram=tg, zalo=zl) as r:
        for emu, chat, kind in ((tg, 42, "400"), (tg, 43, "403"), (zl, "zu-1", "400")):
            emu.fail("sendMessage", kind)
            before = len(emu.calls_of("sendMessage"))
            emu.text(chat, "/start")
            deadline = time.time() + 10
            while time.time() < deadline and len(emu.calls_of("sendMessage")) == before:
                time.sleep(0.02)
            time.sleep(0.2)
            assert [c.status for c in emu.calls_of("sendMessage")[before:]] == [int(kind)]
        assert count_rows(r.app, OutboxMessage) == 0  # dropped, not queued for a retry
