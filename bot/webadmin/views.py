"""Back-office pages: login, logout, accounts and the audit log."""
from __future__ import annotations

import secrets
from urllib.parse import urlparse

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import select

from bot import roles as R
from bot.models import AuditEvent, Person
from bot.people import labels
from bot.webadmin import auth
from bot.webadmin.models import StaffAccount
from handlers.reports.models import Report
from bot.webadmin.web import (COOKIE, LOGIN_CSRF_COOKIE, current, form_with_csrf, redirect, render,
                              client_address, set_cookie)

AUDIT_PAGE = 100


def _safe_next(nxt: str | None) -> str:
    # Only local back-office paths: a login link must not bounce staff to another site.
    if not nxt or not nxt.startswith("/admin") or urlparse(nxt).netloc or nxt.startswith("//"):
        return "/admin/"
    return nxt


def register(api, app) -> None:
    @api.get("/admin/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/admin/"):
        token = secrets.token_urlsafe(24)
        resp = render(request, "login.html", None, login_csrf=token, next=_safe_next(next))
        set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, max_age=3600)
        return resp

    @api.post("/admin/login")
    async def login(request: Request):
        form = await request.form()
        username = str(form.get("username") or "")[:64]
        password = str(form.get("password") or "")
        nxt = _safe_next(str(form.get("next") or ""))
        sent, cookie = str(form.get("csrf") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if not cookie or not secrets.compare_digest(sent, cookie):
            token = secrets.token_urlsafe(24)
            resp = render(request, "login.html", None, status=403, login_csrf=token, next=nxt, username=username,
                          error="Biểu mẫu đăng nhập đã hết hạn, bạn thử lại nhé.")
            set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, max_age=3600)
            return resp
        addr, now = client_address(request), app.clock.now()
        with app.db.session() as s:
            if auth.throttled(s, auth.normalise_username(username), addr, now):
                resp = render(request, "login.html", None, status=429, login_csrf=cookie, next=nxt,
                              username=username, error="Đăng nhập sai quá nhiều lần. Bạn chờ 15 phút rồi thử lại.")
                resp.headers["Retry-After"] = str(int(auth.FAIL_WINDOW.total_seconds()))
                return resp
            acc = auth.authenticate(s, username, password, addr, now)
            token = auth.start_session(s, acc, now)[0] if acc else None
        if token is None:
            return render(request, "login.html", None, status=401, login_csrf=cookie, next=nxt, username=username,
                          error="Tên đăng nhập hoặc mật khẩu không đúng.")
        resp = RedirectResponse(nxt, status_code=303)
        set_cookie(request, resp, COOKIE, token, max_age=int(auth.SESSION_TTL.total_seconds()))
        resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/admin")
        return resp

    @api.post("/admin/logout")
    async def logout(request: Request):
        st = current(request)
        await form_with_csrf(request, st)
        with app.db.session() as s:
            auth.end_session(s, request.cookies.get(COOKIE), app.clock.now())
            s.add(AuditEvent(at=app.clock.now(), actor_id=st.person_id, action="staff_logout",
                             object_type="staff_account", object_id=str(st.account.id), detail={}))
        resp = RedirectResponse("/admin/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/admin")
        return resp

    # --- accounts ----------------------------------------------------------------------------
    @api.get("/admin/accounts", response_class=HTMLResponse)
    def accounts(request: Request):
        st = current(request)
        with app.db.session() as s:
            rows = list(s.exec(select(StaffAccount).order_by(StaffAccount.username))) if st.is_admin else [st.account]
            people = {a.id: s.get(Person, a.person_id) for a in rows}
            roles = {a.id: sorted(R.roles_of(s, a.person_id) - {R.RESIDENT}) for a in rows}
        return render(request, "accounts.html", st, page="accounts", title="Tài khoản", rows=rows, people=people,
                      roles=roles, labels=R.ROLE_LABELS)

    @api.post("/admin/accounts")
    async def account_create(request: Request):
        st = current(request, admin=True)
        form = await form_with_csrf(request, st)
        try:
            with app.db.session() as s:
                acc = auth.create_account(s, str(form.get("username") or ""), str(form.get("password") or ""),
                                          str(form.get("role") or ""), app.clock.now(),
                                          display_name=str(form.get("display_name") or "") or None,
                                          created_by=st.person_id)
                name = acc.username
        except auth.AccountError as e:
            return redirect("/admin/accounts", err=str(e))
        return redirect("/admin/accounts", ok=f"Đã tạo tài khoản {name}.")

    @api.post("/admin/accounts/{acc_id}/link")
    async def account_link(request: Request, acc_id: int):
        st = current(request)
        await form_with_csrf(request, st)
        if acc_id != st.account.id and not st.is_admin:
            return redirect("/admin/accounts", err="Bạn chỉ liên kết được tài khoản của mình.")
        with app.db.session() as s:
            acc = s.get(StaffAccount, acc_id)
            if acc is None:
                return redirect("/admin/accounts", err="Không tìm thấy tài khoản.")
            code = auth.start_link(s, acc, app.clock.now())
        return redirect("/admin/accounts", ok=f"Mã liên kết: {code}. Trong Zalo hoặc Telegram, gửi cho Trợ lý: "
                                               f"/nhapma {code} (dùng một lần, trong 24 giờ).")

    @api.post("/admin/accounts/{acc_id}/disable")
    async def account_disable(request: Request, acc_id: int):
        st = current(request, admin=True)
        await form_with_csrf(request, st)
        if acc_id == st.account.id:
            return redirect("/admin/accounts", err="Bạn không tự khoá tài khoản của mình được.")
        now = app.clock.now()
        with app.db.session() as s:
            acc = s.get(StaffAccount, acc_id)
            if acc is None:
                return redirect("/admin/accounts", err="Không tìm thấy tài khoản.")
            acc.disabled_at = now
            s.add(acc)
            auth.end_sessions(s, acc.id, now)
            s.add(AuditEvent(at=now, actor_id=st.person_id, action="staff_account_disabled",
                             object_type="staff_account", object_id=str(acc.id), detail={"username": acc.username}))
        return redirect("/admin/accounts", ok="Đã khoá tài khoản.")

    @api.post("/admin/accounts/password")
    async def account_password(request: Request):
        st = current(request)
        form = await form_with_csrf(request, st)
        with app.db.session() as s:
            acc = s.get(StaffAccount, st.account.id)
            if not auth.verify_password(str(form.get("old") or ""), acc.password_hash):
                return redirect("/admin/accounts", err="Mật khẩu hiện tại không đúng.")
            try:
                auth.set_password(s, acc, str(form.get("new") or ""), app.clock.now(), st.person_id)
            except auth.AccountError as e:
                return redirect("/admin/accounts", err=str(e))
        return redirect("/admin/login", ok="Đã đổi mật khẩu, bạn đăng nhập lại nhé.")

    # --- audit log ---------------------------------------------------------------------------
    @api.get("/admin/audit", response_class=HTMLResponse)
    def audit(request: Request, before: int | None = None, action: str = ""):
        st = current(request)
        with app.db.session() as s:
            q = select(AuditEvent)
            if before:
                q = q.where(AuditEvent.id < before)
            if action:
                q = q.where(AuditEvent.action.contains(action[:64]))
            rows = list(s.exec(q.order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE)))
            ids = {r.actor_id for r in rows if r.actor_id}
            # a resident who ever reported anonymously is never named here (their report's events)
            anon = set(s.exec(select(Report.person_id).where(Report.anonymous.is_(True),
                                                             Report.person_id.in_(ids)))) if ids else set()
            names = labels(s, ids - anon) | {i: f"Người dân #{i}" for i in anon}
        return render(request, "audit.html", st, page="audit", title="Nhật ký thao tác", rows=rows, names=names,
                      action=action, more=rows[-1].id if len(rows) == AUDIT_PAGE else None)
