"""Lớp học ("Bình dân học vụ số"): create a class like /taolop (draft, preview, publish), see
sign-ups and waiting lists, mark attendance, and read the delivery report. Everything goes
through handlers/broadcast/service.py, as the chat commands and the class API do."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from bot.ids import parse_id, parse_int
from bot.models import AuditEvent
from bot.people import labels
from bot.webadmin.web import current, form_with_csrf, redirect, render
from handlers.broadcast import service as S
from handlers.broadcast.models import ClassOccurrence, ClassSignup, LiteracyClass


def _draft(app, form, now) -> S.ClassDraft:
    day, at = str(form.get("date") or "").strip(), str(form.get("time") or "").strip()
    if not day or not at:
        raise S.ClassError("Bạn chọn ngày và giờ của buổi học đầu tiên.")
    first = S.parse_local_datetime(f"{day}T{at}", now)
    weeks_raw = str(form.get("weeks") or "1").strip()
    weeks = parse_id(weeks_raw)  # ASCII digits only: "²".isdigit() is True, int("²") fails
    if not weeks:
        raise S.ClassError("Số buổi (lặp hằng tuần) phải là số nguyên dương.")
    starts = S.occurrence_times(first, weeks=weeks if weeks > 1 else None)
    cap = str(form.get("capacity") or "").strip()
    if parse_id(cap) is None:
        raise S.ClassError("Số chỗ phải là số nguyên.")
    host = str(form.get("host") or "").strip() or None
    place = str(form.get("place") or "").strip()
    if not place and host:
        g = app.profile.group(host)
        if g and g.cultural_house:
            place = f"{g.cultural_house} ({g.name})"
    dur = str(form.get("duration") or "90").strip()
    if parse_int(dur, 15, 600) is None:
        raise S.ClassError("Thời lượng phải từ 15 đến 600 phút.")
    groups = sorted({str(g) for g in form.getlist("groups") if str(g).strip()})
    return S.ClassDraft(topic=str(form.get("topic") or ""), starts=starts, place=place, capacity=int(cap),
                        groups=groups, topic_only=bool(form.get("topic_only")), group_code=host,
                        duration_minutes=int(dur))


def register(api, app) -> None:
    @api.get("/admin/classes", response_class=HTMLResponse)
    def classes(request: Request):
        st = current(request)
        with app.db.session() as s:
            rows = list(s.exec(select(LiteracyClass).order_by(LiteracyClass.id.desc()).limit(100)))
            first = {c.id: (S.occurrences(s, c.id) or [None]) for c in rows}
        return render(request, "classes.html", st, page="classes", title="Lớp học", rows=rows, occs=first,
                      topics=S.TOPICS, S=S, groups=app.profile.residential_groups)

    @api.post("/admin/classes")
    async def class_create(request: Request):
        st = current(request)
        form = await form_with_csrf(request, st)
        now = app.clock.now()
        try:
            draft = _draft(app, form, now)
            with app.db.session() as s:
                cls = S.create_class(s, draft, app.profile, now, st.person_id)
                s.add(AuditEvent(at=now, actor_id=st.person_id, action="class_created", object_type="class",
                                 object_id=str(cls.id), detail={"topic": cls.topic, "via": "admin"}))
                cid = cls.id
        except S.ClassError as e:
            return redirect("/admin/classes", err=str(e))
        return redirect(f"/admin/classes/{cid}", ok="Đã tạo bản nháp. Xem trước rồi bấm \"Gửi thông báo\".")

    @api.get("/admin/classes/{cid}", response_class=HTMLResponse)
    def class_page(request: Request, cid: int):
        st = current(request)
        with app.db.session() as s:
            cls = s.get(LiteracyClass, cid)
            if cls is None:
                return render(request, "message.html", st, status=404, title="Không tìm thấy",
                              message="Không có lớp này.")
            occs = S.occurrences(s, cid)
            signups = {o.id: list(s.exec(select(ClassSignup).where(ClassSignup.occurrence_id == o.id)
                                         .order_by(ClassSignup.status, ClassSignup.queue_no, ClassSignup.id)))
                       for o in occs}
            ids = {su.person_id for rows in signups.values() for su in rows if su.person_id}
            names = labels(s, ids)
            preview = S.preview(s, cls, app.profile)
            delivery = S.delivery_report(s, cid)
            attended = {o.id: S.attendance(s, o) for o in occs}
        return render(request, "class.html", st, page="classes", title=f"Lớp #{cid}", cls=cls, occs=occs,
                      signups=signups, names=names, preview=preview, delivery=delivery, attended=attended, S=S,
                      now=app.clock.now())

    @api.post("/admin/classes/{cid}/publish")
    async def class_publish(request: Request, cid: int):
        st = current(request)
        await form_with_csrf(request, st)
        now = app.clock.now()
        try:
            with app.db.session() as s:
                cls = s.get(LiteracyClass, cid)
                if cls is None:
                    return redirect("/admin/classes", err="Không có lớp này.")
                n = S.publish(app, s, cls, now)
                s.add(AuditEvent(at=now, actor_id=st.person_id, action="class_published", object_type="class",
                                 object_id=str(cid), detail={"notices": n, "via": "admin"}))
        except S.ClassError as e:
            return redirect(f"/admin/classes/{cid}", err=str(e))
        app.wake_outbox()
        return redirect(f"/admin/classes/{cid}", ok=f"Đã gửi thông báo tới {n} người.")

    @api.post("/admin/classes/{cid}/attendance/{occ_id}")
    async def class_attendance(request: Request, cid: int, occ_id: int):
        st = current(request)
        form = await form_with_csrf(request, st)
        now = app.clock.now()
        with app.db.session() as s:
            occ = s.get(ClassOccurrence, occ_id)
            if occ is None or occ.class_id != cid:
                return redirect(f"/admin/classes/{cid}", err="Không có buổi học này.")
            if occ.starts_at > now:
                return redirect(f"/admin/classes/{cid}", err=f"Buổi {occ.n} chưa diễn ra, chưa điểm danh được.")
            present = {parse_id(str(x)) for x in form.getlist("present")} - {None}
            for su in s.exec(select(ClassSignup).where(ClassSignup.occurrence_id == occ.id,
                                                       ClassSignup.status == "going")):
                su.attended = su.id in present
                s.add(su)
            head = str(form.get("count") or "").strip()
            if head:
                if parse_int(head, 0, 100000) is None:
                    return redirect(f"/admin/classes/{cid}", err="Số người dự phải là số nguyên.")
                occ.attendance_count = int(head)
            occ.status, occ.marked_at = "held", now
            s.add(occ)
            s.flush()
            total = S.attendance(s, occ)
            s.add(AuditEvent(at=now, actor_id=st.person_id, action="class_attendance", object_type="class_occurrence",
                             object_id=str(occ.id), detail={"count": total, "via": "admin"}))
        return redirect(f"/admin/classes/{cid}", ok=f"Đã lưu điểm danh buổi {occ.n}: {total} người có mặt.")
