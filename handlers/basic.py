"""Greeting, help, privacy notice, erasing one's own data, small talk."""
from __future__ import annotations

from sqlmodel import delete, select, update

from bot.context import Context
from bot.models import Conversation, Handoff, OutboxMessage, Person, RoleGrant
from bot.router import Router

ERASE_CONFIRM = "xoa"


def _greeting(ctx: Context) -> str:
    p = ctx.app.profile
    return (f"Xin chào! Mình là Trợ lý số của {p.ward.name}.\n"
            "Mình có thể giúp bạn:\n"
            "• Hỏi đáp thủ tục hành chính: khai sinh, kết hôn, cư trú, căn cước, VNeID, đất đai, "
            "hộ kinh doanh, trợ cấp xã hội... Cứ gõ câu hỏi, có dấu hay không dấu đều được.\n"
            "• Gửi phản ánh về rác thải, lấn chiếm vỉa hè, tiếng ồn, đèn đường, ngập úng... kèm ảnh và vị trí.\n"
            "• Đăng ký nhận thông báo lớp \"Bình dân học vụ số\" miễn phí.\n"
            "Gõ /help để xem các lệnh, /privacy để biết mình lưu thông tin gì.")


def cmd_start(ctx: Context, args: str) -> None:
    ctx.reply(_greeting(ctx))


def cmd_help(ctx: Context, args: str) -> None:
    lines = ["Các lệnh bạn có thể dùng:"]
    for spec in ctx.app.router.menu(ctx.roles):
        lines.append(f"/{spec.name} - {spec.help}")
    lines.append("/huy - hủy việc đang làm dở")
    lines.append("Hoặc cứ gõ câu hỏi của bạn, ví dụ: \"làm giấy khai sinh cho con cần gì\".")
    ctx.reply("\n".join(lines))


def cmd_privacy(ctx: Context, args: str) -> None:
    p = ctx.app.profile
    r = p.retention
    ctx.reply(
        "Thông báo về dữ liệu cá nhân (theo Nghị định 13/2023/NĐ-CP):\n"
        f"• Mình lưu: mã tài khoản chat, tên hiển thị, nội dung bạn gửi, ảnh và vị trí bạn chia sẻ khi phản ánh, "
        "số điện thoại nếu bạn tự cung cấp.\n"
        f"• Để làm gì: trả lời câu hỏi, chuyển phản ánh tới đơn vị xử lý của {p.ward.name} và báo kết quả cho bạn. "
        "Không dùng vào mục đích khác, không bán hay chia sẻ cho bên ngoài.\n"
        f"• Lưu bao lâu: hội thoại và tin nhắn đã gửi {r.conversation_days} ngày (tự xóa hằng đêm); phản ánh "
        f"{r.reports_days // 365} năm để phường theo dõi, thống kê.\n"
        "• Bạn có thể chọn phản ánh ẩn danh, và gõ /xoadulieu bất cứ lúc nào để xóa dữ liệu của mình.\n"
        f"Thắc mắc xin liên hệ {p.centre.name}, điện thoại {p.centre.phone}.")


ERASE_ASKED = "erase_asked"  # conv.data mark: in a group, only the member who typed /xoadulieu confirms


def cmd_erase(ctx: Context, args: str) -> None:
    if ctx.msg.is_group:  # the member's own conversation row (engine._member)
        ctx.conv.data = {**(ctx.conv.data or {}), ERASE_ASKED: True}
    ctx.reply("Bạn có chắc muốn xóa dữ liệu của mình không? Hội thoại, thông tin liên hệ, đăng ký nhận tin "
              "sẽ bị xóa; phản ánh đã gửi được giữ lại cho phường nhưng bỏ thông tin nhận diện bạn.",
              buttons=[("Xóa dữ liệu của tôi", f"erase:{ERASE_CONFIRM}"), ("Không xóa", "erase:no")])


def cb_erase(ctx: Context, payload: str) -> None:
    asked = bool((ctx.conv.data or {}).get(ERASE_ASKED))
    if asked:
        ctx.conv.data = {k: v for k, v in ctx.conv.data.items() if k != ERASE_ASKED}
    if ctx.msg.is_group and not asked:  # another member's prompt: never erase the one who pressed
        ctx.reply("Nút này dành cho người đã gõ /xoadulieu. Muốn xóa dữ liệu của bạn, bạn gõ /xoadulieu nhé.")
        return
    if payload != ERASE_CONFIRM:
        ctx.reply("Đã giữ nguyên dữ liệu của bạn.")
        return
    s, person = ctx.session, ctx.person
    pid = person.id
    idents = _identifiers(ctx)  # before the hooks clear the places they are read from
    private = _private_chats(ctx)
    for hook in ctx.app.router.erasure_hooks:  # reports, class seats, tokens, update marks...
        hook(ctx)
    for h in s.exec(select(Handoff).where(Handoff.person_id == pid)):
        h.person_id, h.contact, h.chat_id = None, None, "erased"
        if h.status == "open":
            h.status = "closed"  # nobody left to answer
        s.add(h)
    s.exec(delete(RoleGrant).where(RoleGrant.person_id == pid))
    for c in s.exec(select(Conversation).where(Conversation.person_id == pid)):
        if c.id == ctx.conv.id:
            continue
        if c.flow_owner_id not in (None, pid):  # a group's old shared row holding another member's form
            c.person_id = None
            s.add(c)
        else:
            s.delete(c)
    for c in s.exec(select(Conversation).where(Conversation.flow_owner_id == pid)):
        if c.id != ctx.conv.id:  # their half-filled form in a group goes too
            c.flow, c.step, c.data, c.flow_owner_id = None, None, {}, None
            s.add(c)
    for chat in private:  # messages to the person: none goes out any more, none says to whom or what
        to_me = (OutboxMessage.channel == person.channel, OutboxMessage.chat_id == chat)
        s.exec(update(OutboxMessage).where(*to_me, OutboxMessage.status.in_(("pending", "sending")))
               .values(status="cancelled"))
        s.exec(update(OutboxMessage).where(*to_me).values(chat_id="erased", payload={}, dedupe_key=None))
    ctx.end_flow()
    s.flush()
    redact_everywhere(s, idents, skip={Person.__tablename__})
    # The row stays (audit trails point at it) but says nothing about anyone: a new message
    # from the same account starts a new, unrelated record.
    person.display_name, person.full_name, person.phone = None, None, None
    person.channel_user_id, person.chat_id = f"erased-{pid}", ""
    s.add(person)
    ctx.erased = True  # the engine keeps neither this chat's state nor this message's mark
    ctx.audit("erase_personal_data", "person", pid)
    ctx.reply("Đã xóa dữ liệu của bạn. Cảm ơn bạn đã sử dụng Trợ lý số.")


MIN_NAME, MIN_ID = 5, 6  # shorter strings would match unrelated text


def _identifiers(ctx: Context) -> set[str]:
    """What identifies the person in free text and payloads: chat and account ids, names and
    phone numbers (their own and those left on their reports and questions)."""
    from handlers.reports.models import Report
    s, p = ctx.session, ctx.person
    names = {p.display_name, p.full_name, ctx.msg.user_name}
    phones = {p.phone}
    for r in s.exec(select(Report).where(Report.person_id == p.id)):
        names.add(r.contact_name)
        phones.update((r.contact_phone, r.contact_email))
    for h in s.exec(select(Handoff).where(Handoff.person_id == p.id)):
        phones.add(h.contact)
    out = {x.strip() for x in names if x and len(x.strip()) >= MIN_NAME}
    out |= {x.strip() for x in phones if x and len(x.strip()) >= 6}
    # the account's id and its private chat's (the same); never a group's id, which a person first
    # seen in a group has as chat_id: the group's reports, messages and members' forms would lose it
    own_chat = p.chat_id if p.chat_id == p.channel_user_id else None
    out |= {x for x in (own_chat, p.channel_user_id) if x and len(x) >= MIN_ID}
    return out


def _private_chats(ctx: Context) -> set[str]:
    """The person's own chats (never a group or a configured staff chat they wrote in)."""
    prof = ctx.app.profile
    shared = {c.chat_id for c in (prof.staff_chat, prof.leadership_chat, *(u.chat for u in prof.units)) if c}
    chats = {ctx.msg.chat_id} if not ctx.msg.is_group else set()
    if ctx.person.chat_id and ctx.person.chat_id == ctx.person.channel_user_id:  # a private chat's id is the account's
        chats.add(ctx.person.chat_id)
    return chats - shared


REDACTED = "[đã xóa]"


def redact_everywhere(s, idents: set[str], skip: set[str] = frozenset()) -> int:
    """Replace the identifiers in every text and JSON column of every table (but keys): copies
    of a phone number or a name in staff cards, stored replies, notes. Returns rows changed."""
    import json

    from sqlalchemy import JSON, Text, cast, or_, update as sa_update
    from sqlmodel import SQLModel

    if not idents:
        return 0
    changed = 0
    for table in SQLModel.metadata.sorted_tables:
        if table.name in skip:
            continue
        cols = [c for c in table.columns if not c.primary_key and not c.foreign_keys and _textual(c.type)]
        if not cols:
            continue
        pk = list(table.primary_key.columns)
        for col in cols:
            is_json = isinstance(col.type, JSON)
            target = cast(col, Text) if is_json else col
            pats = set(idents) | ({json.dumps(i)[1:-1] for i in idents} if is_json else set())
            rows = s.connection().execute(
                table.select().with_only_columns(*pk, col).where(or_(*(target.contains(p, autoescape=True)
                                                                       for p in pats)))).all()
            for row in rows:
                value = row[-1]
                new = _redact(value, idents)
                if new != value:
                    s.connection().execute(sa_update(table).where(*(c == v for c, v in zip(pk, row[:-1])))
                                           .values({col.name: new}))
                    changed += 1
    return changed


def _textual(t) -> bool:
    from sqlalchemy import JSON, String
    impl = getattr(t, "impl", t)  # TypeDecorators (sqlmodel's AutoString) wrap a String
    return isinstance(t, (String, JSON)) or isinstance(impl, (String, JSON))


def _redact(value, idents: set[str]):
    if isinstance(value, str):
        for i in sorted(idents, key=len, reverse=True):
            value = value.replace(i, REDACTED)
        return value
    if isinstance(value, list):
        return [_redact(v, idents) for v in value]
    if isinstance(value, dict):
        return {k: _redact(v, idents) for k, v in value.items()}
    return value


SMALLTALK = {
    "greet": "Chào {you}! {You} cần hỏi thủ tục gì hay muốn phản ánh việc gì ở khu phố, cứ nhắn {me} nhé.",
    "thanks": "Dạ không có gì ạ. {You} cần gì thêm cứ nhắn {me} nhé!",
    "goodbye": "Chào {you}, chúc {you} một ngày tốt lành!",
    "affirm": "Dạ vâng. {You} cần {me} giúp gì tiếp ạ?",
    "deny": "Dạ vâng. {You} cần gì cứ nhắn {me} nhé.",
}


def on_smalltalk(ctx: Context) -> None:
    from nlu.dialogue import speak
    u = getattr(ctx, "understanding", None)
    intent = getattr(u, "intent", None) or "greet"
    if intent == "bot_identity":
        ctx.reply(_greeting(ctx))
    else:
        # how the person names themselves ("bà", "cháu"): answered in kind (handlers/faq.py)
        ctx.reply(speak(SMALLTALK.get(intent, SMALLTALK["greet"]), getattr(ctx.person, "address_term", None)))


def register(r: Router) -> None:
    r.command("start", "bắt đầu, giới thiệu trợ lý", keeps_flow=True)(cmd_start)
    r.command("help", "xem hướng dẫn và các lệnh", keeps_flow=True, aliases=("trogiup",))(cmd_help)
    r.command("privacy", "dữ liệu cá nhân được lưu thế nào", keeps_flow=True, aliases=("baomat",))(cmd_privacy)
    r.command("xoadulieu", "xóa dữ liệu của bạn")(cmd_erase)
    r.callback("erase")(cb_erase)
    r.on_kind("smalltalk", on_smalltalk)
