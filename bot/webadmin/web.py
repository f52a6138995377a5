"""Request plumbing shared by the back-office pages: who is logged in, CSRF, templates."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import DataError

from bot import roles as R
from bot.clock import fmt_local, to_local
from bot.httpsafe import parse_json
from bot.webadmin import auth
from bot.webadmin.models import StaffAccount, StaffSession

COOKIE = "bo_session"
LOGIN_CSRF_COOKIE = "bo_login_csrf"
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
TEMPLATES.env.filters["local"] = lambda d: fmt_local(d) if d else ""
TEMPLATES.env.filters["localdate"] = lambda d: fmt_local(d, with_time=False) if d else ""
TEMPLATES.env.filters["iso"] = lambda d: to_local(d).isoformat() if d else ""

NAV = [("dashboard", "/admin/", "Tổng quan"), ("reports", "/admin/reports", "Phản ánh"),
       ("unanswered", "/admin/unanswered", "Câu hỏi chờ trả lời"), ("kb", "/admin/kb", "Kho tri thức"),
       ("classes", "/admin/classes", "Lớp học"), ("teams", "/admin/teams", "Tổ công nghệ số"),
       ("audit", "/admin/audit", "Nhật ký"), ("accounts", "/admin/accounts", "Tài khoản")]


class NeedLogin(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass
class Staff:
    account: StaffAccount
    session_row: StaffSession
    roles: set[str] = field(default_factory=set)

    @property
    def person_id(self) -> int:
        return self.account.person_id

    @property
    def name(self) -> str:
        return self.account.display_name

    @property
    def is_admin(self) -> bool:
        return R.ADMIN in self.roles

    @property
    def csrf(self) -> str:
        return self.session_row.csrf


def secure_cookies(request: Request) -> bool:
    app = request.app.state.bot
    if request.url.scheme == "https":  # behind a trusted proxy, uvicorn applied X-Forwarded-Proto
        return True
    return bool(app.settings.public_url and app.settings.public_url.lower().startswith("https://"))


def set_cookie(request: Request, resp: Response, name: str, value: str, max_age: int | None) -> None:
    resp.set_cookie(name, value, max_age=max_age, path="/admin", httponly=True, samesite="lax",
                    secure=secure_cookies(request))


def client_address(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


def current(request: Request, admin: bool = False) -> Staff:
    """The logged-in staff member, or NeedLogin (303 to the form, 401 for scripts)."""
    app = request.app.state.bot
    token = request.cookies.get(COOKIE)
    with app.db.session() as s:
        found = auth.load_session(s, token, app.clock.now())
        if found is None:
            raise NeedLogin()
        acc, row = found
        st = Staff(acc, row, auth.roles(s, acc))
    if not (st.roles & {R.STAFF, R.ADMIN}):
        raise Forbidden("Tài khoản này không còn quyền cán bộ.")
    if admin and not st.is_admin:
        raise Forbidden("Trang này chỉ dành cho quản trị viên.")
    return st


async def form_with_csrf(request: Request, st: Staff):
    """The posted form, after checking its CSRF token against the session's."""
    form = await request.form()
    sent = form.get("csrf") or request.headers.get("x-csrf-token") or ""
    if not isinstance(sent, str) or not secrets.compare_digest(sent, st.csrf):
        raise Forbidden("Phiên làm việc đã hết hạn hoặc biểu mẫu không hợp lệ. Bạn tải lại trang rồi thử lại nhé.")
    return form


FLASH_COOKIE = "bo_flash"
# Signs the flash cookie, so a page on a sibling domain that can plant cookies cannot put its
# words on staff pages either. Set from the data dir's link-signing key when the back office is
# mounted; a worker with another data dir just does not show the message.
_flash_key: bytes = secrets.token_bytes(32)


def set_flash_key(data_dir) -> None:
    global _flash_key
    from bot import signing
    _flash_key = hmac.new(signing.load_key(data_dir), b"back-office flash", hashlib.sha256).digest()


def _flash_mac(payload: str) -> str:
    return hmac.new(_flash_key, payload.encode(), hashlib.sha256).hexdigest()[:32]


def render(request: Request, name: str, st: Staff | None, status: int = 200, **ctx) -> HTMLResponse:
    app = request.app.state.bot
    kind, text = read_flash(request)
    ctx.update(request=request, st=st, nav=NAV, ward=app.profile.ward.name, flash=text if kind == "ok" else None,
               error=ctx.get("error") or (text if kind == "err" else None))
    resp = TEMPLATES.TemplateResponse(request, name, ctx, status_code=status)
    if kind:  # shown once
        resp.delete_cookie(FLASH_COOKIE, path="/admin")
    return resp


def redirect(url: str, ok: str | None = None, err: str | None = None) -> RedirectResponse:
    """A redirect after a form; its outcome travels in a one-minute cookie, not in the URL, so
    nobody can send staff a link that shows words of their choosing on the ward's own pages."""
    resp = RedirectResponse(url, status_code=303)
    if ok or err:
        payload = base64.urlsafe_b64encode(json.dumps(["ok" if ok else "err", (ok or err)[:500]]).encode()).decode()
        value = f"{payload}.{_flash_mac(payload)}"
        resp.set_cookie(FLASH_COOKIE, value, max_age=60, path="/admin", httponly=True, samesite="strict")
    return resp


def read_flash(request: Request) -> tuple[str | None, str | None]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or len(raw) > 4000:
        return None, None
    payload, _, mac = raw.rpartition(".")
    if not payload or not hmac.compare_digest(mac.encode(), _flash_mac(payload).encode()):
        return None, None
    try:  # signed by us, but parsed as strictly as a request body all the same
        kind, text = parse_json(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, TypeError):
        return None, None
    if kind not in ("ok", "err") or not isinstance(text, str):
        return None, None
    return kind, text


def install_handlers(api) -> None:
    @api.exception_handler(NeedLogin)
    async def _need_login(request: Request, exc: NeedLogin):
        if request.method == "GET" and "application/json" not in request.headers.get("accept", ""):
            nxt = request.url.path + (("?" + request.url.query) if request.url.query else "")
            return RedirectResponse("/admin/login?next=" + quote(nxt), status_code=303)
        return HTMLResponse("Bạn cần đăng nhập.", status_code=401)

    async def _too_big(request: Request, exc: Exception):
        # an id too big for its column in an address (/admin/reports/3000000000): SQLite's driver
        # refuses the number, PostgreSQL says "integer out of range"; bad input, not a 500
        return render(request, "message.html", None, status=400, title="Không thực hiện được",
                      message="Mã số quá lớn, không có mục nào như vậy.")

    api.add_exception_handler(OverflowError, _too_big)
    api.add_exception_handler(DataError, _too_big)

    @api.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return render(request, "message.html", None, status=403, title="Không thực hiện được",
                      message=exc.message)
