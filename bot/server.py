"""HTTP server: the local web chat, the JSON message API, health, and what feature modules and
channel adapters mount (webhooks, Open311, report downloads)."""
from __future__ import annotations

import json
import logging
import threading
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from sqlmodel import select, update

from bot import httpsafe as H
from bot import signing
from bot import web_session as W
from bot.core import Incoming, Location
from bot.models import OutboxMessage

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _message_fields(data) -> dict:
    """Incoming's fields from a POST /api/messages body, or BadInput. chat_id and user_id are
    only a label the client gives its session: identity comes from the session itself."""
    if not isinstance(data, dict):
        raise H.BadInput("JSON phải là một đối tượng, ví dụ {\"text\": \"xin chào\"}.")
    label = H.opt_str(data, "chat_id", 64) or H.opt_str(data, "user_id", 64)
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise H.BadInput("text phải là chuỗi.")
    button = H.opt_str(data, "button", 200)
    loc = None
    if data.get("location") is not None:
        raw = data["location"]
        if not isinstance(raw, dict):
            raise H.BadInput("location phải có lat và lon là số.")
        loc = Location(H.finite_number(raw.get("lat"), "location.lat", -90, 90),
                       H.finite_number(raw.get("lon"), "location.lon", -180, 180))
    mid = H.opt_str(data, "message_id", 100)
    name = H.opt_str(data, "user_name", 200)
    return dict(label=label.strip() if label else None, text=text, button=button, location=loc,
                update_id=mid, user_name=name or None)


def _public_reply(d: dict, key: bytes, data_dir) -> dict:
    """A reply as the browser gets it: a photo or document is an expiring signed link under
    /files (bot/signing.py), never a path on the server."""
    out = dict(d)
    for field, ttl in (("photo", signing.PHOTO_TTL), ("document", signing.DOCUMENT_TTL)):
        if out.get(field):
            signed = signing.sign(key, data_dir, out[field], ttl)
            if signed:
                out[field] = "/files/" + signed
            else:
                out.pop(field)
    return out


def _set_cookie(resp: JSONResponse, request: Request, token: str, app) -> None:
    secure = request.url.scheme == "https" or (app.settings.public_url or "").startswith("https://")
    resp.set_cookie(W.COOKIE, token, max_age=W.IDLE_DAYS * 86400, httponly=True, samesite="lax",
                    secure=secure, path="/")


class OutboxWorker:
    """Delivers outbox rows in the background; woken at once when a handler enqueues."""

    def __init__(self, app, interval: float = 2.0):
        self.app, self.interval = app, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox", daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self.app.outbox_event.set()
        self._thread.join(timeout=10)

    def _run(self):
        from bot.outbox import recover_own_claims
        try:
            recover_own_claims(self.app.db, self.app.settings.worker_id, self.app.clock.now())
        except Exception:
            log.exception("recovering this worker's outbox claims failed")
        while not self._stop.is_set():
            try:
                while self.app.deliver_outbox() and not self._stop.is_set():
                    pass
            except Exception:
                log.exception("outbox delivery failed")
            self.app.outbox_event.wait(self.interval)
            self.app.outbox_event.clear()


def create_api(app, background: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_api):
        workers = []
        if background:
            from scheduler.core import Heartbeat
            w = OutboxWorker(app)
            w.start()
            workers.append(w)
            hb = Heartbeat(app)
            hb.start()
            workers.append(hb)
            from bot.kbwatch import KbWatcher
            kw = KbWatcher(app, interval=app.settings.kb_poll_seconds)
            kw.start()
            workers.append(kw)
        for fn in on_start:
            await fn()
        yield
        for fn in on_stop:
            await fn()
        for w in workers:
            w.stop()

    api = FastAPI(title="Trợ lý số phường", lifespan=lifespan, docs_url="/api/docs", redoc_url=None)
    api.state.bot = app
    # Every route's body is bounded before it is buffered; webhooks carry bigger updates.
    # Photo uploads (web chat, back office) allow a 10 MB photo plus the form around it.
    api.add_middleware(H.BodyLimit, default=MAX_BODY, limits={
        "/webhook": 1024 * 1024, "/api/messages/photo": 11 * 1024 * 1024, "/admin": 11 * 1024 * 1024})
    api.add_middleware(H.NoSecretsInQuery)
    on_start, on_stop = [], []
    api.state.on_start, api.state.on_stop = on_start, on_stop

    @api.get("/healthz")
    def healthz():
        with app.db.session() as s:
            s.exec(select(1)).first()
        return {"status": "ok", "ward": app.profile.ward.name}

    @api.get("/")
    def index():
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    files_key = signing.load_key(app.settings.data_dir)

    @api.post("/api/messages")
    async def post_message(request: Request):
        try:
            data = await H.request_json(request, MAX_BODY)
            msg_fields = _message_fields(data)
        except H.BadInput as e:
            return H.error_response(e)
        from starlette.concurrency import run_in_threadpool
        row, new_token = await run_in_threadpool(W.find_or_create, app.db, W.token_of(request), app.clock.now(),
                                                 msg_fields.pop("label"))
        chat_id = W.chat_id_of(row.id)
        if msg_fields["update_id"]:  # retries are recognised per session: one cannot pre-empt another's ids
            msg_fields["update_id"] = f"{chat_id}:{msg_fields['update_id']}"
        msg = Incoming(channel="web", chat_id=chat_id, user_id=chat_id, **msg_fields)
        replies = await run_in_threadpool(app.handle, msg)
        token = new_token or W.token_of(request)
        resp = JSONResponse({"replies": [_public_reply(r.to_dict(), files_key, app.settings.data_dir) for r in replies],
                             "session": token})
        if new_token:
            _set_cookie(resp, request, new_token, app)
        return resp

    @api.get("/files/{token}/{name}", include_in_schema=False)
    def signed_file(token: str, name: str):
        """Media and generated reports through expiring signed links (bot/signing.py) only."""
        p = signing.resolve(files_key, app.settings.data_dir, token)
        if p is None:
            return _error(404, "Liên kết không đúng hoặc đã hết hạn.")
        return FileResponse(p)

    @api.get("/api/notifications")
    def pull_notifications(request: Request):
        """The web chat has no push channel: it polls for messages sent to it on the bot's own
        initiative (staff answers, report status changes). Only the caller's own session's
        messages, each claimed by one conditional UPDATE so two workers never deliver one twice."""
        now = app.clock.now()
        with app.db.session() as s:
            row = W.find(s, W.token_of(request), now)
            if row is None:
                return _error(401, "Phiên trò chuyện không hợp lệ hoặc đã hết hạn: hãy gửi một tin nhắn để bắt đầu lại.")
            claimed = s.exec(update(OutboxMessage).where(
                OutboxMessage.channel == "web", OutboxMessage.chat_id == W.chat_id_of(row.id),
                OutboxMessage.status == "pending", OutboxMessage.not_before <= now)
                .values(status="sent", sent_at=now, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage.id, OutboxMessage.payload)).all()
        return {"replies": [_public_reply(payload, files_key, app.settings.data_dir)
                            for _id, payload in sorted(claimed, key=lambda r: r[0])]}

    @api.get("/api/messages/{chat_id}/notifications")
    def old_notifications(chat_id: str):
        # Anyone could read any chat's messages here; the route stays only to say where to go.
        return _error(410, "Đường dẫn này đã bỏ; dùng GET /api/notifications với phiên của bạn (cookie hoặc X-Session).")

    from bot.channels import mount_all
    mount_all(api, app)
    import handlers
    for mod in handlers.modules():
        if hasattr(mod, "register_routes"):
            mod.register_routes(api, app)
    from bot.webadmin import register_routes as register_admin
    register_admin(api, app)  # the staff back office at /admin/
    return api


def serve(app, host: str, port: int) -> int:
    import uvicorn
    api = create_api(app)
    # The client address (login limits, logs) is the proxy's X-Forwarded-For only when the peer
    # is a trusted proxy; X-Forwarded-Proto likewise decides Secure cookies.
    uvicorn.run(api, host=host, port=port, log_level="info", proxy_headers=True,
                forwarded_allow_ips=app.settings.forwarded_allow_ips)
    return 0
