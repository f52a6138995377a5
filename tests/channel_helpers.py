"""Running the bot's HTTP app in-process against the Bot API emulators."""
from __future__ import annotations

import re
from dataclasses import replace

from bot.ratelimit import RateLimiter
from tests.emulators._server import BackgroundServer, free_port


def fast_limiter() -> RateLimiter:
    # Tests send to one chat in quick succession; the real limits are tested on their own.
    return RateLimiter(per_second=1000, per_chat_interval=0.0, group_per_minute=10_000)


class Running:
    """create_api(app) served by uvicorn on 127.0.0.1, channels started by its lifespan."""

    def __init__(self, make_app, settings, webhook: bool = False, telegram=None, zalo=None,
                 zalo_oa=None, limiter=fast_limiter, setup=None, wait_ready: bool = True):
        port = free_port()
        over = {"public_url": f"http://127.0.0.1:{port}" if webhook else None}
        if telegram is not None:
            over.update(telegram_token=telegram.token, telegram_api_url=telegram.url)
        if zalo is not None:
            over.update(zalo_token=zalo.token, zalo_api_url=zalo.url)
        if zalo_oa is not None:
            over.update(zalo_oa_app_id=zalo_oa.app_id, zalo_oa_secret_key=zalo_oa.oa_secret_key,
                        zalo_app_secret=zalo_oa.app_secret, zalo_oa_access_token=zalo_oa.access_token,
                        zalo_oa_refresh_token=zalo_oa.refresh_token, zalo_oa_api_url=zalo_oa.url,
                        zalo_oauth_url=zalo_oa.url, zalo_zns_url=zalo_oa.url)
        self.settings = replace(settings, **over)
        self.app = make_app(settings=self.settings)
        if setup:
            setup(self.app)
        from bot.server import create_api
        self.api = create_api(self.app)
        self.telegram = getattr(self.api.state, "telegram", None)
        self.zalo = getattr(self.api.state, "zalo", None)
        self.zalo_oa = getattr(self.api.state, "zalo_oa", None)
        if self.zalo_oa is not None:
            zalo_oa.webhook_url = f"http://127.0.0.1:{port}/webhook/zalo-oa"  # set in the OA's developer console
            self.zalo_oa.backoff_scale = 0.2
            if limiter:
                self.zalo_oa.limiter = limiter()
        for ch in (self.telegram, self.zalo):
            if ch is not None:
                if limiter:
                    ch.limiter = limiter()
                ch.poll_timeout = 1
                ch.backoff_scale = 0.2
        if self.zalo is not None:
            self.zalo.webhook_delay = 0.1
        self.wait_ready = wait_ready
        self.server = BackgroundServer(self.api, port=port)
        self.url = self.server.url

    def __enter__(self) -> "Running":
        self.server.start(timeout=30)
        for ch in (self.telegram, self.zalo, self.zalo_oa) if self.wait_ready else ():
            if ch is not None and not ch.ready.wait(15):
                raise RuntimeError(f"{type(ch).__name__} did not start")
        return self

    def __exit__(self, *exc):
        self.server.stop()


def norm(text: str) -> str:
    """Compare texts across channels: ids that differ per run, whitespace at split points."""
    text = re.sub(r"PA-\d{4}-\d{6}", "PA-CODE", re.sub(r"#\d+", "#N", text))
    return re.sub(r"\s+", " ", text).strip()


def count_rows(app, model, **where) -> int:
    """Rows of `model` matching column == value for each keyword."""
    from sqlmodel import func, select
    with app.db.session() as s:
        q = select(func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        return s.exec(q).one()


def await_text(emu, chat, seen: int, expect: str, timeout: float = 20) -> int:
    """Wait until an emulator's message to `chat` after the first `seen` contains `expect`;
    returns the new count of messages."""
    import time
    deadline = time.time() + timeout
    while time.time() < deadline:
        texts = emu.texts(chat)
        if any(expect in t for t in texts[seen:]):
            time.sleep(0.2)  # the rest of this answer's messages
            return len(emu.texts(chat))
        time.sleep(0.02)
    raise AssertionError(f"{expect!r} not in {emu.texts(chat)[seen:]}")
