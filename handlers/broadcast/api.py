"""HTTP API for staff tools: create a class (a draft with its preview), confirm it, read its
sign-ups and delivery report. Authorization: Bearer <token from /matai in chat>."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot import httpsafe as H
from bot import roles as R
from bot import tokens
from bot.models import AuditEvent
from handlers.broadcast import service as S
from handlers.broadcast.models import LiteracyClass

MAX_BODY = 16 * 1024
MAX_CAPACITY = 10_000


def _str(data: dict, key: str, max_len: int, message: str) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if not isinstance(v, str) or not v.strip() or len(v) > max_len:
        raise S.ClassError(message)
    return v


def _when(raw: str, now, parse):
    """A date or datetime from the client, within a sane window (year 2000-2100): out-of-range
    years overflow time-zone arithmetic and the database."""
    try:
        value = parse(raw, now)
    except (ValueError, OverflowError):
        value = None
    if value is None or not 2000 <= value.year <= 2100:
        raise S.ClassError(f"Ngày giờ \"{raw[:40]}\" không hợp lệ hoặc ngoài khoảng cho phép.")
    return value


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _staff(app, session, request: Request) -> int | JSONResponse:
    token = tokens.bearer(request)
    if not token:
        return _error(401, "Thiếu mã truy cập (Authorization: Bearer MÃ). Cán bộ lấy mã bằng lệnh /matai.")
    pid = tokens.person_for(session, token, app.clock.now())
    if pid is None:
        return _error(401, "Mã truy cập không đúng, đã hết hạn hoặc đã bị thu hồi.")
    if R.STAFF not in R.roles_of(session, pid):
        return _error(403, "Tài khoản này không còn quyền cán bộ phường.")
    return pid


def _draft_from_json(app, data: dict, now) -> S.ClassDraft:
    """Every field type- and range-checked here, at the boundary: a wrong type, a year 1 or a
    20-digit number is a 400 with the field named, never an error deeper down."""
    if not isinstance(data, dict):
        raise S.ClassError("JSON phải là một đối tượng.")
    p = app.profile
    starts_raw = _str(data, "starts_at", 40, "Thiếu starts_at (ví dụ \"2026-11-29T08:00\", giờ Việt Nam nếu không ghi múi giờ).")
    if starts_raw is None:
        raise S.ClassError("Thiếu starts_at (ví dụ \"2026-11-29T08:00\", giờ Việt Nam nếu không ghi múi giờ).")
    first = _when(starts_raw, now, S.parse_local_datetime)
    rep = data.get("repeat") or {}
    if not isinstance(rep, dict):
        raise S.ClassError("repeat phải có dạng {\"weeks\": 4} hoặc {\"until\": \"2026-12-27\"}.")
    weeks, until = rep.get("weeks"), rep.get("until")
    if weeks is not None and (not isinstance(weeks, int) or isinstance(weeks, bool) or not 1 <= weeks <= 520):
        raise S.ClassError("repeat.weeks phải là số nguyên dương.")
    if until is not None and (not isinstance(until, str) or len(until) > 20):
        raise S.ClassError("repeat.until phải là ngày, ví dụ \"2026-12-27\".")
    starts = S.occurrence_times(first, weeks=weeks, until=_when(until, now, S.parse_date) if until else None)
    host = _str(data, "cultural_house", 32, "cultural_house phải là mã tổ dân phố, ví dụ \"tdp-01\".")
    place = _str(data, "place", 300, "place (địa điểm) phải là chuỗi, tối đa 300 ký tự.")
    if host is not None:
        g = p.group(host)
        if g is None or not g.cultural_house:
            raise S.ClassError(f"Không có nhà sinh hoạt của tổ \"{host}\".")
        place = place or f"{g.cultural_house} ({g.name})"
    if not isinstance(place, str):
        raise S.ClassError("Thiếu place (địa điểm) hoặc cultural_house (mã tổ dân phố).")
    cap = data.get("capacity")
    if not isinstance(cap, int) or isinstance(cap, bool):
        raise S.ClassError("capacity (số chỗ) phải là số nguyên.")
    if cap > MAX_CAPACITY:
        raise S.ClassError(f"capacity (số chỗ) tối đa {MAX_CAPACITY}.")
    aud = data.get("audience", "all")
    groups, topic_only = [], False
    if isinstance(aud, dict):
        groups = aud.get("groups") or []
        team = aud.get("team")
        if team is not None and not isinstance(team, str):
            raise S.ClassError("audience.team phải là mã tổ dân phố.")
        if not isinstance(groups, list) or len(groups) > 200 or not all(isinstance(g, str) and len(g) <= 32 for g in groups):
            raise S.ClassError("audience.groups phải là danh sách mã tổ dân phố.")
        if team:  # a team's residents: the subscribers of that team's residential group
            groups = list(groups) + [team]
        topic_only = aud.get("topic_only") is True
    elif aud != "all":
        raise S.ClassError("audience phải là \"all\" hoặc {\"groups\": [...], \"team\": ..., \"topic_only\": true}.")
    duration = data.get("duration_minutes", 90)
    if not isinstance(duration, int) or isinstance(duration, bool) or not (15 <= duration <= 600):
        raise S.ClassError("duration_minutes phải từ 15 đến 600.")
    topic = data.get("topic", "")
    if not isinstance(topic, str) or len(topic) > 64:
        raise S.ClassError("topic phải là mã chủ đề (chuỗi).")
    return S.ClassDraft(topic=topic, starts=starts, place=place, capacity=cap,
                        groups=sorted(set(groups)), topic_only=topic_only,
                        group_code=host, duration_minutes=duration)


def _class_id(raw: str) -> int | None:
    try:
        return H.strict_id(raw, "mã lớp", max_digits=9)
    except H.BadInput:
        return None


def _summary(app, s, cls: LiteracyClass) -> dict:
    occs = S.occurrences(s, cls.id)
    return {
        "id": cls.id, "status": cls.status, "topic": cls.topic, "place": cls.place, "capacity": cls.capacity,
        "audience": cls.audience, "group_code": cls.group_code,
        "occurrences": [{"n": o.n, "id": o.id, "starts_at": o.starts_at.isoformat(), "status": o.status,
                         "going": S.counts(s, o.id).get("going", 0), "waiting": S.counts(s, o.id).get("waiting", 0),
                         "attendance": S.attendance(s, o) if o.status == "held" else None} for o in occs],
        "delivery": S.delivery_report(s, cls.id),
    }


def mount(api, app) -> None:
    async def _body(request: Request):
        try:
            return H.parse_json(await H.read_body(request, MAX_BODY) or b"{}", MAX_BODY) \
                if _is_json(request) else _error(415, "Nội dung phải ở dạng JSON (Content-Type: application/json).")
        except H.BadInput as e:
            return H.error_response(e)

    def _is_json(request: Request) -> bool:
        return request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"

    @api.post("/api/classes")
    async def create_class(request: Request):
        data = await _body(request)
        if isinstance(data, JSONResponse):
            return data

        def work():
            now = app.clock.now()
            with app.db.session() as s:
                pid = _staff(app, s, request)
                if isinstance(pid, JSONResponse):
                    return pid
                try:
                    draft = _draft_from_json(app, data, now)
                    cls = S.create_class(s, draft, app.profile, now, pid)
                except S.ClassError as e:
                    s.rollback()
                    return _error(400, str(e))
                s.add(AuditEvent(at=now, actor_id=pid, action="class_drafted", object_type="literacy_class",
                                 object_id=str(cls.id), detail={"via": "api"}))
                out = _summary(app, s, cls)
                out["preview"] = S.preview(s, cls, app.profile)
                out["recipients"] = len(S.class_audience(s, cls))
                out["confirm_url"] = f"/api/classes/{cls.id}/confirm"
                return JSONResponse(out, status_code=201)
        return await run_in_threadpool(work)

    @api.post("/api/classes/{class_id}/confirm")
    async def confirm_class(class_id: str, request: Request):
        cid = _class_id(class_id)
        if cid is None:
            return _error(404, f"Không tìm thấy lớp #{class_id[:20]!r}.")

        def work():
            now = app.clock.now()
            with app.db.session() as s:
                pid = _staff(app, s, request)
                if isinstance(pid, JSONResponse):
                    return pid
                cls = s.get(LiteracyClass, cid)
                if cls is None or cls.status == "cancelled":
                    return _error(404, f"Không tìm thấy lớp #{class_id}.")
                try:
                    n = S.publish(app, s, cls, now)
                except S.ClassError as e:
                    return _error(409, str(e))
                s.add(AuditEvent(at=now, actor_id=pid, action="class_published", object_type="literacy_class",
                                 object_id=str(cls.id), detail={"via": "api", "recipients": n}))
                out = _summary(app, s, cls)
                out["enqueued"] = n
                return out
        out = await run_in_threadpool(work)
        app.wake_outbox()
        return out

    @api.get("/api/classes/{class_id}")
    async def get_class(class_id: str, request: Request):
        cid = _class_id(class_id)
        if cid is None:
            return _error(404, f"Không tìm thấy lớp #{class_id[:20]!r}.")

        def work():
            with app.db.session() as s:
                pid = _staff(app, s, request)
                if isinstance(pid, JSONResponse):
                    return pid
                cls = s.get(LiteracyClass, cid)
                if cls is None:
                    return _error(404, f"Không tìm thấy lớp #{class_id}.")
                return _summary(app, s, cls)
        return await run_in_threadpool(work)
