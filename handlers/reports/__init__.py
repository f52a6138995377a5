"""Residents' reports on urban order and sanitation (phản ánh hiện trường): intake from the chat,
the 1022 hotline, meetings and Open311; routing to the handling unit; reminders, escalation and
the answer to the resident.

Submodules are imported inside register() so that importing the tables (bot.all_models) stays light.
"""
from __future__ import annotations


def register(router) -> None:
    from handlers.reports import flow, rating, reminders, staff, stats  # noqa: F401  (task kinds register on import)
    flow.register(router)
    rating.register(router)
    staff.register(router)
    stats.register(router)


def register_routes(api, app) -> None:
    from handlers.reports import open311
    open311.register_routes(api, app)
