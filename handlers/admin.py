"""Roles by invite code: staff enrol team members, admins make staff. Nobody promotes themselves."""
from __future__ import annotations

import argparse
from datetime import timedelta

from bot import roles as R
from bot import tokens
from bot.clock import fmt_local
from bot.context import Context
from bot.router import Router

# What staff type after /moi, and the role it means.
ROLE_WORDS = {
    "thanhvien": R.TEAM_MEMBER, "totruong": R.TEAM_LEADER, "canbo": R.STAFF, "quantri": R.ADMIN,
}
_USAGE = ("Cách dùng: /moi VAITRO [TỔ]\n"
          "VAITRO: thanhvien, totruong (cần mã tổ, ví dụ tdp-01), canbo, quantri.\n"
          "Ví dụ: /moi thanhvien tdp-01")


def cmd_invite(ctx: Context, args: str) -> None:
    parts = args.split()
    if not parts or parts[0].lower() not in ROLE_WORDS:
        ctx.reply(_USAGE)
        return
    role = ROLE_WORDS[parts[0].lower()]
    allowed = set()
    for mine in ctx.roles:
        allowed |= R.GRANTABLE_BY.get(mine, set())
    if role not in allowed:
        ctx.reply(f"Bạn không có quyền tạo mã mời cho vai trò {R.ROLE_LABELS[role]}.")
        return
    group = parts[1].lower() if len(parts) > 1 else None
    if role in (R.TEAM_MEMBER, R.TEAM_LEADER):
        if not group or ctx.app.profile.group(group) is None:
            codes = ", ".join(g.code for g in ctx.app.profile.residential_groups)
            ctx.reply(f"Bạn cần ghi mã tổ dân phố. Các mã hiện có: {codes}.")
            return
    else:
        group = None
    inv = R.create_invite(ctx.session, role, ctx.now, created_by=ctx.person.id, group_code=group)
    ctx.audit("invite_created", "invite", inv.key, role=role, group=group)
    where = f" ({ctx.app.profile.group(group).name})" if group else ""
    ctx.reply(f"Mã mời {R.ROLE_LABELS[role]}{where}: {inv.code}\n"
              f"Người nhận gõ /nhapma {inv.code} trong khung chat với Trợ lý. "
              f"Mã dùng một lần, hết hạn lúc {fmt_local(inv.expires_at)}.")


REDEEM_LIMIT, REDEEM_WINDOW = 5, timedelta(minutes=10)  # guessing codes must stay hopeless


def cmd_redeem(ctx: Context, args: str) -> None:
    if not args.strip():
        ctx.reply("Bạn gõ /nhapma kèm mã mời được cán bộ phường gửi, ví dụ: /nhapma AB3D5F7H")
        return
    from handlers.safety import rate_allowed
    if not rate_allowed(ctx.session, f"nhapma:{ctx.msg.channel}:{ctx.msg.chat_id}", REDEEM_LIMIT,
                        REDEEM_WINDOW, ctx.now):
        ctx.reply("Bạn đã nhập mã quá nhiều lần. Bạn đợi khoảng 10 phút rồi thử lại, "
                  "hoặc xin cán bộ phường kiểm tra lại mã nhé.")
        return
    try:
        g = R.redeem_invite(ctx.session, args, ctx.person, ctx.now)
    except R.InviteError as e:
        ctx.reply(str(e))
        return
    ctx.audit("role_granted", "person", ctx.person.id, role=g.role, group=g.group_code, via="invite")
    where = ""
    if g.group_code and ctx.app.profile.group(g.group_code):
        where = f" của {ctx.app.profile.group(g.group_code).name}"
    ctx.reply(f"Chào mừng bạn! Bạn đã được ghi nhận là {R.ROLE_LABELS[g.role]}{where}. "
              "Gõ /help để xem các chức năng dành cho bạn.")
    if g.role in (R.TEAM_MEMBER, R.TEAM_LEADER):  # the team's lists and sheets show who went
        from handlers.teams.names import ask_name_once
        ask_name_once(ctx)


def cmd_whoami(ctx: Context, args: str) -> None:
    grants = R.active_grants(ctx.session, ctx.person.id)
    if not grants:
        ctx.reply("Bạn đang dùng Trợ lý với vai trò người dân.")
        return
    lines = ["Vai trò của bạn:"]
    for g in grants:
        grp = ctx.app.profile.group(g.group_code) if g.group_code else None
        lines.append(f"• {R.ROLE_LABELS[g.role]}" + (f" - {grp.name}" if grp else ""))
    ctx.reply("\n".join(lines))


def cmd_token(ctx: Context, args: str) -> None:
    if args.strip().lower() in ("huy", "hủy"):
        n = tokens.revoke(ctx.session, ctx.person.id, ctx.now)
        ctx.audit("api_token_revoked", "person", ctx.person.id, count=n)
        ctx.reply(f"Đã thu hồi {n} mã truy cập của bạn.")
        return
    token, expires = tokens.issue(ctx.session, ctx.person.id, ctx.now)
    ctx.audit("api_token_issued", "person", ctx.person.id)
    y = ctx.now.year
    ctx.reply("Mã truy cập cá nhân của bạn (chỉ hiện một lần; mã cũ nếu có đã hết hiệu lực):\n"
              f"{token}\n"
              f"Dùng đến {fmt_local(expires)}, trong tiêu đề \"Authorization: Bearer MÃ\":\n"
              f"• tải báo cáo tổ: GET /reports/teams/{y}/q1.xlsx (toàn phường) hoặc /reports/teams/{y}/q1/tdp-01.xlsx\n"
              "• lớp học (cán bộ): POST /api/classes\n"
              "Đừng chia sẻ mã này. Gõ /matai để đổi mã, /matai huy để thu hồi.")


def erase_tokens(ctx: Context) -> None:
    tokens.erase(ctx.session, ctx.person.id)


def register(r: Router) -> None:
    r.command("nhapma", "nhập mã mời để nhận vai trò", keeps_flow=True)(cmd_redeem)
    r.command("vaitro", "xem vai trò của bạn", keeps_flow=True)(cmd_whoami)
    r.command("moi", "tạo mã mời (cán bộ)", roles=(R.STAFF, R.ADMIN))(cmd_invite)
    r.command("matai", "mã truy cập cá nhân cho tải báo cáo và API (cán bộ, tổ trưởng)",
              roles=(R.STAFF, R.TEAM_LEADER), aliases=("tokenapi",))(cmd_token)
    r.on_erase(erase_tokens)


def register_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("invite", help="create a one-time invite code (bootstraps the first admin)")
    p.add_argument("--role", required=True, choices=list(R.ROLES))
    p.add_argument("--group", help="residential group code, for team roles")
    p.add_argument("--days", type=int, default=7)
    p.set_defaults(func=_cli_invite)


def _cli_invite(args, app) -> int:
    if args.role in (R.TEAM_MEMBER, R.TEAM_LEADER) and not app.profile.group(args.group or ""):
        print("error: team roles need --group with a residential group code from the ward profile")
        return 2
    with app.db.session() as s:
        inv = R.create_invite(s, args.role, app.clock.now(), group_code=args.group, valid_days=args.days)
        code, exp = inv.code, inv.expires_at
    print(f"{code}  ({R.ROLE_LABELS[args.role]}, valid until {fmt_local(exp)}): send '/nhapma {code}' to the bot")
    return 0
