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
from sqlmodel import select

from bot.core import Incoming, Location
from bot.models import OutboxMessage

log = logging.getLogger(__name__)
STATIC = Path(__file__).resolve().parent / "static"
MAX_BODY = 64 * 1024


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


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
        for fn in on_start:
            await fn()
        yield
        for fn in on_stop:
            await fn()
        for w in workers:
            w.stop()

    api = FastAPI(title="Trợ lý số phường", lifespan=lifespan, docs_url="/api/docs", redoc_url=None)
    api.state.bot = app
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

    @api.post("/api/messages")
    async def post_message(request: Request):
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return _error(415, "Nội dung phải ở dạng JSON (Content-Type: application/json).")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _error(413, "Yêu cầu quá lớn.")
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _error(400, "JSON không hợp lệ.")
        if not isinstance(data, dict):
            return _error(400, "JSON phải là một đối tượng có chat_id và text.")
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and not isinstance(chat_id, bool):
            chat_id = str(chat_id)
        if not isinstance(chat_id, str) or not chat_id.strip() or len(chat_id) > 64:
            return _error(400, "Thiếu chat_id (chuỗi, tối đa 64 ký tự).")
        text, button = data.get("text"), data.get("button")
        if text is not None and not isinstance(text, str):
            return _error(400, "text phải là chuỗi.")
        if button is not None and (not isinstance(button, str) or len(button) > 200):
            return _error(400, "button phải là chuỗi.")
        loc = None
        if data.get("location") is not None:
            try:
                loc = Location(float(data["location"]["lat"]), float(data["location"]["lon"]))
            except (TypeError, KeyError, ValueError):
                return _error(400, "location phải có lat và lon là số.")
        user_id = data.get("user_id", chat_id)
        msg = Incoming(channel="web", chat_id=chat_id.strip(), user_id=str(user_id)[:64], text=text,
                       button=button, location=loc, update_id=(str(data["message_id"])[:128]
                                                                if data.get("message_id") is not None else None),
                       user_name=(str(data["user_name"])[:200] if data.get("user_name") else None))
        from starlette.concurrency import run_in_threadpool
        replies = await run_in_threadpool(app.handle, msg)
        return {"replies": [r.to_dict() for r in replies]}

    @api.get("/api/messages/{chat_id}/notifications")
    def pull_notifications(chat_id: str):
        """The web chat has no push channel: it polls for messages sent to it on the bot's own
        initiative (staff answers, report status changes)."""
        now = app.clock.now()
        out = []
        with app.db.session() as s:
            rows = s.exec(select(OutboxMessage).where(
                OutboxMessage.channel == "web", OutboxMessage.chat_id == chat_id,
                OutboxMessage.status == "pending", OutboxMessage.not_before <= now).order_by(OutboxMessage.id))
            for row in rows:
                out.append(row.payload)
                row.status, row.sent_at, row.attempts = "sent", now, row.attempts + 1
                s.add(row)
        return {"replies": out}

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
    uvicorn.run(api, host=host, port=port, log_level="info")
    return 0
