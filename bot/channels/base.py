"""What the Telegram and Zalo adapters share: retries around a platform call, the direct-reply
path with its outbox fallback, per-chat ordering of incoming updates, webhook secrets, typing
indicators and locations pasted as text."""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta
import re
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable

from sqlmodel import delete, select, update

from bot.core import Incoming, Location, Reply
from bot.models import OutboxMessage, ProcessedUpdate
from bot.outbox import SendError
from bot.ratelimit import RateLimiter

log = logging.getLogger(__name__)

# Direct replies: how hard to try before handing the rest to the outbox worker.
DIRECT_ATTEMPTS = 6
DIRECT_BUDGET = 90.0  # seconds of waiting in total for one message part
BACKOFF = (0.5, 1, 2, 4, 8, 16)


def backoff(attempt: int) -> float:
    return BACKOFF[min(attempt, len(BACKOFF) - 1)]


def call_with_retries(op: Callable[[], object], limiter: RateLimiter, chat_id: str, is_group: bool = False,
                      attempts: int = DIRECT_ATTEMPTS, budget: float = DIRECT_BUDGET,
                      sleep=time.sleep, backoff_scale: float = 1.0, reserved: bool = False):
    """Run one platform call within the rate limits; a 429 waits its retry_after, a 5xx or a
    dropped connection backs off. Blocked and permanent errors are raised at once.
    reserved: the caller (the outbox dispatcher) already took the first attempt's slot."""
    waited = 0.0
    for attempt in range(attempts):
        if not (reserved and attempt == 0):
            limiter.acquire(chat_id, is_group)
        try:
            return op()
        except SendError as e:
            if e.retry_after is not None:
                # Slows every later send of this process too, including the outbox rows that
                # follow when this one goes back to the outbox.
                limiter.penalise(e.retry_after)
            if e.blocked or e.permanent or attempt == attempts - 1:
                raise
            delay = e.retry_after if e.retry_after is not None else backoff(attempt) * backoff_scale
            if waited + delay > budget:
                raise
            log.info("send to %s failed (%s); retrying in %.1fs", chat_id, e, delay)
            waited += delay
            sleep(delay)
    raise AssertionError("unreachable")


class Part:
    """One platform call of a reply; `rest` is what remains of the reply if this call and the
    following ones have not gone out (for the outbox fallback)."""
    __slots__ = ("fn", "rest")

    def __init__(self, fn: Callable[[], object], rest: Reply):
        self.fn, self.rest = fn, rest

    def __call__(self):
        return self.fn()


class PartSender:
    """Sends one Reply as one or more platform messages. Subclasses implement `parts()` (the
    calls a reply becomes) and the channel's error mapping inside them."""

    def parts(self, chat_id: str, reply: Reply) -> list[Part]:
        raise NotImplementedError

    limiter: RateLimiter
    direct_attempts: int = DIRECT_ATTEMPTS  # per message part, before the outbox takes over
    direct_budget: float = DIRECT_BUDGET
    backoff_scale: float = 1.0  # tests shorten the waits after a 5xx or a dropped connection

    def is_group(self, chat_id: str) -> bool:
        return False

    # --- the outbox's Sender protocol ----------------------------------------------------------
    def send(self, chat_id: str, reply: Reply) -> None:
        """For the outbox worker. Until the first part is out, a failure goes back to the outbox,
        which reschedules the row (after retry_after for a 429). Once a part is out, the rest is
        retried here: rescheduling would send the first part twice."""
        group = self.is_group(chat_id)
        for i, op in enumerate(self.parts(chat_id, reply)):
            if i == 0:  # the dispatcher acquired this sender's limiter for it (bot.outbox.limiter_for)
                call_with_retries(op, self.limiter, chat_id, group, attempts=1, reserved=True)
            else:
                call_with_retries(op, self.limiter, chat_id, group, backoff_scale=self.backoff_scale)

    # --- direct replies to an incoming message -------------------------------------------------
    def send_direct(self, app, channel: str, chat_id: str, replies: Iterable[Reply],
                    is_group: bool = False, update_key: str | None = None) -> int:
        """Send at once with retries. Each reply is first journalled as an outbox row in state
        "sending" (which the outbox worker leaves alone), deleted once out, handed to the worker
        if the platform stays unreachable, and recovered at the next start if the process dies
        mid-way. So an outage or a crash delays answers instead of losing them.
        The journal also clears the replies the engine stored with the update's mark: from then on
        the journal answers for them, and a redelivered update is not answered twice.
        Returns how many platform messages went out."""
        replies = list(replies)
        if not replies:
            return 0
        # The journal rows are claims like the outbox worker's: their lease (not_before) outlasts
        # every retry of this send, so the worker never sends them too while we are at it.
        lease = timedelta(seconds=self.direct_budget * len(replies) + 60)
        ids = _journal(app, channel, chat_id, replies, lease, update_key)
        sent = 0
        for n, reply in enumerate(replies):
            for op in self.parts(chat_id, reply):
                try:
                    call_with_retries(op, self.limiter, chat_id, is_group, attempts=self.direct_attempts,
                                      budget=self.direct_budget, backoff_scale=self.backoff_scale)
                    sent += 1
                except SendError as e:
                    if e.blocked or e.permanent:
                        log.warning("reply to %s:%s dropped: %s", channel, chat_id, e)
                        _forget(app, ids[n:])
                    else:
                        log.warning("reply to %s:%s handed to the outbox: %s", channel, chat_id, e)
                        _hand_over(app, ids[n:], str(e), op.rest)
                    return sent
                except Exception as e:  # a bug in an adapter: the outbox worker tries again later
                    log.exception("reply to %s:%s failed", channel, chat_id)
                    _hand_over(app, ids[n:], repr(e), op.rest)
                    return sent
            _forget(app, [ids[n]])
        return sent


def _journal(app, channel: str, chat_id: str, replies: list[Reply], lease: timedelta,
             update_key: str | None = None) -> list[int]:
    now = app.clock.now()
    with app.db.session() as s:
        if update_key:
            s.exec(update(ProcessedUpdate).where(ProcessedUpdate.channel == channel,
                                                 ProcessedUpdate.update_key == str(update_key)).values(replies=None))
        rows = [OutboxMessage(channel=channel, chat_id=chat_id, payload=r.to_dict(), kind="reply",
                              status="sending", created_at=now, not_before=now + lease,
                              owner=app.settings.worker_id) for r in replies]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def _forget(app, ids: list[int]) -> None:
    # Delivered, or undeliverable for good: the journal keeps no copy of answers, which may hold
    # a resident's personal data.
    with app.db.session() as s:
        s.exec(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))


def _hand_over(app, ids: list[int], error: str, rest: Reply) -> None:
    """The outbox worker takes the replies not yet out; the first one without its sent parts."""
    now = app.clock.now()
    with app.db.session() as s:
        for k, oid in enumerate(ids):
            row = s.get(OutboxMessage, oid)
            if row is None:
                continue
            row.status, row.not_before, row.last_error = "pending", now, error[:500]
            if k == 0:
                row.attempts += 1
                row.payload = rest.to_dict()
            s.add(row)
    app.wake_outbox()


def recover_replies(app, channel: str) -> int:
    """At start: replies this worker journalled in a previous life but never finished go to the
    outbox worker. Nothing of this process is in flight yet, so "sending" means interrupted.
    Other workers' journals are theirs (they are sending them now); a worker that never comes
    back leaves them to the outbox when their lease runs out."""
    mine = app.settings.worker_id
    with app.db.session() as s:
        rows = list(s.exec(select(OutboxMessage).where(OutboxMessage.channel == channel,
                                                       OutboxMessage.kind == "reply",
                                                       OutboxMessage.status == "sending",
                                                       (OutboxMessage.owner == mine) | (OutboxMessage.owner.is_(None)))))
        for row in rows:
            row.status, row.not_before = "pending", app.clock.now()
            s.add(row)
    if rows:
        log.warning("%d unfinished %s replies from before the restart handed to the outbox", len(rows), channel)
        app.wake_outbox()
    return len(rows)


class ChatSerialExecutor:
    """Runs jobs on a thread pool, those of one chat one after another in arrival order, those
    of different chats side by side (one slow answer must not hold up the whole ward)."""

    def __init__(self, workers: int = 8, name: str = "chan"):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._queues: dict[str, deque] = {}

    def submit(self, key: str, fn: Callable[[], object]) -> Future:
        fut: Future = Future()
        with self._lock:
            q = self._queues.get(key)
            if q is not None:
                q.append((fn, fut))
                return fut
            self._queues[key] = deque()
        self._pool.submit(self._run, key, fn, fut)
        return fut

    def _run(self, key: str, fn, fut: Future) -> None:
        while True:
            try:
                fut.set_result(fn())
            except BaseException as e:  # noqa: BLE001 - reported through the future
                fut.set_exception(e)
            with self._lock:
                q = self._queues[key]
                if not q:
                    del self._queues[key]
                    return
                fn, fut = q.popleft()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


class Replay:
    """An update handled before (seen_before): only its stored answer, if it never went out."""
    __slots__ = ("chat_id", "update_key", "is_group")

    def __init__(self, chat_id: str, update_key: str, is_group: bool = False):
        self.chat_id, self.update_key, self.is_group = chat_id, update_key, is_group

    def send(self, sender: "PartSender", app, channel: str) -> None:
        replies = app.engine.replay(channel, self.update_key)
        if replies:  # committed, but the process died before the answer was journalled
            sender.send_direct(app, channel, self.chat_id, replies, is_group=self.is_group,
                               update_key=self.update_key)


def seen_before(app, channel: str, update_key: str | None) -> bool:
    """A cheap look before downloading a redelivered update's photos; the engine's insert of the
    same key stays the real guard."""
    if not update_key:
        return False
    from bot.models import ProcessedUpdate
    with app.db.session() as s:
        return s.get(ProcessedUpdate, (channel, update_key)) is not None


def derived_secret(token: str, purpose: str) -> str:
    """A webhook secret stable across restarts without extra configuration: derived from the
    bot token, which only the operator and the platform know. Characters fit both platforms."""
    return hmac.new(token.encode(), purpose.encode(), hashlib.sha256).hexdigest()[:48]


def secret_ok(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def read_webhook(request, header: str, secret: str, max_bytes: int):
    """(payload, None) for a genuine webhook call, or (None, error response): a missing secret
    header is 401, a wrong one 403 (nothing is processed either way), oversize 413 (declared or
    counted while streaming, never buffered whole), bad JSON 400. NUL and lone surrogates in a
    genuine update are cleaned, not refused: the platform would only redeliver it."""
    from fastapi.responses import JSONResponse
    from bot import httpsafe as H
    given = request.headers.get(header)
    if not secret_ok(given, secret):
        return None, JSONResponse({"error": "forbidden"}, status_code=401 if given is None else 403)
    try:
        return H.parse_json(await H.read_body(request, max_bytes), max_bytes, strip=True), None
    except H.BadInput as e:
        return None, JSONResponse({"error": e.message}, status_code=e.status)


# The fields of a webhook update the adapters read, with their types: a payload that carries
# one of them with another type is acknowledged and ignored (logged), never handled half-way.
_INT, _STR, _BOOL, _NUM = "int", "str", "bool", "num"
_ID = (_INT, _STR)
_TG_USER = {"id": _INT, "is_bot": _BOOL, "first_name": _STR, "last_name": _STR, "username": _STR}
_TG_MESSAGE = {
    "message_id": _INT, "chat": {"id": _INT, "type": _STR, "title": _STR}, "from": _TG_USER,
    "text": _STR, "caption": _STR,
    "photo": [{"file_id": _STR, "file_size": _INT, "width": _INT, "height": _INT}],
    "document": {"file_id": _STR, "file_name": _STR, "mime_type": _STR, "file_size": _INT},
    "location": {"latitude": _NUM, "longitude": _NUM}, "contact": {"phone_number": _STR},
    "sticker": {"file_id": _STR},
}
TELEGRAM_UPDATE = {"update_id": _INT, "message": _TG_MESSAGE,
                   "callback_query": {"id": _STR, "from": _TG_USER, "data": _STR, "message": _TG_MESSAGE}}
_ZL_MESSAGE = {"message_id": _ID, "chat": {"id": _ID, "chat_type": _STR},
               "from": {"id": _ID, "is_bot": _BOOL, "display_name": _STR, "first_name": _STR, "name": _STR},
               "text": _STR, "caption": _STR, "photo": _STR, "photo_url": _STR, "sticker": _STR,
               "location": {"latitude": _NUM, "longitude": _NUM}}
ZALO_UPDATE = {"event_name": _STR, "message": _ZL_MESSAGE}
_MAX_ID = 2 ** 63 - 1


def _type_ok(v, t) -> bool:
    if isinstance(t, tuple):
        return any(_type_ok(v, x) for x in t)
    if t == _INT:
        return isinstance(v, int) and not isinstance(v, bool) and abs(v) <= _MAX_ID
    if t == _STR:
        return isinstance(v, str) and len(v) <= 65536
    if t == _BOOL:
        return isinstance(v, bool)
    if t == _NUM:
        import math
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= 180
    return False


def shape_problem(value, schema, where: str = "") -> str | None:
    """None when every field `schema` names is absent, null or of its type; else the first
    field that is not (e.g. "message.chat.id")."""
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return where or "update"
        for key, sub in schema.items():
            v = value.get(key)
            if v is None:
                continue
            bad = shape_problem(v, sub, f"{where}.{key}" if where else key)
            if bad:
                return bad
        return None
    if isinstance(schema, list):
        if not isinstance(value, list) or len(value) > 100:
            return where
        for i, item in enumerate(value):
            bad = shape_problem(item, schema[0], f"{where}.{i}")
            if bad:
                return bad
        return None
    return None if _type_ok(value, schema) else where


class Typing:
    """Shows "typing..." only when an answer is slow: a timer fires after `delay` unless the
    answer is ready first, so fast answers cost no extra platform call."""

    def __init__(self, fn: Callable[[], object], delay: float = 0.7):
        self._timer = threading.Timer(delay, self._fire, args=(fn,))
        self._timer.daemon = True

    @staticmethod
    def _fire(fn) -> None:
        try:
            fn()
        except Exception as e:  # a missing typing indicator is harmless
            log.debug("chat action failed: %s", e)

    def __enter__(self):
        self._timer.start()
        return self

    def __exit__(self, *exc):
        self._timer.cancel()


_COORD = r"(-?\d{1,2}\.\d{3,})\s*,\s*(-?\d{1,3}\.\d{3,})"
_LOC_PATTERNS = [
    re.compile(r"^\s*" + _COORD + r"\s*$"),
    re.compile(r"^\s*https?://(?:www\.)?(?:maps\.google\.[a-z.]+|google\.[a-z.]+/maps)\S*?[?&](?:q|query|ll)="
               + _COORD.replace(r"\s*,\s*", r"(?:,|%2C)") + r"\S*\s*$", re.I),
    re.compile(r"^\s*https?://(?:www\.)?google\.[a-z.]+/maps/\S*?@" + _COORD.replace(r"\s*,\s*", ",") + r"\S*\s*$",
               re.I),
]


def location_from_text(text: str | None) -> Location | None:
    """A message that is only coordinates or a Google Maps link to a point is a location. Zalo's
    Bot API delivers no location messages, so residents there paste a link instead."""
    if not text or len(text) > 500:
        return None
    for pat in _LOC_PATTERNS:
        m = pat.match(text)
        if m:
            lat, lon = float(m.group(1)), float(m.group(2))
            if -90 <= lat <= 90 and -180 <= lon <= 180:
                return Location(lat, lon)
    return None


def apply_text_location(msg: Incoming) -> Incoming:
    loc = location_from_text(msg.text)
    if loc is not None and msg.location is None:
        msg.location, msg.text = loc, None
    return msg


# --- routes every channel mounts the same way ---------------------------------------------------
def mount_lifecycle(api, channel) -> None:
    """Start the channel (polling, background workers) with the server and stop it with it."""
    from starlette.concurrency import run_in_threadpool

    async def on_start():
        await run_in_threadpool(channel.start)

    async def on_stop():
        await run_in_threadpool(channel.stop)

    api.state.on_start.append(on_start)
    api.state.on_stop.append(on_stop)


def mount_signed_files(api, path: str, channel) -> None:
    """GET path/<signed token>/<name>: the files a channel links to by URL (bot/signing.py).
    A bad, altered or expired link is a plain 404 that says nothing about what exists."""
    from fastapi.responses import FileResponse, JSONResponse

    @api.get(path + "/{token}/{name}", include_in_schema=False)
    def signed_file(token: str, name: str):
        p = channel.resolve_file(token)
        if p is None:
            return JSONResponse({"error": "Liên kết không đúng hoặc đã hết hạn."}, status_code=404)
        return FileResponse(p)
