"""Tables of the Zalo OA channel: a durable webhook inbox (shared with the Bot Platform channel),
the OA's OAuth tokens, what we know of each OA user (name, windows, consented contact details)
and the log of proactive messages that went out another way."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from bot.models import utcnow


class WebhookInbox(SQLModel, table=True):
    """A webhook event as received, inserted before the platform is acknowledged and marked done
    once handled: a crash between the two loses nothing, a redelivery is recognised by its key."""
    __tablename__ = "webhook_inbox"
    channel: str = Field(primary_key=True, max_length=16)
    event_key: str = Field(primary_key=True, max_length=128)
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, index=True)
    done_at: Optional[datetime] = Field(default=None, index=True)
    attempts: int = 0


class ZaloOaToken(SQLModel, table=True):
    """The OA's tokens (one row, id 1). The refresh token is single-use: it is rotated in the same
    transaction that stores the new access token, under a row lock, before anyone uses it."""
    __tablename__ = "zalo_oa_token"
    id: int = Field(default=1, primary_key=True)
    access_token: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    refresh_token: Optional[str] = Field(default=None, sa_column=Column(Text, nullable=True))
    access_expires_at: Optional[datetime] = None
    refresh_expires_at: Optional[datetime] = None
    source: str = Field(default="env", max_length=16)  # env | refresh | consent
    updated_at: datetime = Field(default_factory=utcnow)
    refreshes: int = 0
    last_error: Optional[str] = Field(default=None, max_length=500)
    warned_for: Optional[datetime] = None  # refresh_expires_at staff were last warned about
    pkce_verifier: Optional[str] = Field(default=None, max_length=128)
    pkce_state: Optional[str] = Field(default=None, max_length=64)
    pkce_created_at: Optional[datetime] = None


class ZaloOaUser(SQLModel, table=True):
    """An OA user as far as the OA's sending rules need: the last message (free replies refer to
    it), whether they follow the OA, their display name, contact details they chose to share."""
    __tablename__ = "zalo_oa_user"
    user_id: str = Field(primary_key=True, max_length=64)
    display_name: Optional[str] = Field(default=None, max_length=200)
    name_fetched_at: Optional[datetime] = None
    followed: bool = True
    last_msg_id: Optional[str] = Field(default=None, max_length=128)
    last_msg_at: Optional[datetime] = None
    replies_to_last: int = 0
    phone: Optional[str] = Field(default=None, max_length=32)
    address: Optional[str] = Field(default=None, max_length=300)
    info_name: Optional[str] = Field(default=None, max_length=200)
    info_consent_at: Optional[datetime] = None  # when they submitted the request-user-info form


class ZaloOaFallback(SQLModel, table=True):
    """A proactive message the OA could not carry (window or quota) and where it went instead:
    zns, another channel ("channel:telegram"), or held (shown to staff as undeliverable)."""
    __tablename__ = "zalo_oa_fallback"
    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: str = Field(max_length=64, index=True)
    route: str = Field(max_length=32)
    reason: str = Field(max_length=500)
    text: Optional[str] = Field(default=None, max_length=300)  # the message's start, for staff
    at: datetime = Field(default_factory=utcnow, index=True)
    seen_at: Optional[datetime] = None
