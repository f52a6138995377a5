"""`python -m bot ...`: the command line. Feature modules add subcommands via register_cli."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from bot.config import Settings


def _app(**kw):
    from bot.app import App
    return App(Settings.from_env(), **kw)


def cmd_chat(args) -> int:
    from bot.channels import console
    return console.run(_app())


def cmd_serve(args) -> int:
    from bot.server import serve
    app = _app()
    app.nlu  # load (or build, once) the search index before taking traffic: no resident waits for it
    return serve(app, args.host, args.port)


class AskSession:
    """`ask` runs messages through the real engine, one console-like chat per session, on a
    throw-away SQLite database (the ward's data is never touched): the same session is one
    conversation, so context carries over, in input order."""

    CHANNEL = "console"

    def __init__(self, app):
        self.app = app
        self.seen: dict[str, object] = {}
        app.trace_understanding = lambda ctx, u: self.seen.__setitem__(ctx.msg.chat_id, u)

    def ask(self, text: str, session: str) -> dict:
        from bot.core import Incoming
        from bot.models import Conversation
        from sqlmodel import select
        chat_id = f"ask-{session}"[:64]
        self.seen.pop(chat_id, None)
        replies = self.app.handle(Incoming(channel=self.CHANNEL, chat_id=chat_id, user_id=chat_id, text=text))
        u = self.seen.get(chat_id)
        if u is not None:
            rec = u.to_dict()
        else:  # a command, a typed option or a form step: no understanding was needed
            with self.app.db.session() as s:
                conv = s.exec(select(Conversation).where(Conversation.channel == self.CHANNEL,
                                                         Conversation.chat_id == chat_id)).first()
            kind = "command" if text.strip().startswith("/") else ("form" if conv and conv.flow else "option")
            rec = {"kind": kind, "topic": conv.topic if conv else None, "topics": [], "category": None,
                   "confidence": 1.0, "intent": None, "candidates": [], "ambiguous": False, "aspect": None}
        first = replies[0] if replies else None
        rec["reply"] = first.text if first else ""
        rec["buttons"] = [b.text for b in first.buttons] if first else []
        rec["replies"] = len(replies)
        return rec


def _ask_app(settings: Settings, understander=None):
    import tempfile
    from dataclasses import replace
    from pathlib import Path

    from bot.app import App
    tmp = Path(tempfile.mkdtemp(prefix="ask-"))
    # the real data dir holds the search index; the conversation goes to a scratch database
    return App(replace(settings, database_url=f"sqlite:///{tmp / 'ask.db'}"), understander=understander), tmp


def cmd_ask(args) -> int:
    """One JSON line in, one JSON line out, in order; a bad line gets an error line, not a crash.
    Input: {"text": ..., "session": ...} (session optional: without it every line stands alone)."""
    import itertools
    import shutil

    settings = Settings.from_env()
    app, tmp = _ask_app(settings)
    runner = AskSession(app)
    counter = itertools.count(1)
    out = sys.stdout
    try:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line) if args.jsonl else {"text": line}
                text = obj["text"] if isinstance(obj, dict) else None
                if not isinstance(text, str):
                    raise ValueError("missing text")
                session = obj.get("session")
                session = f"line-{next(counter)}" if session is None else str(session)
            except (ValueError, KeyError, TypeError) as e:
                out.write(json.dumps({"kind": "error", "topic": None, "topics": [], "category": None,
                                      "confidence": 0.0, "reply": "", "error": f"invalid input: {e}"},
                                     ensure_ascii=False) + "\n")
                out.flush()
                continue
            rec = {"text": text, "session": session, **runner.ask(text, session)}
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
            out.flush()
    finally:
        app.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def cmd_kb_export(args) -> int:
    from knowledge.kb import KnowledgeBase, export_record
    settings = Settings.from_env()
    kb = KnowledgeBase.load(settings.kb_dir)
    for e in kb.entries:
        sys.stdout.write(json.dumps(export_record(e), ensure_ascii=False) + "\n")
    return 0


def cmd_profile_check(args) -> int:
    from bot.profile import ProfileError, load_profile
    settings = Settings.from_env()
    try:
        p = load_profile(settings.ward_profile)
    except ProfileError as e:
        print(e, file=sys.stderr)
        return 1
    print(f"OK: {p.ward.name}, {len(p.residential_groups)} residential groups, {len(p.units)} units")
    return 0


def cmd_db_upgrade(args) -> int:
    from bot.db import Database
    Database(Settings.from_env().database_url).migrate()
    print("database is up to date")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bot", description="Trợ lý số phường")
    p.add_argument("-v", "--verbose", action="store_true")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("chat", help="console chat on stdin/stdout").set_defaults(func=cmd_chat, needs_app=False)
    s = sub.add_parser("serve", help="HTTP API, web chat, webhooks, and channels with tokens")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--host", default="127.0.0.1")
    s.set_defaults(func=cmd_serve, needs_app=False)
    a = sub.add_parser("ask", help="understand messages: text lines or JSON lines on stdin")
    a.add_argument("--jsonl", action="store_true", help='input lines are {"text": ..., "session": ...}')
    a.set_defaults(func=cmd_ask, needs_app=False)
    kb = sub.add_parser("kb", help="knowledge base tools")
    kbs = kb.add_subparsers(dest="kb_command", required=True)
    e = kbs.add_parser("export", help="one JSON line per entry")
    e.add_argument("--jsonl", action="store_true", default=True)
    e.set_defaults(func=cmd_kb_export, needs_app=False)
    pr = sub.add_parser("profile", help="ward profile tools")
    prs = pr.add_subparsers(dest="profile_command", required=True)
    prs.add_parser("check", help="validate the ward profile").set_defaults(func=cmd_profile_check, needs_app=False)
    db = sub.add_parser("db", help="database tools")
    dbs = db.add_subparsers(dest="db_command", required=True)
    dbs.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade, needs_app=False)
    import handlers
    for mod in handlers.modules():
        if hasattr(mod, "register_cli"):
            mod.register_cli(sub)
    for name in ("nlu.cli", "knowledge.cli", "scheduler.cli", "bot.webadmin.cli"):
        try:
            mod = __import__(name, fromlist=["register_cli"])
        except ModuleNotFoundError:
            continue
        mod.register_cli(sub, kbs)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if getattr(args, "needs_app", True):
        from bot.profile import ProfileError
        try:
            app = _app()
        except ProfileError as e:
            print(e, file=sys.stderr)
            return 1
        return args.func(args, app)
    return args.func(args)
