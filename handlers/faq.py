"""Procedure questions: answer from the knowledge base, ask back when unsure, and pass what the
bot cannot answer to ward staff (a handoff), whose answer then reaches the resident."""
from __future__ import annotations

from sqlmodel import select

from bot import roles as R
from bot.clock import fmt_local
from bot.context import Context
from bot.ids import digits_of, parse_id
from bot.models import Handoff
from bot.router import Flow, Router
from knowledge.kb import render_answer

MAX_QUESTION = 1000


def answer_topic(ctx: Context, topic: str) -> None:
    entry = ctx.app.kb.by_id.get(topic)
    if entry is None:
        ctx.reply("Xin lỗi, nội dung này không còn trong cơ sở tri thức. Bạn hỏi lại giúp mình nhé.")
        return
    ctx.reply(f"{entry.title}\n\n{render_answer(entry, ctx.app.profile)}")


def on_faq(ctx: Context) -> None:
    u = ctx.understanding  # type: ignore[attr-defined]
    if u.ambiguous and len(u.candidates) > 1:
        buttons = [(ctx.app.kb.by_id[t].title, f"faq:{t}") for t, _ in u.candidates[:3] if t in ctx.app.kb.by_id]
        buttons.append(("Không phải các ý trên", "faq:none"))
        ctx.conv.data = {**ctx.conv.data, "last_question": ctx.msg.text}
        ctx.save_state()
        ctx.reply("Ý bạn là nội dung nào dưới đây?", buttons=buttons)
        return
    answer_topic(ctx, u.topic)


def cb_faq(ctx: Context, payload: str) -> None:
    if payload == "none":
        offer_handoff(ctx, ctx.conv.data.get("last_question"))
        return
    answer_topic(ctx, payload)


def offer_handoff(ctx: Context, question: str | None) -> None:
    if question:
        ctx.conv.data = {**ctx.conv.data, "last_question": question}
        ctx.save_state()
    ctx.reply("Mình chưa có câu trả lời chắc chắn cho câu này. Mình có thể giúp về thủ tục hành chính "
              "(khai sinh, kết hôn, cư trú, căn cước, VNeID, đất đai, hộ kinh doanh, trợ cấp...) và nhận "
              "phản ánh về trật tự, vệ sinh đô thị.\nBạn có muốn gửi câu hỏi này cho cán bộ phường không?",
              buttons=[("Gửi cho cán bộ phường", "handoffask:yes"), ("Thôi, không cần", "handoffask:no")])


def on_fallback(ctx: Context) -> None:
    offer_handoff(ctx, ctx.msg.text)


def cb_handoff_offer(ctx: Context, payload: str) -> None:
    if payload != "yes":
        ctx.reply("Dạ vâng. Bạn cần gì khác cứ nhắn mình nhé.")
        return
    q = (ctx.conv.data.get("last_question") or "").strip()
    ctx.run_flow("handoff", "start" if not q else "confirm_question", {"question": q[:MAX_QUESTION]})


class HandoffFlow(Flow):
    """question -> contact (optional) -> confirm. Each answer is saved before the next question."""
    name = "handoff"
    title = "câu hỏi gửi cán bộ phường"

    def on_start(self, ctx: Context) -> None:
        ctx.goto("question")
        ctx.reply("Bạn nhập câu hỏi muốn gửi cán bộ phường (gõ /huy để thôi):")

    def on_confirm_question(self, ctx: Context) -> None:
        if ctx.msg.button == "handoff:edit":
            return self.on_start(ctx)
        if ctx.msg.button == "handoff:keep":
            return self._ask_contact(ctx)
        ctx.reply(f"Câu hỏi của bạn: \"{ctx.state['question']}\"\nGửi nguyên câu này nhé?",
                  buttons=[("Đúng, gửi câu này", "handoff:keep"), ("Sửa lại", "handoff:edit")])

    def on_question(self, ctx: Context) -> None:
        text = (ctx.msg.text or "").strip()
        if not text or ctx.msg.button:
            ctx.reply("Bạn gõ câu hỏi bằng chữ giúp mình nhé (gõ /huy để thôi).")
            return
        if len(text) > MAX_QUESTION:
            ctx.reply(f"Câu hỏi hơi dài, bạn rút gọn dưới {MAX_QUESTION} ký tự giúp mình nhé.")
            return
        ctx.state["question"] = text
        self._ask_contact(ctx)

    def _ask_contact(self, ctx: Context) -> None:
        ctx.goto("contact")
        ctx.reply("Cán bộ sẽ trả lời bạn ngay trong khung chat này. Nếu muốn được gọi lại, bạn để lại số điện "
                  "thoại; không thì bấm Bỏ qua.", buttons=[("Bỏ qua", "handoff:skip")])

    def on_contact(self, ctx: Context) -> None:
        if ctx.msg.button == "handoff:skip":
            ctx.state["contact"] = None
        else:
            digits = digits_of(ctx.msg.text)
            if not (9 <= len(digits) <= 11):
                ctx.reply("Số điện thoại chưa đúng (9 đến 11 chữ số). Bạn nhập lại hoặc bấm Bỏ qua nhé.",
                          buttons=[("Bỏ qua", "handoff:skip")])
                return
            ctx.state["contact"] = digits
        ctx.goto("confirm")
        contact = ctx.state.get("contact") or "không để lại"
        ctx.reply(f"Xác nhận gửi cán bộ phường:\n• Câu hỏi: {ctx.state['question']}\n• Số điện thoại: {contact}",
                  buttons=[("Gửi", "handoff:send"), ("Hủy", "handoff:cancel")])

    def on_confirm(self, ctx: Context) -> None:
        if ctx.msg.button == "handoff:cancel":
            ctx.end_flow()
            ctx.reply("Đã hủy, câu hỏi chưa được gửi.")
            return
        if ctx.msg.button != "handoff:send":
            ctx.reply("Bạn bấm Gửi để gửi câu hỏi, hoặc Hủy nếu không gửi nữa.",
                      buttons=[("Gửi", "handoff:send"), ("Hủy", "handoff:cancel")])
            return
        h = Handoff(person_id=ctx.person.id, channel=ctx.msg.channel, chat_id=ctx.msg.chat_id,
                    question=ctx.state["question"], contact=ctx.state.get("contact"), created_at=ctx.now)
        ctx.session.add(h)
        ctx.session.flush()
        ctx.audit("handoff_created", "handoff", h.id)
        staff = ctx.app.profile.staff_chat
        if staff:
            ctx.notify(staff.channel, staff.chat_id,
                       f"Câu hỏi mới #{h.id} từ người dân: {h.question}\n"
                       f"Trả lời bằng: /traloi {h.id} nội dung trả lời", dedupe_key=f"handoff-new-{h.id}")
        ctx.end_flow()
        ctx.reply(f"Đã gửi câu hỏi (mã #{h.id}). Cán bộ phường sẽ trả lời bạn trong giờ làm việc "
                  f"({ctx.app.profile.centre.hours or 'giờ hành chính'}).")


def cmd_queue(ctx: Context, args: str) -> None:
    rows = list(ctx.session.exec(select(Handoff).where(Handoff.status == "open").order_by(Handoff.id).limit(20)))
    if not rows:
        ctx.reply("Không có câu hỏi nào đang chờ trả lời.")
        return
    lines = [f"Câu hỏi đang chờ ({len(rows)}):"]
    for h in rows:
        contact = f", ĐT {h.contact}" if h.contact else ""
        lines.append(f"#{h.id} ({fmt_local(h.created_at)}{contact}): {h.question[:200]}")
    lines.append("Trả lời: /traloi MÃ nội dung")
    ctx.reply("\n".join(lines))


def cmd_answer(ctx: Context, args: str) -> None:
    head, _, text = args.strip().partition(" ")
    hid = parse_id(head.lstrip("#"))
    if hid is None or not text.strip():
        ctx.reply("Cách dùng: /traloi MÃ nội dung trả lời. Ví dụ: /traloi 12 Bạn mang theo căn cước nhé.")
        return
    h = ctx.session.get(Handoff, hid)
    if h is None:
        ctx.reply(f"Không tìm thấy câu hỏi #{hid}.")
        return
    if h.person_id is None:
        ctx.reply(f"Người hỏi #{hid} đã xóa dữ liệu, không gửi được trả lời.")
        return
    h.status, h.answer, h.answered_by, h.answered_at = "answered", text.strip(), ctx.person.id, ctx.now
    ctx.session.add(h)
    ctx.audit("handoff_answered", "handoff", h.id)
    ctx.notify(h.channel, h.chat_id, f"Cán bộ phường trả lời câu hỏi #{h.id} của bạn (\"{h.question[:100]}\"):\n"
               f"{h.answer}", dedupe_key=f"handoff-answer-{h.id}-{ctx.now.timestamp():.0f}")
    ctx.reply(f"Đã gửi trả lời cho người hỏi #{h.id}.")


def register(r: Router) -> None:
    r.on_kind("faq", on_faq)
    r.on_kind("fallback", on_fallback)
    r.callback("faq")(cb_faq)
    r.callback("handoffask")(cb_handoff_offer)
    r.flow(HandoffFlow())
    r.command("hoicanbo", "gửi câu hỏi cho cán bộ phường")(
        lambda ctx, args: ctx.run_flow("handoff", "start", {}) if not args.strip()
        else ctx.run_flow("handoff", "confirm_question", {"question": args.strip()[:MAX_QUESTION]}))
    r.command("hangcho", "câu hỏi người dân đang chờ (cán bộ)", roles=(R.STAFF,))(cmd_queue)
    r.command("traloi", "trả lời câu hỏi người dân (cán bộ)", roles=(R.STAFF,))(cmd_answer)
