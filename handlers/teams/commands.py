"""Chat commands around the logged sessions: my sessions, editing, the quarterly report,
submitting it, and the ward's own submission marks."""
from __future__ import annotations

from sqlmodel import select

from bot import roles as R
from bot.context import Context
from bot.core import Reply
from bot.ids import parse_id, parse_int
from handlers.teams import catalog as C
from handlers.teams import report as REP
from handlers.teams import service as S
from handlers.teams.form import NAME as FORM
from handlers.teams.models import TeamSession, TeamSubmission


# --- my sessions, editing -----------------------------------------------------------------------
def cmd_my_sessions(ctx: Context, args: str) -> None:
    y, q = C.quarter_of(C.today(ctx.now))
    start, end = C.quarter_days(y, q)
    rows = list(ctx.session.exec(select(TeamSession).where(
        TeamSession.author_id == ctx.person.id, TeamSession.day >= start, TeamSession.day < end)
        .order_by(TeamSession.day.desc(), TeamSession.id.desc()).limit(8)))
    if not rows:
        ctx.reply(f"Bạn chưa ghi nhận buổi nào trong {C.quarter_label(y, q)}. Ghi nhận buổi mới: /ghinhan")
        return
    lines, buttons = [f"Các buổi bạn đã ghi trong {C.quarter_label(y, q)} (mới nhất trước):"], []
    for r in rows:
        acts = ", ".join(f"{C.SHORT[a]} {getattr(r, col)}" for a, (col, _) in C.ACTIVITIES.items()
                         if getattr(r, col))
        lock = (" (ghi sau khi nộp, chờ tổ trưởng)" if r.late else " (đã nộp, khóa)") \
            if S.is_locked(ctx.session, r.group_code, r.day) else ""
        lines.append(f"#{r.id} {r.day:%d/%m} - {C.PLACES.get(r.place, r.place)}: {r.households} hộ, "
                     f"{r.people} người" + (f"; {acts}" if acts else "") + lock)
        if not lock:
            buttons.append((f"Sửa #{r.id}", f"tsess:edit:{r.id}"))
    ctx.reply("\n".join(lines), buttons=buttons)


def _editable(ctx: Context, sid: str) -> TeamSession | None:
    n = parse_id(sid)
    row = ctx.session.get(TeamSession, n) if n is not None else None
    if row is None:
        ctx.reply(f"Không tìm thấy buổi hỗ trợ #{sid}. Xem các buổi của bạn: /buoicuatoi")
        return None
    if row.author_id != ctx.person.id:
        ctx.reply(f"Buổi #{row.id} không phải do bạn ghi nhận nên bạn không sửa được. "
                  "Người ghi nhận buổi đó có thể sửa.")
        return None
    if S.is_locked(ctx.session, row.group_code, row.day):
        y, q = C.quarter_of(row.day)
        ctx.reply(f"Tổ đã nộp báo cáo {C.quarter_label(y, q)} nên buổi #{row.id} đã khóa, không sửa được nữa. "
                  "Nếu cần điều chỉnh, bạn báo cán bộ phường mở lại giúp nhé.")
        return None
    return row


def cmd_edit(ctx: Context, args: str) -> None:
    sid = args.strip().lstrip("#")
    if not sid:
        return cmd_my_sessions(ctx, "")
    row = _editable(ctx, sid)
    if row is not None:
        ctx.start_flow(FORM, "confirm", S.state_from_row(row))
        ctx.app.router.flows[FORM].ask_confirm(ctx)


def cb_session(ctx: Context, payload: str) -> None:
    action, _, sid = payload.partition(":")
    if action == "edit":
        if not ctx.require(R.TEAM_MEMBER):
            return
        if ctx.conv.flow:
            ctx.end_flow()
        row = _editable(ctx, sid)
        if row is not None:
            ctx.start_flow(FORM, "confirm", S.state_from_row(row))
            ctx.app.router.flows[FORM].ask_confirm(ctx)
        return
    ctx.reply("Nút này đã hết hiệu lực. Bạn gõ /buoicuatoi để xem lại nhé.")


# --- team report and submission ------------------------------------------------------------------
def _parse_group_quarter(ctx: Context, args: str) -> tuple[str | None, tuple[int, int] | None]:
    group, rest = None, []
    for part in args.split():
        if ctx.app.profile.group(part.lower()):
            group = part.lower()
        else:
            rest.append(part)
    return group, C.parse_quarter(" ".join(rest), ctx.now)


def _send_report(ctx: Context, year: int, q: int, group: str | None, buttons: list) -> REP.ReportData:
    data, xlsx, png = REP.generate(ctx.app, ctx.session, year, q, group)
    ctx.reply(REP.short_text(data), document=str(xlsx), document_name=REP.file_name(data))
    ctx.reply("Biểu đồ tổng hợp" + (". Bạn xem lại bảng số liệu rồi bấm nút bên dưới." if buttons else "."),
              photo=str(png), buttons=buttons)
    return data


def cmd_team_report(ctx: Context, args: str) -> None:
    group, yq = _parse_group_quarter(ctx, args)
    if yq is None:
        ctx.reply("Mình chưa hiểu quý nào. Ví dụ: /baocaoto 4/2026 (cán bộ thêm mã tổ: /baocaoto tdp-01 4/2026).")
        return
    is_staff = ctx.has_role(R.STAFF)
    own = sorted(R.groups_of(ctx.session, ctx.person.id, R.TEAM_LEADER))
    if group is None:
        group = own[0] if own else None
    if group is None:
        ctx.reply("Bạn ghi thêm mã tổ, ví dụ: /baocaoto tdp-01 4/2026")
        return
    if group not in own and not is_staff:
        ctx.reply("Bạn chỉ xem được báo cáo của tổ mình.")
        return
    year, q = yq
    if (year, q) > C.quarter_of(C.today(ctx.now)):
        ctx.reply(f"{C.cap(C.quarter_label(year, q))} chưa bắt đầu.")
        return
    sub = S.submission(ctx.session, group, year, q)
    buttons = []
    if sub is None and group in own:
        buttons = [("Nộp báo cáo quý", f"tsubmit:ask:{group}:{year}-{q}")]
    _send_report(ctx, year, q, group, buttons)
    if sub is not None:
        from bot.clock import fmt_local
        ctx.reply(f"Tổ đã nộp báo cáo này lúc {fmt_local(sub.submitted_at)}.")


def _year_quarter(s: str) -> tuple[int | None, int | None]:
    """"2026-3" from a button; None, None for anything else (forged or stale data)."""
    y, _, q = s.partition("-")
    year, quarter = parse_int(y, 2000, 2100), parse_int(q, 0, 4)
    return (year, quarter) if year is not None and quarter is not None else (None, None)


def cb_submit(ctx: Context, payload: str) -> None:
    action, group, yq = (payload.split(":") + ["", ""])[:3]
    year, q = _year_quarter(yq)
    if year is None:
        ctx.reply("Nút này đã hết hiệu lực. Bạn gõ /baocaoto để xem lại nhé.")
        return
    if group not in R.groups_of(ctx.session, ctx.person.id, R.TEAM_LEADER):
        ctx.reply("Chỉ tổ trưởng của tổ mới nộp được báo cáo của tổ.")
        return
    if S.submission(ctx.session, group, year, q) is not None:
        ctx.reply(f"Tổ đã nộp báo cáo {C.quarter_label(year, q)} rồi.")
        return
    if action == "ask":
        n = len(REP.sessions_between(ctx.session, *C.quarter_days(year, q), group))
        warn = " Tổ chưa ghi nhận buổi nào trong quý này." if n == 0 else ""
        ctx.reply(f"Nộp báo cáo {C.quarter_label(year, q)} của tổ ({n} buổi hỗ trợ)?{warn} Sau khi nộp, các buổi "
                  "trong quý sẽ được khóa, không sửa hay ghi thêm được.",
                  buttons=[("Xác nhận nộp", f"tsubmit:do:{group}:{year}-{q}"), ("Chưa nộp", "tsubmit:no")])
        return
    if action != "do":
        ctx.reply("Dạ, chưa nộp. Khi sẵn sàng bạn gõ /baocaoto nhé.")
        return
    ctx.session.add(TeamSubmission(group_code=group, year=year, quarter=q, submitted_by=ctx.person.id,
                                   submitted_at=ctx.now))
    ctx.session.flush()
    ctx.audit("team_report_submitted", "team", group, year=year, quarter=q)
    name = ctx.app.profile.group(group).name
    ctx.reply(f"Đã nộp báo cáo {C.quarter_label(year, q)} của {name}. Cảm ơn tổ!")
    staff = ctx.app.profile.staff_chat
    if staff:
        ctx.notify(staff.channel, staff.chat_id,
                   f"Tổ CNSCĐ {name} đã nộp báo cáo {C.quarter_label(year, q)}. Xem báo cáo phường: /baocaophuong",
                   dedupe_key=f"teams:submitted:{group}:{year}-{q}")


def cmd_submit(ctx: Context, args: str) -> None:
    own = sorted(R.groups_of(ctx.session, ctx.person.id, R.TEAM_LEADER))
    yq = C.parse_quarter(args, ctx.now)
    if not own or yq is None:
        ctx.reply("Cách dùng (tổ trưởng): /nopbaocao [quý/năm], ví dụ /nopbaocao 4/2026.")
        return
    cb_submit(ctx, f"ask:{own[0]}:{yq[0]}-{yq[1]}")


# --- staff ---------------------------------------------------------------------------------------
def cmd_ward_report(ctx: Context, args: str) -> None:
    yq = C.parse_quarter(args, ctx.now)
    if yq is None:
        ctx.reply("Mình chưa hiểu quý nào. Ví dụ: /baocaophuong 4/2026")
        return
    year, q = yq
    done = S.submission(ctx.session, C.WARD, year, q) is not None
    buttons = [] if done else [("Đã gửi báo cáo lên Sở", f"tward:{year}-{q}")]
    data = _send_report(ctx, year, q, None, buttons)
    late = [st.name for st in data.status if st.submitted_at is None]
    ctx.reply(("Các tổ chưa nộp: " + ", ".join(late)) if late else "Tất cả các tổ đã nộp báo cáo quý này.")


def _mark_ward(ctx: Context, year: int, quarter: int) -> None:
    what = f"báo cáo tổng kết năm {year}" if quarter == 0 else f"báo cáo {C.quarter_label(year, quarter)} của phường"
    if S.submission(ctx.session, C.WARD, year, quarter) is not None:
        ctx.reply(f"Đã ghi nhận {what} là đã gửi từ trước.")
        return
    ctx.session.add(TeamSubmission(group_code=C.WARD, year=year, quarter=quarter, submitted_by=ctx.person.id,
                                   submitted_at=ctx.now))
    ctx.audit("ward_report_submitted", "ward", C.WARD, year=year, quarter=quarter)
    ctx.reply(f"Đã ghi nhận {what} đã gửi. Các lời nhắc về hạn này sẽ dừng.")


def cb_ward(ctx: Context, payload: str) -> None:
    if not ctx.require(R.STAFF):
        return
    year, q = _year_quarter(payload)
    if year is None:
        ctx.reply("Nút này đã hết hiệu lực.")
        return
    _mark_ward(ctx, year, q)


def cmd_ward_done(ctx: Context, args: str) -> None:
    from nlu.normalize import fold
    t = fold(args).split()
    if t and t[0] == "nam" and len(t) == 2 and parse_int(t[1], 2000, 2100) is not None:
        return _mark_ward(ctx, int(t[1]), 0)
    yq = C.parse_quarter(args, ctx.now) if args.strip() else None
    if yq is None:
        ctx.reply("Cách dùng: /danop 4/2026 (báo cáo quý của phường đã gửi Sở) hoặc /danop nam 2026 (tổng kết năm).")
        return
    _mark_ward(ctx, *yq)


def cmd_reopen(ctx: Context, args: str) -> None:
    group, yq = _parse_group_quarter(ctx, args)
    if group is None or yq is None:
        ctx.reply("Cách dùng: /mokhoa tdp-01 4/2026 (mở lại để tổ sửa và nộp lại báo cáo quý).")
        return
    if S.reopen_quarter(ctx.session, group, *yq, ctx.now, ctx.person.id, "chat") is None:
        ctx.reply(f"{ctx.app.profile.group(group).name} chưa nộp báo cáo {C.quarter_label(*yq)}, không cần mở lại.")
        return
    ctx.reply(f"Đã mở lại báo cáo {C.quarter_label(*yq)} của {ctx.app.profile.group(group).name}; "
              "tổ trưởng cần nộp lại sau khi chỉnh sửa.")
    leader = S.leader_of(ctx.session, group)
    if leader:
        ctx.notify(leader.channel, leader.chat_id, Reply(
            f"Cán bộ phường đã mở lại báo cáo {C.quarter_label(*yq)} của tổ để chỉnh sửa. Xong bạn gõ /baocaoto "
            "và nộp lại nhé."))


# --- a session logged after the quarter was submitted ----------------------------------------------
def cb_late(ctx: Context, payload: str) -> None:
    """The leader's answer to "a member logged a session after the quarter was submitted":
    reopen the quarter (the late sessions count, the leader submits again) or leave it."""
    action, group, yq = (payload.split(":") + ["", ""])[:3]
    year, q = _year_quarter(yq)
    if year is None or not q or ctx.app.profile.group(group) is None:
        ctx.reply("Nút này đã hết hiệu lực.")
        return
    is_staff = ctx.has_role(R.STAFF)
    if group not in R.groups_of(ctx.session, ctx.person.id, R.TEAM_LEADER) and not is_staff:
        ctx.reply("Chỉ tổ trưởng của tổ mới quyết định được việc này.")
        return
    label = C.quarter_label(year, q)
    if action == "keep":
        ctx.reply(f"Dạ, báo cáo {label} giữ nguyên; các buổi ghi sau khi nộp không được tính vào.")
        return
    if action != "open":
        ctx.reply("Nút này đã hết hiệu lực.")
        return
    if S.submission(ctx.session, C.WARD, year, q) is not None and not is_staff:
        ctx.reply(f"Phường đã gửi báo cáo {label} lên Sở nên không mở lại từ đây được. "
                  "Nếu cần điều chỉnh, bạn báo cán bộ phường nhé.")
        return
    n = S.reopen_quarter(ctx.session, group, year, q, ctx.now, ctx.person.id, "late_session")
    if n is None:
        ctx.reply(f"Báo cáo {label} của tổ đang mở rồi. Xong bạn gõ /baocaoto và nộp lại nhé.")
        return
    name = ctx.app.profile.group(group).name
    ctx.reply(f"Đã mở lại báo cáo {label} của {name}; {n} buổi ghi sau khi nộp nay được tính vào. "
              "Bạn xem lại rồi nộp lại bằng /baocaoto nhé.")
    staff = ctx.app.profile.staff_chat
    if staff:
        ctx.notify(staff.channel, staff.chat_id,
                   f"{S.person_name(ctx.person)} đã mở lại báo cáo {label} của tổ CNSCĐ {name} để tính thêm "
                   f"{n} buổi ghi sau khi nộp; tổ sẽ nộp lại.",
                   dedupe_key=f"teams:late-reopened:{group}:{year}-{q}:{ctx.now.timestamp():.0f}")
