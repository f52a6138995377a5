"""The assembled application: settings, ward profile, database, knowledge base, understanding,
router and engine. Every channel (console, web, Telegram, Zalo) talks to one App."""
from __future__ import annotations

import logging
import threading

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.engine import Engine
from bot.outbox import Sender, deliver_due
from bot.profile import load_profile
from knowledge.categories import load_categories
from knowledge.kb import KnowledgeBase

log = logging.getLogger(__name__)


class App:
    def __init__(self, settings: Settings, clock: Clock | None = None, understander=None,
                 migrate: bool = True):
        from handlers import build_router

        self.settings = settings
        self.clock = clock or Clock()
        self.profile = load_profile(settings.ward_profile)
        self.categories = load_categories(self.profile)
        self.kb = KnowledgeBase.load(settings.kb_dir)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(settings.database_url)
        if migrate:
            self.db.migrate()
        self.router = build_router()
        self._nlu = understander
        self._owns_nlu = understander is None
        self._nlu_lock = threading.Lock()
        self.engine = Engine(self)
        self.senders: dict[str, Sender] = {}
        self.outbox_event = threading.Event()
        for hook in self.router.startup_hooks:
            hook(self)

    @property
    def nlu(self):
        if self._nlu is None:
            with self._nlu_lock:
                if self._nlu is None:
                    from nlu import pipeline
                    self._nlu = pipeline.build(self.settings, self.kb)
        return self._nlu

    def reload_kb(self) -> None:
        """Re-reads the knowledge base after staff changed it (a question attached from the back
        office): the search index is loaded, or rebuilt if new, at the next message."""
        kb = KnowledgeBase.load(self.settings.kb_dir)
        with self._nlu_lock:
            self.kb, self._nlu = kb, None

    def handle(self, msg):
        return self.engine.handle(msg)

    def wake_outbox(self) -> None:
        self.outbox_event.set()

    def deliver_outbox(self) -> int:
        return deliver_due(self.db, self.senders, self.clock.now(), owner=self.settings.worker_id)

    def close(self) -> None:
        self.db.dispose()
        # Only an understander this App built owns its embedder children (tests share theirs).
        if self._nlu is not None and self._owns_nlu:
            close = getattr(getattr(self._nlu, "embedder", None), "close", None)
            if close:
                close()
