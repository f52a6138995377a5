"""Personal bearer tokens for the HTTP APIs staff and team leaders use (report downloads, the
class API). One per person at a time, created in the chat with /matai, shown once; only the
SHA-256 is stored. What a token may do is decided by its owner's roles at each request."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, delete, update

from bot.models import ApiToken

TOKEN_DAYS = 90


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def revoke(session: Session, person_id: int, now: datetime) -> int:
    res = session.exec(update(ApiToken).where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now))
    return res.rowcount or 0


def issue(session: Session, person_id: int, now: datetime) -> tuple[str, datetime]:
    """A new token replaces the person's old one: a leaked token dies with the next /matai."""
    revoke(session, person_id, now)
    token = "tk_" + secrets.token_urlsafe(24)
    expires = now + timedelta(days=TOKEN_DAYS)
    session.add(ApiToken(token_hash=_hash(token), person_id=person_id, created_at=now, expires_at=expires))
    return token, expires


def person_for(session: Session, token: str, now: datetime) -> int | None:
    row = session.get(ApiToken, _hash(token.strip())) if token and token.strip() else None
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    return row.person_id


def bearer(request) -> str:
    """The token of `Authorization: Bearer ...` or `X-Token: ...`. Never from the URL: a
    `?token=` is refused before any route runs (bot.httpsafe.NoSecretsInQuery), since URLs are
    written to access logs."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        token = token.strip()
    else:
        token = request.headers.get("x-token", "").strip()
    return token if 0 < len(token) <= 200 and token.isascii() else ""


def erase(session: Session, person_id: int) -> None:
    session.exec(delete(ApiToken).where(ApiToken.person_id == person_id))
