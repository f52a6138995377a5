"""Report downloads over HTTP, with a personal token staff create in the chat (/matai).

Only the token's SHA-256 is stored. No token or an unknown one: 401; a valid token whose owner
may not see this report (not staff, or another team's leader): 403."""
from __future__ import annotations

import hashlib
import re
import secrets

from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse
from sqlmodel import select

from bot import roles as R
from bot.context import Context
from handlers.teams import report as REP
from handlers.teams.models import TeamApiToken

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def cmd_token(ctx: Context, args: str) -> None:
    for t in ctx.session.exec(select(TeamApiToken).where(TeamApiToken.person_id == ctx.person.id,
                                                         TeamApiToken.revoked_at.is_(None))):
        t.revoked_at = ctx.now
        ctx.session.add(t)
    token = "tk_" + secrets.token_urlsafe(24)
    ctx.session.add(TeamApiToken(person_id=ctx.person.id, token_hash=hash_token(token), created_at=ctx.now))
    ctx.audit("api_token_created", "person", ctx.person.id)
    y = ctx.now.year
    ctx.reply("Mã truy cập cá nhân của bạn (chỉ hiện một lần, mã cũ nếu có đã hết hiệu lực):\n"
              f"{token}\n"
              f"Tải báo cáo: GET /reports/teams/{y}/q1.xlsx (toàn phường, cán bộ) hoặc "
              f"/reports/teams/{y}/q1/tdp-01.xlsx (một tổ), kèm tiêu đề \"Authorization: Bearer MÃ\". "
              "Đừng chia sẻ mã này; gõ /matai lần nữa để đổi mã.")


def erase_tokens(ctx: Context) -> None:
    """/xoadulieu: a person's download tokens go with their data (logged sessions stay: they are
    the ward's records, and name nobody but their author id)."""
    for t in ctx.session.exec(select(TeamApiToken).where(TeamApiToken.person_id == ctx.person.id)):
        ctx.session.delete(t)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status,
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def register_routes(api, app) -> None:
    def auth(request: Request, s):
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else request.query_params.get("token", "")
        if not token:
            return None
        row = s.exec(select(TeamApiToken).where(TeamApiToken.token_hash == hash_token(token),
                                                TeamApiToken.revoked_at.is_(None))).first()
        return row.person_id if row else None

    def serve(request: Request, year: int, name: str, group: str | None):
        m = re.fullmatch(r"q([1-4])\.(xlsx|png)", name)
        if not m or not 2000 <= year <= 2100:
            return _error(404, "Không có báo cáo này. Dạng đúng: /reports/teams/2026/q1.xlsx")
        if group is not None and app.profile.group(group) is None:
            return _error(404, f"Không có tổ dân phố {group}.")
        with app.db.session() as s:
            pid = auth(request, s)
            if pid is None:
                return _error(401, "Cần mã truy cập: gõ /matai trong khung chat với Trợ lý để tạo mã.")
            roles = R.roles_of(s, pid)
            allowed = R.STAFF in roles or (group is not None and R.TEAM_LEADER in roles
                                           and group in R.groups_of(s, pid, R.TEAM_LEADER))
            if not allowed:
                return _error(403, "Bạn không có quyền tải báo cáo này.")
            data, xlsx, png = REP.generate(app, s, year, int(m.group(1)), group)
        if m.group(2) == "png":
            return FileResponse(png, media_type="image/png")
        return FileResponse(xlsx, media_type=XLSX, filename=REP.file_name(data))

    @api.get("/reports/teams/{year}/{name}")
    def ward_report(year: int, name: str, request: Request):
        return serve(request, year, name, None)

    @api.get("/reports/teams/{year}/q{q}/{name}")
    def team_report(year: int, q: int, name: str, request: Request):
        group, dot, ext = name.rpartition(".")
        return serve(request, year, f"q{q}.{ext}", group if dot else name)
