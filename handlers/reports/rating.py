"""The resident's rating of a resolved report (the "parate" stars on the resolved notice) and the
optional comment that follows it (the "parating" flow)."""
from __future__ import annotations

from bot.context import Context
from bot.ids import parse_id, parse_int
from bot.router import Flow, Router
from handlers.reports import service as S
from handlers.reports.models import CLOSED, RESOLVED, Report


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
        ctx.reply(f"Bạn đã đánh giá phản ánh {r.code} rồi ({'★' * r.rating}). Cảm ơn bạn!")
        return
    if r.status not in (RESOLVED, CLOSED) or r.resolved_at is None or r.reject_reason:
        ctx.reply("Phản ánh này chưa xử lý xong nên chưa đánh giá được.")
        return
    r.rating = int(stars)
    ctx.session.add(r)
    S.add_event(ctx.session, r, ctx.now, "rated", ctx.person.id, stars=r.rating)
    if r.status == RESOLVED:
        S.transition(ctx.app, ctx.session, ctx.now, r, CLOSED, ctx.person.id, note="người dân đã đánh giá",
                     notify=False, cascade=False)
    if ctx.conv.flow:  # don't throw away a form the resident is filling in
        ctx.reply(f"Cảm ơn bạn đã đánh giá {'★' * r.rating} cho phản ánh {r.code}!")
        return
    ctx.start_flow("parating", "comment", {"report_id": r.id})
    ctx.reply(f"Cảm ơn bạn đã đánh giá {'★' * r.rating}! Bạn có muốn góp ý thêm cho phường không? "
              "Gõ góp ý của bạn, hoặc bấm Bỏ qua.", buttons=[("Bỏ qua", "parating:skip")])


class RatingFlow(Flow):
    name = "parating"
    title = "góp ý về kết quả xử lý"

    def on_comment(self, ctx: Context) -> None:
        if ctx.msg.button == "parating:skip":
            ctx.end_flow()
            ctx.reply("Dạ vâng, cảm ơn bạn đã phản ánh!")
            return
        text = (ctx.msg.text or "").strip()
        if not text:
            ctx.reply("Bạn gõ góp ý bằng chữ, hoặc bấm Bỏ qua.", buttons=[("Bỏ qua", "parating:skip")])
            return
        r = ctx.session.get(Report, ctx.state.get("report_id"))
        ctx.end_flow()
        if r is not None:
            r.rating_comment = text[:1000]
            ctx.session.add(r)
            S.add_event(ctx.session, r, ctx.now, "commented", ctx.person.id, note=text[:1000])
        ctx.reply("Đã ghi nhận góp ý của bạn. Cảm ơn bạn!")


def register(r: Router) -> None:
    r.flow(RatingFlow())
    r.callback("parate")(cb_rate)
