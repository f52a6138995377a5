"""What the engine's safety nets leave for people: quarantined updates for admins (/hangloi,
`python -m bot quarantine list`), and the erasure of a chat's update marks and stored replies."""
from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from sqlmodel import Session, delete, func, or_, select

from bot import roles as R
from bot.clock import fmt_local
from bot.context import Context
from bot.models import ProcessedUpdate, RateEvent, UpdateAttempt
from bot.router import Router

LIST_LIMIT = 20


def quarantined(session: Session, limit: int = LIST_LIMIT) -> list[UpdateAttempt]:
    return list(session.exec(select(UpdateAttempt).where(UpdateAttempt.quarantined_at.is_not(None))
                             .order_by(UpdateAttempt.quarantined_at.desc()).limit(limit)))


def cmd_quarantine(ctx: Context, args: str) -> None:
    rows = quarantined(ctx.session)
    if not rows:
        ctx.reply("Không có tin nhắn nào bị tạm giữ vì lỗi xử lý.")
        return
    lines = [f"Tin nhắn bị tạm giữ vì xử lý lỗi nhiều lần ({len(rows)} gần nhất):"]
    for r in rows:
        lines.append(f"• {fmt_local(r.quarantined_at)} {r.channel}:{r.chat_id}, {r.attempts} lần: "
                     f"\"{(r.excerpt or '')[:80]}\"" + (f" ({r.last_error[:100]})" if r.last_error else ""))
    lines.append("Người gửi đã được báo là cán bộ sẽ kiểm tra. Chi tiết lỗi nằm trong nhật ký máy chủ.")
    ctx.reply("\n".join(lines))


def rate_allowed(session: Session, key: str, limit: int, window: timedelta, now: datetime) -> bool:
    """Counts this attempt and says whether it is within `limit` per `window` (in the caller's
    transaction, so a refused attempt counts as well)."""
    since = now - window
    n = session.exec(select(func.count()).select_from(RateEvent)
                     .where(RateEvent.key == key, RateEvent.at > since)).one()
    session.add(RateEvent(key=key, at=now))
    return n < limit


def erase_chat_marks(ctx: Context) -> None:
    """Update marks and stored answers of the person's chat, and quarantined messages."""
    s, person = ctx.session, ctx.person
    chats = {c for c in (person.chat_id, ctx.msg.chat_id if not ctx.msg.is_group else None) if c}
    for chat in chats:
        s.exec(delete(ProcessedUpdate).where(ProcessedUpdate.channel == person.channel, or_(
            ProcessedUpdate.chat_id == chat, ProcessedUpdate.update_key.like(f"m{chat}:%"))))
        s.exec(delete(UpdateAttempt).where(UpdateAttempt.channel == person.channel, UpdateAttempt.chat_id == chat))
        s.exec(delete(RateEvent).where(RateEvent.key.like(f"%:{person.channel}:{chat}")))


def purge(session: Session, now: datetime, days: int) -> int:
    """Retention: quarantined messages after `days`, rate events after a day."""
    n = session.exec(delete(UpdateAttempt).where(UpdateAttempt.last_at < now - timedelta(days=days))).rowcount
    session.exec(delete(RateEvent).where(RateEvent.at < now - timedelta(days=1)))
    return n or 0


def register(r: Router) -> None:
    r.command("hangloi", "tin nhắn bị tạm giữ vì lỗi xử lý (quản trị)", roles=(R.ADMIN,))(cmd_quarantine)
    r.on_erase(erase_chat_marks)


def register_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("quarantine", help="updates acknowledged without handling after repeated failures")
    qs = p.add_subparsers(dest="quarantine_command", required=True)
    ls = qs.add_parser("list", help="the most recent quarantined updates")
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(func=_cli_list)


def _cli_list(args, app) -> int:
    with app.db.session() as s:
        rows = quarantined(s, max(1, min(args.limit, 1000)))
        for r in rows:
            print(f"{fmt_local(r.quarantined_at)}\t{r.channel}\t{r.chat_id}\t{r.update_key}\t{r.attempts}\t"
                  f"{(r.excerpt or '')[:80]!r}\t{r.last_error or ''}")
    if not rows:
        print("no quarantined updates")
    return 0
