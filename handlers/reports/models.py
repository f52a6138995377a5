"""Tables of residents' reports (phản ánh hiện trường): the report itself and its append-only
event trail. A report's current state lives on the row; how it got there lives in the events."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from bot.models import utcnow

# new -> assigned -> in_progress -> resolved | rejected -> closed
NEW, ASSIGNED, IN_PROGRESS, RESOLVED, REJECTED, CLOSED = (
    "new", "assigned", "in_progress", "resolved", "rejected", "closed")
OPEN_STATUSES = (NEW, ASSIGNED, IN_PROGRESS)
DONE_STATUSES = (RESOLVED, REJECTED, CLOSED)
STATUS_LABELS = {
    NEW: "đã tiếp nhận, chờ đơn vị xử lý",
    ASSIGNED: "đã giao cán bộ phụ trách",
    IN_PROGRESS: "đang xử lý",
    RESOLVED: "đã xử lý xong",
    REJECTED: "không xử lý (đã có lý do)",
    CLOSED: "đã đóng",
}
SOURCES = {"chat": "tin nhắn", "hotline": "đường dây nóng 1022", "meeting": "họp tổ dân phố",
           "open311": "ứng dụng bên ngoài (Open311)", "other": "nguồn khác"}


class Report(SQLModel, table=True):
    __table_args__ = (Index("ix_report_open_lookup", "category", "status", "created_at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    code: Optional[str] = Field(default=None, max_length=20, unique=True)  # PA-2026-000123
    category: str = Field(max_length=32)
    unit_id: str = Field(max_length=32, index=True)
    group_code: Optional[str] = Field(default=None, max_length=32, index=True)
    status: str = Field(default=NEW, max_length=16, index=True)
    source: str = Field(default="chat", max_length=16)
    description: str = Field(max_length=4000)
    address: Optional[str] = Field(default=None, max_length=300)
    address_norm: Optional[str] = Field(default=None, max_length=300)
    lat: Optional[float] = None
    lon: Optional[float] = None
    photos: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    media_url: Optional[str] = Field(default=None, max_length=500)
    # Who to tell about progress. Cleared by erasure; the report itself stays for the ward.
    person_id: Optional[int] = Field(default=None, foreign_key="person.id", index=True)
    channel: Optional[str] = Field(default=None, max_length=16)
    chat_id: Optional[str] = Field(default=None, max_length=64)
    contact_name: Optional[str] = Field(default=None, max_length=200)
    contact_phone: Optional[str] = Field(default=None, max_length=32)
    contact_email: Optional[str] = Field(default=None, max_length=200)
    anonymous: bool = False
    # The resident agreed to show the description in public reads (Open311 without a key).
    publish_description: bool = False
    external_account_id: Optional[str] = Field(default=None, max_length=100)  # Open311 account_id
    recorded_by: Optional[int] = None  # staff who typed in a phone or meeting report
    parent_id: Optional[int] = Field(default=None, foreign_key="report.id", index=True)  # duplicate of
    assignee_id: Optional[int] = None
    sla_hours: float = 24
    accept_by: datetime  # first action due (reminder to the unit)
    resolve_by: datetime  # resolution due (escalation to leadership)
    created_at: datetime = Field(default_factory=utcnow, index=True)
    updated_at: datetime = Field(default_factory=utcnow)
    accepted_at: Optional[datetime] = None
    resolved_at: Optional[datetime] = None  # resolved or rejected
    closed_at: Optional[datetime] = None
    escalated_at: Optional[datetime] = None
    resolution_note: Optional[str] = Field(default=None, max_length=2000)
    resolution_photo: Optional[str] = Field(default=None, max_length=500)
    reject_reason: Optional[str] = Field(default=None, max_length=2000)
    rating: Optional[int] = None
    rating_comment: Optional[str] = Field(default=None, max_length=1000)


class ReportEvent(SQLModel, table=True):
    """Append-only: one row per thing that happened to a report; never updated or deleted."""
    id: Optional[int] = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    actor_id: Optional[int] = None  # person id; None for the system or an external client
    actor_label: Optional[str] = Field(default=None, max_length=64)  # "hệ thống", "open311", ...
    action: str = Field(max_length=32)  # created|linked|assigned|accepted|info_requested|info_received|
    #                                     resolved|rejected|closed|rated|reminded|escalated|contact_erased
    from_status: Optional[str] = Field(default=None, max_length=16)
    to_status: Optional[str] = Field(default=None, max_length=16)
    note: Optional[str] = Field(default=None, max_length=2000)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
