"""Foundation tables. Feature modules keep their own tables in their own `models.py`,
all on the one SQLModel metadata so Alembic sees everything."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import JSON, Column, UniqueConstraint, Index
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Person(SQLModel, table=True):
    """One person per channel account: a Zalo user and a Telegram user are two records."""
    __table_args__ = (UniqueConstraint("channel", "channel_user_id", name="uq_person_channel_user"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    channel_user_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64)
    display_name: Optional[str] = Field(default=None, max_length=200)
    phone: Optional[str] = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    address_term: Optional[str] = Field(default=None, max_length=8)  # how they name themselves: "bà", "chú"...
    full_name: Optional[str] = Field(default=None, max_length=120)  # the name they gave us (staff see it)


class RoleGrant(SQLModel, table=True):
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    role: str = Field(max_length=32)  # team_member | team_leader | staff | admin
    group_code: Optional[str] = Field(default=None, max_length=32)  # residential group for team roles
    unit_id: Optional[str] = Field(default=None, max_length=32)  # handling unit for staff, optional
    granted_by: Optional[int] = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: Optional[datetime] = None


class Invite(SQLModel, table=True):
    code: str = Field(primary_key=True, max_length=32)
    role: str = Field(max_length=32)
    group_code: Optional[str] = Field(default=None, max_length=32)
    unit_id: Optional[str] = Field(default=None, max_length=32)
    created_by: Optional[int] = None
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_by: Optional[int] = None
    used_at: Optional[datetime] = None


class Conversation(SQLModel, table=True):
    """Dialogue state per chat, written in the same transaction as the message it follows,
    so a restart resumes a half-filled form exactly where it stopped. In a group chat, one row per
    member (`member`: their platform id; "" in a private chat): each fills their own forms."""
    __table_args__ = (UniqueConstraint("channel", "chat_id", "member", name="uq_conversation_member"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    member: str = Field(default="", max_length=64)
    person_id: Optional[int] = Field(default=None, foreign_key="person.id")
    flow: Optional[str] = Field(default=None, max_length=64)
    step: Optional[str] = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    last_buttons: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
    # Who started the open form: in a group, other members' messages go around it.
    flow_owner_id: Optional[int] = None
    # The procedure under discussion, so "hết bao nhiêu tiền" resolves against it (handlers/faq.py);
    # kept apart from `data`, which a form owns and clears when it ends.
    topic: Optional[str] = Field(default=None, max_length=128)
    topic_at: Optional[datetime] = None


class ProcessedUpdate(SQLModel, table=True):
    """Platform update ids already handled: a redelivered webhook is answered once, with the
    replies it produced the first time (stored in the same transaction as the handling)."""
    channel: str = Field(primary_key=True, max_length=16)
    update_key: str = Field(primary_key=True, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    chat_id: Optional[str] = Field(default=None, max_length=64, index=True)
    replies: Optional[list[Any]] = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))


class UpdateAttempt(SQLModel, table=True):
    """How often handling an update was tried. Counted in its own transaction before handling,
    so a crash mid-handling still counts; after a few failures the update is quarantined
    (acknowledged without handling) and stays here for staff to look at (/hangloi)."""
    __tablename__ = "update_attempt"
    channel: str = Field(primary_key=True, max_length=16)
    update_key: str = Field(primary_key=True, max_length=128)
    chat_id: str = Field(max_length=64, index=True)
    excerpt: Optional[str] = Field(default=None, max_length=200)  # what was sent, for staff
    attempts: int = 0
    last_error: Optional[str] = Field(default=None, max_length=500)
    first_at: datetime = Field(default_factory=utcnow)
    last_at: datetime = Field(default_factory=utcnow)
    quarantined_at: Optional[datetime] = Field(default=None, index=True)


class RateEvent(SQLModel, table=True):
    """One attempt at something limited per chat (e.g. typing invite codes): counted over a window."""
    __tablename__ = "rate_event"
    __table_args__ = (Index("ix_rate_event_key_at", "key", "at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    key: str = Field(max_length=128)
    at: datetime = Field(default_factory=utcnow)


class OutboxMessage(SQLModel, table=True):
    """Every message the bot sends on its own initiative (notifications, reminders, broadcasts):
    one row per recipient, so a crash resumes without duplicates or gaps."""
    __table_args__ = (Index("ix_outbox_pending", "status", "not_before"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    kind: str = Field(default="notice", max_length=32)
    dedupe_key: Optional[str] = Field(default=None, max_length=200, unique=True)
    status: str = Field(default="pending", max_length=16)  # pending|sending|sent|failed|blocked
    attempts: int = 0
    not_before: datetime = Field(default_factory=utcnow)
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: Optional[datetime] = None
    last_error: Optional[str] = Field(default=None, max_length=500)
    # Worker holding the claim while "sending" (BOT_WORKER_ID): a restarting worker takes back
    # only its own claims; another worker's wait for their lease to run out.
    owner: Optional[str] = Field(default=None, max_length=64)


class AuditEvent(SQLModel, table=True):
    """Append-only trail of who did what; never updated or deleted by the application."""
    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_id: Optional[int] = None
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=32)
    object_id: str = Field(max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ApiToken(SQLModel, table=True):
    """A person's bearer token for the HTTP APIs (bot/tokens.py); only its SHA-256 is stored."""
    __tablename__ = "api_token"
    token_hash: str = Field(primary_key=True, max_length=64)
    person_id: int = Field(foreign_key="person.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: Optional[datetime] = None


class Handoff(SQLModel, table=True):
    """A resident's question the bot could not answer, passed to ward staff."""
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: Optional[int] = Field(default=None, foreign_key="person.id", index=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    question: str = Field(max_length=4096)
    contact: Optional[str] = Field(default=None, max_length=64)
    status: str = Field(default="open", max_length=16)  # open|answered|closed
    answer: Optional[str] = Field(default=None, max_length=4096)
    answered_by: Optional[int] = None
    created_at: datetime = Field(default_factory=utcnow)
    answered_at: Optional[datetime] = None


class ScheduledTask(SQLModel, table=True):
    """A dated piece of work (a reminder, an escalation). The key makes it happen once."""
    key: str = Field(primary_key=True, max_length=200)
    kind: str = Field(max_length=64, index=True)
    fire_at: datetime = Field(index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending|done|dropped|cancelled
    done_at: Optional[datetime] = None
    created_at: datetime = Field(default_factory=utcnow)
