"""Figures on reports: /thongke for staff, and the provider the teams' quarterly report reads."""
from __future__ import annotations

import statistics
from datetime import datetime, timedelta, timezone

from sqlmodel import Session, select

from bot import roles as R
from bot.clock import TZ, to_local
from bot.context import Context
from bot.router import Router
from bot.stats import register_stats
from handlers.reports import service as S
from handlers.reports.models import OPEN_STATUSES, RESOLVED, CLOSED, Report

LABELS = {"reports_received": "Phản ánh tiếp nhận", "reports_resolved": "Phản ánh đã xử lý",
          "reports_overdue": "Phản ánh quá hạn"}


def quarter_bounds(now: datetime) -> tuple[datetime, datetime]:
    loc = to_local(now)
    q0 = (loc.month - 1) // 3 * 3 + 1
    start = datetime(loc.year, q0, 1, tzinfo=TZ)
    end = datetime(loc.year + (q0 == 10), 1 if q0 == 10 else q0 + 3, 1, tzinfo=TZ)
    return start, end


def provider(session: Session, start: datetime, end: datetime, group_code: str | None = None) -> dict:
    """Linked duplicates describe an issue already counted, so each issue counts once.
    overdue: received in the period and resolved after its deadline, escalated as overdue (the
    scheduler's record, so the figure does not depend on when it is asked), or, for a period
    already over, still open past its deadline."""
    q = select(Report).where(Report.parent_id.is_(None))
    if group_code:
        q = q.where(Report.group_code == group_code)
    received = resolved = overdue = 0
    past = end <= datetime.now(timezone.utc)
    for r in session.exec(q.where(Report.created_at < end)):
        if r.created_at >= start:
            received += 1
            if (r.resolved_at and r.resolved_at > r.resolve_by and r.reject_reason is None) or \
                    (r.escalated_at and r.escalated_at < end) or \
                    (past and r.status in OPEN_STATUSES and r.resolve_by < end):
                overdue += 1
        if r.resolved_at and start <= r.resolved_at < end and r.reject_reason is None:
            resolved += 1
    return {"reports_received": received, "reports_resolved": resolved, "reports_overdue": overdue}


def _hours(td: timedelta) -> str:
    h = td.total_seconds() / 3600
    return f"{h:.1f} giờ" if h < 48 else f"{h / 24:.1f} ngày"


def cmd_stats(ctx: Context, args: str) -> None:
    now, app = ctx.now, ctx.app
    start, end = quarter_bounds(now)
    rows = list(ctx.session.exec(select(Report).where(Report.parent_id.is_(None))))
    open_ = [r for r in rows if r.status in OPEN_STATUSES]
    overdue = [r for r in open_ if now > r.resolve_by]
    done_q = [r for r in rows if r.resolved_at and start <= r.resolved_at < end and r.reject_reason is None
              and r.status in (RESOLVED, CLOSED)]
    times = [r.resolved_at - r.created_at for r in done_q]
    q_no = (to_local(start).month - 1) // 3 + 1
    lines = [f"Thống kê phản ánh (đến {now.astimezone(TZ):%H:%M %d/%m/%Y}):",
             f"• Đang mở: {len(open_)}, trong đó quá hạn: {len(overdue)}",
             f"• Đã xử lý xong trong quý {q_no}/{to_local(start).year}: {len(done_q)}",
             f"• Thời gian xử lý trung vị: {_hours(statistics.median(times)) if times else 'chưa có'}"]

    def table(title: str, key, name) -> None:
        groups: dict[str, list[int]] = {}
        for r in rows:
            g = groups.setdefault(key(r), [0, 0, 0])
            if r.status in OPEN_STATUSES:
                g[0] += 1
                g[1] += now > r.resolve_by
            if r in done_q:
                g[2] += 1
        if groups:
            lines.append(title + " (mở / quá hạn / xong trong quý):")
            for k, (o, od, d) in sorted(groups.items(), key=lambda kv: -sum(kv[1])):
                lines.append(f"  - {name(k)}: {o} / {od} / {d}")

    table("Theo loại", lambda r: r.category, lambda k: S.category_title(app, k).split(",")[0])
    table("Theo đơn vị", lambda r: r.unit_id, lambda k: S.unit_name(app, k))
    if overdue:
        lines.append("Quá hạn: " + ", ".join(r.code for r in overdue[:20]))
    ctx.reply("\n".join(lines))


def register(r: Router) -> None:
    register_stats("reports", provider, LABELS)
    r.command("thongke", "thống kê phản ánh (cán bộ)", roles=(R.STAFF,))(cmd_stats)
