"""Use cases. Each module exposes `register(router)` and, optionally, `register_cli(subparsers)`."""
from __future__ import annotations

import importlib

from bot.router import Router

MODULES = [
    "handlers.basic",
    "handlers.admin",
    "handlers.faq",
    "handlers.retention",
    "handlers.safety",
    "handlers.reports",
    "handlers.teams",
    "handlers.broadcast",
    "handlers.zalo_oa",
]


def modules():
    return [importlib.import_module(m) for m in MODULES]


def build_router() -> Router:
    from bot import forms
    r = Router()
    forms.register(r)  # "Tiếp tục" / "Thôi" on a form set aside, whichever feature owns it
    for mod in modules():
        mod.register(r)
    return r
