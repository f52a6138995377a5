"""Tổng quan: this month's figures as numbers and inline SVG charts (no JavaScript, no images to
generate): questions answered by the assistant vs passed to staff, top topics, reports received,
resolved and overdue, median time to resolve, satisfaction."""
from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime
from html import escape

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup
from sqlalchemy import func
from sqlmodel import select

from bot import stats
from bot.clock import TZ, to_local
from bot.models import Handoff
from bot.webadmin.web import current, render
from handlers.reports import service as S
from handlers.reports.models import OPEN_STATUSES, Report

# Keys the knowledge-base statistics may provide for "answered by the assistant".
ANSWERED_KEYS = ("faq_answered", "questions_answered", "answered_auto", "kb_answered", "answered")


def month_bounds(now: datetime, month: str | None = None) -> tuple[datetime, datetime]:
    loc = to_local(now)
    y, m = loc.year, loc.month
    if month:
        try:
            y, m = (int(x) for x in month.split("-", 1))
            datetime(y, m, 1)
        except (ValueError, TypeError):
            y, m = loc.year, loc.month
    start = datetime(y, m, 1, tzinfo=TZ)
    end = datetime(y + (m == 12), 1 if m == 12 else m + 1, 1, tzinfo=TZ)
    return start, end


def hbar_svg(items: list[tuple[str, float]], unit: str = "", width: int = 400, color: str = "#0b5cd5") -> Markup:
    """Horizontal bars with their labels and values; scales to the container's width."""
    if not items:
        return Markup('<p class="muted">Chưa có số liệu.</p>')
    row, label_w = 24, 170
    top = max(v for _, v in items) or 1
    h = row * len(items) + 6
    parts = [f'<svg viewBox="0 0 {width} {h}" width="100%" role="img" aria-label="biểu đồ">']
    for i, (label, v) in enumerate(items):
        y = i * row + 4
        w = (width - label_w - 60) * v / top
        parts.append(f'<text x="0" y="{y + 15}">{escape(label[:30])}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="18" rx="3" fill="{color}"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 14}">{v:g}{unit}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def columns_svg(values: list[float], labels: list[str], width: int = 1000, height: int = 170) -> Markup:
    top = max(values or [0]) or 1
    n = max(len(values), 1)
    bw = width / n
    parts = [f'<svg viewBox="0 0 {width} {height + 20}" width="100%" role="img" aria-label="biểu đồ theo ngày">']
    for i, v in enumerate(values):
        bh = (height - 14) * v / top
        x = i * bw
        parts.append(f'<rect x="{x + 1:.1f}" y="{height - bh:.1f}" width="{max(bw - 2, 1):.1f}" height="{bh:.1f}" '
                     f'fill="#0b5cd5"><title>{escape(labels[i])}: {v:g}</title></rect>')
        if v:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{height - bh - 3:.1f}" text-anchor="middle">{v:g}</text>')
        if i % 5 == 0:
            parts.append(f'<text x="{x + bw / 2:.1f}" y="{height + 15}" text-anchor="middle">{escape(labels[i])}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def figures(app, s, start: datetime, end: datetime, now: datetime) -> dict:
    collected = {}
    try:
        collected = stats.collect(s, start, end)
    except Exception:  # a provider's bug must not take the dashboard down
        collected = {}
    handoffs = s.exec(select(func.count()).select_from(Handoff).where(
        Handoff.created_at >= start, Handoff.created_at < end)).one()
    answered = next((collected[k] for k in ANSWERED_KEYS if k in collected), None)
    reports = list(s.exec(select(Report).where(Report.parent_id.is_(None), Report.created_at < end)))
    month = [r for r in reports if r.created_at >= start]
    resolved = [r for r in reports if r.resolved_at and start <= r.resolved_at < end and not r.reject_reason]
    hours = [(r.resolved_at - r.created_at).total_seconds() / 3600 for r in resolved]
    overdue_open = [r for r in reports if r.status in OPEN_STATUSES and r.resolve_by < now]
    ratings = [r.rating for r in reports if r.rating and r.updated_at >= start]
    days = (to_local(end) - to_local(start)).days
    per_day = [0] * days
    for r in month:
        per_day[(to_local(r.created_at).date() - to_local(start).date()).days] += 1
    cats = Counter(S.category_title(app, r.category) for r in month).most_common(8)
    share = None
    if answered is not None and (answered + handoffs):
        share = round(100 * answered / (answered + handoffs), 1)
    topics = []
    try:
        from knowledge.feedback import by_topic
        topics = [(app.kb.by_id[t.topic].title if t.topic in app.kb.by_id else t.topic, t.answered)
                  for t in by_topic(s, start, end)[:8]]
    except ImportError:
        pass
    return {
        "answered": answered, "handoffs": handoffs, "share": share,
        "received": len(month), "resolved": len(resolved), "overdue_open": len(overdue_open),
        "median_h": round(statistics.median(hours), 1) if hours else None,
        "rating": round(sum(ratings) / len(ratings), 2) if ratings else None, "ratings": len(ratings),
        "chart_days": columns_svg(per_day, [f"{d + 1}" for d in range(days)]),
        "chart_cats": hbar_svg(cats),
        "chart_questions": hbar_svg([("Trợ lý trả lời", answered or 0), ("Chuyển cán bộ", handoffs)])
        if answered is not None else hbar_svg([("Chuyển cán bộ", handoffs)]),
        "chart_topics": hbar_svg(topics),
        "other": {stats.LABELS.get(k, k): v for k, v in collected.items()},
    }


def register(api, app) -> None:
    @api.get("/admin/", response_class=HTMLResponse)
    @api.get("/admin", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request, month: str | None = None):
        st = current(request)
        now = app.clock.now()
        start, end = month_bounds(now, month)
        with app.db.session() as s:
            f = figures(app, s, start, end, now)
        return render(request, "dashboard.html", st, page="dashboard", title="Tổng quan", f=f,
                      month=to_local(start).strftime("%m/%Y"), month_value=to_local(start).strftime("%Y-%m"))
