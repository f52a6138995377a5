"""Class notices for "Bình dân học vụ số" (Digital Literacy for All): opt-in subscriptions, class
definitions with weekly occurrences, sign-ups with capacity and a waiting list, reminders, attendance,
a staff HTTP API, and delivery through the outbox. Modules: models, service (logic), chat (commands
and forms), api (HTTP), minitelegram (a Telegram-shaped endpoint and sender for tests and bench)."""
from __future__ import annotations


def register(r) -> None:
    from bot import roles as R
    from bot.outbox import on_blocked
    from bot.stats import register_stats
    from handlers.broadcast import chat as C
    from handlers.broadcast import service as S

    r.command("dangky", "đăng ký nhận thông báo lớp Bình dân học vụ số")(C.cmd_subscribe)
    r.command("huydangky", "thôi nhận thông báo lớp học", keeps_flow=True)(C.cmd_unsubscribe)
    r.command("lophoc", "các lớp Bình dân học vụ số sắp tới", keeps_flow=True)(C.cmd_upcoming)
    r.flow(C.SubscribeFlow())
    r.callback("lop")(C.cb_signup)
    r.flow(C.ClassFormFlow())
    r.command("taolop", "tạo lớp học và gửi thông báo (cán bộ)", roles=(R.STAFF,))(
        lambda ctx, args: ctx.run_flow("taolop", "start", {}))
    r.command("dangkylop", "xem người đăng ký một lớp (cán bộ)", roles=(R.STAFF,))(C.cmd_signups)
    r.command("diemdanh", "điểm danh lớp học (cán bộ)", roles=(R.STAFF,))(C.cmd_attendance)
    r.callback("ddanh")(C.cb_attendance)
    r.command("baocaogui", "báo cáo gửi thông báo lớp học (cán bộ)", roles=(R.STAFF,))(C.cmd_delivery)
    r.on_erase(C.on_erase)
    on_blocked("class_notices", S.unsubscribe_blocked)
    register_stats("class_notices", S.stats_provider, S.STATS_LABELS)


def register_routes(api, app) -> None:
    from handlers.broadcast.api import mount
    mount(api, app)
