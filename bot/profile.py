"""Ward profile: the facts that differ from ward to ward, in one YAML file staff can edit.

Validated at start; an error names the field (e.g. `centre.hours: Field required`) so staff
can fix the file without reading code.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class _Strict(BaseModel):
    # Typos in a hand-edited file must fail loudly, not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class ChatRef(_Strict):
    """A unit's, the staff's or the leadership's chat: a Telegram group (see the check below)."""
    channel: Literal["telegram", "zalo", "zalo_oa", "web", "console"]
    chat_id: str

    @field_validator("channel")
    @classmethod
    def _not_zalo(cls, v):
        # Zalo Bot Creator bots cannot join groups and an OA talks to one person at a time:
        # such a chat would receive nothing.
        if v in ("zalo", "zalo_oa"):
            raise ValueError("Zalo (Bot và OA) không tham gia được nhóm chat, nhóm này sẽ không nhận được gì; "
                             "dùng nhóm Telegram (channel: telegram)")
        return v

    @field_validator("chat_id", mode="before")
    @classmethod
    def _str(cls, v):
        return str(v)


class GeoPoint(_Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Boundary(GeoPoint):
    radius_km: float = Field(gt=0, le=50)


class Ward(_Strict):
    name: str = Field(min_length=3)
    city: str = Field(min_length=3)


class Office(_Strict):
    name: str = Field(min_length=3)
    address: str = Field(min_length=5)
    phone: str = Field(min_length=3)
    hours: str | None = None
    location: GeoPoint | None = None


class ResidentialGroup(_Strict):
    code: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    cultural_house: str | None = None


class Unit(_Strict):
    id: str = Field(pattern=r"^[a-z0-9-]+$")
    name: str
    chat: ChatRef | None = None


class CategoryOverride(_Strict):
    unit: str | None = None
    sla_hours: float | None = Field(default=None, gt=0)


class RoutingRule(_Strict):
    # A ward may send one category to another unit for some residential groups.
    category: str
    groups: list[str]
    unit: str


class QuietHours(_Strict):
    start: str = Field(default="22:00", pattern=r"^\d{2}:\d{2}$")
    end: str = Field(default="06:00", pattern=r"^\d{2}:\d{2}$")


class TeamReports(_Strict):
    deadline_day: int = Field(default=20, ge=1, le=28)
    reminder_days_before: list[int] = Field(default_factory=lambda: [7, 3, 1])
    reminder_time: str = Field(default="08:00", pattern=r"^\d{2}:\d{2}$")
    ward_deadline_day: int = Field(default=27, ge=1, le=28)
    annual_summary: str = Field(default="11-30", pattern=r"^\d{2}-\d{2}$")
    missed_reminders: Literal["catch_up", "drop"] = "catch_up"


class Retention(_Strict):
    conversation_days: int = Field(default=30, ge=1)
    reports_days: int = Field(default=730, ge=30)
    sessions_days: int = Field(default=1825, ge=365)


class Limits(_Strict):
    photo_max_mb: float = Field(default=10, gt=0, le=50)


class WardProfile(_Strict):
    ward: Ward
    centre: Office
    police: Office
    hotline: str = "1022"
    portal_url: str = "https://dichvucong.gov.vn"
    city_portal_url: str = "https://dichvucong.danang.gov.vn"
    boundary: Boundary | None = None
    residential_groups: list[ResidentialGroup] = Field(min_length=1)
    units: list[Unit] = Field(min_length=1)
    staff_chat: ChatRef | None = None
    leadership_chat: ChatRef | None = None
    categories: dict[str, CategoryOverride] = Field(default_factory=dict)
    routing: list[RoutingRule] = Field(default_factory=list)
    quiet_hours: QuietHours = Field(default_factory=QuietHours)
    team_reports: TeamReports = Field(default_factory=TeamReports)
    retention: Retention = Field(default_factory=Retention)
    limits: Limits = Field(default_factory=Limits)

    def group(self, code: str) -> ResidentialGroup | None:
        return next((g for g in self.residential_groups if g.code == code), None)

    def unit(self, unit_id: str) -> Unit | None:
        return next((u for u in self.units if u.id == unit_id), None)

    def placeholders(self) -> dict[str, str]:
        """Values for the `{...}` placeholders of knowledge-base answers."""
        return {
            "ward_name": self.ward.name,
            "centre_name": self.centre.name,
            "centre_address": self.centre.address,
            "centre_hours": self.centre.hours or "giờ hành chính",
            "centre_phone": self.centre.phone,
            "police_name": self.police.name,
            "police_address": self.police.address,
            "police_phone": self.police.phone,
            "hotline": self.hotline,
            "portal_url": self.portal_url,
            "city_portal_url": self.city_portal_url,
        }


class ProfileError(ValueError):
    pass


def load_profile(path: Path) -> WardProfile:
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ProfileError(f"{path}: không tìm thấy tệp hồ sơ phường (ward profile not found)") from e
    except yaml.YAMLError as e:
        raise ProfileError(f"{path}: YAML không hợp lệ: {e}") from e
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: the ward profile must be a mapping")
    try:
        profile = WardProfile.model_validate(raw)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"{path}: {loc}: {err['msg']}")
        raise ProfileError("\n".join(lines)) from None
    unit_ids = {u.id for u in profile.units}
    group_codes = {g.code for g in profile.residential_groups}
    problems = []
    for cat, ov in profile.categories.items():
        if ov.unit and ov.unit not in unit_ids:
            problems.append(f"{path}: categories.{cat}.unit: unknown unit '{ov.unit}'")
    for i, rule in enumerate(profile.routing):
        if rule.unit not in unit_ids:
            problems.append(f"{path}: routing.{i}.unit: unknown unit '{rule.unit}'")
        for g in rule.groups:
            if g not in group_codes:
                problems.append(f"{path}: routing.{i}.groups: unknown residential group '{g}'")
    # Staff and unit chats receive residents' names and phone numbers and act with staff rights:
    # a web chat id is not something the ward owns, so they must be Telegram groups (Zalo bots
    # and OAs cannot be in groups: refused by ChatRef).
    owned = [(f"units.{i}.chat", u.chat) for i, u in enumerate(profile.units)]
    owned += [("staff_chat", profile.staff_chat), ("leadership_chat", profile.leadership_chat)]
    for field, ref in owned:
        if ref is not None and ref.channel == "web":
            problems.append(f"{path}: {field}.channel: 'web' is not allowed for staff and unit chats "
                            "(anyone could open a web chat with that id); use a telegram group")
    if len(group_codes) != len(profile.residential_groups):
        problems.append(f"{path}: residential_groups: duplicate code")
    if problems:
        raise ProfileError("\n".join(problems))
    return profile
