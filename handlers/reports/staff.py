"""The ward's side: the card buttons in a unit's staff chat (accept, assign, ask the resident,
resolve, reject), their small forms, and recording a report that came by phone or at a meeting."""
from __future__ import annotations

from sqlmodel import select

from bot import roles as R
from bot.context import Context
from bot.core import Button, Reply
from bot.forms import Choice, Field, Form, Option, Phone, Problem, Text, match_option
from bot.ids import digits_of, parse_id
from bot.models import Person, RoleGrant
from bot.people import person_label
from bot.router import Router
from handlers.reports import service as S
from handlers.reports.flow import FILE_NOT_SUPPORTED, category_buttons, group_buttons, match_group, photo_problem
from handlers.reports.models import ASSIGNED, IN_PROGRESS, OPEN_STATUSES, REJECTED, RESOLVED, Report

MAX_NOTE = 2000


def _staff_name(p: Person) -> str:
    return person_label(p, "Cán bộ")


def _load(ctx: Context, rid: str) -> Report | None:
    n = parse_id(rid)
    r = ctx.session.get(Report, n) if n is not None else None
    if r is None:
        ctx.reply("Không tìm thấy phản ánh này.")
        return None
    if r.parent_id:  # staff always act on the main report; duplicates follow it
        r = ctx.session.get(Report, r.parent_id)
    return r


def _closed(ctx: Context, r: Report) -> bool:
    if r.status in OPEN_STATUSES:
        return False
    ctx.reply(f"Phản ánh {r.code} đã {S.STATUS_LABELS[r.status]}, không cần thao tác thêm.")
    return True


def _unit_staff(ctx: Context, unit_id: str) -> list[Person]:
    grants = ctx.session.exec(select(RoleGrant).where(RoleGrant.role.in_((R.STAFF, R.ADMIN)),
                                                      RoleGrant.revoked_at.is_(None)))
    own, other = [], []
    for g in grants:
        (own if g.unit_id == unit_id else other).append(g.person_id)
    ids = list(dict.fromkeys(own or other))
    return [p for p in (ctx.session.get(Person, i) for i in ids[:10]) if p]


def cb_card(ctx: Context, payload: str) -> None:
    if not ctx.require(R.STAFF):
        return
    action, _, rest = payload.partition(":")
    rid, _, extra = rest.partition(":")
    r = _load(ctx, rid)
    if r is None or _closed(ctx, r):
        return
    who = _staff_name(ctx.person)
    try:
        if action == "acc":
            S.transition(ctx.app, ctx.session, ctx.now, r, IN_PROGRESS, ctx.person.id)
            ctx.reply(f"{who} đã tiếp nhận phản ánh {r.code}. Xử lý xong thì bấm \"Đã xử lý xong\".",
                      buttons=S.card_buttons(r))
        elif action == "asg":
            people = _unit_staff(ctx, r.unit_id)
            if not people:
                ctx.reply("Chưa có cán bộ nào được ghi nhận để giao việc. Admin tạo mã mời bằng /moi canbo.")
                return
            ctx.reply(f"Giao phản ánh {r.code} cho ai?",
                      buttons=[(_staff_name(p), f"pa:to:{r.id}:{p.id}") for p in people])
        elif action == "to":
            mid = parse_id(extra)
            member = ctx.session.get(Person, mid) if mid is not None else None
            if member is None or not (R.roles_of(ctx.session, member.id) & {R.STAFF}):
                ctx.reply("Người này không còn là cán bộ, bạn chọn người khác nhé.")
                return
            S.transition(ctx.app, ctx.session, ctx.now, r, ASSIGNED, ctx.person.id, assignee=member,
                         note=f"giao cho {_staff_name(member)}")
            if member.chat_id:
                ctx.notify(member.channel, member.chat_id,
                           S.card(ctx.app, r, f"{who} giao bạn xử lý phản ánh"),
                           dedupe_key=f"report:{r.id}:assign:{member.id}:{ctx.now.timestamp():.0f}")
            ctx.reply(f"Đã giao phản ánh {r.code} cho {_staff_name(member)}.")
        elif action == "tr":
            units = [u for u in ctx.app.profile.units if u.id != r.unit_id]
            if not units:
                ctx.reply("Phường chưa khai báo đơn vị nào khác để chuyển.")
                return
            ctx.reply(f"Chuyển phản ánh {r.code} (đang ở {S.unit_name(ctx.app, r.unit_id)}) cho đơn vị nào?",
                      buttons=[(u.name, f"pa:tru:{r.id}:{u.id}") for u in units])
        elif action == "tru":
            if ctx.app.profile.unit(extra) is None or extra == r.unit_id:
                ctx.reply("Bạn chọn một đơn vị khác để chuyển.")
                return
            ctx.start_flow(StaffActionFlow.name, "start", {"action": "tr", "unit": extra, "report_id": r.id,
                                                           "by": ctx.person.id, "by_name": who})
            ctx.app.router.flows[StaffActionFlow.name].ask_next(ctx)
        elif action in ("ask", "res", "rej"):
            if action == "ask" and not (r.channel and r.chat_id):
                phone = f" Số điện thoại để lại: {r.contact_phone}." if r.contact_phone else ""
                ctx.reply(f"Người phản ánh {r.code} không liên lạc được qua chat.{phone}")
                return
            ctx.start_flow(StaffActionFlow.name, "start", {"action": action, "report_id": r.id,
                                                           "by": ctx.person.id, "by_name": who})
            ctx.app.router.flows[StaffActionFlow.name].ask_next(ctx)
        else:
            ctx.reply("Nút này không còn hiệu lực.")
    except S.TransitionError as e:
        ctx.reply(str(e))


TEXT_PROMPTS = {"ask": "Bạn nhập câu hỏi gửi người phản ánh {code}:",
                "res": "Bạn nhập kết quả xử lý phản ánh {code} (người dân sẽ đọc được):",
                "rej": "Bạn nhập lý do không xử lý phản ánh {code} (người dân sẽ đọc được):"}
SKIP = [Option("Bỏ qua", "", "skip", ("bo qua", "khong", "ko", "khong co", "ko co", "khong co anh", "thoi"))]


def _acting(*actions: str):
    return lambda ctx, st: st.get("action") in actions


class StaffActionFlow(Form):
    """ask: question -> sent; res: note -> optional photo -> resolved; rej: reason -> rejected;
    tr: optional note -> transferred to the unit chosen on the card. What staff type is for the
    resident, so a question is the answer itself, never set aside for the FAQ."""
    name = "pastaff"
    title = "thao tác xử lý phản ánh"
    roles = (R.STAFF,)
    summary = False
    asks_aside = False
    fields = [
        Text("text", max_len=MAX_NOTE, ask_if=_acting("ask", "res", "rej"),
             error="Bạn gõ nội dung bằng chữ giúp mình (gõ /huy để thôi)."),
        Field("photo", "Bạn gửi ảnh sau khi xử lý (nếu có), hoặc bấm Bỏ qua.", ask_if=_acting("res")),
        Text("note", max_len=MAX_NOTE, skip="Bỏ qua", ask_if=_acting("tr"),
             error="Bạn gõ ghi chú bằng chữ, hoặc bấm Bỏ qua."),
    ]

    def handle(self, ctx: Context) -> None:
        # A unit chat is a group: only the one who pressed the button types the note.
        if ctx.state.get("by") not in (None, ctx.person.id):
            ctx.reply(f"Mình đang chờ {ctx.state.get('by_name') or 'cán bộ khác'} nhập nội dung cho phản ánh này. "
                      "Gõ /huy để dừng thao tác đó.")
            return
        if self._report(ctx) is None:
            return
        super().handle(ctx)

    def _report(self, ctx: Context) -> Report | None:
        if not ctx.require(R.STAFF):
            ctx.end_flow()
            return None
        r = ctx.session.get(Report, ctx.state.get("report_id"))
        if r is None or _closed(ctx, r):
            ctx.end_flow()
            return None
        return r

    # --- the questions, which name the report or the unit ------------------------------------
    def ask_text(self, ctx: Context) -> None:
        r = ctx.session.get(Report, ctx.state.get("report_id"))
        ctx.reply(TEXT_PROMPTS[ctx.state["action"]].format(code=r.code if r else "") + " (gõ /huy để thôi)")

    def ask_note(self, ctx: Context) -> None:
        ctx.reply(f"Bạn nhập ghi chú cho {S.unit_name(ctx.app, ctx.state.get('unit') or '')} (lý do chuyển), "
                  "hoặc bấm Bỏ qua. (gõ /huy để thôi)", buttons=self.field_buttons(ctx, self.field("note")))

    def take_text(self, ctx: Context) -> str:
        if ctx.msg.button or ctx.msg.photos or ctx.msg.files:
            raise Problem("Bạn gõ nội dung bằng chữ giúp mình (gõ /huy để thôi).", buttons=[])
        text = (ctx.msg.text or "").strip()
        if len(text) > MAX_NOTE:
            raise Problem(f"Nội dung dài quá, bạn rút gọn dưới {MAX_NOTE} ký tự nhé.", buttons=[])
        return self.field("text").take_text(ctx, text)

    def take_note(self, ctx: Context) -> str:
        if ctx.msg.photos or ctx.msg.files:
            raise Problem("Bạn gõ ghi chú bằng chữ, hoặc bấm Bỏ qua.")
        if len((ctx.msg.text or "").strip()) > MAX_NOTE:
            raise Problem(f"Ghi chú dài quá, bạn rút gọn dưới {MAX_NOTE} ký tự nhé.")
        return self.field("note").take(self, ctx)

    def field_buttons(self, ctx: Context, f: Field) -> list[Button]:
        return [Button(o.label, f"{self.name}:{o.wire}") for o in SKIP] if f.key == "photo" else f.buttons(self, ctx)

    def take_photo(self, ctx: Context) -> str:
        """One photo (its path), or "" for none."""
        if ctx.msg.files:
            raise Problem(FILE_NOT_SUPPORTED)
        if ctx.msg.photos:
            problem = photo_problem(ctx, ctx.msg.photos[0])
            if problem:
                raise Problem(problem)
            return ctx.msg.photos[0].path or ""
        if ctx.msg.button == f"{self.name}:skip" or (not ctx.msg.button and match_option(ctx.msg.text or "", SKIP)):
            return ""
        raise Problem("Bạn gửi ảnh, hoặc bấm Bỏ qua.")

    # --- done -----------------------------------------------------------------------------------
    def submit(self, ctx: Context) -> None:
        r = self._report(ctx)
        if r is None:
            return
        st = dict(ctx.state)
        action = st["action"]
        ctx.end_flow()
        try:
            if action == "res":
                S.transition(ctx.app, ctx.session, ctx.now, r, RESOLVED, ctx.person.id, note=st.get("text"),
                             photo=st.get("photo") or None)
                ctx.reply(f"Đã ghi nhận phản ánh {r.code} xử lý xong; người dân đã được báo kết quả.")
            elif action == "tr":
                unit = st.get("unit") or ""
                S.transfer(ctx.app, ctx.session, ctx.now, r, unit, ctx.person.id, _staff_name(ctx.person),
                           note=st.get("note") or None)
                ctx.reply(f"Đã chuyển phản ánh {r.code} cho {S.unit_name(ctx.app, unit)}; người dân đã được báo.")
            elif action == "rej":
                S.transition(ctx.app, ctx.session, ctx.now, r, REJECTED, ctx.person.id, note=st["text"])
                ctx.reply(f"Đã ghi nhận không xử lý phản ánh {r.code}, người dân đã được báo lý do.")
            else:
                text = st["text"]
                ev = S.add_event(ctx.session, r, ctx.now, "info_requested", ctx.person.id, note=text)
                S.notify_resident(ctx.app, ctx.session, ctx.now, r, ev,
                                  text=f"Cán bộ {S.unit_name(ctx.app, r.unit_id)} cần thêm thông tin về phản ánh "
                                       f"{r.code} của {{you}}:\n{text}\n{{You}} chọn \"Trả lời cán bộ\" để trả lời.",
                                  buttons=[S.Button("Trả lời cán bộ", f"pareply:{r.id}")])
                ctx.reply(f"Đã gửi câu hỏi tới người phản ánh {r.code}.")
        except S.TransitionError as e:
            ctx.reply(str(e))


# --- reports that came by phone (1022) or at a residential-group meeting --------------------------
SOURCE_WORDS = {"1022": "hotline", "hotline": "hotline", "dienthoai": "hotline", "hop": "meeting",
                "hoptdp": "meeting", "meeting": "meeting", "khac": "other"}
RECORD_USAGE = ("Cách dùng: /ghiphananh (rồi làm theo hướng dẫn), hoặc nhanh trên một dòng:\n"
                "/ghiphananh NGUỒN | LOẠI | TỔ | ĐỊA CHỈ | MÔ TẢ | SĐT (không bắt buộc)\n"
                "NGUỒN: 1022 hoặc hop; LOẠI: mã loại, ví dụ rac-thai; TỔ: ví dụ tdp-02.\n"
                "Ví dụ: /ghiphananh 1022 | rac-thai | tdp-02 | 12 Lê Lợi | Rác ùn ứ 3 ngày | 0905123456")


def _record(ctx: Context, source: str, cat: str, group: str | None, address: str, desc: str,
            phone: str | None) -> None:
    r = S.create_report(ctx.app, ctx.session, ctx.now, category=cat, description=desc, source=source,
                        address=address, group_code=group, contact_phone=phone, recorded_by=ctx.person.id,
                        actor_id=ctx.person.id)
    extra = ""
    if r.parent_id:
        extra = f" Trùng với phản ánh đang xử lý {ctx.session.get(Report, r.parent_id).code}, đã gộp theo dõi."
    ctx.reply(f"Đã ghi phản ánh {r.code} ({S.source_label(source)}), chuyển {S.unit_name(ctx.app, r.unit_id)}.{extra}")


def cmd_record(ctx: Context, args: str) -> None:
    if not args.strip():
        ctx.start_flow(RecordFlow.name, "start", {})
        ctx.app.router.flows[RecordFlow.name].ask_next(ctx)
        return
    parts = [p.strip() for p in args.split("|")]
    if len(parts) < 5:
        ctx.reply(RECORD_USAGE)
        return
    src, cat, grp, address, desc = parts[:5]
    phone = digits_of(parts[5] if len(parts) > 5 else "") or None
    source = SOURCE_WORDS.get(src.lower().replace(" ", ""))
    problems = []
    if source is None:
        problems.append(f"nguồn \"{src}\" chưa đúng (1022 hoặc hop)")
    if cat not in ctx.app.categories:
        problems.append(f"loại \"{cat}\" chưa đúng (các mã: {', '.join(ctx.app.categories)})")
    group = match_group(ctx.app, grp) if grp else None
    if grp and group is None and grp.lower() not in ("-", "khong", "không"):
        problems.append(f"tổ \"{grp}\" chưa đúng")
    if len(desc) < 5 or len(desc) > S.MAX_DESCRIPTION:
        problems.append("mô tả cần từ 5 đến 4000 ký tự")
    if phone and not 9 <= len(phone) <= 11:
        problems.append("số điện thoại cần 9 đến 11 chữ số")
    if problems:
        ctx.reply("Chưa ghi được: " + "; ".join(problems) + ".\n" + RECORD_USAGE)
        return
    _record(ctx, source, cat, group, address, desc, phone)


SOURCE_CHOICES = [Option("Đường dây nóng 1022", "hotline", "src:hotline", ("1022", "duong day nong", "hotline")),
                  Option("Họp tổ dân phố", "meeting", "src:meeting", ("hop", "hop to", "hop to dan pho")),
                  Option("Nguồn khác", "other", "src:other", ("khac",))]


def _options_of(buttons: list[Button], prefix: str) -> list[Option]:
    """Options from the report form's own button lists ("paghi:cat:rac-thai" -> value "rac-thai")."""
    return [Option(b.text, b.data.rpartition(":")[2], b.data.removeprefix(prefix + ":")) for b in buttons]


class RecordFlow(Form):
    """source -> category -> description -> address -> group -> caller's phone -> saved."""
    name = "paghi"
    title = "ghi phản ánh"
    roles = (R.STAFF,)
    summary = False
    asks_aside = False  # staff type what the resident said, questions included
    fields = [
        Choice("source", "Phản ánh nhận từ đâu?", choices=SOURCE_CHOICES, error="Bạn bấm một nút để chọn nguồn nhé."),
        Choice("cat", "Loại sự việc:", choices=lambda ctx: _options_of(category_buttons(ctx.app, "paghi"), "paghi"),
               error="Bạn chọn loại bằng nút bên dưới nhé."),
        Text("desc", "Nội dung người dân phản ánh:", max_len=10 ** 6,
             error="Bạn gõ nội dung phản ánh (ít nhất vài chữ) nhé."),
        Text("address", "Địa chỉ nơi xảy ra sự việc:", max_len=10 ** 6,
             error="Bạn gõ địa chỉ cụ thể (số nhà, tên đường, kiệt/hẻm) nhé."),
        Choice("group", "Thuộc tổ dân phố nào?", choices=lambda ctx: _options_of(group_buttons(ctx.app, "paghi"), "paghi"),
               error="Bạn chọn tổ bằng nút bên dưới nhé."),
        Phone("phone", "Số điện thoại người phản ánh (để cán bộ gọi lại), hoặc bấm Bỏ qua:",
              alternatives=[Option("Bỏ qua", "", "skip", ("bo qua", "khong", "ko", "khong co", "ko co"))]),
    ]

    def handle(self, ctx: Context) -> None:
        if not ctx.require(R.STAFF):
            ctx.end_flow()
            return
        if ctx.msg.files or ctx.msg.photos:
            ctx.reply("Bước này chỉ cần gõ chữ hoặc bấm nút.")
            return
        super().handle(ctx)

    def _long_enough(self, ctx: Context, key: str, keep: int) -> str:
        text = (ctx.msg.text or "").strip()
        if len(text) < 5 or ctx.msg.button:
            raise Problem(self.field(key).error)
        return text[:keep]

    def take_desc(self, ctx: Context) -> str:
        return self._long_enough(ctx, "desc", S.MAX_DESCRIPTION)

    def take_address(self, ctx: Context) -> str:
        return self._long_enough(ctx, "address", 300)

    def take_group(self, ctx: Context) -> str:
        if not ctx.msg.button:
            code = match_group(ctx.app, ctx.msg.text or "")  # "tổ 5", "tdp-05"
            if code is not None:
                return code
        return self.field("group").take(self, ctx)

    def submit(self, ctx: Context) -> None:
        st = dict(ctx.state)
        ctx.end_flow()
        group = None if st.get("group") in (None, "none") else st["group"]
        _record(ctx, st["source"], st["cat"], group, st["address"], st["desc"], st.get("phone") or None)


def register(r: Router) -> None:
    r.callback("pa")(cb_card)
    r.flow(StaffActionFlow())
    r.flow(RecordFlow())
    r.command("ghiphananh", "ghi phản ánh nhận qua 1022 hoặc họp tổ (cán bộ)", roles=(R.STAFF,))(cmd_record)
