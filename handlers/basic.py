"""Greeting, help, privacy notice, erasing one's own data, small talk."""
from __future__ import annotations

from sqlmodel import delete, select

from bot.context import Context
from bot.models import Conversation, Handoff, Person, RoleGrant
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


def cmd_erase(ctx: Context, args: str) -> None:
    ctx.reply("Bạn có chắc muốn xóa dữ liệu của mình không? Hội thoại, thông tin liên hệ, đăng ký nhận tin "
              "sẽ bị xóa; phản ánh đã gửi được giữ lại cho phường nhưng bỏ thông tin nhận diện bạn.",
              buttons=[("Xóa dữ liệu của tôi", f"erase:{ERASE_CONFIRM}"), ("Không xóa", "erase:no")])


def cb_erase(ctx: Context, payload: str) -> None:
    if payload != ERASE_CONFIRM:
        ctx.reply("Đã giữ nguyên dữ liệu của bạn.")
        return
    for hook in ctx.app.router.erasure_hooks:
        hook(ctx)
    s, pid = ctx.session, ctx.person.id
    for h in s.exec(select(Handoff).where(Handoff.person_id == pid)):
        h.person_id, h.contact, h.chat_id = None, None, "erased"
        s.add(h)
    s.exec(delete(RoleGrant).where(RoleGrant.person_id == pid))
    for c in s.exec(select(Conversation).where(Conversation.person_id == pid)):
        if c.id != ctx.conv.id:
            s.delete(c)
    ctx.end_flow()
    person = s.get(Person, pid)
    person.display_name, person.phone = None, None
    s.add(person)
    ctx.audit("erase_personal_data", "person", pid)
    ctx.reply("Đã xóa dữ liệu của bạn. Cảm ơn bạn đã sử dụng Trợ lý số.")


SMALLTALK = {
    "greet": "Chào bạn! Bạn cần hỏi thủ tục gì hay muốn phản ánh việc gì ở khu phố, cứ nhắn mình nhé.",
    "thanks": "Dạ không có gì ạ. Bạn cần gì thêm cứ nhắn mình nhé!",
    "goodbye": "Chào bạn, chúc bạn một ngày tốt lành!",
    "affirm": "Dạ vâng. Bạn cần mình giúp gì tiếp ạ?",
    "deny": "Dạ vâng. Bạn cần gì cứ nhắn mình nhé.",
}


def on_smalltalk(ctx: Context) -> None:
    u = getattr(ctx, "understanding", None)
    intent = getattr(u, "intent", None) or "greet"
    if intent == "bot_identity":
        ctx.reply(_greeting(ctx))
    else:
        ctx.reply(SMALLTALK.get(intent, SMALLTALK["greet"]))


def register(r: Router) -> None:
    r.command("start", "bắt đầu, giới thiệu trợ lý", keeps_flow=True)(cmd_start)
    r.command("help", "xem hướng dẫn và các lệnh", keeps_flow=True, aliases=("trogiup",))(cmd_help)
    r.command("privacy", "dữ liệu cá nhân được lưu thế nào", keeps_flow=True, aliases=("baomat",))(cmd_privacy)
    r.command("xoadulieu", "xóa dữ liệu của bạn")(cmd_erase)
    r.callback("erase")(cb_erase)
    r.on_kind("smalltalk", on_smalltalk)
