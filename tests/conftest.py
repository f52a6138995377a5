"""Tests run against real databases: a SQLite file always, and PostgreSQL when
TEST_DATABASE_URL points to a server (a fresh database is created for the run and dropped after)."""
from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel

from bot.clock import FakeClock
from bot.config import ROOT, Settings, normalise_db_url
from bot.core import Incoming


def _pg_database():
    admin_url = normalise_db_url(os.environ["TEST_DATABASE_URL"])
    name = f"bot_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    return url, admin, name


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if os.environ.get("TEST_DATABASE_URL"):
        url, admin, name = _pg_database()
        yield url
        with admin.connect() as c:
            c.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'bot.db'}"


@pytest.fixture(scope="session")
def _migrated(database_url):
    from bot.db import Database
    db = Database(database_url)
    db.migrate()
    db.dispose()
    return database_url


def _wipe(url: str) -> None:
    import bot.all_models  # noqa: F401
    eng = create_engine(url)
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with eng.begin() as c:
        if eng.dialect.name == "postgresql":
            c.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                c.execute(text(f'DELETE FROM "{t}"'))
            c.execute(text("DELETE FROM sqlite_sequence")) if _has_seq(c) else None
    eng.dispose()


def _has_seq(c) -> bool:
    return c.execute(text("SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'")).first() is not None


@pytest.fixture
def settings(tmp_path, _migrated) -> Settings:
    _wipe(_migrated)
    base = Settings.from_env()
    return replace(base, data_dir=tmp_path / "data", database_url=_migrated,
                   ward_profile=ROOT / "knowledge" / "ward.yaml", kb_dir=ROOT / "knowledge" / "kb",
                   telegram_token=None, zalo_token=None)


@pytest.fixture(scope="session")
def understander():
    """One understander for the whole run: building the retrieval index is the slow part."""
    from knowledge.kb import KnowledgeBase
    from nlu import pipeline
    s = Settings.from_env()
    return pipeline.build(s, KnowledgeBase.load(ROOT / "knowledge" / "kb"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 9, 0))  # a Monday morning, Da Nang time


@pytest.fixture
def make_app(settings, clock, understander):
    from bot.app import App
    apps = []

    def make(**kw):
        kw.setdefault("clock", clock)
        kw.setdefault("understander", understander)
        a = App(kw.pop("settings", settings), **kw)
        apps.append(a)
        return a

    yield make
    for a in apps:
        a.close()


@pytest.fixture
def app(make_app):
    return make_app()


class Chat:
    """A resident (or staff member) talking to the engine on one channel."""

    def __init__(self, app, chat_id="c1", channel="web", user_id=None, name="Nguyễn Văn A"):
        self.app, self.chat_id, self.channel = app, chat_id, channel
        self.user_id, self.name = user_id or chat_id, name

    def say(self, text=None, **kw):
        msg = Incoming(channel=self.channel, chat_id=self.chat_id, user_id=self.user_id, text=text,
                       user_name=self.name, **kw)
        return self.app.handle(msg)

    def press(self, data):
        return self.say(button=data)

    def text(self, text=None, **kw) -> str:
        return "\n".join(r.text for r in self.say(text, **kw))


@pytest.fixture
def chat(app):
    return Chat(app)


@pytest.fixture(scope="module")
def bot_api_emulators():
    """One Telegram and one Zalo Bot API emulator per test module (tests reset them as they need)."""
    from tests.emulators.telegram import TelegramEmulator
    from tests.emulators.zalo import ZaloEmulator
    tg, zl = TelegramEmulator().start(), ZaloEmulator().start()
    yield tg, zl
    tg.stop()
    zl.stop()


@pytest.fixture(scope="module")
def _oa_server():
    """One Zalo OA emulator per test module (the `oa` fixture resets it for each test)."""
    from tests.emulators.zalo_oa import ZaloOaEmulator
    emu = ZaloOaEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def oa(_oa_server):
    _oa_server.reset()
    return _oa_server
