"""Roles are granted by an admin or a one-time invite code, never by what a user claims."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select, update

from bot.models import Invite, Person, RoleGrant

RESIDENT, TEAM_MEMBER, TEAM_LEADER, STAFF, ADMIN = "resident", "team_member", "team_leader", "staff", "admin"
ROLES = (TEAM_MEMBER, TEAM_LEADER, STAFF, ADMIN)
ROLE_LABELS = {
    RESIDENT: "người dân",
    TEAM_MEMBER: "thành viên Tổ công nghệ số cộng đồng",
    TEAM_LEADER: "tổ trưởng Tổ công nghệ số cộng đồng",
    STAFF: "cán bộ phường",
    ADMIN: "quản trị viên",
}
# Who may hand out which role by invite: staff enrol teams; only admins make staff or admins.
GRANTABLE_BY = {STAFF: {TEAM_MEMBER, TEAM_LEADER}, ADMIN: set(ROLES)}
# Unambiguous alphabet: no 0/O, 1/I/L, since codes are read aloud and typed on phones.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def active_grants(session: Session, person_id: int) -> list[RoleGrant]:
    return list(session.exec(select(RoleGrant).where(
        RoleGrant.person_id == person_id, RoleGrant.revoked_at.is_(None))))


def roles_of(session: Session, person_id: int) -> set[str]:
    roles = {g.role for g in active_grants(session, person_id)}
    if TEAM_LEADER in roles:
        roles.add(TEAM_MEMBER)
    if ADMIN in roles:
        roles.add(STAFF)
    return roles | {RESIDENT}


def groups_of(session: Session, person_id: int, role: str | None = None) -> set[str]:
    return {g.group_code for g in active_grants(session, person_id)
            if g.group_code and (role is None or g.role == role)}


def grant(session: Session, person: Person, role: str, now: datetime, group_code: str | None = None,
          unit_id: str | None = None, granted_by: int | None = None) -> RoleGrant:
    if role not in ROLES:
        raise ValueError(f"unknown role {role}")
    if role in (TEAM_MEMBER, TEAM_LEADER) and not group_code:
        raise ValueError("team roles need a residential group")
    for g in active_grants(session, person.id):
        # One team per member: a new team role replaces the old one (a move between teams).
        if g.role == role and g.group_code == group_code:
            return g
        if role in (TEAM_MEMBER, TEAM_LEADER) and g.role in (TEAM_MEMBER, TEAM_LEADER):
            g.revoked_at = now
            session.add(g)
    if role == TEAM_LEADER:
        # One leader per team: a new leader replaces the old one, who stays on as a member.
        for g in session.exec(select(RoleGrant).where(
                RoleGrant.role == TEAM_LEADER, RoleGrant.group_code == group_code,
                RoleGrant.revoked_at.is_(None), RoleGrant.person_id != person.id)):
            g.revoked_at = now
            session.add(g)
            session.add(RoleGrant(person_id=g.person_id, role=TEAM_MEMBER, group_code=group_code,
                                  granted_by=granted_by, created_at=now))
    rg = RoleGrant(person_id=person.id, role=role, group_code=group_code, unit_id=unit_id,
                   granted_by=granted_by, created_at=now)
    session.add(rg)
    session.flush()
    return rg


def revoke(session: Session, person_id: int, role: str, now: datetime) -> int:
    n = 0
    for g in active_grants(session, person_id):
        if g.role == role:
            g.revoked_at = now
            session.add(g)
            n += 1
    return n


def invite_key(code: str) -> str:
    """What the database keeps of an invite code: a database leak must not hand out roles, and
    a code is typed by a person, so it is compared by its hash like the web session tokens."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()[:32]  # 128 bits fit the 32-char key


@dataclass(frozen=True)
class IssuedInvite:
    """A new invite: the code to give out (shown once, never stored) and its row."""
    code: str
    row: Invite

    @property
    def role(self) -> str:
        return self.row.role

    @property
    def expires_at(self) -> datetime:
        return self.row.expires_at

    @property
    def key(self) -> str:
        return self.row.code


def create_invite(session: Session, role: str, now: datetime, created_by: int | None = None,
                  group_code: str | None = None, unit_id: str | None = None,
                  valid_days: int = 7) -> IssuedInvite:
    code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    inv = Invite(code=invite_key(code), role=role, group_code=group_code, unit_id=unit_id,
                 created_by=created_by, created_at=now, expires_at=now + timedelta(days=valid_days))
    session.add(inv)
    session.flush()
    return IssuedInvite(code, inv)


class InviteError(Exception):
    """Message is Vietnamese, shown to the user as is."""


def redeem_invite(session: Session, code: str, person: Person, now: datetime) -> RoleGrant:
    code = code.strip().upper().replace(" ", "").replace("-", "")
    if not code or len(code) > 32 or not all(ch in _ALPHABET for ch in code):
        raise InviteError("Mã mời không đúng. Bạn kiểm tra lại giúp mình nhé.")
    # One conditional UPDATE claims the code: of several people redeeming it at the same instant
    # (on any worker), the database lets exactly one through; the others match no row.
    key = invite_key(code)
    claimed = session.exec(update(Invite).where(Invite.code == key, Invite.used_at.is_(None),
                                                Invite.expires_at >= now)
                           .values(used_by=person.id, used_at=now)).rowcount
    inv = session.get(Invite, key)
    if inv is None:
        raise InviteError("Mã mời không đúng. Bạn kiểm tra lại giúp mình nhé.")
    if claimed != 1:
        if inv.used_at is not None:
            raise InviteError("Mã mời này đã được dùng rồi. Mỗi mã chỉ dùng được một lần.")
        raise InviteError("Mã mời này đã hết hạn. Bạn xin cán bộ phường một mã mới nhé.")
    session.refresh(inv)
    return grant(session, person, inv.role, now, group_code=inv.group_code, unit_id=inv.unit_id,
                 granted_by=inv.created_by)
