"""Platform send limits, shared by direct replies and the outbox worker of one process.

Telegram: about 30 messages/s overall, 1/s per private chat, 20/min per group. Zalo documents
its own figures; the channel adapter passes them in. `acquire` blocks until sending is allowed.
"""
from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self, per_second: float, per_chat_interval: float = 1.0,
                 group_per_minute: int = 20, clock=time.monotonic, sleep=time.sleep):
        self.per_second = per_second
        self.per_chat_interval = per_chat_interval
        self.group_per_minute = group_per_minute
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self._next_global = 0.0
        self._next_chat: dict[str, float] = {}
        self._group_sent: dict[str, deque] = {}

    def _reserve(self, chat_id: str, is_group: bool) -> float:
        """Reserve the earliest slot for this chat; returns the time to wait before sending."""
        with self._lock:
            now = self._clock()
            at = max(now, self._next_global, self._next_chat.get(chat_id, 0.0))
            if is_group:
                window = self._group_sent.setdefault(chat_id, deque())
                while window and window[0] <= at - 60:
                    window.popleft()
                if len(window) >= self.group_per_minute:
                    at = max(at, window[0] + 60)
                window.append(at)
            self._next_global = at + 1.0 / self.per_second
            self._next_chat[chat_id] = at + self.per_chat_interval
            if len(self._next_chat) > 100_000:  # forget chats idle for long
                self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
            return at - now

    def acquire(self, chat_id: str, is_group: bool = False) -> None:
        wait = self._reserve(str(chat_id), is_group)
        if wait > 0:
            self._sleep(wait)

    def penalise(self, seconds: float) -> None:
        """A 429 with retry_after: the whole bot waits, as the platform asks."""
        with self._lock:
            self._next_global = max(self._next_global, self._clock() + seconds)
