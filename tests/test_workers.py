"""Several `python -m bot serve` workers on one PostgreSQL database, as behind a load balancer.

Each worker is a real process; residents reach them through the Telegram webhook (platform
identity, so any worker may get any message) and replies go to the Bot API emulator."""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlmodel import select

from bot import texts
from tests.emulators.telegram import TelegramEmulator
from tests.helpers import Server

pytestmark = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                                reason="several workers share a PostgreSQL database")

SECRET = "worker-test-secret"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def emu():
    e = TelegramEmulator().start()
    yield e
    e.stop()


def worker(settings, emu, name: str, **env) -> Server:
    s = replace(settings, data_dir=settings.data_dir.parent / f"data-{name}")
    srv = Server(s, TELEGRAM_BOT_TOKEN=emu.token, TELEGRAM_API_URL=emu.url,
                 TELEGRAM_WEBHOOK_SECRET=SECRET, BOT_EMBED_WORKERS="1", BOT_WORKER_ID=name, **env)
    srv.env["PUBLIC_URL"] = srv.url  # webhook mode: no two workers polling one bot
    return srv


def start_all(*servers: Server) -> None:
    """Start the processes at the same instant, then wait for every one to answer."""
    errors = []

    def go(srv):
        try:
            srv.start(timeout=120)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=go, args=(s,)) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def post_update(srv: Server, update: dict) -> int:
    r = httpx.post(srv.url + "/webhook/telegram", json=update, headers={HEADER: SECRET}, timeout=60)
    return r.status_code


_ids = iter(range(10_000, 10_000_000))


def text_update(emu, chat_id: int, text: str) -> dict:
    return {"update_id": next(_ids), "message": emu.message(chat_id, text=text)}


def press_update(emu, chat_id: int, data: str) -> dict:
    msg = emu.message(chat_id, text="(nút)")
    msg["from"] = {"id": emu.bot_id, "is_bot": True, "first_name": "Bot"}
    return {"update_id": next(_ids), "callback_query": {
        "id": f"cq{next(_ids)}", "from": {"id": chat_id, "is_bot": False, "first_name": "A"},
        "chat_instance": str(chat_id), "message": msg, "data": data}}


def stop_all(*servers):
    for s in servers:
        s.stop()


def test_simultaneous_start_on_an_empty_database(settings, emu):
    from tests.conftest import _pg_database
    url, admin, name = _pg_database()
    try:
        s = replace(settings, database_url=url)
        a, b, c = (worker(s, emu, n) for n in ("a", "b", "c"))
        try:
            start_all(a, b, c)
            for srv in (a, b, c):
                assert httpx.get(srv.url + "/healthz").json()["status"] == "ok"
            assert post_update(a, text_update(emu, 501, "/start")) == 200
            assert emu.wait_sent(501)
        finally:
            stop_all(a, b, c)
        eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                            if url.startswith("postgresql://") else url)
        with eng.connect() as conn:
            heads = {r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
        eng.dispose()
        assert "0030_scale" in heads and "0001_foundation" not in heads
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def two(settings, emu):
    a, b = worker(settings, emu, "a"), worker(settings, emu, "b")
    start_all(a, b)
    yield a, b
    stop_all(a, b)


def test_first_messages_of_a_new_resident_on_both_workers_at_once(two, emu, settings):
    a, b = two
    chats = list(range(7001, 7021))
    with ThreadPoolExecutor(8) as pool:
        futs = []
        for chat in chats:
            futs.append(pool.submit(post_update, a, text_update(emu, chat, "xin chào")))
            futs.append(pool.submit(post_update, b, text_update(emu, chat, "cho hỏi làm căn cước")))
        assert all(f.result() == 200 for f in futs)
    for chat in chats:
        sent = emu.wait_sent(chat, 2, timeout=30)
        assert len(sent) == 2
        assert all(texts.INTERNAL_ERROR not in c.params.get("text", "") for c in sent)
    eng = create_engine(settings.database_url)
    with eng.connect() as conn:
        n = conn.execute(text("SELECT count(*), count(DISTINCT channel_user_id) FROM person "
                              "WHERE channel = 'telegram'")).one()
        convs = conn.execute(text("SELECT count(*) FROM conversation WHERE channel = 'telegram'")).scalar()
    eng.dispose()
    assert n[0] == n[1] == len(chats) and convs == len(chats)


def test_a_form_moves_between_workers(two, emu):
    a, b = two
    chat = 8001
    steps = [(a, text_update(emu, chat, "/hoicanbo")),
             (b, text_update(emu, chat, "Cho hỏi lệ phí chứng thực bản sao?")),
             (a, text_update(emu, chat, "0905111222")),
             (b, press_update(emu, chat, "handoff:send"))]
    for i, (srv, upd) in enumerate(steps, 1):
        assert post_update(srv, upd) == 200
        emu.wait_sent(chat, i, timeout=30)
    said = emu.texts(chat)
    assert "số điện thoại" in said[1]
    assert "Cho hỏi lệ phí chứng thực" in said[2]
    assert "Đã gửi câu hỏi" in said[3]


def _enqueue(settings, chats: list[int]) -> None:
    from bot.core import Reply
    from bot.db import Database
    from bot.outbox import enqueue
    db = Database(settings.database_url)
    with db.session() as s:
        for c in chats:
            enqueue(s, "telegram", str(c), Reply(f"Thông báo lớp học số {c}"), now=datetime.now().astimezone(),
                    dedupe_key=f"w-{c}")
    db.dispose()


def test_two_workers_together_stay_under_telegram_rate(two, emu, settings):
    a, b = two
    emu.enforce_limits = True
    chats = list(range(20_000, 20_240))
    _enqueue(settings, chats)
    deadline = time.time() + 60
    while emu.stats()["sent_total"] < len(chats) and time.time() < deadline:
        time.sleep(0.5)
    assert emu.stats()["sent_total"] == len(chats)
    assert emu.stats()["max_per_chat"] == 1
    ts = sorted(c.t for c in emu.calls_of("sendMessage") if c.status == 200)
    busiest = max(sum(1 for u in ts[i:i + 40] if u - t < 1.0) for i, t in enumerate(ts))
    # Slots are reserved 1/30 s apart across both workers; HTTP jitter may bunch a few arrivals.
    # One limiter per worker would send about 60/s here, with dozens of violations.
    rate = (len(ts) - 1) / (ts[-1] - ts[0])
    assert rate <= 30.5, rate
    assert busiest <= 32, busiest
    # The emulator's flood check is strict (31 arrivals within 0.95 s): on a loaded machine a few
    # arrivals bunch up; one limiter per worker would trip it on about half the messages.
    assert emu.limit_violations <= len(chats) // 10, emu.limit_violations
    eng = create_engine(settings.database_url)
    with eng.connect() as conn:
        owners = {r[0] for r in conn.execute(text("SELECT DISTINCT owner FROM outboxmessage WHERE status='sent'"))}
    eng.dispose()
    assert owners == {"a", "b"}  # both workers sent their share


def test_restarting_one_worker_never_resends_the_others_replies(two, emu, settings):
    """b is in the middle of sending (its reply journal and its outbox claims are "sending", with
    a lease) when a restarts: a takes back only what a itself left unfinished."""
    from datetime import timedelta

    from bot.core import Reply
    from bot.db import Database
    from bot.models import OutboxMessage
    a, b = two
    now = datetime.now().astimezone()
    rows = [("b", "reply", 40_001), ("b", "notice", 40_002), ("a", "reply", 40_003), ("a", "notice", 40_004)]
    db = Database(settings.database_url)
    with db.session() as s:
        for owner, kind, chat in rows:
            s.add(OutboxMessage(channel="telegram", chat_id=str(chat), payload=Reply(f"tin {chat}").to_dict(),
                                kind=kind, status="sending", owner=owner, created_at=now,
                                not_before=now + timedelta(minutes=10)))
    a.stop(hard=True)
    a.start(timeout=120)
    emu.wait_sent(40_003, 1, timeout=30)
    emu.wait_sent(40_004, 1, timeout=30)
    time.sleep(3)  # the outbox worker's interval is 2 s: a resend of b's rows would be out by now
    assert [len(emu.sent(c)) for _, _, c in rows] == [0, 0, 1, 1]
    with db.session() as s:
        left = {r.chat_id: r.status for r in s.exec(select(OutboxMessage).where(
            OutboxMessage.chat_id.in_(["40001", "40002"]), OutboxMessage.owner == "b"))}
    db.dispose()
    assert left == {"40001": "sending", "40002": "sending"}  # still b's, until their lease runs out
