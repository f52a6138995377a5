"""Open311 GeoReport v2 (JSON) at /open311/v2: the ward's report categories as services, and its
reports as service requests, so third-party apps can read them and submit new ones.
Spec: http://wiki.open311.org/GeoReport_v2 . Requests posted here enter the same lifecycle as chat
reports (routing, staff card, reminders)."""
from __future__ import annotations

import hmac
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from bot import httpsafe as H
from bot.clock import TZ, fmt_deadline, fmt_local
from handlers.reports import service as S
from handlers.reports.models import OPEN_STATUSES, Report

PREFIX = "/open311/v2"
MAX_BODY = 64 * 1024
MAX_RESULTS = 1000
DEFAULT_WINDOW = timedelta(days=90)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
_REQUEST_ID = re.compile(r"PA-[0-9]{4}-[0-9]{6}|[0-9]{1,9}", re.ASCII | re.IGNORECASE)
MAX_PAGE = 100_000
# Personal data in free text: phone numbers (9-11 digits, spaced or dotted) and e-mail addresses.
_PHONE_IN_TEXT = re.compile(r"(?<![0-9])(?:\+?84|0)(?:[\s.-]?[0-9]){8,10}(?![0-9])", re.ASCII)
_EMAIL_IN_TEXT = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}")
PUBLIC_DECIMALS = 3  # about 100 m: where, not whose door


def mask_personal(text: str | None) -> str | None:
    """Phone numbers and e-mail addresses in public text become [đã ẩn]."""
    if not text:
        return text
    return _PHONE_IN_TEXT.sub("[đã ẩn]", _EMAIL_IN_TEXT.sub("[đã ẩn]", text))


def reporter_names(session, r: Report) -> list[str]:
    """The names the reporter goes by (given, channel's, contact), and the last two words of each
    ("Bích Ngọc" of "Trần Thị Bích Ngọc", how staff address people), longest first."""
    from bot.models import Person
    p = session.get(Person, r.person_id) if r.person_id else None
    names = set()
    for n in (r.contact_name, p and p.full_name, p and p.display_name):
        words = (n or "").split()
        for form in (" ".join(words), " ".join(words[-2:]) if len(words) >= 3 else ""):
            if len(form) >= 5:  # shorter strings would mask unrelated words
                names.add(form)
    return sorted(names, key=len, reverse=True)


def mask_names(text: str | None, names: list[str]) -> str | None:
    for n in names:
        if text:
            text = re.sub(re.escape(n), "[đã ẩn]", text, flags=re.IGNORECASE)
    return text


class Open311Error(Exception):
    def __init__(self, code: int, description: str):
        super().__init__(description)
        self.code, self.description = code, description


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


def w3c(dt: datetime | None) -> str | None:
    return dt.astimezone(TZ).isoformat(timespec="seconds") if dt else None


def parse_w3c(name: str, value: str) -> datetime:
    """W3C datetime: a date, or a date and time with Z or an offset (a missing offset means local)."""
    v = value.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
            dt = datetime.fromisoformat(v)
        else:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?", v):
                raise ValueError
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        if not 2000 <= dt.year <= 2100:
            raise ValueError
    except ValueError:
        raise Open311Error(400, f"{name} must be a w3c datetime between the years 2000 and 2100, "
                                "e.g. 2026-11-23T09:00:00+07:00") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=TZ)


def service_of(app, cat) -> dict:
    return {
        "service_code": cat.id,
        "service_name": cat.title,
        "description": f"{cat.title}. Đơn vị xử lý: {S.unit_name(app, cat.unit)}; "
                       f"thời hạn tiếp nhận: {S.fmt_hours(cat.sla_hours)}.",
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(k.strip() for k in cat.title.split(",") if k.strip()),
        "group": S.unit_name(app, cat.unit),
    }


def request_of(app, session, r: Report, full: bool = False) -> dict:
    """One service request. `full` (a ward system with an API key) sees everything the standard
    has; the public sees category, status, dates, the location rounded to about 100 m and the
    description only where the resident agreed to publish it, with phone numbers and e-mail
    addresses masked; never the address, contact or media of the reporter."""
    notes = None
    if r.reject_reason:
        notes = r.reject_reason
    elif r.resolution_note:
        notes = r.resolution_note
    elif r.parent_id:
        main = session.get(Report, r.parent_id)
        notes = f"Trùng với phản ánh {main.code if main else r.parent_id}, được xử lý chung."
    out = {
        "service_request_id": r.code,
        "status": "open" if r.status in OPEN_STATUSES else "closed",
        "status_notes": notes,
        "service_name": S.category_title(app, r.category),
        "service_code": r.category,
        "description": r.description,
        "agency_responsible": S.unit_name(app, r.unit_id),
        "service_notice": None,
        "requested_datetime": w3c(r.created_at),
        "updated_datetime": w3c(r.updated_at),
        "expected_datetime": w3c(r.resolve_by),
        "address": r.address,
        "address_id": None,
        "zipcode": None,
        "lat": r.lat,
        "long": r.lon,
        # Photos sent in the chat are private files; only a URL the submitter gave is public.
        "media_url": r.media_url,
    }
    if full:
        return out
    published = bool(getattr(r, "publish_description", False))
    names = reporter_names(session, r) if notes or published else []  # a look-up only when text goes out
    out.update(
        status_notes=mask_names(mask_personal(notes), names),
        description=mask_names(mask_personal(r.description), names) if published else None,
        address=None,
        lat=round(r.lat, PUBLIC_DECIMALS) if r.lat is not None else None,
        long=round(r.lon, PUBLIC_DECIMALS) if r.lon is not None else None,
        media_url=r.media_url if published and not r.anonymous else None,
    )
    return out


def _list(params, name: str) -> list[str]:
    raw = params.get(name) or ""
    if len(raw) > 4000:
        raise Open311Error(400, f"{name} is too long")
    return [x.strip() for x in raw.split(",") if x.strip()]


def _positive(params, name: str, cap: int) -> int | None:
    if not params.get(name):
        return None
    try:
        n = H.strict_id(params[name], name, max_digits=9)
    except H.BadInput:
        raise Open311Error(400, f"{name} must be a positive integer (ASCII digits)") from None
    if n < 1:
        raise Open311Error(400, f"{name} must be a positive integer (ASCII digits)")
    return min(n, cap)


def query_requests(app, params, full: bool = False) -> list[dict]:
    for k, v in params.items():
        if "\x00" in k or "\x00" in v:
            raise Open311Error(400, "parameters must not contain NUL characters")
    with app.db.session() as s:
        ids = _list(params, "service_request_id")
        if ids:  # the standard: with ids, the other filters are ignored
            bad = [i for i in ids if not _REQUEST_ID.fullmatch(i)]
            if bad:
                raise Open311Error(400, f"service_request_id is not valid: {bad[0][:40]}")
            rows = [r for r in (S.by_code(s, i) for i in ids[:MAX_RESULTS]) if r is not None]
            return [request_of(app, s, r, full) for r in rows]
        q = select(Report)
        codes = _list(params, "service_code")
        unknown = [c for c in codes if c not in app.categories]
        if unknown:
            raise Open311Error(400, f"unknown service_code: {', '.join(unknown)[:200]!r}")
        if codes:
            q = q.where(Report.category.in_(codes))
        statuses = _list(params, "status")
        if any(x not in ("open", "closed") for x in statuses):
            raise Open311Error(400, "status must be open, closed or both separated by a comma")
        if len(set(statuses)) == 1:
            q = q.where(Report.status.in_(OPEN_STATUSES) if statuses[0] == "open"
                        else Report.status.not_in(OPEN_STATUSES))
        now = app.clock.now()
        end = parse_w3c("end_date", params["end_date"]) if params.get("end_date") else None
        start = parse_w3c("start_date", params["start_date"]) if params.get("start_date") else None
        if start is None and end is None:
            start = now - DEFAULT_WINDOW
        if start is not None and end is not None and end < start:
            raise Open311Error(400, "end_date is before start_date")
        if start is not None:
            q = q.where(Report.created_at >= start)
        if end is not None:
            q = q.where(Report.created_at <= end)
        limit = _positive(params, "limit", MAX_RESULTS) or MAX_RESULTS
        page = _positive(params, "page", MAX_PAGE) or 1
        rows = s.exec(q.order_by(Report.created_at.desc(), Report.id.desc()).offset((page - 1) * limit).limit(limit))
        return [request_of(app, s, r, full) for r in rows]


def key_ok(app, key: str | None) -> bool:
    if not key or len(key) > 200:
        return False
    ok = False
    for k in app.settings.open311_api_keys:  # compare with every key: timing says nothing
        ok |= hmac.compare_digest(k.encode("utf-8"), key.encode("utf-8", "replace"))
    return ok


def header_key(request: Request) -> str | None:
    """An API key in X-Api-Key or Authorization: Bearer (never the URL, which is logged)."""
    k = request.headers.get("x-api-key")
    if k:
        return k.strip()
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _check_key(app, key: str | None) -> None:
    if not key:
        raise Open311Error(401, "api_key is required to submit a service request")
    if not key_ok(app, key):
        raise Open311Error(403, "api_key is not valid")


def _float(name: str, v: str, lo: float, hi: float) -> float:
    try:
        f = float(v)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None
    if not (lo <= f <= hi):
        raise Open311Error(400, f"{name} is out of range")
    return f


def create_request(app, form: dict[str, str]) -> list[dict]:
    for k, v in form.items():
        try:
            H.check_text(k), H.check_text(v)
        except H.BadInput:
            raise Open311Error(400, f"{k[:40]!r} contains characters that are not allowed (NUL, lone surrogates)") from None
    _check_key(app, form.get("api_key"))
    code = (form.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    if code not in app.categories:
        raise Open311Error(400, f"service_code not found: {code[:64]}")
    desc = (form.get("description") or "").strip()
    if len(desc) > S.MAX_DESCRIPTION:
        raise Open311Error(413, f"description is longer than {S.MAX_DESCRIPTION} characters")
    lat = lon = None
    if form.get("lat") or form.get("long"):
        if not (form.get("lat") and form.get("long")):
            raise Open311Error(400, "lat and long must be given together")
        lat = _float("lat", form["lat"], -90, 90)
        lon = _float("long", form["long"], -180, 180)
        if not S.inside_ward(app, lat, lon):
            raise Open311Error(400, f"the location is outside {app.profile.ward.name}")
    address = (form.get("address_string") or "").strip() or None
    if lat is None and not address:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    if address and len(address) > 300:
        raise Open311Error(400, "address_string is longer than 300 characters")
    media = (form.get("media_url") or "").strip() or None
    if media and (len(media) > 500 or not re.match(r"^https?://[^\s]+$", media)):
        raise Open311Error(400, "media_url must be an http(s) URL of at most 500 characters")
    email = (form.get("email") or "").strip() or None
    if email and not _EMAIL.match(email):
        raise Open311Error(400, "email is not valid")
    phone = (form.get("phone") or "").strip() or None
    if phone and not re.fullmatch(r"\+?[\d\s().-]{6,32}", phone):
        raise Open311Error(400, "phone is not valid")
    name = " ".join(x.strip() for x in (form.get("first_name") or "", form.get("last_name") or "") if x.strip())
    account = (form.get("account_id") or "").strip()[:100] or None
    consent = (form.get("publish_description") or "").strip().lower()
    if consent not in ("", "true", "false", "1", "0", "yes", "no"):
        raise Open311Error(400, "publish_description must be true or false")
    publish = consent in ("true", "1", "yes")
    now = app.clock.now()
    with app.db.session() as s:
        r = S.create_report(app, s, now, category=code, description=desc, source="open311", lat=lat, lon=lon,
                            address=address, media_url=media, contact_name=name[:200] or None,
                            contact_phone=phone, contact_email=email, external_account_id=account,
                            actor_label="open311")
        r.publish_description = publish
        s.add(r)
        if r.parent_id:
            notice = (f"Sự việc đã được phản ánh trước ({s.get(Report, r.parent_id).code}) và đang được xử lý; "
                      "phản ánh này được theo dõi chung.")
        else:
            notice = (f"Đã chuyển {S.unit_name(app, r.unit_id)}; hạn xử lý {fmt_deadline(r.resolve_by)}.")
        out = [{"service_request_id": r.code, "service_notice": notice, "account_id": account}]
    app.wake_outbox()
    return out


def register_routes(api: FastAPI, app) -> None:
    @api.get(PREFIX + "/services.json")
    def services():
        return [service_of(app, c) for c in app.categories.values()]

    @api.get(PREFIX + "/services/{code}.json")
    def service_definition(code: str):
        # Every service has metadata false: there is no definition to fetch.
        if code in app.categories:
            return _error(400, f"service {code} has no metadata (metadata is false)")
        return _error(404, f"service_code not found: {code[:64]!r}")

    def full_access(request: Request) -> bool | JSONResponse:
        key = header_key(request)
        if key is None:
            return False
        return True if key_ok(app, key) else _error(403, "api key is not valid")

    @api.get(PREFIX + "/requests.json")
    def get_requests(request: Request):
        full = full_access(request)
        if isinstance(full, JSONResponse):
            return full
        try:
            return query_requests(app, dict(request.query_params), full)
        except Open311Error as e:
            return _error(e.code, e.description)

    @api.get(PREFIX + "/requests/{request_id}.json")
    def get_request(request_id: str, request: Request):
        full = full_access(request)
        if isinstance(full, JSONResponse):
            return full
        if not _REQUEST_ID.fullmatch(request_id):
            return _error(404, f"service_request_id not found: {request_id[:64]!r}")
        with app.db.session() as s:
            r = S.by_code(s, request_id)
            if r is None:
                return _error(404, f"service_request_id not found: {request_id[:64]}")
            return [request_of(app, s, r, full)]

    @api.post(PREFIX + "/requests.json")
    async def post_request(request: Request):
        try:
            body = await H.read_body(request, MAX_BODY)
        except H.BadInput:
            return _error(413, "request body is too large")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if ctype == "application/x-www-form-urlencoded":
                parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
                form = {k: v[0] for k, v in parsed.items()}
            elif ctype == "multipart/form-data":
                form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
            else:
                return _error(400, "send the fields as application/x-www-form-urlencoded")
        except UnicodeDecodeError:
            return _error(400, "the body must be UTF-8")
        # The key comes in the body (the standard) or a header; never the URL (refused earlier).
        if "api_key" not in form and header_key(request):
            form["api_key"] = header_key(request)
        try:
            return await run_in_threadpool(create_request, app, form)
        except Open311Error as e:
            return _error(e.code, e.description)
