"""Team rules shared by the chat, the report and the reminders: who is in which team, which
quarter is open, what a valid session is."""
from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session, select

from bot import roles as R
from bot.models import Person, RoleGrant
from bot.people import person_label
from handlers.teams import catalog as C
from handlers.teams.models import TeamSession, TeamSubmission


def team_grants(session: Session, group: str | None = None) -> list[RoleGrant]:
    q = select(RoleGrant).where(RoleGrant.revoked_at.is_(None),
                                RoleGrant.role.in_([R.TEAM_MEMBER, R.TEAM_LEADER]))
    if group:
        q = q.where(RoleGrant.group_code == group)
    return list(session.exec(q.order_by(RoleGrant.group_code, RoleGrant.id)))


def roster(session: Session, group: str) -> list[tuple[Person, str]]:
    """(person, role) of a team, leader first."""
    out = []
    for g in team_grants(session, group):
        p = session.get(Person, g.person_id)
        if p is not None:
            out.append((p, g.role))
    out.sort(key=lambda pr: (pr[1] != R.TEAM_LEADER, pr[0].id))
    return out


def leader_of(session: Session, group: str) -> Person | None:
    return next((p for p, role in roster(session, group) if role == R.TEAM_LEADER), None)


def team_of(session: Session, person_id: int) -> str | None:
    groups = sorted(R.groups_of(session, person_id, R.TEAM_LEADER) | R.groups_of(session, person_id, R.TEAM_MEMBER))
    return groups[0] if groups else None


def person_name(p: Person | None) -> str:
    return person_label(p, "Thành viên")


def submission(session: Session, group: str, year: int, q: int) -> TeamSubmission | None:
    return session.exec(select(TeamSubmission).where(
        TeamSubmission.group_code == group, TeamSubmission.year == year, TeamSubmission.quarter == q)).first()


def is_locked(session: Session, group: str, d: date) -> bool:
    y, q = C.quarter_of(d)
    return submission(session, group, y, q) is not None


def check_day(session: Session, group: str, d: date, now: datetime, late_ok: bool = False) -> str | None:
    """None when a session may be logged on day d; else the Vietnamese reason. late_ok: a new
    session in a submitted quarter is fine (it is kept and flagged late for the leader)."""
    today = C.today(now)
    if d > today:
        return "Không ghi nhận được buổi hỗ trợ ở ngày trong tương lai. Bạn chọn lại ngày giúp mình nhé."
    if C.quarter_of(d) != C.quarter_of(today):
        y, q = C.quarter_of(today)
        start, _ = C.quarter_days(y, q)
        return (f"Chỉ ghi nhận được các buổi trong quý đang mở ({C.quarter_label(y, q)}, "
                f"từ {start:%d/%m/%Y} đến hôm nay). Bạn chọn lại ngày giúp mình nhé.")
    if not late_ok and is_locked(session, group, d):
        y, q = C.quarter_of(d)
        return (f"Tổ đã nộp báo cáo {C.quarter_label(y, q)} nên không ghi thêm hay sửa được nữa. "
                "Nếu cần điều chỉnh, bạn báo cán bộ phường mở lại giúp nhé.")
    return None


def check_counts(state: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """(errors, warnings). Errors block saving; each warning (key, text) needs a confirmation.
    "Other vulnerable people" are besides the elderly, so people >= elderly + vulnerable."""
    errors, warnings = [], []
    people, elderly, vulnerable = (int(state.get(k) or 0) for k in ("people", "elderly", "vulnerable"))
    if elderly + vulnerable > people:
        errors.append(f"Số người được hỗ trợ ({people}) không thể ít hơn số người cao tuổi và người yếu thế "
                      f"cộng lại ({elderly} + {vulnerable}).")
    for key, limit in C.PLAUSIBLE.items():
        v = int(state.get(key) or 0)
        if v > limit:
            warnings.append((key, f"{C.COUNTS[key]}: {v} trong một buổi là khá nhiều."))
    for act, v in (state.get("acts") or {}).items():
        if v > C.PLAUSIBLE_ACTIVITY:
            warnings.append((act, f"{C.SHORT[act]}: {v} trong một buổi là khá nhiều."))
        elif people and act in ("vneid", "signature", "payment") and v > people:
            warnings.append((act, f"{C.SHORT[act]}: {v}, nhiều hơn số người được hỗ trợ ({people})."))
    return errors, warnings


def state_from_row(row: TeamSession) -> dict:
    return {
        "group": row.group_code, "day": row.day.isoformat(), "place": row.place,
        "households": row.households, "people": row.people, "elderly": row.elderly, "vulnerable": row.vulnerable,
        "acts": {a: getattr(row, col) for a, (col, _) in C.ACTIVITIES.items() if getattr(row, col)},
        "members": list(row.members or []), "difficulties": row.difficulties or "",
        "good": row.good_practices or "", "photos": list(row.photos or []), "edit_id": row.id,
        "acts_done": True, "members_done": True,  # the form opens at its summary: every step answered
    }


def apply_state(row: TeamSession, state: dict, now: datetime) -> TeamSession:
    row.group_code = state["group"]
    row.day = date.fromisoformat(state["day"])
    row.place = state.get("place") or "other"
    for k in C.COUNTS:
        setattr(row, k, int(state.get(k) or 0))
    acts = state.get("acts") or {}
    for a, (col, _) in C.ACTIVITIES.items():
        setattr(row, col, int(acts.get(a) or 0))
    row.members = list(state.get("members") or [])
    row.difficulties = (state.get("difficulties") or None)
    row.good_practices = (state.get("good") or None)
    row.photos = list(state.get("photos") or [])
    row.updated_at = now
    return row


def late_notice(d: date) -> str:
    y, q = C.quarter_of(d)
    return (f"Tổ đã nộp báo cáo {C.quarter_label(y, q)}, nên buổi này vẫn được ghi nhận nhưng đánh dấu ghi sau "
            "khi nộp (chưa tính vào báo cáo). Tổ trưởng sẽ quyết định có mở lại báo cáo quý để tính vào hay không.")


def reopen_quarter(session: Session, group: str, year: int, q: int, now: datetime, actor_id: int | None,
                   via: str) -> int | None:
    """Undo a team's quarter submission (staff with /mokhoa or the back office, the leader after a
    late session): its late sessions count again. None when it was not submitted; else how many
    late sessions now count."""
    from bot.models import AuditEvent
    sub = submission(session, group, year, q)
    if sub is None:
        return None
    start, end = C.quarter_days(year, q)
    late = list(session.exec(select(TeamSession).where(TeamSession.group_code == group, TeamSession.late.is_(True),
                                                       TeamSession.day >= start, TeamSession.day < end)))
    for row in late:
        row.late = False
        session.add(row)
    session.delete(sub)
    session.add(AuditEvent(at=now, actor_id=actor_id, action="team_report_reopened", object_type="team",
                           object_id=group, detail={"year": year, "quarter": q, "via": via,
                                                    "late_sessions": [r.id for r in late]}))
    return len(late)
