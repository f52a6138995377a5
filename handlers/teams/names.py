"""Asking a new team member's full name once, when they join (/nhapma with a team invite), so
the leader, the roster, the session summaries and the quarter's XLSX show who went, not
"Thành viên #93". Not a form: the next message is taken as the name only when it reads like one;
anything else (a session typed straight away, a question) goes on as usual and the question is
not asked again. /hoten sets or corrects the name at any time."""
from __future__ import annotations

from bot import roles as R
from bot.context import Context
from bot.people import clean_full_name
from nlu.normalize import fold

KEY = "await_full_name"  # in the conversation data, outside any form
MAX_SHOWN = 40  # the display name inside a button label
# First words of replies that are not names ("cảm ơn", "ok", "vâng ạ", "chào bạn"...)
NOT_NAMES = {"cam", "ok", "oke", "okay", "vang", "da", "chao", "xin", "hi", "hello", "toi", "minh", "khong", "ko",
             "co", "sao", "gi", "lam", "hoi", "cho", "bo", "huy", "thoi", "roi", "uh", "u", "dc", "duoc", "tam",
             "help", "tro", "giup"}


def _buttons(ctx: Context) -> list[tuple[str, str]]:
    shown = " ".join((ctx.person.display_name or "").split())
    use = [(f"Dùng tên {shown[:MAX_SHOWN]}", "tname:use")] if shown else []
    return use + [("Bỏ qua", "tname:skip")]


def ask_name_once(ctx: Context) -> None:
    """Called after a team role was granted: never over an open form, never when a name was given
    or the question skipped before ("" in full_name, as bot.forms.keep_name records it)."""
    if ctx.person.full_name is not None or ctx.conv.flow:
        return
    ctx.conv.data = {**(ctx.conv.data or {}), KEY: True}
    ctx.reply("Bạn cho mình biết họ tên đầy đủ để tổ trưởng và cán bộ phường biết ai đã đi hỗ trợ nhé "
              "(ví dụ: Nguyễn Thị Hoa).", buttons=_buttons(ctx))


def _forget(ctx: Context) -> None:
    if (ctx.conv.data or {}).get(KEY):
        ctx.conv.data = {k: v for k, v in ctx.conv.data.items() if k != KEY}


def _looks_like_name(text: str) -> str | None:
    name = clean_full_name(text)
    if name is None or len(name.split()) < 2 or fold(name).split()[0] in NOT_NAMES:
        return None
    return name


def _store(ctx: Context, name: str) -> None:
    ctx.person.full_name = name
    ctx.session.add(ctx.person)
    ctx.audit("person_named", "person", ctx.person.id)


def on_text(ctx: Context) -> bool:
    """The answer to the question, when the next message reads like a full name."""
    if ctx.conv.flow or not (ctx.conv.data or {}).get(KEY) or ctx.msg.is_group:
        return False
    _forget(ctx)
    name = _looks_like_name(ctx.msg.text or "")
    if name is None:
        return False
    _store(ctx, name)
    ctx.reply(f"Cảm ơn {name}! Gõ /ghinhan để ghi nhận buổi hỗ trợ, /help để xem các chức năng khác. "
              "(Sửa tên: /hoten)")
    return True


def cb_name(ctx: Context, payload: str) -> None:
    _forget(ctx)
    if payload == "use" and ctx.person.display_name and not ctx.person.full_name:
        name = " ".join(ctx.person.display_name.split())[:120]
        _store(ctx, name)
        ctx.reply(f"Cảm ơn {name}! Sửa tên bất cứ lúc nào: /hoten Họ Tên")
        return
    if ctx.person.full_name is None:
        ctx.person.full_name = ""  # skipped: never asked again
        ctx.session.add(ctx.person)
    ctx.reply("Dạ vâng. Gõ /help để xem các chức năng dành cho bạn.")


def cmd_full_name(ctx: Context, args: str) -> None:
    if not args.strip():
        now = f"Họ tên cán bộ phường đang thấy: {ctx.person.full_name}. " if ctx.person.full_name else ""
        ctx.reply(f"{now}Đặt họ tên: /hoten Nguyễn Thị Hoa")
        return
    name = clean_full_name(args)
    if name is None:
        ctx.reply("Họ tên chỉ gồm chữ (tối đa 7 từ), ví dụ: /hoten Nguyễn Thị Hoa")
        return
    _store(ctx, name)
    ctx.reply(f"Đã lưu họ tên: {name}.")


def register(r) -> None:
    r.on_text(on_text)
    r.callback("tname")(cb_name)
    r.command("hoten", "đặt họ tên để cán bộ phường và tổ trưởng thấy", keeps_flow=True)(cmd_full_name)
