"""Report downloads over HTTP, with the personal token staff and leaders create in the chat
(/matai, bot/tokens.py). No token or an unknown one: 401; a valid token whose owner
may not see this report (not staff, or another team's leader): 403."""
from __future__ import annotations

import re

from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse

from bot import roles as R
from bot import tokens
from handlers.teams import report as REP

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status,
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


def register_routes(api, app) -> None:
    def auth(request: Request, s):
        return tokens.person_for(s, tokens.bearer(request), app.clock.now())

    def serve(request: Request, year_raw: str, name: str, group: str | None):
        # Strict ASCII parsing: "²", 5000-digit years or a NUL in a name are a 404, not an error.
        m = re.fullmatch(r"q([1-4])\.(xlsx|png)", name, re.ASCII)
        year = int(year_raw) if re.fullmatch(r"[0-9]{4}", year_raw, re.ASCII) else 0
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
    def ward_report(year: str, name: str, request: Request):
        return serve(request, year, name, None)

    @api.get("/reports/teams/{year}/q{q}/{name}")
    def team_report(year: str, q: str, name: str, request: Request):
        group, dot, ext = name.rpartition(".")
        return serve(request, year, f"q{q[:2]}.{ext[:8]}", group if dot else name)
