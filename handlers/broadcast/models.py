"""Tables of the class notices ("Bình dân học vụ số"): subscriptions, classes with their
occurrences, sign-ups, and the staff API tokens."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.models import utcnow


class ClassSubscription(SQLModel, table=True):
    """A resident who opted in to class notices. No row, no notice: opting out deletes it."""
    __tablename__ = "class_subscription"
    id: Optional[int] = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", unique=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    group_code: str = Field(max_length=32, index=True)
    topics: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # [] = all
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class LiteracyClass(SQLModel, table=True):
    """One class definition; a recurring class has several occurrences."""
    __tablename__ = "literacy_class"
    id: Optional[int] = Field(default=None, primary_key=True)
    topic: str = Field(max_length=32)
    place: str = Field(max_length=300)
    group_code: Optional[str] = Field(default=None, max_length=32, index=True)  # hosting team, for stats
    capacity: int
    duration_minutes: int = 90
    # {"groups": [codes] ([] = every subscriber), "topic_only": bool}
    audience: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    repeat_weekly: bool = False
    status: str = Field(default="draft", max_length=16)  # draft|published|cancelled
    created_by: Optional[int] = None
    created_at: datetime = Field(default_factory=utcnow)
    published_at: Optional[datetime] = None


class ClassOccurrence(SQLModel, table=True):
    __tablename__ = "class_occurrence"
    __table_args__ = (UniqueConstraint("class_id", "n", name="uq_class_occurrence_n"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="literacy_class.id", index=True)
    n: int  # 1-based number within the class
    starts_at: datetime = Field(index=True)
    status: str = Field(default="scheduled", max_length=16)  # scheduled|held|cancelled
    attendance_count: Optional[int] = None  # a head count typed by staff (includes walk-ins)
    marked_at: Optional[datetime] = None
    seq: int = 0  # bumped by each sign-up change: takes the row lock before capacity is counted


class ClassSignup(SQLModel, table=True):
    __tablename__ = "class_signup"
    __table_args__ = (UniqueConstraint("occurrence_id", "person_id", name="uq_class_signup_person"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    occurrence_id: int = Field(foreign_key="class_occurrence.id", index=True)
    person_id: Optional[int] = Field(default=None, foreign_key="person.id", index=True)  # None: erased
    status: str = Field(max_length=16)  # going|waiting|declined
    attended: Optional[bool] = None
    updated_at: datetime = Field(default_factory=utcnow)
    queue_no: int = 0  # waiting-list order: the occurrence's seq when this status was taken
