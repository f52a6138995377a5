"""Staff manage the teams: list, move between teams (or make leader), remove."""
from __future__ import annotations

from bot import roles as R
from bot.context import Context
from bot.ids import parse_id
from bot.models import Person
from handlers.teams import service as S


def _group_name(ctx: Context, code: str) -> str:
    g = ctx.app.profile.group(code)
    return g.name if g else code


def cmd_teams(ctx: Context, args: str) -> None:
    code = args.strip().lower()
    groups = [g.code for g in ctx.app.profile.residential_groups]
    if code and code not in groups:
        ctx.reply(f"Không có tổ dân phố {code}. Các mã hiện có: {', '.join(groups)}.")
        return
    lines = []
    for gc in ([code] if code else groups):
        members = S.roster(ctx.session, gc)
        lines.append(f"{_group_name(ctx, gc)} ({gc}): {len(members)} người")
        if not members:
            lines.append("  (chưa có ai; tạo mã mời: /moi thanhvien " + gc + ")")
        for p, role in members:
            tag = " - tổ trưởng" if role == R.TEAM_LEADER else ""
            lines.append(f"  #{p.id} {S.person_name(p)}{tag}")
    lines.append("Chuyển tổ: /chuyendoi MÃ tdp-xx [totruong]; xóa khỏi tổ: /xoathanhvien MÃ")
    ctx.reply("\n".join(lines))


def _member(ctx: Context, token: str) -> Person | None:
    pid = parse_id(token.lstrip("#"))
    if pid is None:
        return None
    p = ctx.session.get(Person, pid)
    if p is None or S.team_of(ctx.session, p.id) is None:
        return None
    return p


def cmd_move(ctx: Context, args: str) -> None:
    parts = args.lower().split()
    usage = ("Cách dùng: /chuyendoi MÃ tdp-xx [totruong]. MÃ là số trước tên trong danh sách /doi. "
             "Ví dụ: /chuyendoi 12 tdp-02, hoặc /chuyendoi 12 tdp-02 totruong để giao làm tổ trưởng.")
    if len(parts) < 2 or (len(parts) > 2 and parts[2] not in ("totruong", "thanhvien")):
        ctx.reply(usage)
        return
    person = _member(ctx, parts[0])
    if person is None:
        ctx.reply(f"Không tìm thấy thành viên #{parts[0].lstrip('#')} trong các tổ. Xem danh sách: /doi")
        return
    group = parts[1]
    if ctx.app.profile.group(group) is None:
        ctx.reply(f"Không có tổ dân phố {group}. Các mã: {', '.join(g.code for g in ctx.app.profile.residential_groups)}.")
        return
    role = R.TEAM_LEADER if len(parts) > 2 and parts[2] == "totruong" else R.TEAM_MEMBER
    old = S.team_of(ctx.session, person.id)
    was_leader = R.TEAM_LEADER in R.roles_of(ctx.session, person.id)
    if old == group and role == R.TEAM_MEMBER and not was_leader:
        ctx.reply(f"{S.person_name(person)} đã ở {_group_name(ctx, group)} rồi.")
        return
    previous_leader = S.leader_of(ctx.session, group) if role == R.TEAM_LEADER else None
    R.grant(ctx.session, person, role, ctx.now, group_code=group, granted_by=ctx.person.id)
    ctx.audit("team_member_moved", "person", person.id, from_group=old, to_group=group, role=role)
    what = "tổ trưởng" if role == R.TEAM_LEADER else "thành viên"
    text = f"Đã chuyển {S.person_name(person)} sang {_group_name(ctx, group)}, làm {what}."
    if previous_leader is not None and previous_leader.id != person.id:
        text += f" {S.person_name(previous_leader)} thôi làm tổ trưởng và ở lại tổ làm thành viên."
    ctx.reply(text)
    ctx.notify(person.channel, person.chat_id,
               f"Cán bộ phường đã ghi nhận bạn là {what} Tổ công nghệ số cộng đồng {_group_name(ctx, group)}.")


def cmd_remove(ctx: Context, args: str) -> None:
    token = args.strip()
    person = _member(ctx, token) if token else None
    if person is None:
        ctx.reply("Cách dùng: /xoathanhvien MÃ (số trước tên trong danh sách /doi)." if not token else
                  f"Không tìm thấy thành viên #{token.lstrip('#')} trong các tổ. Xem danh sách: /doi")
        return
    group = S.team_of(ctx.session, person.id)
    n = R.revoke(ctx.session, person.id, R.TEAM_MEMBER, ctx.now) + R.revoke(ctx.session, person.id, R.TEAM_LEADER, ctx.now)
    ctx.audit("team_member_removed", "person", person.id, group=group, grants=n)
    ctx.reply(f"Đã xóa {S.person_name(person)} khỏi {_group_name(ctx, group)}. "
              "Các buổi hỗ trợ người này đã ghi vẫn được giữ trong báo cáo.")
