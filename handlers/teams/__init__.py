"""Community digital-technology teams (Tổ công nghệ số cộng đồng): roster, session logging,
quarterly reports, deadline reminders. See /work/shared/spec/team-report.md."""
from __future__ import annotations

from bot import roles as R
from bot.router import Router
from handlers.teams import commands, form, names, reminders, roster
from handlers.teams.web import register_routes  # noqa: F401  (mounted by bot.server)

MEMBERS, LEADERS, STAFF = (R.TEAM_MEMBER,), (R.TEAM_LEADER,), (R.STAFF,)


def register(r: Router) -> None:
    r.flow(form.SessionFlow())
    r.command("ghinhan", "ghi nhận một buổi hỗ trợ của tổ (tổ CNSCĐ)", roles=MEMBERS)(form.cmd_log)
    r.command("buoicuatoi", "các buổi hỗ trợ bạn đã ghi (tổ CNSCĐ)", roles=MEMBERS)(commands.cmd_my_sessions)
    r.command("suaghinhan", "sửa một buổi đã ghi (tổ CNSCĐ)", roles=MEMBERS)(commands.cmd_edit)
    r.callback("tsess")(commands.cb_session)
    r.command("baocaoto", "báo cáo quý của tổ (tổ trưởng)", roles=(R.TEAM_LEADER, R.STAFF))(commands.cmd_team_report)
    r.command("nopbaocao", "nộp báo cáo quý của tổ (tổ trưởng)", roles=LEADERS)(commands.cmd_submit)
    r.callback("tsubmit")(commands.cb_submit)
    r.callback("tlate")(commands.cb_late)
    r.command("baocaophuong", "báo cáo quý toàn phường của các tổ CNSCĐ (cán bộ)", roles=STAFF)(
        commands.cmd_ward_report)
    r.callback("tward")(commands.cb_ward)
    r.command("danop", "đánh dấu báo cáo phường đã gửi Sở (cán bộ)", roles=STAFF)(commands.cmd_ward_done)
    r.command("mokhoa", "mở lại báo cáo quý đã nộp của một tổ (cán bộ)", roles=STAFF)(commands.cmd_reopen)
    r.command("doi", "danh sách tổ CNSCĐ và thành viên (cán bộ)", roles=STAFF)(roster.cmd_teams)
    r.command("chuyendoi", "chuyển thành viên sang tổ khác, giao tổ trưởng (cán bộ)", roles=STAFF)(roster.cmd_move)
    r.command("xoathanhvien", "xóa thành viên khỏi tổ CNSCĐ (cán bộ)", roles=STAFF)(roster.cmd_remove)
    names.register(r)  # before form.on_text: a name answered is not a session
    r.on_text(form.on_text)
    r.on_erase(_erase)
    r.on_startup(reminders.on_startup)


def _erase(ctx) -> None:
    """A team member's logged sessions stay in the ward's figures, without who went."""
    from sqlmodel import select

    from handlers.teams.models import TeamSession
    pid = ctx.person.id
    for row in ctx.session.exec(select(TeamSession)):
        if row.author_id == pid or pid in (row.members or []):
            row.author_id = None if row.author_id == pid else row.author_id
            row.members = [m for m in (row.members or []) if m != pid]
            ctx.session.add(row)


def register_cli(sub) -> None:
    from handlers.teams import cli
    cli.register_cli(sub)
