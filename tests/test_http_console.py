"""End to end through the real processes: `python -m bot serve` over HTTP and `python -m bot chat`."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
import subprocess
import sys

import httpx
import pytest

from tests.helpers import ROOT, Server, bot_env


@pytest.fixture
def server(settings):
    srv = Server(settings).start()
    yield srv
    srv.stop()


def test_web_chat_page_and_health(server):
    page = httpx.get(server.url + "/")
    assert page.status_code == 200 and "Trợ lý số phường" in page.text
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"


def test_api_conversation_with_a_restart_in_the_middle_of_a_form(settings):
    srv = Server(settings).start()
    try:
        assert "Phường Hải Châu" in srv.texts("r-1", "/start")
        srv.texts("r-1", "/hoicanbo")
        assert "số điện thoại" in srv.texts("r-1", "Cho hỏi lệ phí chứng thực bản sao?")
    finally:
        srv.stop(hard=True)  # killed, not shut down politely
    srv2 = Server(settings).start()
    try:
        body = srv2.post("r-1", "0905111222")
        assert "Cho hỏi lệ phí chứng thực" in body["replies"][0]["text"]
        assert [b["data"] for b in body["replies"][0]["buttons"]] == ["handoff:send", "handoff:cancel"]
        assert "Đã gửi câu hỏi" in srv2.texts("r-1", button="handoff:send")
    finally:
        srv2.stop()


def test_api_duplicate_message_id_is_answered_once(server):
    first = server.post("r-2", "/start", message_id="m-1")
    again = server.post("r-2", "/start", message_id="m-1")
    assert first["replies"] and again["replies"] == first["replies"]  # the original answer, not twice


@pytest.mark.parametrize("kwargs,status", [
    (dict(content=b"{not json", headers={"content-type": "application/json"}), 400),
    (dict(content=b"\xff\xfe\x00binary", headers={"content-type": "application/json"}), 400),
    (dict(content=b"chat_id=1&text=hi", headers={"content-type": "application/x-www-form-urlencoded"}), 415),
    (dict(content=b"hello", headers={"content-type": "text/plain"}), 415),
    (dict(json=[1, 2]), 400),
    (dict(json={"chat_id": "x" * 65, "text": "hi"}), 400),
    (dict(json={"chat_id": "a", "text": 12}), 400),
    (dict(json={"chat_id": "a", "location": {"lat": "north"}}), 400),
    (dict(content=b'{"chat_id":"a","text":"' + b"a" * 70000 + b'"}', headers={"content-type": "application/json"}), 413),
])
def test_api_bad_requests_get_4xx_with_a_vietnamese_message(server, kwargs, status):
    r = httpx.post(server.url + "/api/messages", timeout=10, **kwargs)
    assert r.status_code == status
    assert r.json()["error"]
    assert server.post("ok-chat", "/start")["replies"]  # still serving


def test_api_empty_long_and_binary_text_get_answers_not_errors(server):
    assert "chưa nhập" in server.texts("r-3", "")
    assert "dài quá" in server.texts("r-3", "x" * 5000)
    assert "không đọc được" in server.texts("r-3", "\x1b[2J\x07")
    assert "chưa biết lệnh" in server.texts("r-3", "/abc")


def test_api_notifications_reach_only_their_own_web_session(server, settings):
    from bot.core import Reply
    from bot.db import Database
    from bot.outbox import enqueue
    server.post("r-4", "/start")
    server.post("r-5", "/start")
    db = Database(settings.database_url)
    try:
        with db.session() as s:
            enqueue(s, "web", server.chat_id("r-4"), Reply("Cán bộ đã trả lời câu hỏi của bạn"),
                    now=datetime.now(timezone.utc) - timedelta(seconds=5))
    finally:
        db.dispose()
    assert server.notifications("r-5") == []  # another session sees nothing
    assert httpx.get(server.url + "/api/notifications").status_code == 401  # no session, nothing
    old = httpx.get(server.url + f"/api/messages/{server.chat_id('r-4')}/notifications")
    assert old.status_code == 410 and old.json()["error"]
    notes = server.notifications("r-4")
    assert [n["text"] for n in notes] == ["Cán bộ đã trả lời câu hỏi của bạn"]
    assert server.notifications("r-4") == []  # delivered once


def _console(settings, lines: str) -> str:
    r = subprocess.run([sys.executable, "-m", "bot", "chat"], input=lines.encode(), cwd=ROOT,
                       env=bot_env(settings), capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


def test_console_chat_ends_at_eof_and_resumes_a_form_in_the_next_run(settings):
    out = _console(settings, "/start\n/hoicanbo\nXin hỏi thủ tục tách hộ\n")
    assert "Phường Hải Châu" in out and "Bỏ qua" in out and "1. Bỏ qua" in out
    out2 = _console(settings, "1\n1\n")  # skip the phone number, then press "1. Gửi"
    assert "Xin hỏi thủ tục tách hộ" in out2 and "Đã gửi câu hỏi" in out2
    assert "[thông báo tới -1001000000010]" not in out2  # the staff chat is a Telegram group, not the console


def test_console_handles_empty_input(settings):
    r = subprocess.run([sys.executable, "-m", "bot", "chat"], input=b"", cwd=ROOT, env=bot_env(settings),
                       capture_output=True, timeout=120)
    assert r.returncode == 0


def test_ask_jsonl_contract(settings):
    lines = "\n".join(json.dumps({"text": t}, ensure_ascii=False) for t in
                      ["đăng ký khai sinh cho con", "xin chào", "thời tiết hôm nay"]) + "\nnot json\n"
    r = subprocess.run([sys.executable, "-m", "bot", "ask", "--jsonl"], input=lines.encode(), cwd=ROOT,
                       env=bot_env(settings), capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert len(rows) == 4
    for row in rows:
        assert {"kind", "topic", "category", "confidence"} <= set(row)
    assert rows[0]["kind"] == "faq" and rows[0]["topic"] == "ho-tich.khai-sinh"
    assert rows[1]["kind"] == "smalltalk"
    assert rows[3]["kind"] == "error"


def test_kb_export_jsonl(settings):
    r = subprocess.run([sys.executable, "-m", "bot", "kb", "export", "--jsonl"], cwd=ROOT, env=bot_env(settings),
                       capture_output=True, timeout=120)
    rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
    assert rows and all({"id", "title", "questions", "answer"} <= set(x) for x in rows)
