"""Phản ánh: the list with filters and a map, a report's page, and the same actions as the
buttons on the card in the unit's chat, through handlers/reports/service.py (so the resident is
told on their channel through the outbox, and the trail and reminders stay right)."""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlmodel import select

from bot import roles as R
from bot.core import Button, Reply
from bot.models import Person, RoleGrant
from bot.outbox import enqueue
from bot.ids import parse_id
from bot.people import labels, person_label
from bot.webadmin.web import current, form_with_csrf, redirect, render
from handlers.reports import service as S
from handlers.reports.models import (ASSIGNED, IN_PROGRESS, OPEN_STATUSES, REJECTED, RESOLVED, SOURCES,
                                     STATUS_LABELS, Report, ReportEvent)

PAGE = 50
MAX_NOTE = 2000
MAX_PHOTO = 10 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}


def tile_url() -> str:
    """MAP_TILE_URL, e.g. an OpenStreetMap-compatible server the ward may use; empty means no
    tiles: the map still shows the ward's outline and the reports on it."""
    return os.environ.get("MAP_TILE_URL", "").strip()


def unit_staff(session, unit_id: str) -> list[Person]:
    grants = session.exec(select(RoleGrant).where(RoleGrant.role.in_((R.STAFF, R.ADMIN)),
                                                  RoleGrant.revoked_at.is_(None)))
    own, other = [], []
    for g in grants:
        (own if g.unit_id == unit_id else other).append(g.person_id)
    ids = list(dict.fromkeys(own + other))
    return [p for p in (session.get(Person, i) for i in ids[:50]) if p]


def save_upload(app, upload, sub: str) -> tuple[str | None, str | None]:
    """(path, None) or (None, Vietnamese problem). Checks type by the file's first bytes."""
    if upload is None or not getattr(upload, "filename", None):
        return None, None
    data = upload.file.read(MAX_PHOTO + 1)
    if len(data) > MAX_PHOTO:
        return None, "Ảnh lớn quá (tối đa 10 MB)."
    ext = (".jpg" if data[:3] == b"\xff\xd8\xff" else ".png" if data[:8] == b"\x89PNG\r\n\x1a\n"
           else ".webp" if data[:4] == b"RIFF" and data[8:12] == b"WEBP" else None)
    if ext is None:
        return None, "Chỉ nhận ảnh JPEG, PNG hoặc WebP."
    d = app.settings.data_dir / "media" / sub
    d.mkdir(parents=True, exist_ok=True)
    p = d / (secrets.token_hex(8) + ext)
    p.write_bytes(data)
    return str(p), None


def _outline_json(app) -> str:
    b = app.profile.boundary
    return json.dumps({"lat": b.lat, "lon": b.lon, "radius_m": b.radius_km * 1000} if b else None)


def _filters(request: Request) -> dict:
    q = request.query_params
    return {k: (q.get(k) or "")[:40] for k in ("status", "category", "unit", "group", "overdue", "q")}


def _query(app, f: dict, now):
    q = select(Report).where(Report.parent_id.is_(None))
    st = f["status"] or "open"
    if st == "open":
        q = q.where(Report.status.in_(OPEN_STATUSES))
    elif st in STATUS_LABELS:
        q = q.where(Report.status == st)
    if f["category"]:
        q = q.where(Report.category == f["category"])
    if f["unit"]:
        q = q.where(Report.unit_id == f["unit"])
    if f["group"]:
        q = q.where(Report.group_code == f["group"])
    if f["overdue"]:
        q = q.where(Report.status.in_(OPEN_STATUSES), Report.resolve_by < now)
    if f["q"]:
        term = f["q"].strip()
        q = q.where((Report.code == term.upper()) | Report.description.contains(term) | Report.address.contains(term))
    return q


def register(api, app) -> None:
    @api.get("/admin/reports", response_class=HTMLResponse)
    def reports(request: Request, page: int = 1):
        st = current(request)
        f = _filters(request)
        now = app.clock.now()
        page = max(1, min(page, 10000))
        with app.db.session() as s:
            rows = list(s.exec(_query(app, f, now).order_by(Report.created_at.desc())
                               .offset((page - 1) * PAGE).limit(PAGE + 1)))
            markers = [{"id": r.id, "code": r.code, "lat": r.lat, "lon": r.lon, "status": r.status,
                        "title": S.category_title(app, r.category), "overdue": S.is_overdue(r, now)}
                       for r in s.exec(_query(app, {**f, "status": f["status"] or "open"}, now).limit(1000))
                       if r.lat is not None and r.lon is not None]
        return render(request, "reports.html", st, page="reports", title="Phản ánh", rows=rows[:PAGE],
                      more=len(rows) > PAGE, pageno=page, f=f, now=now, S=S, app=app, labels=STATUS_LABELS,
                      markers_json=json.dumps(markers, ensure_ascii=False),
                      outline_json=_outline_json(app), tile_url=tile_url())

    @api.get("/admin/reports/{rid}", response_class=HTMLResponse)
    def report_page(request: Request, rid: int):
        st = current(request)
        with app.db.session() as s:
            r = s.get(Report, rid)
            if r is None:
                return render(request, "message.html", st, status=404, title="Không tìm thấy",
                              message="Không có phản ánh này.")
            events = list(s.exec(select(ReportEvent).where(ReportEvent.report_id == r.id).order_by(ReportEvent.id)))
            ids = {e.actor_id for e in events if e.actor_id} | ({r.assignee_id} if r.assignee_id else set())
            main = s.get(Report, r.parent_id) if r.parent_id else None
            dups = list(s.exec(select(Report).where(Report.parent_id == r.id)))
            # whoever reported anonymously (here or in a linked duplicate) acts unnamed in the history
            anon = {x.person_id for x in [r, *dups, *([main] if main else [])] if x.anonymous and x.person_id}
            names = labels(s, ids - anon) | {i: "Người phản ánh (ẩn danh)" for i in ids & anon}
            staff = unit_staff(s, r.unit_id)
        return render(request, "report.html", st, page="reports", title=r.code, r=r, events=events, names=names,
                      main=main, dups=dups, staff=staff, S=S, app=app, plabel=person_label, labels=STATUS_LABELS, sources=SOURCES,
                      now=app.clock.now(), open=r.status in OPEN_STATUSES, units=app.profile.units,
                      tile_url=tile_url(), outline_json=_outline_json(app))

    @api.get("/admin/reports/{rid}/photo/{n}")
    def report_photo(request: Request, rid: int, n: int):
        current(request)
        with app.db.session() as s:
            r = s.get(Report, rid)
            paths = [p.get("path") for p in (r.photos if r else [])] + ([r.resolution_photo] if r else [])
        path = paths[n] if 0 <= n < len(paths) else None
        if not path:
            return Response("Không có ảnh.", status_code=404)
        p = Path(path).resolve()
        if not p.is_file() or app.settings.data_dir.resolve() not in p.parents:
            return Response("Không có ảnh.", status_code=404)
        return FileResponse(p)

    @api.post("/admin/reports/{rid}/action")
    async def report_action(request: Request, rid: int):
        st = current(request)
        form = await form_with_csrf(request, st)
        action = str(form.get("action") or "")
        note = str(form.get("note") or "").strip()
        back = f"/admin/reports/{rid}"
        if len(note) > MAX_NOTE:
            return redirect(back, err=f"Nội dung dài quá, bạn rút gọn dưới {MAX_NOTE} ký tự nhé.")
        photo = None
        if action == "resolve":
            photo, problem = save_upload(app, form.get("photo"), "admin")
            if problem:
                return redirect(back, err=problem)
        now = app.clock.now()
        try:
            with app.db.session() as s:
                r = s.get(Report, rid)
                if r is None:
                    return redirect("/admin/reports", err="Không tìm thấy phản ánh này.")
                if r.parent_id:  # staff act on the main report; duplicates follow it
                    r = s.get(Report, r.parent_id)
                    back = f"/admin/reports/{r.id}"
                if r.status not in OPEN_STATUSES:
                    return redirect(back, err=f"Phản ánh {r.code} đã {STATUS_LABELS[r.status]}, không cần thao tác thêm.")
                msg = _apply(app, s, now, st, r, action, note, photo, form)
        except S.TransitionError as e:
            return redirect(back, err=str(e))
        except ValueError as e:
            return redirect(back, err=str(e))
        app.wake_outbox()
        return redirect(back, ok=msg)


def _apply(app, s, now, st, r: Report, action: str, note: str, photo: str | None, form) -> str:
    who = st.name
    if action == "accept":
        S.transition(app, s, now, r, IN_PROGRESS, st.person_id, actor_label=who)
        return f"Đã tiếp nhận {r.code}; người dân đã được báo."
    if action == "assign":
        pid = parse_id(str(form.get("assignee") or ""))
        member = s.get(Person, pid) if pid is not None else None
        if member is None or R.STAFF not in R.roles_of(s, member.id):
            raise ValueError("Người này không phải cán bộ, bạn chọn người khác nhé.")
        name = person_label(member, "Cán bộ")
        S.transition(app, s, now, r, ASSIGNED, st.person_id, actor_label=who, assignee=member,
                     note=f"giao cho {name}")
        if member.chat_id and member.channel != "admin":
            enqueue(s, member.channel, member.chat_id, S.card(app, r, f"{who} giao bạn xử lý phản ánh"), now=now,
                    dedupe_key=f"report:{r.id}:assign:{member.id}:{now.timestamp():.0f}")
        return f"Đã giao {r.code} cho {name}."
    if action in ("ask", "resolve", "reject") and not note:
        raise ValueError({"ask": "Bạn nhập câu hỏi gửi người phản ánh.", "resolve": "Bạn nhập kết quả xử lý.",
                          "reject": "Bạn nhập lý do không xử lý."}[action])
    if action == "ask":
        if not (r.channel and r.chat_id):
            phone = f" Số điện thoại để lại: {r.contact_phone}." if r.contact_phone else ""
            raise ValueError(f"Người phản ánh {r.code} không liên lạc được qua chat.{phone}")
        ev = S.add_event(s, r, now, "info_requested", st.person_id, who, note=note)
        S.notify_resident(app, s, now, r, ev,
                          text=f"Cán bộ {S.unit_name(app, r.unit_id)} cần thêm thông tin về phản ánh "
                               f"{r.code} của {{you}}:\n{note}\n{{You}} chọn \"Trả lời cán bộ\" để trả lời.",
                          buttons=[Button("Trả lời cán bộ", f"pareply:{r.id}")])
        return f"Đã gửi câu hỏi tới người phản ánh {r.code}."
    if action == "resolve":
        S.transition(app, s, now, r, RESOLVED, st.person_id, actor_label=who, note=note, photo=photo)
        return f"Đã ghi nhận {r.code} xử lý xong; người dân đã được báo kết quả."
    if action == "reject":
        S.transition(app, s, now, r, REJECTED, st.person_id, actor_label=who, note=note)
        return f"Đã ghi nhận không xử lý {r.code}; người dân đã được báo lý do."
    if action == "transfer":
        unit = str(form.get("unit") or "")
        S.transfer(app, s, now, r, unit, st.person_id, who, note=note or None)
        return f"Đã chuyển {r.code} cho {S.unit_name(app, unit)}."
    raise ValueError("Thao tác không hợp lệ.")
