"""Channel adapters: each turns a platform's updates into Incoming and Replies into its API calls.
A module listed here may expose `mount(api, app)` to add its webhook routes and start-up work."""
from __future__ import annotations

import importlib

CHANNEL_MODULES: list[str] = [
    "bot.channels.telegram",
    "bot.channels.zalo",
    "bot.channels.zalo_oa",
]


def mount_all(api, app) -> None:
    for name in CHANNEL_MODULES:
        mod = importlib.import_module(name)
        if hasattr(mod, "mount"):
            mod.mount(api, app)
