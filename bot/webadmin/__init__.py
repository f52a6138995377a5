"""The staff back office at /admin/: server-rendered pages (Jinja2) over the same service
functions the chat commands use. Mounted by bot/server.py through register_routes."""
from __future__ import annotations

from bot.config import ROOT


def register_routes(api, app) -> None:
    from fastapi.staticfiles import StaticFiles

    from bot.webadmin import dashboard, reports, unanswered, views, web, webchat
    web.install_handlers(api)
    web.set_flash_key(app.settings.data_dir)
    if not any(getattr(r, "path", None) == "/static" for r in api.routes):
        api.mount("/static", StaticFiles(directory=str(ROOT / "bot" / "static")), name="static")
    views.register(api, app)
    dashboard.register(api, app)
    reports.register(api, app)
    unanswered.register(api, app)
    webchat.register(api, app)
    for name in ("kb", "classes", "teams"):
        try:
            mod = __import__(f"bot.webadmin.{name}", fromlist=["register"])
        except ModuleNotFoundError:
            continue
        mod.register(api, app)
