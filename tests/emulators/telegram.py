"""A local Telegram Bot API: enough of https://core.telegram.org/bots/api for the bot's adapter.

Calls go to {url}/bot{token}/{method} (query string, form, multipart or JSON parameters, as the
real server accepts); answers are {"ok": true, "result": ...} or {"ok": false, "error_code",
"description", "parameters": {"retry_after"}}. Files are served at {url}/file/bot{token}/{path}.
Every call is recorded. Tests inject updates (returned by getUpdates, or POSTed to the webhook
with the secret header once one is set) and failures: a 429 with retry_after, a 500, or a
connection dropped before the answer. Counting is per chat and cheap, for broadcast benchmarks.

    emu = TelegramEmulator().start()
    emu.text(42, "/start"); emu.wait_sent(42)
"""
from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.emulators._server import BackgroundServer

SEND_METHODS = {"sendMessage", "sendPhoto", "sendDocument", "sendLocation", "sendSticker"}
TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024


@dataclass
class Call:
    method: str
    params: dict
    t: float
    status: int = 200
    files: dict = field(default_factory=dict)  # field -> (filename, size)


class DropConnection(Exception):
    pass


def _ok(result) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _err(code: int, description: str, **parameters) -> JSONResponse:
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=code)


class TelegramEmulator:
    def __init__(self, token: str = "123456:TEST-token", username: str = "phuong_test_bot"):
        self._lock = threading.Lock()
        self._initial_token = token
        self.username = username
        self.reset()
        self._server: BackgroundServer | None = None
        self.app = self._build()

    def reset(self) -> None:
        """Forget everything (calls, updates, failures, webhook): one emulator serves many tests."""
        token = self._initial_token
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.calls: list[Call] = []
        self.sent_count: Counter = Counter()  # chat_id -> delivered messages
        self._sent: dict[int, list[Call]] = defaultdict(list)
        self._updates: deque = deque()
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._failures: dict[str, deque] = defaultdict(deque)
        self.blocked: set[int] = set()
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.commands: list[dict] = []
        self.keep_calls = True  # benchmarks may turn this off and read sent_count only
        # Like Telegram's flood control when on: more than 30 sends in a second, or a second
        # message to a private chat within a second (20/min for groups), gets a 429.
        self.enforce_limits = False
        self.limit_violations = 0
        self._window: deque = deque()
        self._last_to_chat: dict[int, float] = {}
        self._group_window: dict[int, deque] = defaultdict(deque)

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> "TelegramEmulator":
        self._server = BackgroundServer(DropMiddleware(self.app, self)).start()
        self.url = self._server.url
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- failures -------------------------------------------------------------------------
    def fail(self, method: str, kind: str = "500", times: int = 1, retry_after: int = 1,
             description: str | None = None) -> None:
        """kind: "429" (with retry_after), "500", "502", "400", "403", "drop" (connection closed
        mid-answer; the call has no effect). Consumed by the next `times` calls of `method`."""
        with self._lock:
            for _ in range(times):
                self._failures[method].append((kind, retry_after, description))

    def block(self, chat_id: int) -> None:
        self.blocked.add(int(chat_id))

    # --- updates --------------------------------------------------------------------------
    def _user(self, user_id: int, name: str) -> dict:
        return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "vi"}

    def _chat(self, chat_id: int, name: str) -> dict:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": f"Nhóm {chat_id}"}
        return {"id": chat_id, "type": "private", "first_name": name}

    def message(self, chat_id: int, user_id: int | None = None, name: str = "Nguyễn Văn A",
                **content) -> dict:
        user_id = user_id or (chat_id if chat_id > 0 else 777)
        msg = {"message_id": next(self._message_ids), "date": int(time.time()),
               "chat": self._chat(chat_id, name), "from": self._user(user_id, name), **content}
        if "text" in content and content["text"].startswith("/"):
            cmd = content["text"].split()[0]
            msg["entities"] = [{"type": "bot_command", "offset": 0, "length": len(cmd)}]
        return msg

    def inject(self, update: dict) -> dict:
        """Queue an update for getUpdates, or POST it to the webhook when one is set. Returns the
        update (with its update_id); a webhook delivery also records `last_webhook_status`."""
        update.setdefault("update_id", next(self._update_ids))
        if self.webhook_url:
            headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret} if self.webhook_secret else {}
            r = httpx.post(self.webhook_url, json=update, headers=headers, timeout=60)
            self.last_webhook_status = r.status_code
        else:
            with self._lock:
                self._updates.append(update)
        return update

    def text(self, chat_id: int, text: str, **kw) -> dict:
        return self.inject({"message": self.message(chat_id, text=text, **kw)})

    def press(self, chat_id: int, data: str, user_id: int | None = None, message_id: int | None = None) -> dict:
        user_id = user_id or (chat_id if chat_id > 0 else 777)
        msg = self.message(chat_id, user_id=user_id, text="(tin nhắn có nút)")
        if message_id:
            msg["message_id"] = message_id
        msg["from"] = {"id": self.bot_id, "is_bot": True, "first_name": "Bot", "username": self.username}
        cq = {"id": f"cq{next(self._update_ids)}", "from": self._user(user_id, "Nguyễn Văn A"),
              "chat_instance": str(chat_id), "message": msg, "data": data}
        return self.inject({"callback_query": cq})

    def add_file(self, content: bytes, suffix: str = "jpg") -> str:
        file_id = f"F{next(self._message_ids)}x{len(self.files)}"
        self.files[file_id] = (f"photos/file_{len(self.files)}.{suffix}", content)
        return file_id

    def photo(self, chat_id: int, content: bytes, caption: str | None = None, **kw) -> dict:
        # Like Telegram: several sizes, the largest last; only the largest is the real file here.
        small = self.add_file(content[: max(1, len(content) // 10)])
        big = self.add_file(content)
        sizes = [{"file_id": small, "file_unique_id": "u" + small, "width": 90, "height": 60,
                  "file_size": len(self.files[small][1])},
                 {"file_id": big, "file_unique_id": "u" + big, "width": 1280, "height": 853,
                  "file_size": len(content)}]
        content_kw = {"photo": sizes}
        if caption:
            content_kw["caption"] = caption
        return self.inject({"message": self.message(chat_id, **content_kw, **kw)})

    def location(self, chat_id: int, lat: float, lon: float, **kw) -> dict:
        return self.inject({"message": self.message(chat_id, location={"latitude": lat, "longitude": lon}, **kw)})

    # --- inspection -------------------------------------------------------------------------
    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int) -> list[Call]:
        """Messages delivered to a chat (successful send* calls), in order."""
        with self._lock:
            return list(self._sent[int(chat_id)])

    def texts(self, chat_id: int) -> list[str]:
        return [c.params.get("text") or c.params.get("caption") or "" for c in self.sent(chat_id)]

    def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 15) -> list[Call]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.sent(chat_id)
            if len(got) >= count:
                return got
            time.sleep(0.01)
        raise AssertionError(f"chat {chat_id}: {len(self.sent(chat_id))} messages, expected {count}: "
                             f"{self.texts(chat_id)}")

    def pending_updates(self) -> int:
        with self._lock:
            return len(self._updates)

    # --- the API ----------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        api = FastAPI()

        @api.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def method(token: str, method: str, request: Request):
            params, files = await _params(request)
            return await self.dispatch(token, method, params, files, request)

        @api.get("/_emulator/stats")
        def stats(per_chat: int = 0):
            out = self.stats()
            if per_chat:  # benchmarks check "each recipient exactly once" from outside the process
                with self._lock:
                    out["per_chat"] = {str(k): v for k, v in self.sent_count.items()}
            return out

        @api.get("/file/bot{token}/{path:path}")
        def file(token: str, path: str):
            if token != self.token:
                return Response(status_code=401)
            for fpath, content in self.files.values():
                if fpath == path:
                    return Response(content, media_type="application/octet-stream")
            return Response(status_code=404)

        return api

    async def dispatch(self, token: str, method: str, params: dict, files: dict, request=None):
        call = Call(method, params, time.monotonic(), files=files)
        if self.keep_calls:
            with self._lock:
                self.calls.append(call)
        if token != self.token:
            call.status = 401
            return _err(401, "Unauthorized")
        failure = None
        with self._lock:
            if self._failures.get(method):
                failure = self._failures[method].popleft()
        if failure:
            kind, retry_after, description = failure
            call.status = int(kind)
            if kind == "429":
                return _err(429, description or f"Too Many Requests: retry after {retry_after}",
                            retry_after=retry_after)
            if kind == "403":
                return _err(403, description or "Forbidden: bot was blocked by the user")
            if kind == "400":
                return _err(400, description or "Bad Request")
            return _err(int(kind), description or "Internal Server Error")
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            call.status = 404
            return _err(404, "Not Found: method not found")
        if self.enforce_limits and method in SEND_METHODS and self._flooding(params, call.t):
            call.status = 429
            return _err(429, "Too Many Requests: retry after 1", retry_after=1)
        if method == "getUpdates":
            resp = await handler(params, files, request=request)
        else:
            resp = handler(params, files)
        call.status = resp.status_code
        if resp.status_code == 200 and method in SEND_METHODS:
            chat = int(params["chat_id"])
            with self._lock:
                self.sent_count[chat] += 1
                if self.keep_calls:
                    self._sent[chat].append(call)
        return resp

    def _flooding(self, params: dict, now: float) -> bool:
        try:
            chat = int(params.get("chat_id"))
        except (TypeError, ValueError):
            return False
        with self._lock:
            # Some slack: a request can travel slower than the next one, the platform is fuzzy too.
            while self._window and self._window[0] <= now - 0.95:
                self._window.popleft()
            too_fast = len(self._window) >= 30
            if chat < 0:
                w = self._group_window[chat]
                while w and w[0] <= now - 60:
                    w.popleft()
                too_fast = too_fast or len(w) >= 20
            else:
                too_fast = too_fast or now - self._last_to_chat.get(chat, -10.0) < 0.75
            if too_fast:
                self.limit_violations += 1
                return True
            self._window.append(now)
            if chat < 0:
                self._group_window[chat].append(now)
            else:
                self._last_to_chat[chat] = now
            return False

    def stats(self) -> dict:
        with self._lock:
            return {"sent_total": sum(self.sent_count.values()), "chats": len(self.sent_count),
                    "max_per_chat": max(self.sent_count.values(), default=0),
                    "limit_violations": self.limit_violations, "calls": len(self.calls)}

    # Methods: each takes (params, files) and returns a JSONResponse.
    def _m_getMe(self, p, f):
        return _ok({"id": self.bot_id, "is_bot": True, "first_name": "Trợ lý số phường",
                    "username": self.username, "can_join_groups": True,
                    "can_read_all_group_messages": False, "supports_inline_queries": False})

    async def _m_getUpdates(self, p, f, request=None):
        if self.webhook_url:
            return _err(409, "Conflict: can't use getUpdates method while webhook is active; "
                             "use deleteWebhook to delete the webhook first")
        offset = int(p.get("offset") or 0)
        limit = min(int(p.get("limit") or 100), 100)
        deadline = time.monotonic() + float(p.get("timeout") or 0)
        while True:
            with self._lock:
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()  # confirmed by the offset
                batch = [u for u in self._updates if u["update_id"] >= offset][:limit]
            if batch or time.monotonic() >= deadline:
                return _ok(batch)
            if request is not None and await request.is_disconnected():
                return _err(499, "client went away")
            await asyncio.sleep(0.01)

    def _m_setWebhook(self, p, f):
        url = p.get("url") or ""
        secret = p.get("secret_token")
        if secret is not None and not (1 <= len(secret) <= 256 and all(c.isalnum() or c in "_-" for c in secret)):
            return _err(400, "Bad Request: secret token contains unallowed characters")
        self.webhook_url, self.webhook_secret = (url or None), secret
        return _ok(True)

    def _m_deleteWebhook(self, p, f):
        self.webhook_url = self.webhook_secret = None
        if str(p.get("drop_pending_updates")).lower() == "true":
            with self._lock:
                self._updates.clear()
        return _ok(True)

    def _m_getWebhookInfo(self, p, f):
        return _ok({"url": self.webhook_url or "", "has_custom_certificate": False,
                    "pending_update_count": self.pending_updates()})

    def _m_setMyCommands(self, p, f):
        cmds = p.get("commands")
        if not isinstance(cmds, list) or len(cmds) > 100:
            return _err(400, "Bad Request: commands must be a list of at most 100 items")
        for c in cmds:
            name, desc = c.get("command", ""), c.get("description", "")
            if not (1 <= len(name) <= 32 and all(ch.islower() or ch.isdigit() or ch == "_" for ch in name)):
                return _err(400, "Bad Request: BOT_COMMAND_INVALID")
            if not (1 <= len(desc) <= 256):
                return _err(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = cmds
        return _ok(True)

    def _m_getMyCommands(self, p, f):
        return _ok(self.commands)

    def _blocked(self, p):
        try:
            return int(p.get("chat_id")) in self.blocked
        except (TypeError, ValueError):
            return False

    def _message_result(self, p, **content):
        chat_id = int(p["chat_id"])
        msg = {"message_id": next(self._message_ids), "date": int(time.time()),
               "chat": self._chat(chat_id, "Nguyễn Văn A"),
               "from": {"id": self.bot_id, "is_bot": True, "first_name": "Trợ lý số phường",
                        "username": self.username}, **content}
        if p.get("reply_markup"):
            msg["reply_markup"] = p["reply_markup"]
        return _ok(msg)

    def _check_chat(self, p):
        if not str(p.get("chat_id") or "").lstrip("-").isdigit():
            return _err(400, "Bad Request: chat not found")
        if self._blocked(p):
            return _err(403, "Forbidden: bot was blocked by the user")
        return None

    def _m_sendMessage(self, p, f):
        bad = self._check_chat(p)
        if bad:
            return bad
        text = p.get("text") or ""
        if not text.strip():
            return _err(400, "Bad Request: message text is empty")
        if len(text) > TEXT_LIMIT:
            return _err(400, "Bad Request: message is too long")
        markup = p.get("reply_markup")
        if markup is not None:
            for row in markup.get("inline_keyboard", []):
                for b in row:
                    if len(b.get("callback_data", "").encode()) > 64:
                        return _err(400, "Bad Request: BUTTON_DATA_INVALID")
        return self._message_result(p, text=text)

    def _media(self, p, f, field_name):
        bad = self._check_chat(p)
        if bad:
            return bad
        if len(p.get("caption") or "") > CAPTION_LIMIT:
            return _err(400, "Bad Request: message caption is too long")
        if field_name not in f and not p.get(field_name):
            return _err(400, f"Bad Request: there is no {field_name} in the request")
        extra = {"caption": p["caption"]} if p.get("caption") else {}
        if field_name == "photo":
            return self._message_result(p, photo=[{"file_id": "sent", "file_unique_id": "sent", "width": 1,
                                                   "height": 1}], **extra)
        return self._message_result(p, document={"file_id": "sent", "file_unique_id": "sent",
                                                 "file_name": f.get(field_name, ("file",))[0]}, **extra)

    def _m_sendPhoto(self, p, f):
        return self._media(p, f, "photo")

    def _m_sendDocument(self, p, f):
        return self._media(p, f, "document")

    def _m_sendChatAction(self, p, f):
        bad = self._check_chat(p)
        return bad or _ok(True)

    def _m_answerCallbackQuery(self, p, f):
        if not p.get("callback_query_id"):
            return _err(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return _ok(True)

    def _m_editMessageReplyMarkup(self, p, f):
        return _ok(True)

    def _m_getFile(self, p, f):
        fid = p.get("file_id")
        if fid not in self.files:
            return _err(400, "Bad Request: invalid file_id")
        path, content = self.files[fid]
        return _ok({"file_id": fid, "file_unique_id": "u" + fid, "file_size": len(content), "file_path": path})

    def _m_close(self, p, f):
        return _ok(True)

    def _m_logOut(self, p, f):
        return _ok(True)


async def _params(request: Request) -> tuple[dict, dict]:
    """Parameters as the Bot API takes them: query string, urlencoded or multipart form (values
    that are JSON objects or arrays arrive serialised), or a JSON body."""
    params: dict = dict(request.query_params)
    files: dict = {}
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        body = await request.body()
        if body:
            params.update(json.loads(body))
    elif ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form()
        for key, value in form.multi_items():
            if hasattr(value, "filename") and hasattr(value, "read"):
                data = await value.read()
                files[key] = (value.filename, len(data))
            else:
                params[key] = value
    for key, value in list(params.items()):
        if isinstance(value, str) and value[:1] in "[{":
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                pass
    # A file uploaded as attach://name is referenced from the parameter of the same name.
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            ref = value[len("attach://"):]
            if ref in files:
                files[key] = files[ref]
    return params, files


class DropMiddleware:
    """A dropped connection as the client sees it: the answer starts, then the connection closes
    before the body is complete (uvicorn closes the socket when the app fails mid-answer). The
    call has no effect. Sits outside FastAPI, whose error handler would answer 500 instead."""

    def __init__(self, app, emulator):
        self.app, self.emu = app, emulator

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            method = scope["path"].rstrip("/").rsplit("/", 1)[-1]
            with self.emu._lock:
                q = self.emu._failures.get(method)
                drop = bool(q) and q[0][0] == "drop"
                if drop:
                    q.popleft()
                    self.emu.calls.append(Call(method, {}, time.monotonic(), status=0))
            if drop:
                while (await receive()).get("more_body"):
                    pass
                await send({"type": "http.response.start", "status": 200,
                            "headers": [(b"content-type", b"application/json"), (b"content-length", b"500")]})
                await send({"type": "http.response.body", "body": b'{"ok": tr', "more_body": True})
                raise DropConnection(method)
            # Fast path for plain form or JSON calls (every send* without a file upload): no
            # framework routing, which matters when a benchmark sends 10,000 messages.
            fast = getattr(self.emu, "dispatch", None)
            headers = dict(scope["headers"])
            ctype = headers.get(b"content-type", b"").split(b";")[0]
            parts = scope["path"].split("/")
            if (fast and scope["method"] == "POST" and method != "getUpdates" and len(parts) == 3
                    and parts[1].startswith("bot") and ctype in (b"application/x-www-form-urlencoded",
                                                                 b"application/json")):
                body = b""
                while True:
                    msg = await receive()
                    body += msg.get("body", b"")
                    if not msg.get("more_body"):
                        break
                params = _parse_body(ctype, body)
                resp = await fast(parts[1][3:], method, params, {})
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _parse_body(ctype: bytes, body: bytes) -> dict:
    from urllib.parse import parse_qsl
    if ctype == b"application/json":
        params = json.loads(body) if body else {}
    else:
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    for key, value in list(params.items()):
        if isinstance(value, str) and value[:1] in "[{":
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                pass
    return params


if __name__ == "__main__":  # a standalone emulator for a bot in another process
    import argparse
    ap = argparse.ArgumentParser(description="local Telegram Bot API emulator")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--token", default="123456:TEST-token")
    ap.add_argument("--enforce-limits", action="store_true")
    a = ap.parse_args()
    emu = TelegramEmulator(token=a.token)
    emu.enforce_limits, emu.keep_calls = a.enforce_limits, False
    import uvicorn
    print(f"Telegram emulator on http://127.0.0.1:{a.port} (token {a.token}); stats at /_emulator/stats")
    uvicorn.run(DropMiddleware(emu.app, emu), host="127.0.0.1", port=a.port, log_level="warning")
