"""A local Zalo Official Account (OA Open API v3 + OAuth v4), after ../shared/reference/zalo-oa.md.

One server plays the three hosts: OAuth (`/v4/oa/permission`, `/v4/oa/access_token`), the Open API
(`/v3.0/oa/message/cs|transaction`, `/v3.0/oa/user/detail`, `/v2.0/oa/upload/image`) and ZNS
(`/message/template`). It enforces what a ward's channel must cope with:
- every call needs a live `access_token` header, else `{"error": -216}` (HTTP 200);
- refresh tokens are single-use: each refresh returns a new pair, the old refresh token dies;
- the authorization-code grant checks the PKCE verifier against the challenge;
- windows: a `cs` message naming `recipient.message_id` is a free reply within 48 h of that
  resident message, 8 at most; one naming `recipient.user_id` is proactive: the user must have
  interacted within 7 days, and it uses the monthly proactive quota. Out of window: -213, out of
  quota: -211 (the real codes are unverified); an unfollowed user: -230;
- text at most 2,000 characters, at most 5 buttons, images up to 1 MB.
Events are POSTed to the webhook signed like Zalo's: `X-ZEvent-Signature: mac=<sha256(app_id +
body + timestamp + OA secret key)>`; every answer the OA sends is echoed as an `oa_send_*` event.
Time is the emulator's own (`advance()` moves it) so windows and token lifetimes can be crossed.
"""
from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from tests.emulators._server import BackgroundServer

TEXT_LIMIT = 2000
MAX_BUTTONS = 5
MAX_IMAGE = 1024 * 1024
REPLY_WINDOW = 48 * 3600
REPLIES_PER_MESSAGE = 8
INTERACTION_WINDOW = 7 * 24 * 3600
ACCESS_TTL = 25 * 3600
REFRESH_TTL = 90 * 24 * 3600

ERR_TOKEN = -216
ERR_WINDOW = -213
ERR_QUOTA = -211
ERR_UNFOLLOWED = -230


@dataclass
class Sent:
    path: str
    body: dict
    token: str
    t: float
    status: int = 0  # the answer's "error"
    kind: str = ""  # reply (free, by message_id) | proactive (by user_id) | transaction | zns

    @property
    def text(self) -> str:
        return (self.body.get("message") or {}).get("text") or ""

    @property
    def buttons(self) -> list[dict]:
        att = (self.body.get("message") or {}).get("attachment") or {}
        return list((att.get("payload") or {}).get("buttons") or [])


@dataclass
class User:
    user_id: str
    display_name: str
    followed: bool = True
    last_interaction: float = 0.0
    messages: dict = field(default_factory=dict)  # msg_id -> [time, replies]


class ZaloOaEmulator:
    def __init__(self, app_id: str = "3958472659283746512", oa_id: str = "579745863508352884",
                 oa_secret_key: str = "oa-secret-KXh2P9q", app_secret: str = "app-secret-7hGd2"):
        self.app_id, self.oa_id = app_id, oa_id
        self.oa_secret_key, self.app_secret = oa_secret_key, app_secret
        self._lock = threading.Lock()
        self._server: BackgroundServer | None = None
        self.reset()
        self.app = self._build()

    def reset(self) -> None:
        self.offset = 0.0
        self._n = 0
        self.access: dict[str, float] = {}  # access token -> expiry (emulator time)
        self.refresh: dict[str, float] = {}  # live refresh tokens -> expiry
        self.used_refresh: list[str] = []
        self.access_ttl = ACCESS_TTL
        self.access_token, self.refresh_token = self._issue()
        self.codes: dict[str, tuple[str, str]] = {}  # code -> (challenge, redirect_uri)
        self.users: dict[str, User] = {}
        self.sent: list[Sent] = []
        self.calls: list[tuple[str, int]] = []  # (path, error) of every API call
        self.refresh_calls: list[dict] = []
        self.zns: list[dict] = []
        self.uploads: dict[str, bytes] = {}
        self.media: dict[str, bytes] = {}
        self.quota = 1000
        self.webhook_url: str | None = None
        self.echo = True
        self.acks: list[tuple[int, float]] = []  # (HTTP status, seconds) of every webhook call
        self._failures: dict[str, deque] = defaultdict(deque)

    def start(self) -> "ZaloOaEmulator":
        self._server = BackgroundServer(self.app).start()
        self.url = self._server.url
        return self

    def stop(self) -> None:
        if self._server:
            self._server.stop()

    # --- time and tokens --------------------------------------------------------------------
    def now(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float = 0, hours: float = 0, days: float = 0) -> None:
        self.offset += seconds + hours * 3600 + days * 86400

    def _issue(self) -> tuple[str, str]:
        self._n += 1
        at, rt = f"AT{self._n}-{uuid.uuid4().hex[:16]}", f"RT{self._n}-{uuid.uuid4().hex[:16]}"
        self.access[at] = self.now() + self.access_ttl
        self.refresh[rt] = self.now() + REFRESH_TTL
        return at, rt

    def expire_access_token(self) -> None:
        """Every access token issued so far stops working (as after 25 h)."""
        with self._lock:
            for t in self.access:
                self.access[t] = 0.0

    def fail(self, path: str, kind: str = "500", times: int = 1) -> None:
        """The next calls to path (e.g. "/v3.0/oa/message/cs") answer HTTP 500, or an OA error
        code such as "-216"."""
        with self._lock:
            for _ in range(times):
                self._failures[path].append(kind)

    # --- events -----------------------------------------------------------------------------
    def user(self, user_id: str, name: str | None = None) -> User:
        with self._lock:
            u = self.users.get(user_id)
            if u is None:
                u = self.users[user_id] = User(user_id, name or f"Cư dân {user_id[-4:]}")
            elif name:
                u.display_name = name
            return u

    def event(self, user_id: str, event_name: str, text: str | None = None,
              attachments: list | None = None, **extra) -> dict:
        ts = str(int(self.now() * 1000))
        ev = {"app_id": self.app_id, "user_id_by_app": "9" + user_id[-12:], "event_name": event_name,
              "timestamp": ts, "sender": {"id": user_id}, "recipient": {"id": self.oa_id}}
        if event_name.startswith("user_send_") or event_name == "user_submit_info":
            msg = {"msg_id": uuid.uuid4().hex + uuid.uuid4().hex[:8]}
            if text is not None:
                msg["text"] = text
            if attachments is not None:
                msg["attachments"] = attachments
            ev["message"] = msg
        ev.update(extra)
        return ev

    def sign(self, body: bytes, timestamp: str) -> str:
        mac = hashlib.sha256(self.app_id.encode() + body + timestamp.encode() + self.oa_secret_key.encode())
        return "mac=" + mac.hexdigest()

    def post(self, ev: dict, signature: str | None = "auto", timeout: float = 30,
             url: str | None = None) -> httpx.Response:
        """POST an event to the webhook as Zalo does; the user's interaction counts from here."""
        body = json.dumps(ev, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json"}
        d = ev if isinstance(ev, dict) else {}
        if signature == "auto":
            headers["X-ZEvent-Signature"] = self.sign(body, str(d.get("timestamp", "")))
        elif signature is not None:
            headers["X-ZEvent-Signature"] = signature
        sender = d.get("sender")
        uid = sender.get("id") if isinstance(sender, dict) else None
        if uid and str(d.get("event_name", "")).startswith(("user_", "follow", "unfollow")):
            u = self.user(uid)
            with self._lock:
                u.last_interaction = self.now()
                mid = (ev.get("message") or {}).get("msg_id")
                if mid and mid not in u.messages:
                    u.messages[mid] = [self.now(), 0]
                if ev["event_name"] == "follow":
                    u.followed = True
                elif ev["event_name"] == "unfollow":
                    u.followed = False
        t0 = time.monotonic()
        r = httpx.post(url or self.webhook_url, content=body, headers=headers, timeout=timeout)
        with self._lock:
            self.acks.append((r.status_code, time.monotonic() - t0))
        return r

    def text(self, user_id: str, text: str, **kw) -> dict:
        ev = self.event(user_id, "user_send_text", text=text)
        self.post(ev, **kw)
        return ev

    def press(self, user_id: str, button: dict) -> dict:
        """A resident taps an oa.query.* button: its payload comes back as their message."""
        assert button["type"] in ("oa.query.show", "oa.query.hide"), button
        return self.text(user_id, button["payload"])

    def image(self, user_id: str, content: bytes, caption: str | None = None) -> dict:
        name = f"{uuid.uuid4().hex}.jpg"
        self.media[name] = content
        url = f"{self.url}/media/{name}"
        ev = self.event(user_id, "user_send_image", text=caption or "",
                        attachments=[{"type": "image", "payload": {"url": url, "thumbnail": url}}])
        self.post(ev)
        return ev

    def file(self, user_id: str, content: bytes, name: str = "don.pdf") -> dict:
        key = f"{uuid.uuid4().hex}.bin"
        self.media[key] = content
        ev = self.event(user_id, "user_send_file", attachments=[{"type": "file", "payload": {
            "url": f"{self.url}/media/{key}", "name": name, "size": str(len(content)), "type": name.rsplit(".", 1)[-1]}}])
        self.post(ev)
        return ev

    def location(self, user_id: str, lat: float, lon: float, place: str = "") -> dict:
        # Coordinates arrive as strings.
        ev = self.event(user_id, "user_send_location", text=place, attachments=[
            {"type": "location", "payload": {"coordinates": {"latitude": str(lat), "longitude": str(lon)}}}])
        self.post(ev)
        return ev

    def sticker(self, user_id: str) -> dict:
        ev = self.event(user_id, "user_send_sticker", attachments=[
            {"type": "sticker", "payload": {"id": "bfe458bf64fa8da4d4eb", "url": "https://zalo-api.zadn.vn/s.png"}}])
        self.post(ev)
        return ev

    def follow(self, user_id: str) -> dict:
        ev = self.event(user_id, "follow", follower={"id": user_id}, source="oa_profile")
        self.post(ev)
        return ev

    def unfollow(self, user_id: str) -> dict:
        ev = self.event(user_id, "unfollow", follower={"id": user_id}, source="oa_profile")
        self.post(ev)
        return ev

    def submit_info(self, user_id: str, name: str, phone: str, address: str = "") -> dict:
        ev = self.event(user_id, "user_submit_info", info={"name": name, "phone": phone, "address": address,
                                                           "city": "Đà Nẵng", "district": ""})
        self.post(ev)
        return ev

    # --- inspection -------------------------------------------------------------------------
    def sent_to(self, user_id: str) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.status == 0 and s.kind != "zns"
                    and (s.body.get("recipient") or {}).get("user_id", self._owner(s)) == user_id]

    def _owner(self, s: Sent) -> str | None:
        mid = (s.body.get("recipient") or {}).get("message_id")
        for u in self.users.values():
            if mid in u.messages:
                return u.user_id
        return None

    def texts(self, user_id: str) -> list[str]:
        return [s.text for s in self.sent_to(user_id)]

    def wait_sent(self, user_id: str, count: int = 1, timeout: float = 15) -> list[Sent]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.sent_to(user_id)
            if len(got) >= count:
                return got
            time.sleep(0.01)
        raise AssertionError(f"user {user_id}: {len(self.sent_to(user_id))} messages, expected {count}: "
                             f"{self.texts(user_id)}")

    # --- the API ----------------------------------------------------------------------------
    def _build(self) -> FastAPI:
        api = FastAPI()

        def err(code: int, message: str, path: str) -> JSONResponse:
            with self._lock:
                self.calls.append((path, code))
            return JSONResponse({"error": code, "message": message})

        def check(request: Request, path: str):
            with self._lock:
                failure = self._failures[path].popleft() if self._failures.get(path) else None
            if failure == "500":
                with self._lock:
                    self.calls.append((path, 500))
                return Response("Internal Server Error", status_code=500)
            if failure:
                return err(int(failure), "injected failure", path)
            token = request.headers.get("access_token") or ""
            with self._lock:
                expiry = self.access.get(token)
            if expiry is None or expiry <= self.now():
                return err(ERR_TOKEN, "Access token is invalid", path)
            return token

        @api.get("/v4/oa/permission")
        def permission(app_id: str, redirect_uri: str, code_challenge: str = "", state: str = ""):
            # The OA admin logs in and consents; Zalo redirects back with a one-time code.
            if app_id != self.app_id:
                return JSONResponse({"error": -14001, "error_name": "Invalid app_id"}, status_code=400)
            code = uuid.uuid4().hex
            with self._lock:
                self.codes[code] = (code_challenge, redirect_uri)
            q = urlencode({"code": code, "oa_id": self.oa_id, "state": state, "code_challenge": code_challenge})
            return RedirectResponse(f"{redirect_uri}?{q}", status_code=302)

        @api.post("/v4/oa/access_token")
        async def access_token(request: Request):
            form = dict(await request.form())
            with self._lock:
                self.refresh_calls.append(form)
            if request.headers.get("secret_key") != self.app_secret:
                return JSONResponse({"error": -14002, "error_name": "Invalid secret key",
                                     "error_description": "secret_key is wrong"})
            if form.get("app_id") != self.app_id:
                return JSONResponse({"error": -14001, "error_name": "Invalid app_id"})
            grant = form.get("grant_type")
            with self._lock:
                if grant == "refresh_token":
                    rt = form.get("refresh_token") or ""
                    expiry = self.refresh.pop(rt, None)  # single-use
                    if expiry is None or expiry <= self.now():
                        return JSONResponse({"error": -14014, "error_name": "Invalid refresh token",
                                             "error_description": "Refresh token is invalid or used"})
                    self.used_refresh.append(rt)
                elif grant == "authorization_code":
                    code = form.get("code") or ""
                    entry = self.codes.pop(code, None)
                    if entry is None:
                        return JSONResponse({"error": -14019, "error_name": "Invalid code"})
                    challenge = entry[0]
                    verifier = form.get("code_verifier") or ""
                    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
                    if challenge and digest != challenge:
                        return JSONResponse({"error": -14020, "error_name": "Invalid code verifier"})
                else:
                    return JSONResponse({"error": -14003, "error_name": "Invalid grant_type"})
                self.access_token, self.refresh_token = self._issue()
                return JSONResponse({"access_token": self.access_token, "refresh_token": self.refresh_token,
                                     "expires_in": str(int(self.access_ttl))})

        @api.post("/v3.0/oa/message/cs")
        async def cs(request: Request):
            path = "/v3.0/oa/message/cs"
            token = check(request, path)
            if not isinstance(token, str):
                return token
            try:
                body = await request.json()
            except ValueError:
                return err(-201, "Body is not JSON", path)
            return self._send(path, body, token)

        @api.post("/v3.0/oa/message/transaction")
        async def transaction(request: Request):
            path = "/v3.0/oa/message/transaction"
            token = check(request, path)
            if not isinstance(token, str):
                return token
            body = await request.json()
            return self._send(path, body, token, kind="transaction")

        @api.post("/v2.0/oa/upload/image")
        async def upload(request: Request):
            path = "/v2.0/oa/upload/image"
            token = check(request, path)
            if not isinstance(token, str):
                return token
            form = await request.form()
            f = form.get("file")
            if f is None or not hasattr(f, "read"):
                return err(-201, "file is required", path)
            data = await f.read()
            if len(data) > MAX_IMAGE:
                return err(-210, "Image is larger than 1MB", path)
            if not (data.startswith(b"\xff\xd8") or data.startswith(b"\x89PNG")):
                return err(-210, "Only jpg and png", path)
            aid = uuid.uuid4().hex
            with self._lock:
                self.uploads[aid] = data
                self.calls.append((path, 0))
            return JSONResponse({"error": 0, "message": "Success", "data": {"attachment_id": aid}})

        @api.get("/v3.0/oa/user/detail")
        def user_detail(request: Request, data: str = "{}"):
            path = "/v3.0/oa/user/detail"
            token = check(request, path)
            if not isinstance(token, str):
                return token
            try:
                uid = str(json.loads(data).get("user_id") or "")
            except (ValueError, AttributeError):
                return err(-201, "data is invalid", path)
            u = self.users.get(uid)
            if u is None:
                return err(-213, "User has not interacted with the OA", path)
            with self._lock:
                self.calls.append((path, 0))
            return JSONResponse({"error": 0, "message": "Success", "data": {
                "user_id": uid, "display_name": u.display_name, "user_is_follower": u.followed,
                "avatar": "https://s120-ava-talk.zadn.vn/a.jpg"}})

        @api.post("/message/template")
        async def zns(request: Request):
            path = "/message/template"
            token = check(request, path)
            if not isinstance(token, str):
                return token
            body = await request.json()
            phone = str(body.get("phone") or "")
            if not (phone.startswith("84") and phone.isdigit() and 10 <= len(phone) <= 12):
                return err(-108, "Phone number is invalid", path)
            if not body.get("template_id") or not isinstance(body.get("template_data"), dict):
                return err(-124, "Template is invalid", path)
            with self._lock:
                self.zns.append(body)
                self.sent.append(Sent(path, body, token, time.monotonic(), 0, "zns"))
                self.calls.append((path, 0))
            return JSONResponse({"error": 0, "message": "Success",
                                 "data": {"msg_id": uuid.uuid4().hex, "sent_time": str(int(self.now() * 1000))}})

        @api.get("/media/{name}")
        def media(name: str):
            if name not in self.media:
                return Response(status_code=404)
            return Response(self.media[name], media_type="image/jpeg" if name.endswith(".jpg") else
                            "application/octet-stream")

        return api

    def _send(self, path: str, body: dict, token: str, kind: str = "") -> JSONResponse:
        rec = body.get("recipient") or {}
        msg = body.get("message") or {}
        now = self.now()

        def fail(code: int, message: str) -> JSONResponse:
            with self._lock:
                self.sent.append(Sent(path, body, token, time.monotonic(), code, kind))
                self.calls.append((path, code))
            return JSONResponse({"error": code, "message": message})

        text = msg.get("text")
        att = msg.get("attachment")
        if text is None and att is None:
            return fail(-201, "message.text or message.attachment is required")
        if text is not None and (not isinstance(text, str) or not 1 <= len(text) <= TEXT_LIMIT):
            return fail(-201, "Text must be 1 to 2000 characters")
        if att is not None:
            payload = att.get("payload") or {}
            buttons = payload.get("buttons") or []
            if len(buttons) > MAX_BUTTONS:
                return fail(-201, "At most 5 buttons")
            for b in buttons:
                if b.get("type") not in ("oa.query.show", "oa.query.hide", "oa.open.url", "oa.open.phone") \
                        or not b.get("title") or not b.get("payload"):
                    return fail(-201, "Invalid button")
            for el in payload.get("elements") or []:
                if el.get("media_type") == "image" and not (el.get("url") or el.get("attachment_id") in self.uploads):
                    return fail(-201, "Invalid image")
        with self._lock:
            if "message_id" in rec:
                owner = next((u for u in self.users.values() if rec["message_id"] in u.messages), None)
                if owner is None:
                    pass
                else:
                    at, replies = owner.messages[rec["message_id"]]
                    if kind != "transaction" and (now - at > REPLY_WINDOW or replies >= REPLIES_PER_MESSAGE):
                        owner = None
            elif "user_id" in rec:
                owner = self.users.get(str(rec["user_id"]))
            else:
                owner = None
        if owner is None and "message_id" in rec:
            return fail(ERR_WINDOW, "The message is outside the reply window")
        if owner is None:
            return fail(-201, "User is invalid")
        if not owner.followed:
            return fail(ERR_UNFOLLOWED, "User has not followed the OA")
        if kind == "transaction":
            if now - owner.last_interaction > 365 * 86400:
                return fail(ERR_WINDOW, "User has not interacted with the OA in a year")
        elif "message_id" in rec:
            kind = "reply"
        else:
            if now - owner.last_interaction > INTERACTION_WINDOW:
                return fail(ERR_WINDOW, "User has not interacted with the OA in the last 7 days")
            if self.quota <= 0:
                return fail(ERR_QUOTA, "The OA has used its proactive message quota")
            kind = "proactive"
        with self._lock:
            if kind == "reply":
                owner.messages[rec["message_id"]][1] += 1
            elif kind == "proactive":
                self.quota -= 1
            mid = uuid.uuid4().hex
            self.sent.append(Sent(path, body, token, time.monotonic(), 0, kind))
            self.calls.append((path, 0))
        if self.echo and self.webhook_url:
            echo = {"app_id": self.app_id, "event_name": "oa_send_text" if text else "oa_send_image",
                    "timestamp": str(int(now * 1000)), "sender": {"id": self.oa_id},
                    "recipient": {"id": owner.user_id}, "message": {"msg_id": mid, "text": text or ""}}
            threading.Thread(target=self._echo, args=(echo,), daemon=True).start()
        return JSONResponse({"error": 0, "message": "Success", "data": {"message_id": mid, "user_id": owner.user_id}})

    def _echo(self, ev: dict) -> None:
        try:
            self.post(ev)
        except httpx.HTTPError:
            pass
