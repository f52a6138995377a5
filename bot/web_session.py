"""Server-issued identity for the web chat. The browser holds a random token (HttpOnly cookie,
also returned as `session` for API clients, accepted back in X-Session); the database keeps only
its SHA-256, so every worker knows every session and a database leak reveals none. The web
chat's chat_id and user_id are derived from the session row ("s-<id>"), never from the body."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Optional

from sqlmodel import Field, Session, SQLModel, select, update

from bot.models import utcnow

COOKIE = "tlsp_session"
HEADER = "x-session"
IDLE_DAYS = 90  # a session unused this long is forgotten; the browser gets a new one
TOUCH_EVERY = timedelta(hours=1)  # last_seen_at is written at most this often
MAX_TOKEN_LEN = 100


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"
    id: Optional[int] = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow, index=True)
    label: Optional[str] = Field(default=None, max_length=64)  # the client's own chat_id, for staff's eyes only


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def chat_id_of(row_id: int) -> str:
    return f"s-{row_id}"


def token_of(request) -> str | None:
    """The session token a request carries: X-Session header first (API clients), then the cookie."""
    t = request.headers.get(HEADER) or request.cookies.get(COOKIE)
    if not t or len(t) > MAX_TOKEN_LEN or not t.isascii():
        return None
    return t.strip() or None


def find(session: Session, token: str | None, now: datetime) -> WebSession | None:
    if not token:
        return None
    row = session.exec(select(WebSession).where(WebSession.token_hash == _hash(token))).first()
    if row is None or row.last_seen_at < now - timedelta(days=IDLE_DAYS):
        return None
    if row.last_seen_at < now - TOUCH_EVERY:
        session.exec(update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now))
    return row


def create(session: Session, now: datetime, label: str | None = None) -> tuple[WebSession, str]:
    """A new session with a fresh random token. The token is never chosen by the client (no
    session fixation) and its hash is unique, so concurrent workers cannot collide."""
    token = secrets.token_urlsafe(32)
    row = WebSession(token_hash=_hash(token), created_at=now, last_seen_at=now, label=label)
    session.add(row)
    session.flush()
    return row, token


def find_or_create(db, token: str | None, now: datetime, label: str | None = None) -> tuple[WebSession, str | None]:
    """(row, new token or None when the given one is still valid)."""
    if label:
        from bot.httpsafe import clean_text
        label = clean_text(label)[:64].strip() or None
    with db.session() as s:
        row = find(s, token, now)
        if row is not None:
            return row, None
        row, new = create(s, now, label)
        return row, new


def purge(session: Session, now: datetime) -> int:
    from sqlmodel import delete
    res = session.exec(delete(WebSession).where(WebSession.last_seen_at < now - timedelta(days=IDLE_DAYS)))
    return res.rowcount or 0
