"""The resident's answer to a resolved report: the "parate" stars, the optional comment that follows
them (the "parating" flow), and "Chưa xử lý xong" ("paredo", or typed: "chưa xong", "vẫn còn"...).
A 1-2 star rating or "chưa xử lý xong" reopens the report for the unit (service.reopen)."""
from __future__ import annotations

from bot import options
from bot.context import Context
from bot.forms import Form, Text
from bot.forms import speak_to as _speak
from bot.ids import parse_id, parse_int
from bot.router import Router
from handlers.reports import service as S
from handlers.reports.models import CLOSED, OPEN_STATUSES, RESOLVED, Report

COMMENT_LEN = 1000  # Report.rating_comment's width: a longer comment is sent back to shorten, never cut
LOW_RATING = 2  # this many stars or fewer: the resident is not satisfied, the unit looks again


def own_report(ctx: Context, rid: str) -> Report | None:
    n = parse_id(rid)
    r = ctx.session.get(Report, n) if n is not None else None
    if r is None or r.person_id != ctx.person.id:
        ctx.reply("Nút này không còn hiệu lực.")
        return None
    return r


def cb_rate(ctx: Context, payload: str) -> None:
    rid, _, stars = payload.partition(":")
    r = own_report(ctx, rid)
    if r is None:
        return
    if parse_int(stars, 1, 5) is None:
        ctx.reply("Nút này không còn hiệu lực.")
        return
    if r.rating is not None:
        ctx.reply(_speak(ctx, f"{{You}} đã đánh giá phản ánh {r.code} rồi ({'★' * r.rating}). Cảm ơn {{you}}!"))
        return
    if r.status not in (RESOLVED, CLOSED) or r.resolved_at is None or r.reject_reason:
        ctx.reply("Phản ánh này chưa xử lý xong nên chưa đánh giá được.")
        return
    r.rating = int(stars)
    ctx.session.add(r)
    S.add_event(ctx.session, r, ctx.now, "rated", ctx.person.id, stars=r.rating)
    if r.rating <= LOW_RATING and S.can_reopen(r, ctx.now):
        _reopen(ctx, r, stars=r.rating)
        return
    if r.status == RESOLVED:
        S.transition(ctx.app, ctx.session, ctx.now, r, CLOSED, ctx.person.id, note="người dân đã đánh giá",
                     notify=False, cascade=False)
    if ctx.conv.flow:  # don't throw away a form the resident is filling in
        ctx.reply(_speak(ctx, f"Cảm ơn {{you}} đã đánh giá {'★' * r.rating} cho phản ánh {r.code}!"))
        return
    ctx.run_flow(RatingFlow.name, "start",
                 {"report_id": r.id, "lead": f"Cảm ơn bạn đã đánh giá {'★' * r.rating}! "})


def cb_redo(ctx: Context, payload: str) -> None:
    """"Chưa xử lý xong" pressed, or typed (the words come along in msg.text)."""
    r = own_report(ctx, payload)
    if r is None:
        return
    if r.status in OPEN_STATUSES:
        ctx.reply(_speak(ctx, f"Phản ánh {r.code} đang được {S.unit_name(ctx.app, r.unit_id)} xử lý tiếp. "
                              "Khi có kết quả phường sẽ báo {you}."))
        return
    if not S.can_reopen(r, ctx.now):
        ctx.reply(_speak(ctx, f"Phản ánh {r.code} không mở lại được nữa. Nếu sự việc vẫn còn, {{you}} gửi phản "
                              "ánh mới bằng /phananh nhé."))
        return
    _reopen(ctx, r, words=(ctx.msg.text or "").strip() or None)


def _reopen(ctx: Context, r: Report, stars: int | None = None, words: str | None = None) -> None:
    S.reopen(ctx.app, ctx.session, ctx.now, r, ctx.person.id, words=words, stars=stars)
    told = (f"Dạ, phường đã chuyển lại phản ánh {r.code} cho {S.unit_name(ctx.app, r.unit_id)} "
            "để xử lý tiếp. Khi xong phường sẽ báo bạn.")
    if words or ctx.conv.flow:  # the unit has the resident's words, or a form is open: don't disturb it
        ctx.reply(told)
        return
    ctx.run_flow(RatingFlow.name, "start", {"report_id": r.id, "reopened": True, "lead": told + "\n"})


class RatingFlow(Form):
    """One optional comment after the stars (or after "chưa xử lý xong", for the unit). The comment
    is the answer whatever it says; only a clearly new question is answered apart, and the comment
    can then be taken up again ("tiếp tục")."""
    name = "parating"
    title = "góp ý về kết quả xử lý"
    summary = False
    asks_aside = "clear"
    fields = [Text("comment", max_len=COMMENT_LEN, skip="Bỏ qua", error="{You} gõ góp ý bằng chữ, hoặc bấm Bỏ qua.")]

    def ask_comment(self, ctx: Context) -> None:
        lead = ctx.state.pop("lead", "")
        ask = ("{You} cho phường biết sự việc còn thế nào (gõ ngắn gọn), hoặc bấm Bỏ qua." if ctx.state.get("reopened")
               else "{You} có muốn góp ý thêm cho phường không? Gõ góp ý của {you}, hoặc bấm Bỏ qua.")
        ctx.reply(lead + ask, buttons=self.field_buttons(ctx, self.field("comment")))

    def submit(self, ctx: Context) -> None:
        text = (ctx.state.get("comment") or "").strip()
        r = ctx.session.get(Report, ctx.state.get("report_id"))
        reopened = ctx.state.get("reopened")
        ctx.end_flow()
        if not text:
            ctx.reply("Dạ vâng, cảm ơn {you} đã phản ánh!")
            return
        if r is None:
            ctx.reply("Đã ghi nhận góp ý của {you}. Cảm ơn {you}!")
            return
        ev = S.add_event(ctx.session, r, ctx.now, "commented", ctx.person.id, note=text)
        if not reopened:
            r.rating_comment = text[:COMMENT_LEN]  # the field took at most this
            ctx.session.add(r)
            ctx.reply("Đã ghi nhận góp ý của {you}. Cảm ơn {you}!")
            return
        main = ctx.session.get(Report, r.parent_id) if r.parent_id else r
        chat = S.unit_chat(ctx.app, (main or r).unit_id)
        if chat:
            ctx.notify(chat.channel, chat.chat_id,
                       S.Reply(f"Người dân báo chưa xử lý xong phản ánh {r.code}:\n{text}",
                               buttons=S.card_buttons(main or r)),
                       dedupe_key=f"report:{r.id}:ev:{ev.id}:unit")
        ctx.reply(f"Đã chuyển ý kiến của {{you}} cho {S.unit_name(ctx.app, r.unit_id)}. Cảm ơn {{you}}!")


def register(r: Router) -> None:
    r.flow(RatingFlow())
    r.callback("parate")(cb_rate)
    r.callback("paredo")(cb_redo)
    options.synonyms(S.REOPEN_LABEL, *S.REOPEN_PHRASES)
    from handlers.reports.flow import _asked_here
    options.addressed("parate", _asked_here)
    options.addressed("paredo", _asked_here)
