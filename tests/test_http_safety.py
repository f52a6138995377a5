"""The HTTP boundary of a real `python -m bot serve`: bodies bounded before buffering (declared
and chunked), JSON that cannot crash or smuggle values, and the web identity as a server-issued
session (nobody becomes another chat by typing its id)."""
from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime, timezone

import httpx
import pytest
from sqlmodel import create_engine, select, Session

from bot import roles as R
from bot.models import Invite, Person
from bot.web_session import COOKIE, WebSession
from tests.helpers import Server


@pytest.fixture(scope="module")
def server(tmp_path_factory, _migrated):
    # One server for the module: these requests never depend on each other's state.
    from dataclasses import replace
    from bot.config import ROOT, Settings
    from tests.conftest import _wipe
    _wipe(_migrated)
    s = replace(Settings.from_env(), data_dir=tmp_path_factory.mktemp("safety") / "data", database_url=_migrated,
                ward_profile=ROOT / "knowledge" / "ward.yaml", kb_dir=ROOT / "knowledge" / "kb")
    srv = Server(s).start()
    yield srv
    srv.stop()


def _post(server, body: bytes | str, headers=None):
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return httpx.post(server.url + "/api/messages", content=raw,
                      headers={"content-type": "application/json", **(headers or {})}, timeout=30)


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def _chunked_post(port: int, path: str, total: int, chunk: int = 256 * 1024, headers: str = "") -> tuple[str, int]:
    """Streams a chunked body of `total` bytes over a raw socket until the server answers or
    hangs up; returns (status line, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sent = 0
    try:
        sock.sendall((f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}"
                      "Transfer-Encoding: chunked\r\n\r\n").encode())
        block = f"{chunk:x}\r\n".encode() + b"[" * chunk + b"\r\n"
        try:
            while sent < total:
                sock.sendall(block)
                sent += chunk
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(30)
        data = b""
        try:
            while b"\r\n" not in data:
                more = sock.recv(4096)
                if not more:
                    break
                data += more
        except ConnectionResetError:
            pass
        return data.split(b"\r\n", 1)[0].decode(), sent
    finally:
        sock.close()


# --- body limits --------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/messages", "/open311/v2/requests.json", "/api/classes", "/healthz"])
def test_declared_oversize_body_is_refused_before_it_is_read(server, path):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        # Only the headers go out: a server that waited for the body would time out here.
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {400 * 1024 * 1024}\r\n\r\n".encode())
        status = sock.recv(4096).split(b"\r\n", 1)[0]
    finally:
        sock.close()
    assert b" 413 " in status


def test_concurrent_chunked_400mb_posts_get_413_and_memory_stays_flat(server):
    before = _rss_kb(server.proc.pid)
    results = []
    paths = ["/api/messages", "/api/messages", "/open311/v2/requests.json", "/api/classes"]
    threads = [threading.Thread(target=lambda p=p: results.append(_chunked_post(server.port, p, 400 * 1024 * 1024)))
               for p in paths]
    for t in threads:
        t.start()
    peak = before
    while any(t.is_alive() for t in threads):
        peak = max(peak, _rss_kb(server.proc.pid))
        time.sleep(0.05)
    assert len(results) == 4
    for status, sent in results:
        assert " 413 " in status, status
        assert sent < 64 * 1024 * 1024  # the server hung up long before 400 MB
    assert peak - before < 60 * 1024, (before, peak)  # KiB: flat, not 4 x 400 MB
    assert server.post("after-flood", "/start")["replies"]


def test_webhook_paths_are_bounded_too(server):
    status, _ = _chunked_post(server.port, "/webhook/telegram", 8 * 1024 * 1024)
    assert " 413 " in status or " 404 " in status  # 404: no Telegram token on this server


def test_bad_content_length_is_400(server):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        sock.sendall(b"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n")
        status = sock.recv(4096).split(b"\r\n", 1)[0]
    finally:
        sock.close()
    assert b" 400 " in status or b" 413 " in status


# --- JSON ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("body", [
    "[" * 20000 + "]" * 20000,
    '{"text": ' + '{"a": ' * 3000 + "1" + "}" * 3000 + "}",
    '{"text": "hi", "location": {"lat": Infinity, "lon": 1}}',
    '{"text": "hi", "location": {"lat": NaN, "lon": 1}}',
    '{"text": "hi", "location": {"lat": 1e999, "lon": 1}}',
    '{"text": "hi", "location": {"lat": ' + "9" * 5000 + ', "lon": 1}}',
    '{"text": "hi", "location": {"lat": 16.06, "lon": 1000}}',
    '{"text": "hi", "location": {"lat": true, "lon": 1}}',
    '{"text": "hi", "location": [1, 2]}',
    '{"text": "\\ud800 lone"}',
    '{"text": "\\udfff"}',
    '{"text": "a\\u0000b"}',
    '{"text": "hi", "user_name": "\\u0000"}',
    '{"text": "hi", "message_id": {"x": 1}}',
    '{"text": "hi", "button": ["x"]}',
    '{"text": "hi", "chat_id": ' + "9" * 30 + "}",
    '{"text": "hi", "\\ud800": 1}',
])
def test_hostile_json_gets_a_vietnamese_400(server, body):
    r = _post(server, body)
    assert r.status_code == 400, (r.status_code, r.text[:200])
    assert r.json()["error"]
    assert server.post("still-up", "/start")["replies"]


def test_valid_numbers_and_surrogate_pairs_still_work(server):
    r = _post(server, json.dumps({"text": "xin chào 😀", "chat_id": 12345}))
    assert r.status_code == 200 and r.json()["replies"]
    r = _post(server, json.dumps({"location": {"lat": 16.06, "lon": 108.22}}))
    assert r.status_code == 200


# --- identity -----------------------------------------------------------------------------------
def test_session_is_issued_as_httponly_samesite_cookie_and_returned(server):
    r = httpx.post(server.url + "/api/messages", json={"text": "/start"}, timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"replies", "session"} and len(body["session"]) >= 40
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(COOKIE + "=" + body["session"])
    low = cookie.lower()
    assert "httponly" in low and "samesite=lax" in low and "secure" not in low  # plain http here
    # The cookie alone is the identity on the next request (what the web page does).
    again = httpx.post(server.url + "/api/messages", json={"text": "/start"},
                       cookies={COOKIE: body["session"]}, timeout=30)
    assert again.json()["session"] == body["session"] and "set-cookie" not in again.headers
    # Unknown sessions are never adopted: the server issues its own.
    forged = httpx.post(server.url + "/api/messages", json={"text": "/start"},
                        headers={"X-Session": "attacker-chosen-token"}, timeout=30).json()["session"]
    assert forged != "attacker-chosen-token"


def test_only_the_hash_of_the_session_is_stored(server):
    tok = httpx.post(server.url + "/api/messages", json={"text": "/start"}, timeout=30).json()["session"]
    eng = create_engine(server.env["DATABASE_URL"])
    try:
        with Session(eng) as s:
            rows = s.exec(select(WebSession)).all()
        assert rows and all(tok not in (r.token_hash, r.label) for r in rows)
    finally:
        eng.dispose()


def test_typing_another_chats_id_gives_a_fresh_session_with_none_of_its_state(server):
    server.post("victim", "/hoicanbo")
    assert "số điện thoại" in server.texts("victim", "Cho hỏi lệ phí chứng thực bản sao?")
    # The attacker names the victim's label and the victim's server chat id: neither is identity.
    for label in ("victim", server.chat_id("victim")):
        r = httpx.post(server.url + "/api/messages", timeout=30,
                       json={"chat_id": label, "user_id": label, "text": "0905111222"}).json()
        assert r["session"] != server.session("victim")
        assert "Cho hỏi lệ phí" not in "\n".join(x["text"] for x in r["replies"])
    # The victim's form is untouched.
    assert "Cho hỏi lệ phí" in server.texts("victim", "0905111222")


def test_admin_invite_minting_through_a_typed_chat_id_fails(server):
    server.post("admin-chat", "/start")
    admin_chat = server.chat_id("admin-chat")
    eng = create_engine(server.env["DATABASE_URL"])
    try:
        with Session(eng) as s:
            p = s.exec(select(Person).where(Person.chat_id == admin_chat)).one()
            R.grant(s, p, R.ADMIN, datetime.now(timezone.utc))
            s.commit()
        assert "Người nhận gõ /nhapma" in server.texts("admin-chat", "/moi canbo")  # the real admin can
        with Session(eng) as s:
            before = len(s.exec(select(Invite)).all())
        for label in ("admin-chat", admin_chat):
            r = httpx.post(server.url + "/api/messages", timeout=30,
                           json={"chat_id": label, "user_id": label, "text": "/moi canbo"})
            assert r.status_code == 200 and "Người nhận gõ" not in r.text
        with Session(eng) as s:
            assert len(s.exec(select(Invite)).all()) == before
    finally:
        eng.dispose()


def test_notifications_need_their_own_session(server):
    assert httpx.get(server.url + "/api/notifications", timeout=10).status_code == 401
    assert httpx.get(server.url + "/api/notifications", headers={"X-Session": "x" * 43}, timeout=10).status_code == 401
    assert httpx.get(server.url + "/api/messages/s-1/notifications", timeout=10).status_code == 410


def test_notification_photos_are_signed_links_not_server_paths(server):
    from datetime import timedelta
    from pathlib import Path
    from bot.core import Reply
    from bot.db import Database
    from bot.outbox import enqueue
    server.post("photo-chat", "/start")
    media = Path(server.env["BOT_DATA_DIR"]) / "media" / "web"
    media.mkdir(parents=True, exist_ok=True)
    (media / "sau.jpg").write_bytes(b"\xff\xd8after")
    db = Database(server.env["DATABASE_URL"])
    try:
        with db.session() as s:
            enqueue(s, "web", server.chat_id("photo-chat"), Reply("Đã xử lý xong", photo=str(media / "sau.jpg")),
                    now=datetime.now(timezone.utc) - timedelta(seconds=5))
            enqueue(s, "web", server.chat_id("photo-chat"), Reply("Tệp lạ", document="/etc/passwd"),
                    now=datetime.now(timezone.utc) - timedelta(seconds=4))
    finally:
        db.dispose()
    notes = server.notifications("photo-chat")
    assert notes[0]["photo"].startswith("/files/") and str(media) not in repr(notes)
    assert httpx.get(server.url + notes[0]["photo"], timeout=10).content == b"\xff\xd8after"
    assert "document" not in notes[1] and "/etc/passwd" not in repr(notes)
