"""Chat side of the class notices: residents opt in and out and sign up; staff create classes,
see sign-ups, mark attendance and read the delivery report."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from bot import options
from bot import roles as R
from bot.context import Context
from bot.ids import parse_id, parse_int
from bot.core import Button
from bot.forms import (Choice, Form, MultiChoice, Number, Option, Problem, Text, ask_name_once, is_question,
                       match_option, speak_to as _speak)
from bot.models import Person
from bot.people import person_label
from handlers.broadcast import service as S
from handlers.broadcast.models import ClassOccurrence, ClassSignup, LiteracyClass

DONE = "Xong"


# --- residents: opting in -----------------------------------------------------------------------
def _group_options(prefix: str):
    def options(ctx: Context) -> list[Option]:
        return [Option(g.name, g.code, f"{prefix}{g.code}") for g in ctx.app.profile.residential_groups]
    return options


def _topic_options(prefix: str):
    def options(ctx: Context) -> list[Option]:
        return [Option(label, t, f"{prefix}{t}") for t, label in S.TOPICS.items()]
    return options


class SubscribeFlow(Form):
    """group -> topics (toggles, "Xong"). Nothing is subscribed before "Xong"."""
    name = "bsub"
    title = "đăng ký nhận thông báo lớp học"
    summary = False
    fields = [
        Choice("group", "{You} ở tổ dân phố nào? (để {me} báo lớp học gần nhà {you})", choices=_group_options("g:"),
               error="{You} bấm chọn tổ dân phố của {you} trong danh sách giúp {me} nhé (gõ /huy để thôi)."),
        MultiChoice("topics", choices=_topic_options("t:"), done_label=DONE, done_wire="done",
                    error=f"{{You}} bấm vào chủ đề để chọn, hoặc \"{DONE}\" khi đã chọn xong nhé."),
    ]

    def ask_topics(self, ctx: Context) -> None:
        chosen = set(ctx.state.get("topics") or [])
        picked = ", ".join(S.topic_label(t) for t in S.TOPICS if t in chosen) or "chưa chọn (nhận mọi chủ đề)"
        ctx.reply("{You} quan tâm chủ đề nào? Bấm để chọn hoặc bỏ chọn, chọn được nhiều chủ đề; "
                  f"xong thì bấm \"{DONE}\".\nĐang chọn: {picked}",
                  buttons=self.field_buttons(ctx, self.field("topics")))

    def submit(self, ctx: Context) -> None:
        code, topics = ctx.state["group"], list(ctx.state.get("topics") or [])
        S.subscribe(ctx.session, ctx.person, ctx.msg.channel, ctx.msg.chat_id, code, topics, ctx.now)
        ctx.audit("class_subscribed", "person", ctx.person.id, group=code, topics=topics)
        ctx.end_flow()
        what = ", ".join(S.topic_label(t) for t in topics) if topics else "mọi chủ đề"
        ctx.reply(f"Đã đăng ký! {{Me}} sẽ báo {{you}} các lớp \"Bình dân học vụ số\" miễn phí ({what}) cho "
                  f"{ctx.app.profile.group(code).name}. Muốn thôi nhận tin, {{you}} gõ /huydangky bất cứ lúc nào.")


def cmd_subscribe(ctx: Context, args: str) -> None:
    sub = S.subscription(ctx.session, ctx.person.id)
    data = {"topics": list(sub.topics)} if sub else {}
    if sub:
        g = ctx.app.profile.group(sub.group_code)
        ctx.reply(_speak(ctx, f"{{You}} đang nhận thông báo lớp học của {g.name if g else sub.group_code}. "
                              "Mời {you} chọn lại nếu muốn thay đổi."))
    ctx.run_flow("bsub", "start", data)


def cmd_unsubscribe(ctx: Context, args: str) -> None:
    if ctx.conv.flow == "bsub":  # typed in the middle of /dangky: that form is moot now
        ctx.end_flow()
    if S.unsubscribe(ctx.session, ctx.person.id, ctx.now):
        ctx.audit("class_unsubscribed", "person", ctx.person.id)
        ctx.reply(_speak(ctx, "Đã hủy đăng ký. Từ giờ {you} không nhận thông báo lớp học nữa. "
                              "Muốn nhận lại, {you} gõ /dangky."))
    else:
        ctx.reply(_speak(ctx, "{You} chưa đăng ký nhận thông báo lớp học nên không có gì để hủy."))


def cb_signup(ctx: Context, payload: str) -> None:
    """lop:y:<occurrence id> / lop:n:<occurrence id>, from a notice, a reminder or a promotion."""
    action, _, occ_s = payload.partition(":")
    occ = parse_id(occ_s)
    if action not in ("y", "n") or occ is None:
        ctx.reply("Nút này không còn dùng được.")
        return
    fn = S.join if action == "y" else S.leave
    res = fn(ctx.app, ctx.session, occ, ctx.person.id, ctx.now)
    ctx.audit("class_signup" if action == "y" else "class_signup_cancelled", "class_occurrence", occ)
    ctx.reply(res.message)
    _keep_options_open(ctx, occ)
    if action == "y" and _seated(ctx, occ):
        ask_name_once(ctx)  # the class list shows names to staff


def _keep_options_open(ctx: Context, occ_id: int) -> None:
    """The notice's options stay answerable by typing until the class starts: a resident on Zalo,
    with nothing to press, changes their mind with "không tham gia" (or "2") days after "1"."""
    occ = ctx.session.get(ClassOccurrence, occ_id)
    if occ is None or ctx.msg.is_group or _naive(occ.starts_at) <= _naive(ctx.now):
        return
    data = {b.data for b in S.signup_buttons(occ_id)}
    for row in ctx.session.exec(select(options.PendingOption).where(
            options.PendingOption.channel == ctx.msg.channel, options.PendingOption.chat_id == ctx.msg.chat_id)):
        if data & {b.get("data") for b in row.buttons}:
            ctx.session.delete(row)  # the notice's own row, when its button was pressed
    options.remember(ctx.session, ctx.msg.channel, ctx.msg.chat_id,
                     [{"text": b.text, "data": b.data} for b in S.signup_buttons(occ_id)], ctx.now, until=occ.starts_at)


def _naive(dt: datetime) -> datetime:  # the database may hand back naive UTC
    return dt.replace(tzinfo=None)


def _seated(ctx: Context, occ_id: int) -> bool:
    return ctx.session.exec(select(ClassSignup).where(
        ClassSignup.occurrence_id == occ_id, ClassSignup.person_id == ctx.person.id,
        ClassSignup.status.in_(["going", "waiting"]))).first() is not None


def cmd_upcoming(ctx: Context, args: str) -> None:
    rows = list(ctx.session.exec(
        select(ClassOccurrence, LiteracyClass).join(LiteracyClass, LiteracyClass.id == ClassOccurrence.class_id)
        .where(LiteracyClass.status == "published", ClassOccurrence.status == "scheduled",
               ClassOccurrence.starts_at > ctx.now).order_by(ClassOccurrence.starts_at).limit(5)))
    if not rows:
        ctx.reply("Hiện chưa có lớp \"Bình dân học vụ số\" nào sắp tới. Gõ /dangky để được báo khi có lớp.")
        return
    for occ, cls in rows:
        ctx.reply(f"{S.topic_label(cls.topic)}: {S.when_text(occ.starts_at)}, {cls.place}",
                  buttons=S.signup_buttons(occ.id))


# --- staff: the class form ------------------------------------------------------------------------
def _place_options(ctx: Context) -> list[Option]:
    p = ctx.app.profile
    opts = [Option(g.cultural_house, {"place": f"{g.cultural_house} ({g.name})", "host": g.code}, f"place:{g.code}")
            for g in p.residential_groups if g.cultural_house]
    return opts + [Option("Trung tâm Phục vụ hành chính công", {"place": f"{p.centre.name}, {p.centre.address}",
                                                               "host": None}, "place:centre")]


REPEAT = [Option("Một buổi", "once", "rep:once", ("1 buoi", "mot lan")),
          Option("Hằng tuần", "weekly", "rep:weekly", ("hang tuan", "moi tuan", "lap lai"))]
AUDIENCE = [Option("Tất cả người đăng ký nhận tin", "all", "aud:all", ("tat ca", "moi nguoi")),
            Option("Chọn tổ dân phố", "groups", "aud:groups", ("chon to", "theo to"))]


class ClassFormFlow(Form):
    """topic -> when -> repeat -> place -> capacity -> audience -> topic filter -> preview -> confirm.
    Each answer is kept in the form state; a wrong answer is asked again, nothing is lost."""
    name = "taolop"
    title = "tạo lớp học"
    roles = (R.STAFF,)
    fields = [
        Choice("topic", "Tạo lớp \"Bình dân học vụ số\" (gõ /huy để thôi). Chủ đề của lớp là gì?",
               choices=_topic_options("topic:"), error="Bạn bấm chọn một chủ đề trong danh sách nhé."),
        Text("when", "Buổi học (buổi đầu tiên) vào lúc nào? Nhập NGÀY/THÁNG GIỜ:PHÚT, ví dụ: 30/11 8:00"),
        Choice("repeat", "", choices=REPEAT, error="Bạn bấm \"Một buổi\" hoặc \"Hằng tuần\" nhé."),
        Text("repeat_until", "Học bao nhiêu buổi (ví dụ: 4), hoặc đến ngày nào (ví dụ: 28/12)?",
             ask_if=lambda ctx, st: st.get("repeat") == "weekly"),
        Choice("place", "Học ở đâu? Bấm chọn, hoặc gõ địa chỉ khác.", choices=_place_options, free_text=True,
               done_key="place_done", error="Bạn bấm chọn địa điểm hoặc gõ địa chỉ (3 đến 300 ký tự) nhé."),
        Number("capacity", "Lớp nhận tối đa bao nhiêu người? (ví dụ: 30)", lo=1, hi=S.MAX_CAPACITY,
               error=f"Bạn nhập một số từ 1 đến {S.MAX_CAPACITY} nhé, ví dụ: 30"),
        Choice("audience", "Gửi thông báo cho ai?", choices=AUDIENCE, error="Bạn bấm chọn một trong hai cách nhé."),
        MultiChoice("groups", f"Chọn các tổ dân phố nhận thông báo (bấm để chọn/bỏ), xong bấm \"{DONE}\".",
                    choices=_group_options("grp:"), done_label=DONE, done_wire="grp:done",
                    at_least_one="Bạn chưa chọn tổ dân phố nào.", ask_if=lambda ctx, st: st.get("audience") == "groups"),
        Choice("topic_only", "Chỉ gửi cho người đã chọn quan tâm chủ đề này?", choices=lambda ctx: [
            Option(f"Chỉ người quan tâm {S.topic_label(ctx.state.get('topic'))}", True, "tf:yes", ("chi nguoi quan tam",)),
            Option("Gửi mọi người", False, "tf:no", ("moi nguoi", "tat ca"))]),
    ]

    # --- steps that parse their own way -----------------------------------------------------
    def take_when(self, ctx: Context) -> str:
        try:
            dt = S.parse_local_datetime(ctx.msg.text or "", ctx.now)
        except S.ClassError as e:
            raise Problem(str(e))
        if dt <= ctx.now:
            raise Problem("Thời điểm này đã qua rồi. Bạn nhập ngày giờ sắp tới nhé, ví dụ 30/11 8:00.")
        return dt.isoformat()

    def validate_when(self, ctx: Context, value: str) -> None:
        ctx.state["first"] = value

    def ask_repeat(self, ctx: Context) -> None:
        first = datetime.fromisoformat(ctx.state["first"])
        ctx.reply(f"Buổi đầu: {S.when_text(first)}. Lớp học một buổi hay lặp lại hằng tuần?",
                  buttons=self.field_buttons(ctx, self.field("repeat")))

    def take_repeat_until(self, ctx: Context) -> str:
        text = (ctx.msg.text or "").strip()
        self._starts(ctx, text)  # checked now; computed again from the first session in the draft
        return text

    def _starts(self, ctx: Context, until: str | None) -> list[datetime]:
        first = datetime.fromisoformat(ctx.state["first"])
        if ctx.state.get("repeat") != "weekly":
            return [first]
        text = (until or "").strip().lower().removesuffix("buổi").strip()
        try:
            if text and all(ch in "0123456789" for ch in text):
                weeks = parse_int(text, 1, S.MAX_OCCURRENCES)
                if weeks is None:
                    raise S.ClassError(f"Số buổi phải từ 1 đến {S.MAX_OCCURRENCES}.")
                starts = S.occurrence_times(first, weeks=weeks)
            else:
                starts = S.occurrence_times(first, until=S.parse_date(text, ctx.now))
        except S.ClassError as e:
            raise Problem(f"{e} Bạn nhập số buổi (ví dụ 4) hoặc ngày kết thúc (ví dụ 28/12).")
        return starts

    def take_place(self, ctx: Context) -> dict:
        v = self.field("place").take(self, ctx)
        if isinstance(v, str):
            if not 3 <= len(v) <= 300:
                raise Problem("Bạn bấm chọn địa điểm hoặc gõ địa chỉ (3 đến 300 ký tự) nhé.")
            v = {"place": v, "host": None}
        return v

    def take_capacity(self, ctx: Context) -> int:
        ctx.msg.text = (ctx.msg.text or "").strip().lower().removesuffix("người").strip()
        return self.field("capacity").take(self, ctx)

    def validate_audience(self, ctx: Context, value: str) -> None:
        # the hosting group is pre-selected
        ctx.state["groups"] = [ctx.state["host"]] if value == "groups" and ctx.state.get("host") else []
        ctx.state.pop("groups_done", None)

    # --- the preview: a draft row counts the real audience; it is only sent on "Gửi" -------------
    def ask_confirm(self, ctx: Context) -> None:
        try:
            draft = self._draft(ctx)
            draft.check(ctx.app.profile, ctx.now)
        except S.ClassError as e:
            ctx.end_flow()
            ctx.reply(f"{e} Mời bạn tạo lại bằng /taolop.")
            return
        cls = S.create_class(ctx.session, draft, ctx.app.profile, ctx.now, ctx.person.id)
        ctx.state["class_id"] = cls.id
        ctx.goto("confirm")
        ctx.reply(S.preview(ctx.session, cls, ctx.app.profile), buttons=self.summary_buttons())

    def summary_buttons(self) -> list[Button]:
        return [Button("Gửi thông báo", "taolop:ok"), Button("Hủy", "taolop:cancel")]

    def _draft(self, ctx: Context) -> S.ClassDraft:
        st = ctx.state
        return S.ClassDraft(topic=st["topic"], starts=self._starts(ctx, st.get("repeat_until")),
                            place=st["place"], capacity=int(st["capacity"]), groups=list(st.get("groups") or []),
                            topic_only=bool(st.get("topic_only")), group_code=st.get("host"))

    def cancel(self, ctx: Context) -> None:
        cls = ctx.session.get(LiteracyClass, ctx.state.get("class_id") or 0)
        if cls is not None and cls.status == "draft":
            cls.status = "cancelled"
            ctx.session.add(cls)
        ctx.end_flow()
        ctx.reply("Đã hủy, chưa gửi thông báo nào.")

    def on_confirm_step(self, ctx: Context) -> None:
        cls = ctx.session.get(LiteracyClass, ctx.state.get("class_id") or 0)
        b = ctx.msg.button
        if not b and ctx.msg.text:
            o = match_option(ctx.msg.text, [Option("Gửi thông báo", "taolop:ok", "ok", ("gui", "ok", "dong y", "gui di")),
                                            Option("Hủy", "taolop:cancel", "cancel", ("huy", "thoi"))])
            b = o.value if o else None
        if b == "taolop:cancel" or cls is None:
            return self.cancel(ctx)
        if b != "taolop:ok":
            if is_question(ctx, None, parsed=False):
                return self.answer_question(ctx)
            ctx.reply("Bạn bấm \"Gửi thông báo\" để gửi, hoặc \"Hủy\".", buttons=self.summary_buttons())
            return
        try:
            n = S.publish(ctx.app, ctx.session, cls, ctx.now)
        except S.ClassError as e:
            ctx.end_flow()
            ctx.reply(str(e))
            return
        ctx.audit("class_published", "literacy_class", cls.id, recipients=n)
        ctx.end_flow()
        ctx.reply(f"Đã tạo lớp #{cls.id} và đưa {n} thông báo vào hàng gửi. "
                  f"Xem đăng ký: /dangkylop {cls.id}; tình hình gửi: /baocaogui {cls.id}.")


# --- staff: commands ------------------------------------------------------------------------------
def _class_arg(ctx: Context, args: str, usage: str) -> tuple[LiteracyClass, list[str]] | None:
    parts = args.replace("#", " ").split()
    cid = parse_id(parts[0]) if parts else None
    if cid is None:
        ctx.reply(usage)
        return None
    cls = ctx.session.get(LiteracyClass, cid)
    if cls is None or cls.status == "draft":
        ctx.reply(f"Không tìm thấy lớp #{parts[0]}.")
        return None
    return cls, parts[1:]


def _name(ctx: Context, person_id: int | None) -> str:
    if person_id is None:
        return "(đã xóa dữ liệu)"
    return person_label(ctx.session.get(Person, person_id), person_id=person_id)


def cmd_signups(ctx: Context, args: str) -> None:
    got = _class_arg(ctx, args, "Cách dùng: /dangkylop MÃ_LỚP [BUỔI], ví dụ: /dangkylop 3")
    if not got:
        return
    cls, rest = got
    n = parse_int(rest[0], 1, S.MAX_OCCURRENCES) if rest else None
    occ = S.find_occurrence(ctx.session, cls.id, n, ctx.now)
    if occ is None:
        ctx.reply(f"Lớp #{cls.id} không có buổi {n}.")
        return
    rows = list(ctx.session.exec(select(ClassSignup).where(ClassSignup.occurrence_id == occ.id,
                                                           ClassSignup.status.in_(["going", "waiting"]))
                                 .order_by(ClassSignup.queue_no)))
    going = [r for r in rows if r.status == "going"]
    waiting = [r for r in rows if r.status == "waiting"]
    lines = [f"Lớp #{cls.id} {S.topic_label(cls.topic)}, buổi {occ.n} ({S.when_text(occ.starts_at)}), "
             f"{cls.place}: {len(going)}/{cls.capacity} người đăng ký, {len(waiting)} người chờ."]
    lines += [f"{i}. {_name(ctx, r.person_id)}" for i, r in enumerate(going, 1)]
    if waiting:
        lines.append("Danh sách chờ:")
        lines += [f"{i}. {_name(ctx, r.person_id)}" for i, r in enumerate(waiting, 1)]
    ctx.reply("\n".join(lines))


_ATTEND_USAGE = ("Cách dùng: /diemdanh MÃ_LỚP [BUỔI] [SỐ_NGƯỜI]\n"
                 "• /diemdanh 3: điểm danh từng người đã đăng ký (bấm tên)\n"
                 "• /diemdanh 3 2 25: buổi 2 của lớp 3 có 25 người dự (tính cả người không đăng ký trước)")


def cmd_attendance(ctx: Context, args: str) -> None:
    got = _class_arg(ctx, args, _ATTEND_USAGE)
    if not got:
        return
    cls, rest = got
    nums = [parse_int(x, 0, 100_000) for x in rest]
    if None in nums or len(rest) > 2:
        ctx.reply(_ATTEND_USAGE)
        return
    n = nums[0] if rest else None
    occ = S.find_occurrence(ctx.session, cls.id, n, ctx.now, past=True)
    if occ is None:
        ctx.reply(f"Lớp #{cls.id} không có buổi {n}.")
        return
    if occ.starts_at > ctx.now:
        ctx.reply(f"Buổi {occ.n} ({S.when_text(occ.starts_at)}) chưa diễn ra, chưa điểm danh được.")
        return
    if len(rest) == 2:
        occ.attendance_count, occ.status, occ.marked_at = nums[1], "held", ctx.now
        ctx.session.add(occ)
        ctx.audit("class_attendance", "class_occurrence", occ.id, count=nums[1])
        ctx.reply(f"Đã ghi nhận buổi {occ.n} lớp #{cls.id} có {rest[1]} người dự.")
        return
    _attendance_buttons(ctx, cls, occ)


def _attendance_buttons(ctx: Context, cls: LiteracyClass, occ: ClassOccurrence) -> None:
    rows = list(ctx.session.exec(select(ClassSignup).where(ClassSignup.occurrence_id == occ.id,
                                                           ClassSignup.status == "going")
                                 .order_by(ClassSignup.id).limit(40)))
    if not rows:
        ctx.reply(f"Buổi {occ.n} lớp #{cls.id} không có ai đăng ký trước. Ghi số người dự bằng: "
                  f"/diemdanh {cls.id} {occ.n} SỐ_NGƯỜI")
        return
    buttons = [(("✅ " if r.attended else "⬜ ") + _name(ctx, r.person_id)[:40], f"ddanh:{r.id}") for r in rows]
    buttons.append(("Xong", f"ddanh:done{occ.id}"))
    ctx.reply(f"Điểm danh buổi {occ.n} lớp #{cls.id} ({S.when_text(occ.starts_at)}): bấm tên người đã đến. "
              f"Có mặt: {S.attendance(ctx.session, occ)}.", buttons=buttons)


def cb_attendance(ctx: Context, payload: str) -> None:
    if not ctx.require(R.STAFF):
        return
    if payload.startswith("done"):
        oid = parse_id(payload[4:])
        occ = ctx.session.get(ClassOccurrence, oid) if oid is not None else None
        if occ is not None:
            occ.status, occ.marked_at = "held", ctx.now
            ctx.session.add(occ)
            ctx.session.flush()
            ctx.reply(f"Đã lưu điểm danh buổi {occ.n}: {S.attendance(ctx.session, occ)} người có mặt.")
        return
    sid = parse_id(payload)
    su = ctx.session.get(ClassSignup, sid) if sid is not None else None
    occ = ctx.session.get(ClassOccurrence, su.occurrence_id) if su else None
    if su is None or occ is None:
        ctx.reply("Không tìm thấy người đăng ký này.")
        return
    su.attended = not su.attended
    occ.status, occ.marked_at = "held", ctx.now
    ctx.session.add_all([su, occ])
    ctx.session.flush()
    ctx.audit("class_attendance", "class_signup", su.id, attended=su.attended)
    _attendance_buttons(ctx, ctx.session.get(LiteracyClass, occ.class_id), occ)


def cmd_delivery(ctx: Context, args: str) -> None:
    got = _class_arg(ctx, args, "Cách dùng: /baocaogui MÃ_LỚP, ví dụ: /baocaogui 3")
    if not got:
        return
    cls, _ = got
    r = S.delivery_report(ctx.session, cls.id)
    ctx.reply(f"Gửi thông báo lớp #{cls.id} ({S.topic_label(cls.topic)}):\n"
              f"• Đã gửi: {r['sent']}\n• Đang chờ gửi: {r['pending']}\n• Lỗi: {r['failed']}\n"
              f"• Người nhận đã chặn Trợ lý: {r['blocked']}\n• Hủy do người nhận thôi đăng ký: {r['cancelled']}\n"
              f"• Đăng ký tham gia: {r['signups']} (chờ: {r['waiting']}, không tham gia: {r['declined']})")


def on_erase(ctx: Context) -> None:
    s, pid = ctx.session, ctx.person.id
    S.unsubscribe(s, pid, ctx.now)
    signups = list(s.exec(select(ClassSignup).where(ClassSignup.person_id == pid)))
    for su in signups:
        if su.status in ("going", "waiting"):
            occ = s.get(ClassOccurrence, su.occurrence_id)
            if occ is not None and occ.starts_at > ctx.now:  # a seat to come: free it for the waiting list
                S.leave(ctx.app, s, su.occurrence_id, pid, ctx.now)
    for su in signups:
        su.person_id = None  # the head count stays in the statistics, the person does not
        s.add(su)
