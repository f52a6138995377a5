"""Back-office tables: staff accounts, their login sessions and login attempts. Sessions and
attempts live in the database so every worker process sees the same logins and lockouts."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlmodel import Field, SQLModel

from bot.models import utcnow


class StaffAccount(SQLModel, table=True):
    __tablename__ = "staff_account"
    id: Optional[int] = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    display_name: str = Field(max_length=200)
    role: str = Field(max_length=16)  # staff | admin
    password_hash: str = Field(max_length=300)
    # The person the account acts as: a placeholder web person at first, the person's chat identity
    # once linked, so chat and back office share one set of roles (bot/roles.py).
    person_id: int = Field(foreign_key="person.id", index=True)
    link_code: Optional[str] = Field(default=None, max_length=32)  # an Invite code redeemed in chat
    created_by: Optional[int] = None
    created_at: datetime = Field(default_factory=utcnow)
    disabled_at: Optional[datetime] = None


class StaffSession(SQLModel, table=True):
    """Only the SHA-256 of the cookie value is stored: a leaked table opens no session."""
    __tablename__ = "staff_session"
    token_hash: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="staff_account.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    ended_at: Optional[datetime] = None


class LoginAttempt(SQLModel, table=True):
    __tablename__ = "login_attempt"
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    username: str = Field(max_length=64, index=True)
    address: str = Field(max_length=64, index=True)
    ok: bool = False
