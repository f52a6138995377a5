"""Tổ công nghệ số: each team's quarter (figures, submitted or not), the XLSX and chart downloads,
and reopening a submitted quarter, through handlers/teams (the same code as /baocaophuong, the
token downloads and /mokhoa)."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from bot.core import Reply
from bot.outbox import enqueue
from bot.webadmin.web import current, form_with_csrf, redirect, render
from handlers.teams import catalog as C
from handlers.teams import report as REP
from handlers.teams import service as TS

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _quarter(app, year: int | None, q: int | None) -> tuple[int, int]:
    if year and q and 2000 <= year <= 2100 and 1 <= q <= 4:
        return year, q
    return C.quarter_of(C.today(app.clock.now()))


def register(api, app) -> None:
    @api.get("/admin/teams", response_class=HTMLResponse)
    def teams(request: Request, year: int | None = None, q: int | None = None):
        st = current(request)
        year, q = _quarter(app, year, q)
        with app.db.session() as s:
            data = REP.build(app, s, year, q)
        keys = ["sessions", "households", "people", "elderly", "vulnerable"]
        return render(request, "teams.html", st, page="teams", title="Tổ công nghệ số", data=data, year=year, q=q,
                      keys=keys, label=REP.ReportData.label, qlabel=C.quarter_label(year, q), ward_key=C.WARD,
                      short=REP.short_text(data))

    @api.get("/admin/teams/{year}/q{q}/{name}")
    def download(request: Request, year: int, q: int, name: str):
        current(request)
        scope, dot, ext = name.rpartition(".")
        if not dot or ext not in ("xlsx", "png") or not (2000 <= year <= 2100 and 1 <= q <= 4):
            return Response("Không có báo cáo này.", status_code=404)
        group = None if scope == "phuong" else scope
        if group is not None and app.profile.group(group) is None:
            return Response("Không có tổ dân phố này.", status_code=404)
        with app.db.session() as s:
            data, xlsx, png = REP.generate(app, s, year, q, group)
        if ext == "png":
            return FileResponse(png, media_type="image/png")
        return FileResponse(xlsx, media_type=XLSX, filename=REP.file_name(data))

    @api.post("/admin/teams/{year}/q{q}/{group}/reopen")
    async def reopen(request: Request, year: int, q: int, group: str):
        st = current(request)
        await form_with_csrf(request, st)
        back = f"/admin/teams?year={year}&q={q}"
        g = app.profile.group(group)
        if g is None or not (1 <= q <= 4):
            return redirect(back, err="Không có tổ dân phố hoặc quý này.")
        now = app.clock.now()
        with app.db.session() as s:
            if TS.reopen_quarter(s, group, year, q, now, st.person_id, "admin") is None:
                return redirect(back, err=f"{g.name} chưa nộp báo cáo {C.quarter_label(year, q)}, không cần mở lại.")
            leader = TS.leader_of(s, group)
            if leader:
                enqueue(s, leader.channel, leader.chat_id, Reply(
                    f"Cán bộ phường đã mở lại báo cáo {C.quarter_label(year, q)} của tổ để chỉnh sửa. "
                    "Xong bạn gõ /baocaoto và nộp lại nhé."), now=now,
                        dedupe_key=f"team-reopen-{group}-{year}-{q}-{now.timestamp():.0f}")
        app.wake_outbox()
        return redirect(back, ok=f"Đã mở lại báo cáo {C.quarter_label(year, q)} của {g.name}.")
