"""A feature module for tests/poison_serve.py: the marker text aborts the process mid-handling."""
import os

MARKER = "☠ poison ☠"


def _poison(ctx) -> bool:
    if MARKER in (ctx.msg.text or ""):
        os.abort()
    return False


def register(r) -> None:
    r.text_handlers.insert(0, _poison)
