"""Tables of the community digital-technology teams: sessions, quarter submissions, API tokens."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, Column, UniqueConstraint, false
from sqlmodel import Field, SQLModel

from bot.models import utcnow


class TeamSession(SQLModel, table=True):
    """One support session a team logged. Activity counts are columns (not JSON) so the
    quarterly sums are plain arithmetic on typed values."""
    __tablename__ = "team_session"
    id: Optional[int] = Field(default=None, primary_key=True)
    group_code: str = Field(max_length=32, index=True)
    day: date = Field(index=True)  # local (Asia/Ho_Chi_Minh) date of the session
    author_id: Optional[int] = Field(default=None, foreign_key="person.id", index=True)
    place: str = Field(max_length=16)
    households: int = 0
    people: int = 0
    elderly: int = 0
    vulnerable: int = 0
    act_vneid: int = 0
    act_dvc: int = 0
    act_payment: int = 0
    act_signature: int = 0
    act_security: int = 0
    act_apps: int = 0
    act_ecommerce: int = 0
    members: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))  # person ids
    difficulties: Optional[str] = Field(default=None, max_length=2000)
    good_practices: Optional[str] = Field(default=None, max_length=2000)
    photos: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # logged after the team submitted its quarter: kept, not counted, until the quarter is reopened
    late: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TeamSubmission(SQLModel, table=True):
    """A submitted report. group_code "_ward" is the ward's compiled report to the Department;
    quarter 0 is the annual summary. A row locks the team's sessions of that quarter."""
    __tablename__ = "team_submission"
    __table_args__ = (UniqueConstraint("group_code", "year", "quarter", name="uq_team_submission"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    group_code: str = Field(max_length=32)
    year: int
    quarter: int
    submitted_by: Optional[int] = None
    submitted_at: datetime = Field(default_factory=utcnow)
