"""The report lifecycle, independent of where a report comes from (chat, staff, Open311) and of
who moves it (staff buttons, scheduled tasks). Everything here writes into the caller's session,
so a report, its events, its notifications and its reminders commit together or not at all."""
from __future__ import annotations

import math
import re
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Iterable

from sqlmodel import Session, select

from bot.clock import TZ, fmt_deadline, fmt_local, to_local
from bot.core import Button, Reply
from bot.models import AuditEvent, Person
from bot.outbox import enqueue
from handlers.reports.models import (
    ASSIGNED, CLOSED, DONE_STATUSES, IN_PROGRESS, NEW, OPEN_STATUSES, REJECTED, RESOLVED, STATUS_LABELS,
    Report, ReportEvent)
from nlu.normalize import fold
from scheduler import core as sched

if TYPE_CHECKING:
    from bot.app import App

DUP_RADIUS_M = 100
DUP_WINDOW = timedelta(hours=48)
URGENT_SLA_HOURS = 4  # categories this fast may disturb people at night
AUTOCLOSE_AFTER = timedelta(days=7)
MAX_DESCRIPTION = 4000
SYSTEM = "hệ thống"


# --- places ------------------------------------------------------------------------------------
def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    r = 6371000.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


# Words people add or drop when typing the same address ("số 12 đường Lê Lợi" = "12 Le Loi").
_ADDRESS_FILLER = {"so", "duong", "pho", "nha", "dc", "d", "p", "tp", "thanh", "da", "nang"}


def normalise_address(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    t = fold(text).replace("đ", "d")
    # "..., phường Hải Châu, TP Đà Nẵng": the ward and city add nothing inside one ward.
    parts = [p.strip() for p in t.split(",")]
    parts = [p for p in parts if p and not re.match(r"^(phuong|p\.|quan|q\.|tp|thanh pho|da nang)\b", p)] or parts
    words = [w for w in re.split(r"[^a-z0-9/]+", " ".join(parts)) if w and w not in _ADDRESS_FILLER]
    return " ".join(words)[:300] or None


def inside_ward(app: "App", lat: float, lon: float) -> bool:
    b = app.profile.boundary
    return b is None or haversine_m(lat, lon, b.lat, b.lon) <= b.radius_km * 1000


# --- time --------------------------------------------------------------------------------------
def _hm(s: str) -> time:
    h, m = s.split(":")
    return time(int(h), int(m))


def out_of_quiet_hours(app: "App", when: datetime) -> datetime:
    """The first moment at or after `when` outside the ward's quiet hours (local time)."""
    q = app.profile.quiet_hours
    start, end = _hm(q.start), _hm(q.end)
    loc = to_local(when)
    t = loc.timetz().replace(tzinfo=None)
    if start == end:
        return when
    if start > end:  # crosses midnight, e.g. 22:00-06:00
        if t >= start:
            nxt = datetime.combine(loc.date() + timedelta(days=1), end, TZ)
        elif t < end:
            nxt = datetime.combine(loc.date(), end, TZ)
        else:
            return when
    else:
        if start <= t < end:
            nxt = datetime.combine(loc.date(), end, TZ)
        else:
            return when
    return nxt.astimezone(when.tzinfo)


def is_urgent(report: Report) -> bool:
    return report.sla_hours <= URGENT_SLA_HOURS


def send_time(app: "App", report: Report, when: datetime) -> datetime:
    return when if is_urgent(report) else out_of_quiet_hours(app, when)


# --- routing -----------------------------------------------------------------------------------
def route(app: "App", category: str, group_code: str | None) -> str:
    """The ward's routing rules (by residential group) win over the category's default unit."""
    if group_code:
        for rule in app.profile.routing:
            if rule.category == category and group_code in rule.groups:
                return rule.unit
    return app.categories[category].unit


def unit_chat(app: "App", unit_id: str):
    u = app.profile.unit(unit_id)
    return (u.chat if u and u.chat else None) or app.profile.staff_chat


def unit_name(app: "App", unit_id: str) -> str:
    u = app.profile.unit(unit_id)
    return u.name if u else unit_id


def category_title(app: "App", category: str) -> str:
    c = app.categories.get(category)
    return c.title if c else category


def place_text(app: "App", r: Report) -> str:
    parts = []
    if r.address:
        parts.append(r.address)
    if r.lat is not None and r.lon is not None:
        parts.append(f"vị trí {r.lat:.5f}, {r.lon:.5f} (https://maps.google.com/?q={r.lat:.6f},{r.lon:.6f})")
    if r.group_code and app.profile.group(r.group_code):
        parts.append(app.profile.group(r.group_code).name)
    return "; ".join(parts) or "chưa rõ địa điểm"


# --- records -----------------------------------------------------------------------------------
def by_code(session: Session, code: str) -> Report | None:
    code = (code or "").strip().upper()
    if re.fullmatch(r"\d{1,9}", code):
        return session.get(Report, int(code))
    return session.exec(select(Report).where(Report.code == code)).first() if code else None


def add_event(session: Session, r: Report, now: datetime, action: str, actor_id: int | None = None,
              actor_label: str | None = None, from_status: str | None = None, to_status: str | None = None,
              note: str | None = None, **detail) -> ReportEvent:
    ev = ReportEvent(report_id=r.id, at=now, actor_id=actor_id, actor_label=actor_label, action=action,
                     from_status=from_status, to_status=to_status, note=(note or None) and note[:2000],
                     detail=detail)
    session.add(ev)
    session.add(AuditEvent(at=now, actor_id=actor_id, action=f"report_{action}", object_type="report",
                           object_id=str(r.id), detail={"code": r.code, "to": to_status, **detail}))
    session.flush()
    return ev


def find_duplicate(session: Session, now: datetime, category: str, lat: float | None, lon: float | None,
                   address_norm: str | None) -> Report | None:
    q = select(Report).where(Report.category == category, Report.status.in_(OPEN_STATUSES),
                             Report.parent_id.is_(None), Report.created_at >= now - DUP_WINDOW)
    for cand in session.exec(q.order_by(Report.created_at)):
        if lat is not None and cand.lat is not None and \
                haversine_m(lat, lon, cand.lat, cand.lon) <= DUP_RADIUS_M:
            return cand
        if address_norm and cand.address_norm and address_norm == cand.address_norm:
            return cand
    return None


def create_report(app: "App", session: Session, now: datetime, *, category: str, description: str,
                  source: str = "chat", lat: float | None = None, lon: float | None = None,
                  address: str | None = None, group_code: str | None = None, photos: Iterable[dict] = (),
                  person: Person | None = None, channel: str | None = None, chat_id: str | None = None,
                  contact_name: str | None = None, contact_phone: str | None = None,
                  contact_email: str | None = None, anonymous: bool = False, media_url: str | None = None,
                  external_account_id: str | None = None, recorded_by: int | None = None,
                  actor_id: int | None = None, actor_label: str | None = None) -> Report:
    """Save a report, link it to an open one nearby or route it to its unit, and schedule its
    reminders, all in the caller's transaction."""
    cat = app.categories[category]
    addr_norm = normalise_address(address)
    main = find_duplicate(session, now, category, lat, lon, addr_norm)
    unit = main.unit_id if main else route(app, category, group_code)
    r = Report(category=category, unit_id=unit, group_code=group_code, status=main.status if main else NEW,
               source=source, description=description[:MAX_DESCRIPTION], address=(address or None) and address[:300],
               address_norm=addr_norm, lat=lat, lon=lon, photos=list(photos), media_url=media_url,
               person_id=person.id if person else None, channel=channel, chat_id=chat_id,
               contact_name=contact_name, contact_phone=contact_phone, contact_email=contact_email,
               anonymous=anonymous, external_account_id=external_account_id, recorded_by=recorded_by,
               parent_id=main.id if main else None, sla_hours=cat.sla_hours,
               accept_by=now + timedelta(hours=cat.sla_hours), resolve_by=now + timedelta(hours=2 * cat.sla_hours),
               created_at=now, updated_at=now)
    if main:
        r.accept_by, r.resolve_by = main.accept_by, main.resolve_by
    session.add(r)
    session.flush()
    r.code = f"PA-{to_local(now).year}-{r.id:06d}"
    session.add(r)
    add_event(session, r, now, "created", actor_id, actor_label, to_status=r.status, source=source)
    if main:
        add_event(session, r, now, "linked", actor_id, actor_label, note=f"trùng với {main.code}", main=main.code)
        chat = unit_chat(app, unit)
        if chat:
            n = len(followers(session, main)) - 1
            enqueue(session, chat.channel, chat.chat_id,
                    Reply(f"Phản ánh {main.code} có thêm người báo ({r.code}, tổng {n} phản ánh trùng)."
                          + (f"\nMô tả thêm: {r.description[:300]}" if r.description else "")),
                    now=now, dedupe_key=f"report:{r.id}:linked")
        return r
    chat = unit_chat(app, unit)
    if chat:
        # A garbage report phoned in at 23:00 can wait for the morning; a fight cannot.
        enqueue(session, chat.channel, chat.chat_id, card(app, r), now=now, dedupe_key=f"report:{r.id}:card",
                not_before=send_time(app, r, now))
    schedule_reminders(app, session, r)
    return r


def schedule_reminders(app: "App", session: Session, r: Report, tag: str = "") -> None:
    sched.schedule(session, f"report:{r.id}{tag}:remind", "report.remind", send_time(app, r, r.accept_by),
                   {"report_id": r.id})
    sched.schedule(session, f"report:{r.id}{tag}:escalate", "report.escalate", send_time(app, r, r.resolve_by),
                   {"report_id": r.id})


# --- staff card --------------------------------------------------------------------------------
def card_text(app: "App", r: Report, heading: str = "Phản ánh mới") -> str:
    who = "ẩn danh" if r.anonymous else ", ".join(x for x in (r.contact_name, r.contact_phone, r.contact_email) if x)
    lines = [f"{heading} {r.code} - {category_title(app, r.category)}",
             f"Nội dung: {r.description or '(không có mô tả)'}",
             f"Địa điểm: {place_text(app, r)}",
             f"Nguồn: {source_label(r.source)}; người phản ánh: {who or 'không để lại liên hệ'}",
             f"Cần tiếp nhận trước {fmt_local(r.accept_by)}, xử lý xong trước {fmt_local(r.resolve_by)}.",
             f"Trạng thái: {STATUS_LABELS[r.status]}"]
    if len(r.photos) > 1:
        lines.append(f"({len(r.photos)} ảnh đính kèm)")
    if r.media_url:
        lines.append(f"Ảnh: {r.media_url}")
    return "\n".join(lines)


def source_label(source: str) -> str:
    from handlers.reports.models import SOURCES
    return SOURCES.get(source, source)


def card_buttons(r: Report) -> list[Button]:
    b = []
    if r.status in (NEW, ASSIGNED):
        b.append(Button("Tiếp nhận", f"pa:acc:{r.id}"))
    if r.status in OPEN_STATUSES:
        b += [Button("Giao cán bộ", f"pa:asg:{r.id}"), Button("Hỏi thêm người dân", f"pa:ask:{r.id}"),
              Button("Đã xử lý xong", f"pa:res:{r.id}"), Button("Chuyển đơn vị", f"pa:tr:{r.id}"),
              Button("Từ chối", f"pa:rej:{r.id}")]
    return b


def card(app: "App", r: Report, heading: str = "Phản ánh mới") -> Reply:
    photo = r.photos[0]["path"] if r.photos and r.photos[0].get("path") else None
    return Reply(card_text(app, r, heading), buttons=card_buttons(r), photo=photo)


# --- lifecycle ---------------------------------------------------------------------------------
ALLOWED = {
    ASSIGNED: (NEW, ASSIGNED, IN_PROGRESS),
    IN_PROGRESS: (NEW, ASSIGNED),
    RESOLVED: (NEW, ASSIGNED, IN_PROGRESS),
    REJECTED: (NEW, ASSIGNED, IN_PROGRESS),
    CLOSED: (RESOLVED, REJECTED),
}


class TransitionError(Exception):
    """Vietnamese message for the staff member who tried it."""


def followers(session: Session, main: Report) -> list[Report]:
    """The main report and the duplicates linked to it: everyone to tell about progress."""
    return [main] + list(session.exec(select(Report).where(Report.parent_id == main.id).order_by(Report.id)))


def transition(app: "App", session: Session, now: datetime, r: Report, to: str, actor_id: int | None,
               actor_label: str | None = None, note: str | None = None, photo: str | None = None,
               assignee: Person | None = None, notify: bool = True, cascade: bool = True) -> ReportEvent:
    """Move a report (and, with cascade, the duplicates linked to it) to `to`, record who did it,
    tell the residents, and settle the reminders."""
    if r.status not in ALLOWED[to]:
        raise TransitionError(f"Phản ánh {r.code} đang ở trạng thái \"{STATUS_LABELS[r.status]}\", "
                              "không chuyển được nữa.")
    action = {ASSIGNED: "assigned", IN_PROGRESS: "accepted", RESOLVED: "resolved", REJECTED: "rejected",
              CLOSED: "closed"}[to]
    first_event = None
    for item in (followers(session, r) if cascade else [r]):
        if item.status not in ALLOWED[to]:  # a duplicate already closed by its own resident
            continue
        frm = item.status
        item.status, item.updated_at = to, now
        if to in (ASSIGNED, IN_PROGRESS) and item.accepted_at is None:
            item.accepted_at = now
        if to == ASSIGNED and assignee:
            item.assignee_id = assignee.id
        if to == IN_PROGRESS and item.assignee_id is None and actor_id:
            item.assignee_id = actor_id
        if to == RESOLVED:
            item.resolved_at, item.resolution_note, item.resolution_photo = now, note, photo
        if to == REJECTED:
            item.resolved_at, item.reject_reason = now, note
        if to == CLOSED:
            item.closed_at = now
        session.add(item)
        ev = add_event(session, item, now, action, actor_id, actor_label, frm, to, note,
                       **({"assignee": assignee.id} if assignee else {}), **({"main": r.code} if item is not r else {}))
        first_event = first_event or ev
        if notify:
            notify_resident(app, session, now, item, ev)
    if to in (ASSIGNED, IN_PROGRESS):
        sched.cancel(session, key=f"report:{r.id}:remind")
    if to in (RESOLVED, REJECTED):
        sched.cancel(session, prefix=f"report:{r.id}:")
        sched.schedule(session, f"report:{r.id}{round_tag(session, r)}:autoclose", "report.autoclose",
                       now + AUTOCLOSE_AFTER, {"report_id": r.id})
    return first_event


# --- reopening ---------------------------------------------------------------------------------
REOPEN_LABEL = "Chưa xử lý xong"
# What residents answer to the resolved notice when the problem is still there (bot/options.py).
REOPEN_PHRASES = ("chưa xử lý xong", "chưa xử lý", "chưa xong", "vẫn còn", "vẫn chưa", "chưa được xử lý",
                  "chưa ai xử lý", "chưa ai dọn", "chưa dọn", "chưa sửa", "vẫn y như cũ", "vẫn như cũ")


def round_tag(session: Session, r: Report) -> str:
    """"" for a report's first round, ":r1", ":r2"... after each reopening or transfer: its scheduled tasks
    (and their outbox dedupe keys) are per round, so a second deadline reminds again."""
    n = len(session.exec(select(ReportEvent.id).where(ReportEvent.report_id == r.id,
                                                      ReportEvent.action.in_(("reopened", "transferred")))).all())
    return f":r{n}" if n else ""


REOPEN_WITHIN = timedelta(days=30)  # an old button pressed months later asks for a new report instead


def can_reopen(r: Report, now: datetime) -> bool:
    return (r.status in (RESOLVED, CLOSED) and r.resolved_at is not None and not r.reject_reason
            and now - _aware(r.resolved_at) <= REOPEN_WITHIN)


def _aware(dt: datetime) -> datetime:  # the database may hand back naive UTC
    from datetime import timezone
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def reopen(app: "App", session: Session, now: datetime, r: Report, actor_id: int | None,
           words: str | None = None, stars: int | None = None) -> Report:
    """The resident says their resolved report is not done (a 1-2 star rating or "chưa xử lý xong"):
    back to in progress with a fresh deadline, the unit told with the resident's words. A duplicate
    reopens the main report the unit works on. Returns that main report."""
    if not can_reopen(r, now):
        raise TransitionError(f"Phản ánh {r.code} đang ở trạng thái \"{STATUS_LABELS[r.status]}\", "
                              "không mở lại được.")
    main = session.get(Report, r.parent_id) if r.parent_id else r
    main = main or r
    items = [r] + ([main] if main is not r and can_reopen(main, now) else [])
    detail = {"stars": stars} if stars else {}
    ev = None
    for item in items:
        frm = item.status
        item.status, item.updated_at = IN_PROGRESS, now
        item.resolved_at = item.closed_at = None
        item.accept_by = now + timedelta(hours=item.sla_hours)
        item.resolve_by = now + timedelta(hours=2 * item.sla_hours)
        if item is r:
            item.rating = None  # the round's rating lives in its "rated" event; the next round is rated anew
        session.add(item)
        e = add_event(session, item, now, "reopened", actor_id, None, frm, IN_PROGRESS, words,
                      **detail, **({"by": r.code} if item is not r else {}))
        ev = ev or e
    if main in items:  # a new round for the unit: its old tasks go, a fresh deadline is watched
        sched.cancel(session, prefix=f"report:{main.id}:")
        sched.schedule(session, f"report:{main.id}{round_tag(session, main)}:escalate", "report.escalate",
                       send_time(app, main, main.resolve_by), {"report_id": main.id})
    chat = unit_chat(app, main.unit_id)
    if chat:
        reply = card(app, main, "Người dân báo chưa xử lý xong:")
        if main is not r:
            reply.text += f"\n(Báo qua phản ánh trùng {r.code}.)"
        if stars:
            reply.text += f"\nĐánh giá: {'★' * stars}"
        if words:
            reply.text += f"\nÝ kiến người dân: {words[:1000]}"
        enqueue(session, chat.channel, chat.chat_id, reply, now=now,
                dedupe_key=f"report:{main.id}:reopen:{ev.id}",
                not_before=send_time(app, main, now))
    return main


def transfer(app: "App", session: Session, now: datetime, r: Report, unit_id: str, actor_id: int | None,
             actor_label: str | None = None, note: str | None = None) -> ReportEvent:
    """Hand a report (and its duplicates) to another unit: that unit's chat gets the card and each
    resident is told which unit now handles it (never that it "không được xử lý")."""
    if r.status not in OPEN_STATUSES:
        raise TransitionError(f"Phản ánh {r.code} đã {STATUS_LABELS[r.status]}, không chuyển được nữa.")
    if app.profile.unit(unit_id) is None or unit_id == r.unit_id:
        raise TransitionError("Bạn chọn một đơn vị khác để chuyển.")
    old, frm = r.unit_id, r.status
    for item in followers(session, r):
        # The new unit starts afresh: it accepts (or not) and assigns its own staff, with the
        # category's deadlines counted from now, not from when the wrong unit got it.
        item.unit_id, item.updated_at = unit_id, now
        if item.status in OPEN_STATUSES:
            item.status, item.assignee_id = NEW, None
            item.accept_by = now + timedelta(hours=item.sla_hours)
            item.resolve_by = now + timedelta(hours=2 * item.sla_hours)
        session.add(item)
    ev = add_event(session, r, now, "transferred", actor_id, actor_label, frm, NEW, note=note or None,
                   **{"from": old, "to": unit_id})
    # The old unit's reminders go; the new unit's are a new round (their own task and dedupe keys).
    sched.cancel(session, prefix=f"report:{r.id}:")
    schedule_reminders(app, session, r, round_tag(session, r))
    chat = unit_chat(app, unit_id)
    if chat:
        reply = card(app, r, f"Phản ánh chuyển từ {unit_name(app, old)}:")
        if note:
            reply.text += f"\nGhi chú khi chuyển: {note}"
        enqueue(session, chat.channel, chat.chat_id, reply, now=now, dedupe_key=f"report:{r.id}:card:{ev.id}")
    for item in followers(session, r):
        notify_resident(app, session, now, item, ev,
                        text=f"Phản ánh {item.code} của {{you}} đã được chuyển cho {unit_name(app, unit_id)} "
                             "xử lý theo đúng thẩm quyền.")
    return ev


def status_message(app: "App", r: Report) -> str:
    unit = unit_name(app, r.unit_id)
    if r.status == ASSIGNED:
        return f"Phản ánh {r.code} của {{you}} đã được giao cho cán bộ phụ trách thuộc {unit}."
    if r.status == IN_PROGRESS:
        return f"Phản ánh {r.code} của {{you}} đã được {unit} tiếp nhận và đang xử lý."
    if r.status == RESOLVED:
        return (f"Phản ánh {r.code} của {{you}} đã được xử lý xong.\nKết quả: {r.resolution_note or 'đã xử lý'}\n"
                "{You} đánh giá kết quả giúp phường nhé (1 sao: chưa hài lòng, 5 sao: rất hài lòng). "
                f"Nếu sự việc vẫn còn, {{you}} chọn \"{REOPEN_LABEL}\":")
    if r.status == REJECTED:
        return (f"Phản ánh {r.code} của {{you}} không được xử lý vì: {r.reject_reason}\n"
                f"Nếu chưa đồng ý, {{you}} có thể gửi phản ánh mới hoặc gọi đường dây nóng {app.profile.hotline}.")
    if r.status == CLOSED:
        return f"Phản ánh {r.code} đã được đóng. Cảm ơn {{you}} đã góp phần giữ gìn khu phố."
    return f"Phản ánh {r.code}: {STATUS_LABELS[r.status]}."


def rating_buttons(r: Report) -> list[Button]:
    return [Button("★" * n, f"parate:{r.id}:{n}") for n in range(1, 6)] + [Button(REOPEN_LABEL, f"paredo:{r.id}")]


def notify_resident(app: "App", session: Session, now: datetime, r: Report, ev: ReportEvent,
                    text: str | None = None, buttons: list[Button] | None = None) -> None:
    """Tell the resident; `text` (default: the status) says {you}/{You}, rendered as they name
    themselves ("bà", "chú"), as the form did."""
    if not (r.channel and r.chat_id):
        return
    from nlu.dialogue import speak
    person = session.get(Person, r.person_id) if r.person_id else None
    reply = Reply(speak(text or status_message(app, r), getattr(person, "address_term", None)), buttons=buttons or [])
    if r.status == RESOLVED and text is None:
        reply.buttons = rating_buttons(r)
        reply.photo = r.resolution_photo
    enqueue(session, r.channel, r.chat_id, reply, now=now, dedupe_key=f"report:{r.id}:ev:{ev.id}")


def is_overdue(r: Report, now: datetime) -> bool:
    if r.status in OPEN_STATUSES:
        return now > r.resolve_by
    return r.resolved_at is not None and r.resolved_at > r.resolve_by


def status_text(app: "App", r: Report, now: datetime, events: list[ReportEvent] | None = None) -> str:
    lines = [f"Phản ánh {r.code} - {category_title(app, r.category)}",
             f"Gửi lúc {fmt_local(r.created_at)}; địa điểm: {place_text(app, r)}",
             f"Nội dung: {r.description[:300]}",
             f"Đơn vị xử lý: {unit_name(app, r.unit_id)}",
             f"Trạng thái: {STATUS_LABELS[r.status]} (cập nhật {fmt_local(r.updated_at)})"]
    if r.parent_id:
        main = session_get_code(r)
        lines.append(f"Phản ánh này trùng với {main}, đang được xử lý chung.")
    if r.status in OPEN_STATUSES:
        lines.append(f"Hạn xử lý: {fmt_deadline(r.resolve_by)}")
    if r.resolution_note and r.status in (RESOLVED, CLOSED):
        lines.append(f"Kết quả: {r.resolution_note}")
    if r.reject_reason and r.status in (REJECTED, CLOSED):
        lines.append(f"Lý do không xử lý: {r.reject_reason}")
    if r.rating:
        lines.append(f"Bạn đã đánh giá: {'★' * r.rating}")
    return "\n".join(lines)


def session_get_code(r: Report) -> str:
    from sqlalchemy.orm import object_session
    s = object_session(r)
    main = s.get(Report, r.parent_id) if s else None
    return main.code if main else f"#{r.parent_id}"


def fmt_hours(h: float) -> str:
    return f"{h:g} giờ" if h < 48 or h % 24 else f"{h / 24:g} ngày"


SOURCES_ALL = ("chat", "hotline", "meeting", "open311", "other")
