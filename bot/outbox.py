"""Persistent outbox: messages the bot sends on its own (notices, reminders, broadcasts).

Rows are written in the transaction of the event that causes them, then delivered by a
dispatcher. A crash between the two loses nothing; the dedupe key makes a retry harmless.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.core import Reply
from bot.models import OutboxMessage
from bot.ratelimit import RateLimiter

log = logging.getLogger(__name__)


class SendError(Exception):
    def __init__(self, msg: str, retry_after: float | None = None, permanent: bool = False,
                 blocked: bool = False):
        super().__init__(msg)
        self.retry_after, self.permanent, self.blocked = retry_after, permanent, blocked


class Sender(Protocol):
    def send(self, chat_id: str, reply: Reply) -> None: ...


def enqueue(session: Session, channel: str, chat_id: str, reply: Reply, now: datetime,
            dedupe_key: str | None = None, kind: str = "notice",
            not_before: datetime | None = None) -> OutboxMessage | None:
    """Returns None when a message with this dedupe key already exists (sent or not)."""
    if dedupe_key is not None:
        existing = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == dedupe_key)).first()
        if existing is not None:
            return None
        # A concurrent writer may insert the same key between our check and flush.
        try:
            with session.begin_nested():
                row = OutboxMessage(channel=channel, chat_id=chat_id, payload=reply.to_dict(), kind=kind,
                                    dedupe_key=dedupe_key, created_at=now, not_before=not_before or now)
                session.add(row)
                session.flush()
        except IntegrityError:
            return None
        _remember_options(session, row)
        return row
    row = OutboxMessage(channel=channel, chat_id=chat_id, payload=reply.to_dict(), kind=kind,
                        dedupe_key=None, created_at=now, not_before=not_before or now)
    session.add(row)
    _remember_options(session, row)
    return row


def _remember_options(session: Session, row: OutboxMessage) -> None:
    """Buttons of a message sent on the bot's own initiative can be answered by typing
    (bot/options.py). Direct replies ("reply") are remembered on the conversation instead."""
    if row.kind != "reply" and row.payload.get("buttons"):
        from bot import options
        options.remember(session, row.channel, row.chat_id, row.payload["buttons"], row.not_before)



def enqueue_many(session: Session, items: Iterable[tuple[str, str, Reply, str]], now: datetime,
                 kind: str = "notice", not_before: datetime | None = None) -> int:
    """Bulk enqueue for broadcasts: items are (channel, chat_id, reply, dedupe_key). Keys that
    already exist are skipped (one query per chunk instead of two per row). Returns rows added."""
    items = list(items)
    added = 0
    for i in range(0, len(items), 500):
        chunk = items[i:i + 500]
        keys = [k for _, _, _, k in chunk]
        existing = set(session.exec(select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))))
        rows = [OutboxMessage(channel=ch, chat_id=cid, payload=r.to_dict(), kind=kind, dedupe_key=k,
                              created_at=now, not_before=not_before or now)
                for ch, cid, r, k in chunk if k not in existing]
        session.add_all(rows)
        for row in rows:
            _remember_options(session, row)
        session.flush()
        added += len(rows)
    return added


# --- delivery ----------------------------------------------------------------------------------
#
# Row life cycle: pending -> sending (claimed) -> sent | failed | blocked, or back to pending with a
# later not_before (429, 5xx, network). While a row is "sending", its not_before holds the claim's
# lease expiry; a row still "sending" after its lease is an interrupted claim and goes back to
# pending (see requeue_stale).
#
# Exactly-once window, honestly: rows are claimed (committed "sending") before their HTTP call and
# marked sent right after it. A crash leaves "sending" rows of two sorts we cannot tell apart:
# claimed but never attempted (most of them), and attempted (in flight, or answered but not yet
# committed as sent: at most `threads` requests plus ~50 ms of answers). All are sent again after
# the lease, so nobody is skipped; a resident can get a duplicate only if the process died during
# those few in-flight requests. A crash between messages sends nobody anything twice.

MAX_ATTEMPTS = 8
DEFAULT_RATES = {"telegram": 30.0, "zalo": 10.0}  # messages/s overall; web and console: no limit
DEFAULT_LEASE = 120.0  # seconds a claim is valid: longer than a batch takes plus an HTTP timeout

# Called in the transaction that marks a row blocked: fn(session, row, now). A feature that sends
# to residents (e.g. class notices) unsubscribes there whoever blocked the bot.
BLOCKED_HOOKS: dict[str, Callable[[Session, OutboxMessage, datetime], None]] = {}

_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def on_blocked(name: str, fn: Callable[[Session, OutboxMessage, datetime], None]) -> None:
    BLOCKED_HOOKS[name] = fn


def configured_rates() -> dict[str, float]:
    """OUTBOX_RATES="telegram=30,zalo=10" overrides the defaults."""
    rates = dict(DEFAULT_RATES)
    for part in (os.environ.get("OUTBOX_RATES") or "").split(","):
        name, _, value = part.partition("=")
        if name.strip() and value.strip():
            rates[name.strip()] = float(value)
    return rates


def limiter_for(channel: str, sender: Any = None) -> RateLimiter | None:
    """The limiter for a channel: the sender's own (`sender.limiter`, shared with its direct
    replies) or one per channel for this process. Senders used here must not acquire it again."""
    own = getattr(sender, "limiter", None)
    if own is not None:
        return own
    with _LIMITERS_LOCK:
        if channel not in _LIMITERS:
            rate = configured_rates().get(channel)
            if rate is None:
                return None
            _LIMITERS[channel] = RateLimiter(rate)
        return _LIMITERS[channel]


def _is_group(channel: str, chat_id: str) -> bool:
    return channel == "telegram" and chat_id.startswith("-")


def requeue_stale(db, now: datetime) -> int:
    """Claims whose lease expired (the worker died) go back to pending: sent again, never skipped."""
    with db.session() as s:
        res = s.exec(update(OutboxMessage)
                     .where(OutboxMessage.status == "sending", OutboxMessage.not_before <= now)
                     .values(status="pending", last_error="interrupted while sending; requeued"))
        n = res.rowcount or 0
    if n:
        log.warning("requeued %d outbox rows left 'sending' by an interrupted worker", n)
    return n


def recover_own_claims(db, owner: str | None, now: datetime) -> int:
    """At a worker's start: rows it had claimed in its previous life go back to pending at once.
    Other workers' claims are theirs until their lease runs out (requeue_stale), so restarting one
    worker never resends what another is sending. Direct-reply journals: bot.channels.base."""
    with db.session() as s:
        res = s.exec(update(OutboxMessage)
                     .where(OutboxMessage.status == "sending", OutboxMessage.kind != "reply",
                            OutboxMessage.owner == owner)
                     .values(status="pending", not_before=now, last_error="interrupted while sending; requeued")
                     .execution_options(synchronize_session=False))
        n = res.rowcount or 0
    if n:
        log.warning("requeued %d outbox rows this worker (%s) claimed before its restart", n, owner)
    return n


@dataclass
class _Job:
    id: int
    channel: str
    chat_id: str
    payload: dict
    attempts: int


@dataclass
class _Result:
    job: _Job
    error: BaseException | None
    at: datetime


class Dispatcher:
    """Sends due outbox rows fast and within each platform's limit.

    The calling thread claims rows in batches (one transaction each), then for every row waits
    for its rate-limiter slot and hands it to a small thread pool, so HTTP latency does not cap the
    rate. A committer thread writes outcomes in small batches. The database sees a few
    transactions per batch, not several per message."""

    def __init__(self, db, senders: dict[str, Sender], now: Callable[[], datetime],
                 limiters: dict[str, RateLimiter | None] | None = None, threads: int = 16,
                 claim_batch: int | None = None, lease: float = DEFAULT_LEASE,
                 max_attempts: int = MAX_ATTEMPTS, kinds: Iterable[str] | None = None,
                 owner: str | None = None):
        self.db, self.senders, self.now = db, senders, now
        self.owner = owner  # this worker's id on its claims (recover_own_claims)
        self.limiters = {ch: (limiters[ch] if limiters and ch in limiters else limiter_for(ch, snd))
                         for ch, snd in senders.items()}
        self.threads = max(1, threads)
        if claim_batch is None:  # about two seconds of traffic at the fastest channel's rate
            fastest = max([lim.per_second for lim in self.limiters.values() if lim] or [50.0])
            claim_batch = int(min(500, max(20, fastest * 2)))
        self.claim_batch = claim_batch
        self.lease, self.max_attempts = lease, max_attempts
        self.kinds = list(kinds) if kinds else None
        self._results: queue.Queue = queue.Queue()
        self._slots = threading.BoundedSemaphore(self.threads * 2)
        self.sent = 0

    # -- claiming ---------------------------------------------------------------------------
    def _claim(self, n: int) -> list[_Job]:
        """One transaction: pick due rows, mark them "sending" with a lease, return those we won."""
        now = self.now()
        lease_until = now + timedelta(seconds=self.lease)
        with self.db.session() as s:
            q = select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.chat_id, OutboxMessage.payload,
                       OutboxMessage.attempts).where(
                OutboxMessage.status == "pending", OutboxMessage.not_before <= now,
                OutboxMessage.channel.in_(list(self.senders)))
            if self.kinds:
                q = q.where(OutboxMessage.kind.in_(self.kinds))
            q = q.order_by(OutboxMessage.id).limit(n)
            if s.bind.dialect.name == "postgresql":
                q = q.with_for_update(skip_locked=True)  # two workers never claim one row
            rows = s.exec(q).all()
            if not rows:
                return []
            ids = [r[0] for r in rows]
            # Conditional on "pending": on SQLite another process may have claimed some meanwhile;
            # the lease timestamp then tells our claims from theirs.
            s.exec(update(OutboxMessage).where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
                   .values(status="sending", not_before=lease_until, owner=self.owner)
                   .execution_options(synchronize_session=False))
            won = set(s.exec(select(OutboxMessage.id).where(OutboxMessage.id.in_(ids),
                                                            OutboxMessage.status == "sending",
                                                            OutboxMessage.not_before == lease_until)))
        return [_Job(*r) for r in rows if r[0] in won]

    # -- sending ----------------------------------------------------------------------------
    def _send(self, job: _Job) -> None:
        err: BaseException | None = None
        try:
            self.senders[job.channel].send(job.chat_id, Reply.from_dict(job.payload))
        except SendError as e:
            err = e
            lim = self.limiters.get(job.channel)
            if e.retry_after is not None and lim is not None:
                lim.penalise(float(e.retry_after))  # the platform asks the whole bot to wait
        except Exception as e:  # a bug in a sender must not stop the other messages
            log.exception("sender for %s failed", job.channel)
            err = e
        finally:
            self._slots.release()
        self._results.put(_Result(job, err, self.now()))

    # -- recording outcomes -----------------------------------------------------------------
    def _committer(self) -> None:
        stop = False
        while not stop:
            batch = [self._results.get()]
            deadline = time.monotonic() + 0.05
            while len(batch) < 200:
                try:
                    batch.append(self._results.get(timeout=max(0.0, deadline - time.monotonic())))
                except queue.Empty:
                    break
            if any(r is None for r in batch):
                stop = True
            batch = [r for r in batch if r is not None]
            if batch:
                try:
                    self._record(batch)
                except Exception:  # rows stay "sending" and are requeued after the lease
                    log.exception("recording %d outbox outcomes failed", len(batch))

    def _record(self, results: list[_Result]) -> None:
        ok = [r for r in results if r.error is None]
        with self.db.session() as s:
            if ok:
                at = max(r.at for r in ok)
                s.exec(update(OutboxMessage).where(OutboxMessage.id.in_([r.job.id for r in ok]),
                                                   OutboxMessage.status == "sending")
                       .values(status="sent", sent_at=at, attempts=OutboxMessage.attempts + 1,
                               last_error=None).execution_options(synchronize_session=False))
            for r in results:
                if r.error is None:
                    continue
                row = s.get(OutboxMessage, r.job.id)
                if row is None or row.status != "sending":
                    continue
                e = r.error
                row.last_error = (str(e) if isinstance(e, SendError) else repr(e))[:500]
                if isinstance(e, SendError) and e.retry_after is not None:
                    # Throttling is the platform's state, not this message's fault: no attempt used.
                    row.status = "pending"
                    row.not_before = r.at + timedelta(seconds=float(e.retry_after))
                else:
                    row.attempts += 1
                    if isinstance(e, SendError) and e.blocked:
                        row.status = "blocked"
                        for hook in BLOCKED_HOOKS.values():
                            hook(s, row, r.at)
                    elif (isinstance(e, SendError) and e.permanent) or row.attempts >= self.max_attempts:
                        row.status = "failed"
                    else:
                        row.status = "pending"
                        row.not_before = r.at + timedelta(seconds=min(2 ** row.attempts, 300))
                s.add(row)
        self.sent += len(ok)

    # -- the loop ---------------------------------------------------------------------------
    def run(self, limit: int | None = None, stop: threading.Event | None = None) -> int:
        """Deliver what is due (up to `limit` rows) and return how many were sent."""
        requeue_stale(self.db, self.now())
        self.sent = 0
        committer = threading.Thread(target=self._committer, name="outbox-commit", daemon=True)
        committer.start()
        handled = 0
        try:
            with ThreadPoolExecutor(self.threads, thread_name_prefix="outbox-send") as pool:
                while not (stop and stop.is_set()):
                    want = self.claim_batch if limit is None else min(self.claim_batch, limit - handled)
                    if want <= 0:
                        break
                    jobs = self._claim(want)
                    if not jobs:
                        break
                    for job in jobs:
                        self._slots.acquire()
                        lim = self.limiters.get(job.channel)
                        if lim is not None:
                            lim.acquire(job.chat_id, _is_group(job.channel, job.chat_id))
                        pool.submit(self._send, job)
                    handled += len(jobs)
        finally:
            self._results.put(None)
            committer.join()
        return self.sent


def deliver_due(db, senders: dict[str, Sender], now: datetime, limit: int = 1000, **kw) -> int:
    """Send what is due at `now` (up to `limit` rows). Returns how many were sent."""
    if not senders:
        return 0
    start = time.monotonic()
    d = Dispatcher(db, senders, now=lambda: now + timedelta(seconds=time.monotonic() - start), **kw)
    return d.run(limit=limit)
