"""Staff accounts and back-office sessions: scrypt password hashes, database-held sessions,
CSRF tokens, and a login slowdown per account and per address."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, select

from bot import roles as R
from bot.models import AuditEvent, Invite, Person
from bot.webadmin.models import LoginAttempt, StaffAccount, StaffSession

# scrypt with N=2^14, r=8: 16 MiB and ~50 ms per guess, the stdlib's memory-hard function.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
SESSION_TTL = timedelta(hours=12)
FAIL_WINDOW = timedelta(minutes=15)
MAX_FAILS_ACCOUNT = 5
MAX_FAILS_ADDRESS = 20
MIN_PASSWORD = 8
ACCOUNT_ROLES = (R.STAFF, R.ADMIN)
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")


class AccountError(Exception):
    """Vietnamese message shown to whoever filled the form."""


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def hash_password(password: str, salt: bytes | None = None, n: int = SCRYPT_N) -> str:
    salt = salt or secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32,
                        maxmem=64 * 1024 * 1024)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(dk)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        algo, n, r, p, salt, dk = stored.split("$")
        if algo != "scrypt":
            return False
        got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(base64.b64decode(dk)), maxmem=64 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(dk))


# Checked for unknown usernames too, so response time does not reveal which accounts exist.
_DUMMY_HASH = hash_password("not-a-password", salt=b"0" * 16)


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_username(name: str) -> str:
    return (name or "").strip().lower()


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Mật khẩu cần ít nhất {MIN_PASSWORD} ký tự.")
    if len(password) > 256:
        raise AccountError("Mật khẩu dài quá (tối đa 256 ký tự).")


def create_account(session: Session, username: str, password: str, role: str, now: datetime,
                   display_name: str | None = None, created_by: int | None = None) -> StaffAccount:
    username = normalise_username(username)
    if not USERNAME_RE.match(username):
        raise AccountError("Tên đăng nhập cần 3-64 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang.")
    if role not in ACCOUNT_ROLES:
        raise AccountError("Vai trò phải là staff (cán bộ) hoặc admin (quản trị).")
    check_password_rules(password)
    if session.exec(select(StaffAccount).where(StaffAccount.username == username)).first():
        raise AccountError(f"Tên đăng nhập \"{username}\" đã có người dùng.")
    name = (display_name or username).strip()[:200] or username
    # Until linked to a chat identity, the account acts as its own person on the "admin" channel.
    person = Person(channel="admin", channel_user_id=username, chat_id=f"admin:{username}", display_name=name,
                    created_at=now, last_seen_at=now)
    session.add(person)
    session.flush()
    R.grant(session, person, role, now, granted_by=created_by)
    acc = StaffAccount(username=username, display_name=name, role=role, password_hash=hash_password(password),
                       person_id=person.id, created_by=created_by, created_at=now)
    session.add(acc)
    session.flush()
    session.add(AuditEvent(at=now, actor_id=created_by, action="staff_account_created", object_type="staff_account",
                           object_id=str(acc.id), detail={"username": username, "role": role}))
    return acc


def set_password(session: Session, acc: StaffAccount, password: str, now: datetime, actor_id: int | None) -> None:
    check_password_rules(password)
    acc.password_hash = hash_password(password)
    session.add(acc)
    end_sessions(session, acc.id, now)
    session.add(AuditEvent(at=now, actor_id=actor_id, action="staff_password_set", object_type="staff_account",
                           object_id=str(acc.id), detail={"username": acc.username}))


# --- login slowdown ----------------------------------------------------------------------------
def throttled(session: Session, username: str, address: str, now: datetime) -> bool:
    """Too many recent failures for this account (since its last success) or from this address."""
    since = now - FAIL_WINDOW
    last_ok = session.exec(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.username == username, LoginAttempt.ok.is_(True))).first()
    acc_since = max(since, last_ok) if last_ok else since
    by_acc = session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.ok.is_(False), LoginAttempt.at > acc_since)).one()
    by_addr = session.exec(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.address == address, LoginAttempt.ok.is_(False), LoginAttempt.at > since)).one()
    return by_acc >= MAX_FAILS_ACCOUNT or by_addr >= MAX_FAILS_ADDRESS


def authenticate(session: Session, username: str, password: str, address: str,
                 now: datetime) -> StaffAccount | None:
    username = normalise_username(username)[:64]
    acc = session.exec(select(StaffAccount).where(StaffAccount.username == username)).first() if username else None
    ok = verify_password(password or "", acc.password_hash if acc else _DUMMY_HASH)
    ok = ok and acc is not None and acc.disabled_at is None
    session.add(LoginAttempt(at=now, username=username or "-", address=address[:64], ok=ok))
    session.add(AuditEvent(at=now, actor_id=acc.person_id if ok else None,
                           action="staff_login" if ok else "staff_login_failed", object_type="staff_account",
                           object_id=str(acc.id) if acc else "-", detail={"username": username, "address": address}))
    return acc if ok else None


# --- sessions ----------------------------------------------------------------------------------
def start_session(session: Session, acc: StaffAccount, now: datetime) -> tuple[str, StaffSession]:
    token = secrets.token_urlsafe(32)
    row = StaffSession(token_hash=sha(token), account_id=acc.id, csrf=secrets.token_urlsafe(24),
                       created_at=now, expires_at=now + SESSION_TTL)
    session.add(row)
    session.flush()
    return token, row


def load_session(session: Session, token: str | None, now: datetime) -> tuple[StaffAccount, StaffSession] | None:
    if not token or len(token) > 128:
        return None
    row = session.get(StaffSession, sha(token))
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    acc = session.get(StaffAccount, row.account_id)
    if acc is None or acc.disabled_at is not None:
        return None
    sync_link(session, acc, now)
    return acc, row


def end_session(session: Session, token: str | None, now: datetime) -> None:
    row = session.get(StaffSession, sha(token)) if token else None
    if row is not None and row.ended_at is None:
        row.ended_at = now
        session.add(row)


def end_sessions(session: Session, account_id: int, now: datetime) -> None:
    for row in session.exec(select(StaffSession).where(StaffSession.account_id == account_id,
                                                       StaffSession.ended_at.is_(None))):
        row.ended_at = now
        session.add(row)


# --- one person, one set of roles --------------------------------------------------------------
def start_link(session: Session, acc: StaffAccount, now: datetime) -> str:
    """A one-time code the staff member sends in chat (/nhapma CODE): redeeming it grants the
    account's role to their chat identity, and the account then acts as that person."""
    inv = R.create_invite(session, acc.role, now, created_by=acc.person_id, valid_days=1)
    acc.link_code = inv.key  # the invite's stored key, not the code itself
    session.add(acc)
    return inv.code


def sync_link(session: Session, acc: StaffAccount, now: datetime) -> None:
    if not acc.link_code:
        return
    inv = session.get(Invite, acc.link_code)
    if inv is None or (inv.used_by is None and inv.expires_at < now):
        acc.link_code = None
        session.add(acc)
        return
    if inv.used_by is None:
        return
    old = acc.person_id
    acc.person_id, acc.link_code = inv.used_by, None
    session.add(acc)
    old_person = session.get(Person, old)
    if old_person is not None and old_person.channel == "admin":
        for role in ACCOUNT_ROLES:
            R.revoke(session, old, role, now)
    session.add(AuditEvent(at=now, actor_id=inv.used_by, action="staff_account_linked", object_type="staff_account",
                           object_id=str(acc.id), detail={"username": acc.username, "person": inv.used_by}))


def roles(session: Session, acc: StaffAccount) -> set[str]:
    return R.roles_of(session, acc.person_id)
