"""A local Zalo Bot Platform API, after https://bot.zaloplatforms.com/docs.

POST {url}/bot{token}/{method} with a JSON body; answers {"ok": true, "result": ...} or
{"ok": false, "error_code", "description"}. getUpdates returns one event
({"event_name": "message.text.received", "message": {...}}) or, when nothing arrives within the
timeout, error 408. Real image events carry `photo_url` (the documentation says `photo`), and a
429 carries no `retry_after` (none is documented): the emulator does the same. Once setWebhook
is called, events are POSTed to the webhook as
{"ok": true, "result": event} with the X-Bot-Api-Secret-Token header. Photos residents send are
served at {url}/media/{name}. Failures are injected as in the Telegram emulator.
"""
from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter, defaultdict, deque

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.emulators._server import BackgroundServer
from tests.emulators.telegram import Call, DropMiddleware

SEND_METHODS = {"sendMessage", "sendPhoto", "sendSticker"}
TEXT_LIMIT = 2000


def _ok(result) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _err(code: int, description: str, http_status: int | None = None, **parameters) -> JSONResponse:
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=http_status or code)


class ZaloEmulator:
    def __init__(self, token: str = "1459232241454765289:zalo-test-token"):
        self._lock = threading.Lock()
        self._initial_token = token
        self.reset()
        self._server: BackgroundServer | None = None
        self.app = self._build()

    def reset(self) -> None:
        """Forget everything (calls, updates, failures, webhook): one emulator serves many tests."""
        self.token = self._initial_token
        self.bot_id = self.token.split(":")[0]
        self.calls: list[Call] = []
        self.sent_count: Counter = Counter()
        self._sent: dict[str, list[Call]] = defaultdict(list)
        self._updates: deque = deque()
        self._failures: dict[str, deque] = defaultdict(deque)
        self.media: dict[str, bytes] = {}
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.keep_calls = True

    def start(self) -> "ZaloEmulator":
        self._server = BackgroundServer(DropMiddleware(self.app, self)).start()
        self.url = self._server.url
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    def fail(self, method: str, kind: str = "500", times: int = 1, description: str | None = None) -> None:
        with self._lock:
            for _ in range(times):
                self._failures[method].append((kind, None, description))  # Zalo sends no retry_after

    def clear_failures(self) -> None:
        with self._lock:
            self._failures.clear()

    # --- events ---------------------------------------------------------------------------
    def event(self, chat_id: str, event_name: str, name: str = "Nguyễn Văn A", group: bool = False,
              user_id: str | None = None, **content) -> dict:
        msg = {"from": {"id": user_id or chat_id, "display_name": name, "is_bot": False},
               "chat": {"id": chat_id, "chat_type": "GROUP" if group else "PRIVATE"},
               "message_id": uuid.uuid4().hex[:20], "date": int(time.time() * 1000), **content}
        return {"event_name": event_name, "message": msg}

    def inject(self, update: dict) -> dict:
        if self.webhook_url:
            headers = {"X-Bot-Api-Secret-Token": self.webhook_secret or ""}
            r = httpx.post(self.webhook_url, json={"ok": True, "result": update}, headers=headers, timeout=60)
            self.last_webhook_status = r.status_code
        else:
            with self._lock:
                self._updates.append(update)
        return update

    def text(self, chat_id: str, text: str, **kw) -> dict:
        return self.inject(self.event(chat_id, "message.text.received", text=text, **kw))

    def photo(self, chat_id: str, content: bytes, caption: str | None = None, **kw) -> dict:
        name = f"{uuid.uuid4().hex}.jpg"
        self.media[name] = content
        extra = {"caption": caption} if caption else {}
        return self.inject(self.event(chat_id, "message.image.received", photo_url=f"{self.url}/media/{name}",
                                      **extra, **kw))

    def sticker(self, chat_id: str, **kw) -> dict:
        return self.inject(self.event(chat_id, "message.sticker.received", sticker="0e078a2fb66a5f34067b",
                                      url="https://zalo-api.zadn.vn/sticker.png", **kw))

    # --- inspection -------------------------------------------------------------------------
    def calls_of(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: str) -> list[Call]:
        with self._lock:
            return list(self._sent[str(chat_id)])

    def texts(self, chat_id: str) -> list[str]:
        return [c.params.get("text") or c.params.get("caption") or "" for c in self.sent(chat_id)]

    def wait_sent(self, chat_id: str, count: int = 1, timeout: float = 15) -> list[Call]:
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
            params = dict(request.query_params)
            body = await request.body()
            if body:
                try:
                    data = await request.json()
                except ValueError:
                    return _err(400, "Bad request")
                if isinstance(data, dict):
                    params.update(data)
            call = Call(method, params, time.monotonic())
            if self.keep_calls:
                with self._lock:
                    self.calls.append(call)
            if token != self.token:
                call.status = 401
                return _err(401, "Unauthorized")
            with self._lock:
                failure = self._failures[method].popleft() if self._failures.get(method) else None
            if failure:
                kind, retry_after, description = failure
                call.status = int(kind)
                extra = {"retry_after": retry_after} if retry_after is not None else {}
                names = {429: "Quota exceeded", 500: "Internal server error", 400: "Bad request",
                         403: "Internal server error"}
                return _err(int(kind), description or names.get(int(kind), "Error"), **extra)
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                call.status = 404
                return _err(404, "Not found")
            resp = await handler(params, request=request) if method == "getUpdates" else handler(params)
            call.status = resp.status_code
            if resp.status_code == 200 and method in SEND_METHODS:
                chat = str(params["chat_id"])
                with self._lock:
                    self.sent_count[chat] += 1
                    if self.keep_calls:
                        self._sent[chat].append(call)
            return resp

        @api.get("/media/{name}")
        def media(name: str):
            if name not in self.media:
                return Response(status_code=404)
            return Response(self.media[name], media_type="image/jpeg")

        return api

    def _m_getMe(self, p):
        return _ok({"id": self.bot_id, "account_name": "bot.PhuongTest", "account_type": "BASIC",
                    "can_join_groups": False})

    async def _m_getUpdates(self, p, request=None):
        deadline = time.monotonic() + float(p.get("timeout") or 30)
        while True:
            with self._lock:
                if self._updates:
                    return _ok(self._updates.popleft())
            if time.monotonic() >= deadline:
                return _err(408, "Request timeout")
            if request is not None and await request.is_disconnected():
                return _err(499, "client went away")
            await asyncio.sleep(0.01)

    def _m_setWebhook(self, p):
        url, secret = p.get("url") or "", p.get("secret_token") or ""
        if not url:
            return _err(400, "Bad request: url is required")
        if not 8 <= len(secret) <= 256:
            return _err(400, "Bad request: secret_token must be 8 to 256 characters")
        self.webhook_url, self.webhook_secret = url, secret
        return _ok({"url": url, "updated_at": int(time.time() * 1000)})

    def _m_deleteWebhook(self, p):
        self.webhook_url = self.webhook_secret = None
        return _ok({"url": "", "updated_at": int(time.time() * 1000)})

    def _m_getWebhookInfo(self, p):
        return _ok({"url": self.webhook_url or "", "updated_at": int(time.time() * 1000)})

    def _sent_result(self):
        return _ok({"message_id": uuid.uuid4().hex[:20], "date": int(time.time() * 1000)})

    def _m_sendMessage(self, p):
        if not p.get("chat_id"):
            return _err(400, "Bad request: chat_id is required")
        text = p.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT:
            return _err(400, "Bad request: text must be 1 to 2000 characters")
        return self._sent_result()

    def _m_sendPhoto(self, p):
        if not p.get("chat_id") or not p.get("photo"):
            return _err(400, "Bad request: chat_id and photo are required")
        if p.get("caption") is not None and not 1 <= len(p["caption"]) <= TEXT_LIMIT:
            return _err(400, "Bad request: caption must be 1 to 2000 characters")
        return self._sent_result()

    def _m_sendSticker(self, p):
        return self._sent_result()

    def _m_sendChatAction(self, p):
        if p.get("action") not in ("typing", "upload_photo"):
            return _err(400, "Bad request: unknown action")
        return JSONResponse({"ok": True})
