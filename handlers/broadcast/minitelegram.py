"""A minimal Telegram Bot API look-alike (sendMessage only) and a sender for it.

Used by the tests and bench/broadcast_bench.py until the channels' real Telegram sender and
emulator are merged; both speak the real shape (`{"ok": true, "result": {...}}`, 429 with
`parameters.retry_after`, 403 "bot was blocked by the user"), so swapping them in is a one-line
change. `python -m handlers.broadcast.minitelegram worker ...` runs an outbox worker process
against it (the crash test kills that process)."""
from __future__ import annotations

import argparse
import json
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from bot.core import Reply
from bot.outbox import SendError


class MiniTelegram:
    """Serves POST /bot<token>/sendMessage on 127.0.0.1. Scripted faults per chat:
    script[chat_id] = ["429:2", "500", "blocked", ...] consumed one per request; `max_per_second`
    answers 429 like Telegram when the bot sends faster; `hold_after` N makes every request after
    the N-th hang unrecorded until release() (a crash test kills the sender meanwhile)."""

    def __init__(self, token: str = "TEST", max_per_second: float | None = None, hold_after: int | None = None,
                 latency: float = 0.0):
        self.token, self.max_per_second, self.hold_after, self.latency = token, max_per_second, hold_after, latency
        self.script: dict[str, list[str]] = {}
        self.received: list[tuple[str, str, float]] = []
        self.status_counts: Counter = Counter()
        self._window: deque = deque()
        self._lock = threading.Lock()
        self._release = threading.Event()
        self.held = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes
            wbufsize = -1

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path != "/stats":
                    self.send_error(404)
                    return
                with outer._lock:
                    data = json.dumps({"received": [[c, t] for c, _, t in outer.received],
                                       "status_counts": dict(outer.status_counts)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, payload = outer._handle(self.path, body)
                if status is None:  # held, then dropped: the connection closes without an answer
                    self.close_connection = True
                    return
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> "MiniTelegram":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        self._release.set()

    def _answer(self, status: int, payload: dict) -> tuple[int, dict]:
        self.status_counts[status] += 1
        return status, payload

    def _handle(self, path: str, body: bytes):
        if path != f"/bot{self.token}/sendMessage":
            return self._answer(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        try:
            msg = json.loads(body)
            chat_id, text = str(msg["chat_id"]), str(msg["text"])
        except (ValueError, KeyError, TypeError):
            return self._answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: bad JSON"})
        if self.latency:
            time.sleep(self.latency)
        with self._lock:
            if self.hold_after is not None and len(self.received) >= self.hold_after:
                self.held += 1
                hold = True
            else:
                hold = False
                step = self.script.get(chat_id, [])
                fault = step.pop(0) if step else None
                now = time.monotonic()
                if fault is None and self.max_per_second:
                    while self._window and self._window[0] <= now - 1.0:
                        self._window.popleft()
                    if len(self._window) >= self.max_per_second:
                        fault = "429:1"
                    else:
                        self._window.append(now)
                if fault is None:
                    self.received.append((chat_id, text, now))
                    n = len(self.received)
        if hold:
            self._release.wait()
            return None, None
        if fault is None:
            return self._answer(200, {"ok": True, "result": {"message_id": n, "chat": {"id": chat_id},
                                                            "date": int(time.time()), "text": text}})
        if fault.startswith("429"):
            ra = int(fault.partition(":")[2] or 1)
            return self._answer(429, {"ok": False, "error_code": 429, "parameters": {"retry_after": ra},
                                      "description": f"Too Many Requests: retry after {ra}"})
        if fault == "blocked":
            return self._answer(403, {"ok": False, "error_code": 403,
                                      "description": "Forbidden: bot was blocked by the user"})
        if fault == "400":
            return self._answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
        return self._answer(int(fault), {"ok": False, "error_code": int(fault), "description": "Internal Server Error"})

    def per_chat(self) -> Counter:
        with self._lock:
            return Counter(c for c, _, _ in self.received)


class MiniTelegramSender:
    """Sender (bot.outbox.Sender) for the Telegram sendMessage shape. Thread-safe: the outbox
    dispatcher calls it from its pool. It does not rate-limit: the dispatcher does."""

    def __init__(self, api_url: str, token: str = "TEST", timeout: float = 10.0, pool: int = 16):
        self.url = f"{api_url.rstrip('/')}/bot{token}/sendMessage"
        self.client = httpx.Client(timeout=timeout, limits=httpx.Limits(max_connections=pool,
                                                                        max_keepalive_connections=pool))

    def send(self, chat_id: str, reply: Reply) -> None:
        body: dict = {"chat_id": chat_id, "text": reply.text}
        if reply.buttons:
            body["reply_markup"] = {"inline_keyboard": [[{"text": b.text, "callback_data": b.data}]
                                                        for b in reply.buttons]}
        try:
            r = self.client.post(self.url, json=body)
        except httpx.HTTPError as e:
            raise SendError(f"network: {e!r}") from e
        if r.status_code == 200:
            return
        try:
            data = r.json()
        except ValueError:
            data = {}
        desc = str(data.get("description") or r.text[:200])
        if r.status_code == 429:
            raise SendError(desc, retry_after=float((data.get("parameters") or {}).get("retry_after") or 1))
        if r.status_code == 403 and ("blocked" in desc or "deactivated" in desc or "kicked" in desc):
            raise SendError(desc, blocked=True)
        if 400 <= r.status_code < 500:
            raise SendError(desc, permanent=True)
        raise SendError(f"HTTP {r.status_code}: {desc}")

    def close(self) -> None:
        self.client.close()


def _worker(argv: list[str] | None = None) -> int:
    """An outbox worker process: delivers due rows for channel "telegram" to --api-url, then idles."""
    from datetime import datetime, timezone

    from bot.config import normalise_db_url
    from bot.db import Database
    from bot.outbox import Dispatcher
    from bot.ratelimit import RateLimiter

    p = argparse.ArgumentParser()
    p.add_argument("worker")
    p.add_argument("--db", required=True)
    p.add_argument("--api-url", required=True)
    p.add_argument("--rate", type=float, default=30)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--lease", type=float, default=120)
    p.add_argument("--claim-batch", type=int, default=None)
    p.add_argument("--forever", action="store_true")
    a = p.parse_args(argv)
    db = Database(normalise_db_url(a.db))
    sender = MiniTelegramSender(a.api_url)
    d = Dispatcher(db, {"telegram": sender}, now=lambda: datetime.now(timezone.utc),
                   limiters={"telegram": RateLimiter(a.rate)}, threads=a.threads, lease=a.lease,
                   claim_batch=a.claim_batch)
    while True:
        d.run()
        if not a.forever:
            return 0
        time.sleep(0.2)


def _serve(argv: list[str]) -> int:
    """The endpoint in its own process (so it does not compete with the sender for the GIL):
    prints its URL, serves until stdin closes."""
    import sys
    p = argparse.ArgumentParser()
    p.add_argument("serve")
    p.add_argument("--max-per-second", type=float, default=None)
    p.add_argument("--latency", type=float, default=0.0)
    a = p.parse_args(argv)
    tg = MiniTelegram(max_per_second=a.max_per_second, latency=a.latency).start()
    print(tg.url, flush=True)
    sys.stdin.read()
    tg.stop()
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(_serve(sys.argv[1:]) if sys.argv[1:2] == ["serve"] else _worker(sys.argv[1:]))
