"""Staff side of the Zalo OA channel: messages the OA could not carry (held, undeliverable),
and the OA admin's command line (one-time consent, token status)."""
from __future__ import annotations

import argparse
import sys

from sqlmodel import select

from bot import roles as R
from bot.clock import fmt_local
from bot.context import Context

LIST_LIMIT = 20


def cmd_held(ctx: Context, args: str) -> None:
    """/oachuagui: proactive messages the Zalo OA refused (outside its windows or quota) that had
    no other way to reach the resident; they are marked seen once listed."""
    from bot.channels.zalo_oa_models import ZaloOaFallback
    rows = list(ctx.session.exec(select(ZaloOaFallback).where(ZaloOaFallback.route == "held",
                                                               ZaloOaFallback.seen_at.is_(None))
                                 .order_by(ZaloOaFallback.at).limit(LIST_LIMIT)))
    if not rows:
        ctx.reply("Không có tin nhắn Zalo OA nào bị giữ lại.")
        return
    lines = [f"Tin nhắn Zalo OA chưa gửi được ({len(rows)}): ngoài khung 48 giờ/7 ngày hoặc hết hạn mức của OA, "
             "cư dân chưa có số điện thoại đồng ý nhận ZNS và không dùng kênh khác. Cán bộ liên hệ trực tiếp nếu cần."]
    for f in rows:
        lines.append(f"• {fmt_local(f.at)}, người dùng OA {f.user_id}: {(f.text or '')[:120]}")
        f.seen_at = ctx.now
        ctx.session.add(f)
    ctx.reply("\n".join(lines))


def register(r) -> None:
    r.command("oachuagui", "tin nhắn Zalo OA chưa gửi được (cán bộ)", roles=(R.STAFF, R.ADMIN))(cmd_held)


def register_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("zalo-oa", help="the ward's Zalo Official Account: consent and tokens")
    ps = p.add_subparsers(dest="zalo_oa_command", required=True)
    ps.add_parser("connect", help="print the one-time consent URL for the OA admin (OAuth v4 with PKCE)") \
        .set_defaults(func=_cli_connect)
    ps.add_parser("status", help="where the OA's tokens stand").set_defaults(func=_cli_status)


def _cli_connect(args, app) -> int:
    from bot.channels.zalo_oa import CALLBACK_PATH, TokenError, start_consent
    try:
        url = start_consent(app)
    except TokenError as e:
        print(f"lỗi: {e}", file=sys.stderr)
        return 1
    print("Quản trị viên OA mở đường link này, đăng nhập Zalo và bấm Cho phép (hiệu lực 1 giờ):")
    print(url)
    print(f"Zalo sẽ chuyển về {app.settings.public_url.rstrip('/')}{CALLBACK_PATH}; `python -m bot serve` phải đang chạy "
          "ở địa chỉ đó. Đường link này phải được khai báo là Callback URL của ứng dụng trên Zalo for Developers.")
    return 0


def _cli_status(args, app) -> int:
    from bot.channels.zalo_oa_models import ZaloOaToken
    with app.db.session() as s:
        row = s.get(ZaloOaToken, 1)
    if row is None or not row.refresh_token:
        print("chưa có mã: chạy `python -m bot zalo-oa connect` (hoặc đặt ZALO_OA_ACCESS_TOKEN và "
              "ZALO_OA_REFRESH_TOKEN cho lần khởi động đầu)")
        return 1
    print(f"nguồn: {row.source}; cập nhật {fmt_local(row.updated_at)}; đã làm mới {row.refreshes} lần")
    print("mã truy cập hết hạn: " + (fmt_local(row.access_expires_at) if row.access_expires_at else "chưa biết"))
    print("mã làm mới hết hạn (ước tính): " + (fmt_local(row.refresh_expires_at) if row.refresh_expires_at else "chưa biết"))
    if row.last_error:
        print(f"lỗi gần nhất: {row.last_error}")
    return 0
