"""The resident's side: the report form (/phananh, free text the NLU calls a complaint, or a photo
sent out of the blue), status look-up (/tinhtrang), and answering a staff question. The rating is in rating.py."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import delete, select

from bot import forms, options
from bot import roles as R
from bot.clock import fmt_deadline, fmt_local
from bot.context import Context
from bot.core import Button
from bot.forms import (Again, ButtonData, Choice, Form, Location, Option, Phone, Photos, Problem, Text, _clean,
                       keep_name, match_option, needs_name, person_name)
from bot.ids import digits_of, parse_id
from bot.router import Router
from handlers.reports import service as S
from handlers.reports.models import OPEN_STATUSES, STATUS_LABELS, Report, ReportEvent
from handlers.reports.rating import own_report as _own_report
from nlu import dialogue, report_rules

CONFIDENT = 0.5  # below this the resident picks the category from the list
MAX_PHOTOS = 5
MIN_DESCRIPTION = 5
MIN_ADDRESS = 5
ANSWER_WINDOW = timedelta(minutes=30)  # a complaint this soon after answering staff may be more of it


# --- input checks shared by the forms ------------------------------------------------------------
def photo_problem(ctx: Context, att) -> str | None:
    limit = ctx.app.profile.limits.photo_max_mb
    if att.mime and not att.mime.lower().startswith("image/"):
        return ("{Me} chỉ nhận ảnh chụp (JPG, PNG...), chưa nhận được tệp loại này. "
                "{You} gửi ảnh giúp {me} nhé.")
    if att.size is not None and att.size > limit * 1024 * 1024:
        return (f"Ảnh này lớn quá ({att.size / 1024 / 1024:.1f} MB, tối đa {limit:g} MB). "
                "{You} chụp lại ở chế độ thường hoặc gửi ảnh nhỏ hơn giúp {me} nhé.")
    return None


FILE_NOT_SUPPORTED = ("{Me} chưa nhận được tệp này: phản ánh chỉ kèm được ảnh chụp (JPG, PNG...). "
                      "{You} gửi ảnh giúp {me} nhé, những gì {you} đã nhập vẫn được giữ nguyên.")
OUTSIDE_WARD = ("Vị trí {{you}} gửi nằm ngoài địa bàn {ward}, nên phường chưa xử lý được. "
                "{{You}} kiểm tra lại vị trí, hoặc gõ địa chỉ cụ thể giúp {{me}} nhé. "
                "Sự việc ở nơi khác {{you}} có thể gọi đường dây nóng {hotline}.")
EMPTY_DESCRIPTION = ("{You} mô tả ngắn gọn sự việc giúp {me} nhé, ví dụ: \"rác đổ đầy đầu hẻm 12 Lê Lợi "
                     "mấy ngày chưa ai dọn\".")


def photo_dict(att) -> dict:
    return {"path": att.path, "mime": att.mime, "size": att.size, "file_id": att.file_id}


def short_title(app, cat_id: str) -> str:
    return S.category_title(app, cat_id).split(",")[0]


def category_buttons(app, prefix: str) -> list[Button]:
    return [Button(short_title(app, c), f"{prefix}:cat:{c}") for c in app.categories]


def group_buttons(app, prefix: str) -> list[Button]:
    return [Button(g.name, f"{prefix}:grp:{g.code}") for g in app.profile.residential_groups] + \
        [Button("Không rõ", f"{prefix}:grp:none")]


def match_group(app, text: str) -> str | None:
    from nlu.normalize import fold
    t = fold(text).strip()
    digits = digits_of(t)[:4]
    for g in app.profile.residential_groups:
        if t in (g.code, fold(g.name)) or (digits and g.code.endswith(f"-{int(digits):02d}")):
            return g.code
    return None


_ADDRESS_WORDS = ("kiet", "hem", "ngo", "duong", "pho", "so nha", "truoc", "gan", "canh", "doi dien", "nga tu",
                  "nga ba", "dau", "cuoi", "chan cau", "khu", "to dan pho")


def _looks_like_address(text: str) -> bool:
    """A short answer naming a place ("40 Bạch Đằng", "kiệt 12 Lê Lợi"), not a question."""
    from bot.forms import reads_as_question
    from nlu.normalize import fold
    t = " ".join(_clean(fold(text)).split())
    words = t.split()
    if not words or len(words) > 12 or reads_as_question(text) or len(text) < MIN_ADDRESS:
        return False
    return (words[0].isdigit() and len(words) >= 2) or any(f" {w} " in f" {t} " for w in _ADDRESS_WORDS)


def guess_category(ctx: Context, text: str, hint: str | None = None, hint_conf: float = 0.0) -> tuple[str | None, bool]:
    """(category, confident). The NLU's guess first; then the form's own categorizer."""
    cats = ctx.app.categories
    if hint in cats and hint_conf >= CONFIDENT:
        return hint, True
    try:
        ranked = ctx.app.nlu.categorize(text) or []
    except Exception:  # a classifier failure must not lose the resident's report
        ranked = []
    ranked = [(c, s) for c, s in ranked if c in cats]
    if ranked and ranked[0][1] >= CONFIDENT:
        return ranked[0][0], True
    if hint in cats:
        return hint, False
    return (ranked[0][0] if ranked else None), False


# --- the form ---------------------------------------------------------------------------------
def _category_options(ctx: Context) -> list[Option]:
    return [Option(short_title(ctx.app, c), c, f"cat:{c}") for c in ctx.app.categories]


def _group_options(ctx: Context) -> list[Option]:
    return [Option(g.name, g.code, f"grp:{g.code}") for g in ctx.app.profile.residential_groups] + \
        [Option("Không rõ", None, "grp:none", ("khong ro", "khong biet", "ko biet", "ko ro", "k ro"))]


CONTACT_CHOICES = [
    Option("Chỉ báo qua chat", {"anonymous": False, "phone": None}, "chatonly",
           ("qua chat", "bao qua chat", "chi qua chat", "khong can goi", "ko can goi", "khong", "ko", "k")),
    Option("Gửi ẩn danh", {"anonymous": True, "phone": None}, "anon",
           ("an danh", "gui an danh", "giau ten", "khong de ten", "ko de ten", "an ten")),
]
PUBLISH_CHOICES = [
    Option("Không công khai", False, "pub:no", ("khong", "ko", "k", "thoi", "khong dong y", "rieng tu")),
    Option("Đồng ý công khai", True, "pub:yes", ("co", "dong y", "ok", "duoc", "cong khai", "u", "vang")),
]


def _needs_name(ctx: Context, st: dict) -> bool:
    """Staff call back by name: ask once, when a phone is left and the person has none on record."""
    return bool(st.get("phone")) and (needs_name(ctx) or "callname" in st)


class ReportFlow(Form):
    """The fields in the order they are asked; photos and a location are taken at any step."""
    name = "phananh"
    title = "phản ánh hiện trường"
    resume_prompt = "{You} muốn tiếp tục phản ánh không?"
    summary_title = "{You} kiểm tra lại phản ánh:"
    submit_label = "Gửi phản ánh"
    cancelled = "Đã hủy phản ánh, chưa có gì được gửi đi."
    fields = [
        Text("desc", "{You} mô tả sự việc cần phản ánh (ở đâu, việc gì, từ bao giờ). Gõ /huy để thôi.",
             label="Nội dung", aliases=("mo ta", "noi dung phan anh"), min_len=MIN_DESCRIPTION, max_len=S.MAX_DESCRIPTION, error=EMPTY_DESCRIPTION),
        Choice("cat", "Sự việc thuộc loại nào? {You} chọn giúp {me}:", label="Loại", done_key="cat_ok",
               aliases=("loai su viec", "phan loai"),
               choices=_category_options,
               error="{You} bấm một nút bên dưới (hoặc gõ số thứ tự) để chọn loại sự việc giúp {me} nhé."),
        Photos("photos", label="Ảnh", done_key="photo_done", max_photos=MAX_PHOTOS,
               aliases=("hinh", "hinh anh", "anh chup")),
        Location("address", "Sự việc ở đâu? {You} bấm chia sẻ vị trí (nút ghim/📎 > Vị trí), hoặc gõ địa chỉ, "
                 "ví dụ: \"kiệt 12 Lê Lợi, gần trường tiểu học\".", label="Địa điểm", address_min=MIN_ADDRESS,
                 aliases=("dia chi", "vi tri", "cho", "noi xay ra"),
                 error="Cán bộ cần biết sự việc ở đâu để đến xử lý. {You} chia sẻ vị trí, hoặc gõ địa chỉ cụ thể (số nhà, "
                       "tên đường, kiệt/hẻm; không rõ số nhà thì tả gần chỗ nào) giúp {me} nhé."),
        Choice("group", "Nơi đó thuộc tổ dân phố nào? (Không rõ thì bấm \"Không rõ\".)", done_key="group_done",
               choices=_group_options,
               error="{Me} không thấy tổ này trong phường. {You} chọn tổ dân phố bằng nút bên dưới giúp {me} nhé."),
        Phone("contact", "{You} có muốn cán bộ gọi lại không? Nếu có, {you} nhập số điện thoại. Kết quả luôn được "
              "báo cho {you} qua khung chat này.\n{You} cũng có thể gửi ẩn danh: cán bộ không thấy tên {you}.",
              label="Liên hệ", done_key="contact_done", alternatives=CONTACT_CHOICES,
              aliases=("so dien thoai", "dien thoai", "sdt", "so dt", "dt", "goi lai", "an danh")),
        Text("callname", "Cán bộ nên gọi {you} là gì? (ví dụ: chị Lan, bác Tư)", ask_if=_needs_name,
             min_len=2, max_len=60, skip="Bỏ qua", error="{You} gõ tên để cán bộ xưng hô khi gọi lại, hoặc bấm Bỏ qua."),
        Choice("publish", "Phường có thể đăng nội dung phản ánh lên trang tra cứu công khai (không kèm tên, "
               "số điện thoại) để bà con cùng theo dõi. {You} đồng ý không?", label="Công khai nội dung",
               choices=PUBLISH_CHOICES, ask_if=lambda ctx, st: not st.get("anonymous")),
    ]

    # --- photos and a location, at any step (the escape hatch) --------------------------------
    def before(self, ctx: Context) -> bool:
        msg, st = ctx.msg, ctx.state
        if msg.files:
            ctx.reply(FILE_NOT_SUPPORTED)
            self.ask_next(ctx)
            return True
        took_media = False
        if msg.photos:
            for att in msg.photos:
                problem = photo_problem(ctx, att)
                if problem:
                    ctx.reply(problem)
                    self.ask_next(ctx)
                    return True
            photos = st.setdefault("photos", [])
            if len(photos) + len(msg.photos) > MAX_PHOTOS:
                ctx.reply(f"Mỗi phản ánh kèm tối đa {MAX_PHOTOS} ảnh. {{Me}} giữ {len(photos)} ảnh đã nhận.")
                self.ask_next(ctx)
                return True
            photos.extend(photo_dict(a) for a in msg.photos)
            took_media = True
        if msg.location is not None:
            if not S.inside_ward(ctx.app, msg.location.lat, msg.location.lon):
                p = ctx.app.profile
                ctx.reply(OUTSIDE_WARD.format(ward=p.ward.name, hotline=p.hotline))
                if (ctx.conv.step or "") == "photos" and not msg.photos:
                    st["photo_done"] = True  # the place is what is being settled now: ask it, as the reply says
                self.ask_next(ctx)
                return True
            st["lat"], st["lon"] = msg.location.lat, msg.location.lon
            took_media = True
        step = ctx.conv.step or "start"
        if step == "photos" and msg.photos:  # a caption on a photo is not an answer to anything
            ctx.reply(f"Đã nhận {len(st['photos'])} ảnh. {{You}} gửi thêm ảnh, hoặc bấm Tiếp tục.",
                      buttons=[("Tiếp tục", "phananh:photodone")])
            return True
        if took_media and not (msg.text and msg.text.strip()):
            if step == "photos" and msg.location is not None:
                st["photo_done"] = True  # sharing the place answers "any more photos?"
            if step == "confirm":
                self.ask_confirm(ctx)
            else:
                self.ask_next(ctx)
            return True
        return False

    # --- the category: a confident guess is confirmed, otherwise picked from the list --------------
    def validate_desc(self, ctx: Context, text: str) -> str | None:
        cat, sure = guess_category(ctx, text)
        if ctx.state.get("cat_ok") and cat == ctx.state.get("cat"):
            return None  # an edited description of the same kind: the confirmed category stands
        ctx.state["cat"], ctx.state["cat_ok"] = cat, False
        ctx.state["cat_sure"] = bool(cat and sure)
        return None

    def ask_cat(self, ctx: Context) -> None:
        st = ctx.state
        if st.get("cat") and st.get("cat_sure"):
            ctx.reply(f"{{Me}} hiểu đây là phản ánh về: {S.category_title(ctx.app, st['cat'])}. Đúng không ạ?",
                      buttons=[("Đúng", "phananh:catok"), ("Chọn loại khác", "phananh:catlist")])
            return
        ctx.reply("Sự việc thuộc loại nào? {You} chọn giúp {me}:", buttons=category_buttons(ctx.app, "phananh"))

    def take_cat(self, ctx: Context) -> str:
        st, b = ctx.state, ctx.msg.button
        if b == "phananh:catok" and st.get("cat"):
            return st["cat"]
        if b == "phananh:catlist":
            st["cat_sure"] = False
            raise Again()
        if not b and st.get("cat_sure"):  # typed at "Đúng không ạ?": yes, no, or a category
            o = match_option(ctx.msg.text or "", [Option("Đúng", "ok", "catok", ("dung", "dung roi", "phai", "co", "u")),
                                                  Option("Chọn loại khác", "list", "catlist",
                                                         ("khong", "ko", "sai", "khong phai", "loai khac"))])
            if o is not None and o.value == "ok":
                return st["cat"]
            if o is not None:
                st["cat_sure"] = False
                raise Again()
            if self._answers_ahead(ctx, ctx.msg.text or ""):
                return st["cat"]  # went on to the next question: the guess stands
        try:
            return self.field("cat").take(self, ctx)
        except Problem:
            text = (ctx.msg.text or "").strip()
            if not b and text and len(_clean(text).split()) <= 6:
                u = ctx.understanding  # a kind named in words: "ngập nước", "đèn hỏng"
                if u.kind == "complaint" and u.category in ctx.app.categories and (u.confidence or 0) >= CONFIDENT:
                    return u.category
            if not b and st.get("cat_sure"):
                raise Problem(f"{{You}} trả lời \"Đúng\" nếu đây là phản ánh về {S.category_title(ctx.app, st['cat'])}, "
                              "hoặc \"Chọn loại khác\" giúp {me} nhé.",
                              buttons=[Button("Đúng", "phananh:catok"), Button("Chọn loại khác", "phananh:catlist")])
            raise

    def _answers_ahead(self, ctx: Context, text: str) -> bool:
        """At "Đúng không ạ?", an answer to a later question ("ko có ảnh", "kiệt 12 Lê Lợi", "tổ 3")
        is kept for its step."""
        st, t = ctx.state, _clean(text)
        photos = self.field("photos")
        if match_option(text, photos.options(ctx)) is not None and t not in ("khong", "ko", "k"):
            photos.store(st, True)
            return True
        if _looks_like_address(text) and not st.get("address") and st.get("lat") is None:
            st["address"] = text.strip()[:300]
            return True
        if re.fullmatch(r"(?:to|tdp|to dan pho)\s*\d{1,2}", t):
            code = match_group(ctx.app, t)
            if code is not None:
                self.field("group").store(st, code)
                return True
        return False

    def ask_photos(self, ctx: Context) -> None:
        n = len(ctx.state.get("photos", []))
        lead = f"Đã có {n} ảnh. " if n else ""
        ctx.reply(f"{lead}{{You}} gửi ảnh chụp hiện trường (tối đa {MAX_PHOTOS} ảnh) để cán bộ dễ xử lý, "
                  "xong thì bấm Tiếp tục. Không có ảnh thì bấm Bỏ qua.",
                  buttons=self.field_buttons(ctx, self.field("photos")))

    def take_photos(self, ctx: Context):
        try:
            return self.field("photos").take(self, ctx)
        except Problem:
            text = (ctx.msg.text or "").strip()
            if not ctx.msg.button and not ctx.state.get("address") and ctx.state.get("lat") is None \
                    and _looks_like_address(text):
                # "40 Bạch Đằng" instead of a photo: no photos, and this is the place
                ctx.state["address"] = text[:300]
                return True
            raise

    def take_group(self, ctx: Context):
        if not ctx.msg.button and ctx.msg.text:
            code = match_group(ctx.app, ctx.msg.text)
            if code is not None:
                return code
        return self.field("group").take(self, ctx)

    def take_contact(self, ctx: Context) -> dict:
        v = self.field("contact").take(self, ctx)
        return v if isinstance(v, dict) else {"anonymous": False, "phone": v}

    def validate_callname(self, ctx: Context, name: str) -> str | None:
        keep_name(ctx, name)  # on the person: staff see it, and it is never asked again ("" if skipped)
        return None

    # --- the summary -------------------------------------------------------------------------
    def summary_lines(self, ctx: Context) -> list[str]:
        st, app = ctx.state, ctx.app
        place = []
        if st.get("address"):
            place.append(st["address"])
        if st.get("lat") is not None:
            place.append(f"vị trí đã chia sẻ ({st['lat']:.5f}, {st['lon']:.5f})")
        if st.get("group") and app.profile.group(st["group"]):
            place.append(app.profile.group(st["group"]).name)
        if st.get("anonymous"):
            contact = "ẩn danh"
        elif st.get("phone"):
            name = person_name(ctx.person)
            contact = f"gọi lại số {st['phone']}" + (f" ({name})" if name else "")
        else:
            contact = "chỉ báo qua chat"
        lines = [f"• Loại: {S.category_title(app, st['cat'])}", f"• Nội dung: {st['desc']}",
                 f"• Ảnh: {len(st.get('photos', []))}", f"• Địa điểm: {'; '.join(place)}", f"• Liên hệ: {contact}"]
        if not st.get("anonymous"):
            lines.append("• Công khai nội dung: " + ("có (không kèm tên, số điện thoại)" if st.get("publish")
                                                     else "không"))
        return lines

    def submit(self, ctx: Context) -> None:
        st = ctx.state
        r = S.create_report(
            ctx.app, ctx.session, ctx.now, category=st["cat"], description=st["desc"], source="chat",
            lat=st.get("lat"), lon=st.get("lon"), address=st.get("address"), group_code=st.get("group"),
            photos=st.get("photos", []), person=ctx.person, channel=ctx.msg.channel, chat_id=ctx.msg.chat_id,
            contact_name=None if st.get("anonymous") else person_name(ctx.person),
            contact_phone=st.get("phone"), anonymous=bool(st.get("anonymous")), actor_id=ctx.person.id)
        # Open311 public reads show the description only with this consent (never for anonymous reports).
        r.publish_description = bool(st.get("publish")) and not st.get("anonymous")
        ctx.session.add(r)
        ctx.end_flow()
        if r.parent_id:
            main = ctx.session.get(Report, r.parent_id)
            ctx.reply(f"Cảm ơn {{you}}! Sự việc này đã có người phản ánh trước ({main.code}) và đang được "
                      f"{S.unit_name(ctx.app, main.unit_id)} xử lý ({STATUS_LABELS[main.status]}). "
                      f"{{Me}} đã ghi nhận thêm phản ánh của {{you}}, mã {r.code}, và sẽ báo cho {{you}} khi có kết quả.\n"
                      f"Xem tình trạng: /tinhtrang {r.code}")
            return
        ctx.reply(f"Đã gửi phản ánh. Mã phản ánh của {{you}}: {r.code}\n"
                  f"Phản ánh đã được chuyển tới {S.unit_name(ctx.app, r.unit_id)}, hạn xử lý "
                  f"{fmt_deadline(r.resolve_by)}. {{Me}} sẽ báo cho {{you}} mỗi khi có tiến triển.\n"
                  f"Xem tình trạng bất cứ lúc nào: /tinhtrang {r.code}")


def start_report(ctx: Context, text: str | None = None, hint: str | None = None, hint_conf: float = 0.0,
                 extra: dict | None = None) -> None:
    data = dict(extra or {})
    text = (text or "").strip()
    if text and sum(ch.isalnum() for ch in text) >= MIN_DESCRIPTION:
        data["desc"] = text[:S.MAX_DESCRIPTION]
        cat, sure = guess_category(ctx, text, hint, hint_conf)
        if cat:
            data["cat"] = cat
        data["cat_sure"] = bool(cat and sure)
    ctx.run_flow("phananh", "start", data)


def cmd_report(ctx: Context, args: str) -> None:
    start_report(ctx, args)


def on_complaint(ctx: Context) -> None:
    r = _awaited_by_staff(ctx)
    if r is not None:  # it may well be the answer to the staff question, not a new report: ask
        ctx.conv.data = {**ctx.conv.data, "staff_answer_draft": {"report_id": r.id, "text": ctx.msg.text}}
        ctx.reply(f"Cán bộ đang chờ bạn trả lời câu hỏi về phản ánh {r.code}. Tin nhắn vừa rồi là câu trả lời "
                  "cho cán bộ, hay một phản ánh mới?",
                  buttons=[AnswerStaff(r.id).button("Trả lời cán bộ"), NewReport(r.id).button("Phản ánh mới")])
        return
    u = ctx.understanding
    r = _still_there(ctx, getattr(u, "category", None))
    if r is not None:  # "rác vẫn còn nguyên" after the result: that report is not done
        from handlers.reports.rating import cb_redo
        return cb_redo(ctx, str(r.id))
    note = report_rules.report_note(ctx.msg.text or "", getattr(u, "category", None), getattr(u, "policy", None))
    if note:  # a loan flyer, a bite, a hazard that hurt someone: the advice first, then the report
        ctx.reply(dialogue.speak(note, getattr(ctx.person, "address_term", None)))
    start_report(ctx, ctx.msg.text, getattr(u, "category", None), getattr(u, "confidence", 0.0) or 0.0,
                 extra=_media_just_sent(ctx))


_STILL = tuple(options._clean(p) for p in S.REOPEN_PHRASES)


def _still_there(ctx: Context, category: str | None) -> Report | None:
    """The resident's report of this kind whose result they were just told, when the message says
    the problem is still there anywhere in it ("rác vẫn còn nguyên, chưa ai dọn")."""
    t = f" {options._clean(ctx.msg.text or '')} "
    if not category or not any(f" {p} " in t for p in _STILL):
        return None
    since = ctx.now.replace(tzinfo=None) - options.TTL
    for r in ctx.session.exec(select(Report).where(Report.person_id == ctx.person.id, Report.category == category,
                                                   Report.status == S.RESOLVED).order_by(Report.id.desc())):
        if _here(ctx, r) and r.resolved_at is not None and r.resolved_at.replace(tzinfo=None) >= since:
            return r
    return None


def _media_just_sent(ctx: Context) -> dict | None:
    """The photo or location sent just before, still unanswered: people send the photo, then type
    what it is, and the typed report must not lose it."""
    data = ctx.conv.data or {}
    pending, at = data.get("report_media"), data.get("report_media_at")
    if not pending:
        return None
    ctx.conv.data = {k: v for k, v in data.items() if k not in ("report_media", "report_media_at")}
    try:
        sent = datetime.fromisoformat(at)
    except (TypeError, ValueError):
        return None
    now = ctx.now.replace(tzinfo=None)
    return dict(pending) if timedelta(0) <= now - sent.replace(tzinfo=None) <= ANSWER_WINDOW else None


def _term(ctx: Context) -> str | None:
    return getattr(ctx.person, "address_term", None)


def on_media(ctx: Context) -> bool:
    """A photo or a location sent outside any form may be the start of a report."""
    msg = ctx.msg
    if any(f.kind != "sticker" for f in msg.files) and not msg.photos:
        ctx.reply(dialogue.speak(FILE_NOT_SUPPORTED.replace(", những gì {you} đã nhập vẫn được giữ nguyên", ""),
                                 _term(ctx)))
        return True
    pending: dict = {}
    if msg.photos:
        for att in msg.photos:
            problem = photo_problem(ctx, att)
            if problem:
                ctx.reply(dialogue.speak(problem, _term(ctx)))
                return True
        pending["photos"] = [photo_dict(a) for a in msg.photos[:MAX_PHOTOS]]
    if msg.location is not None:
        if not S.inside_ward(ctx.app, msg.location.lat, msg.location.lon):
            p = ctx.app.profile
            ctx.reply(dialogue.speak(OUTSIDE_WARD.format(ward=p.ward.name, hotline=p.hotline), _term(ctx)))
            return True
        pending["lat"], pending["lon"] = msg.location.lat, msg.location.lon
    if not pending:
        return False
    ctx.conv.data = {**ctx.conv.data, "report_media": pending, "report_media_at": ctx.now.isoformat()}
    what = "trong ảnh" if msg.photos else "tại vị trí này"
    ctx.reply(dialogue.speak(f"{{You}} muốn phản ánh sự việc {what} tới phường?", _term(ctx)),
              buttons=[("Có, gửi phản ánh", "pamedia:yes"), ("Không", "pamedia:no")])
    return True


def cb_media(ctx: Context, payload: str) -> None:
    pending = (ctx.conv.data or {}).get("report_media")
    if payload != "yes" or not pending:
        if pending:
            ctx.conv.data = {k: v for k, v in ctx.conv.data.items() if k != "report_media"}
        ctx.reply(dialogue.speak("Dạ vâng. {You} cần gì cứ nhắn {me} nhé.", getattr(ctx.person, "address_term", None)))
        return
    ctx.run_flow("phananh", "start", pending)


@dataclass(frozen=True)
class AnswerStaff(ButtonData, prefix="pans"):
    """"Trả lời cán bộ" for a message that could also have been a new report."""
    report: int


@dataclass(frozen=True)
class NewReport(ButtonData, prefix="panew"):
    """"Phản ánh mới" for the same message."""
    report: int


def _awaited_by_staff(ctx: Context) -> Report | None:
    """The resident's open report whose staff question is still waiting for an answer, if any."""
    now = ctx.now.replace(tzinfo=None)
    for r in list(ctx.session.exec(select(Report).where(Report.person_id == ctx.person.id,
                                                        Report.status.in_(OPEN_STATUSES)).order_by(Report.id.desc()))):
        if not _here(ctx, r):
            continue
        asked, answered = _staff_question(ctx, r)
        if asked is not None and not answered and now - asked.at.replace(tzinfo=None) <= options.TTL:
            return r
    # People answer in several messages: the next ones, a while after the first, are likely more of it.
    ev = ctx.session.exec(select(ReportEvent).where(
        ReportEvent.actor_id == ctx.person.id, ReportEvent.action == "info_received")
        .order_by(ReportEvent.id.desc())).first()
    if ev is not None and now - ev.at.replace(tzinfo=None) <= ANSWER_WINDOW:
        r = ctx.session.get(Report, ev.report_id)
        if r is not None and r.person_id == ctx.person.id and r.status in OPEN_STATUSES and _here(ctx, r):
            return r
    return None


def _here(ctx: Context, r: Report) -> bool:
    """In a group, only a report sent from that group is talked about: another one's code and staff
    question are not for the other members to read."""
    return not ctx.msg.is_group or (r.channel == ctx.msg.channel and r.chat_id == ctx.msg.chat_id)


def _take_draft(ctx: Context, report_id: int) -> str | None:
    draft = (ctx.conv.data or {}).get("staff_answer_draft") or {}
    ctx.conv.data = {k: v for k, v in (ctx.conv.data or {}).items() if k != "staff_answer_draft"}
    return draft.get("text") if draft.get("report_id") == report_id else None


def _forget_reply_route(ctx: Context, report_id: int) -> None:
    """The staff question's typed route (bot/options.py) goes once it is answered."""
    ctx.session.exec(delete(options.PendingOption).where(
        options.PendingOption.channel == ctx.msg.channel, options.PendingOption.chat_id == ctx.msg.chat_id,
        options.PendingOption.free_text == f"pareply:{report_id}"))


def cb_answer_staff(ctx: Context, payload: str) -> None:
    b = ctx.pressed(AnswerStaff)
    text = _take_draft(ctx, b.report) if b else None
    if b is None or text is None or ctx.conv.flow:
        ctx.reply("Nút này không còn hiệu lực.")
        return
    _forget_reply_route(ctx, b.report)
    ctx.msg.text, ctx.msg.button = text, None
    open_answer(ctx, str(b.report), sure=True)  # chosen as the answer for staff: never set aside


def cb_new_report(ctx: Context, payload: str) -> None:
    b = ctx.pressed(NewReport)
    text = _take_draft(ctx, b.report) if b else None
    if b is None or text is None or ctx.conv.flow:
        ctx.reply("Nút này không còn hiệu lực.")
        return
    start_report(ctx, text)


# --- status ------------------------------------------------------------------------------------
def cmd_status(ctx: Context, args: str) -> None:
    code = args.strip()
    if code:
        r = S.by_code(ctx.session, code)
        if r is None:
            ctx.reply(f"Không tìm thấy phản ánh mã {code[:30]}. Mã có dạng PA-2026-000123, bạn kiểm tra lại nhé.")
            return
        if r.person_id == ctx.person.id and _here(ctx, r) or ctx.has_role(R.STAFF):
            ctx.reply(S.status_text(ctx.app, r, ctx.now))
        else:  # somebody else's report: the state, not what they wrote
            ctx.reply(f"Phản ánh {r.code} - {S.category_title(ctx.app, r.category)}\n"
                      f"Gửi lúc {fmt_local(r.created_at)}. Trạng thái: {STATUS_LABELS[r.status]}.")
        return
    q = select(Report).where(Report.person_id == ctx.person.id)
    if ctx.msg.is_group:  # a group reads only the reports sent from it (_here)
        q = q.where(Report.channel == ctx.msg.channel, Report.chat_id == ctx.msg.chat_id)
    rows = list(ctx.session.exec(q.order_by(Report.id.desc()).limit(5)))
    if not rows:
        ctx.reply(dialogue.speak("{You} chưa gửi phản ánh nào. Gõ /phananh để gửi phản ánh, hoặc /tinhtrang MÃ "
                                 "để tra một mã.", _term(ctx)))
        return
    lines = [dialogue.speak("Phản ánh gần đây của {you}:", _term(ctx))]
    for r in rows:
        lines.append(f"• {r.code} ({fmt_local(r.created_at, with_time=False)}) "
                     f"{short_title(ctx.app, r.category)}: {STATUS_LABELS[r.status]}")
    lines.append("Xem chi tiết: /tinhtrang MÃ")
    ctx.reply("\n".join(lines))


# --- answering a staff question ----------------------------------------------------------------
REPEAT_PRESS = ("1", "tra loi can bo", "tra loi")  # "Trả lời cán bộ" typed again at its own prompt


def _staff_question(ctx: Context, r: Report) -> tuple[ReportEvent | None, bool]:
    """The report's latest staff question, and whether this resident has answered it already."""
    last = ctx.session.exec(select(ReportEvent).where(
        ReportEvent.report_id == r.id, ReportEvent.action.in_(("info_requested", "info_received")))
        .order_by(ReportEvent.id.desc())).first()
    if last is None or last.action == "info_requested":
        return last, False
    asked = ctx.session.exec(select(ReportEvent).where(
        ReportEvent.report_id == r.id, ReportEvent.action == "info_requested")
        .order_by(ReportEvent.id.desc())).first()
    return asked, True


def cb_info(ctx: Context, payload: str) -> None:
    """"Trả lời cán bộ" pressed, or text typed straight after the staff question (bot/options.py)."""
    open_answer(ctx, payload)


def open_answer(ctx: Context, payload: str, sure: bool = False) -> None:
    """The answer prompt for the report's staff question, with the text typed if any (sure: the
    resident said this text is for staff). Pressed again, it is the same prompt: one answer per
    question reaches staff once."""
    r = _own_report(ctx, payload)
    if r is None:
        return
    form: InfoFlow = ctx.app.router.flows[InfoFlow.name]
    typed = (ctx.msg.text or "").strip()
    ctx.msg.button = None  # what follows is the form's answer, not this button
    if ctx.conv.flow == InfoFlow.name and ctx.state.get("report_id") == r.id:
        ctx.state["sure"] = sure
        return form.handle(ctx) if typed else form.ask_field(ctx, form.field("answer"))
    if ctx.conv.flow:
        ctx.reply(dialogue.speak("{You} đang điền dở một biểu mẫu. Gõ /huy rồi bấm lại nút \"Trả lời cán bộ\" nhé.",
                                 _term(ctx)))
        return
    p = forms.parked_form(ctx, InfoFlow.name)
    if p is not None and p["data"].get("report_id") == r.id:  # the prompt set aside for a question
        forms.restore(ctx, p)
        ctx.state.pop("draft", None)
        ctx.state["sure"] = sure
        return form.handle(ctx) if typed else form.ask_field(ctx, form.field("answer"))
    asked, answered = _staff_question(ctx, r)
    if answered and not typed:
        ctx.reply(dialogue.speak(f"{{You}} đã trả lời câu hỏi của cán bộ về phản ánh {r.code}, cán bộ đã nhận "
                                 "được. Nếu cần thêm thông tin, cán bộ sẽ hỏi {you}.", _term(ctx)))
        return
    ctx.start_flow(InfoFlow.name, "answer", {"report_id": r.id, "question": asked.id if asked else None,
                                             "sure": sure})
    if typed:
        return form.handle(ctx)
    form.ask_field(ctx, form.field("answer"))


class InfoFlow(Form):
    """A resident's answer to a staff question: text and/or photos, sent to the unit as is. A
    clearly new question typed here (forms.clearly_new_question) is answered, and the resident
    chooses whether it goes to staff too: nothing is swallowed, nothing meant for staff dropped."""
    name = "painfo"
    title = "trả lời cán bộ"
    summary = False
    asks_aside = "clear"
    fields = [Text("answer", max_len=4000, error="{You} gõ thông tin bổ sung (hoặc gửi ảnh) giúp {me} nhé.")]

    def is_aside(self, ctx: Context, f, parsed: bool) -> bool:
        # "Trả lời cán bộ" chosen for this very text (the draft buttons): it is for staff
        return not ctx.state.get("sure") and super().is_aside(ctx, f, parsed)

    def _report(self, ctx: Context) -> Report | None:
        return ctx.session.get(Report, ctx.state.get("report_id"))

    def ask_answer(self, ctx: Context) -> None:
        r = self._report(ctx)
        ctx.reply(f"{{You}} nhập thông tin bổ sung cho phản ánh {r.code if r else ''} (có thể kèm ảnh). "
                  "Gõ /huy để thôi.")

    def take_answer(self, ctx: Context) -> str:
        msg = ctx.msg
        if msg.files:
            raise Problem(FILE_NOT_SUPPORTED)
        for att in msg.photos:
            problem = photo_problem(ctx, att)
            if problem:
                raise Problem(problem)
        if msg.photos:
            ctx.state["photos"] = [photo_dict(a) for a in msg.photos]
            return (msg.text or "").strip()
        if not ctx.state.get("sure") and _clean(msg.text) in REPEAT_PRESS:
            raise Again()  # the button pressed twice (typed "1" again on Zalo): the same prompt
        return self.field("answer").take(self, ctx)

    def aside_prompt(self, ctx: Context, state: dict):
        r = ctx.session.get(Report, state.get("report_id"))
        rid = r.id if r else 0
        return (f"Cán bộ vẫn đang chờ {{you}} trả lời câu hỏi về phản ánh {r.code if r else ''}. "
                "Gửi luôn tin nhắn vừa rồi cho cán bộ?",
                [SendDraft(rid).button("Gửi cho cán bộ"), forms.Resume(self.name).button("Trả lời khác"),
                 forms.Drop(self.name).button("Thôi")])

    def answer_question(self, ctx: Context) -> None:
        # kept whole with the form set aside ("Gửi cho cán bộ" sends it; the engine caps a message)
        ctx.state["draft"] = (ctx.msg.text or "").strip()
        super().answer_question(ctx)

    def resume(self, ctx: Context) -> None:
        ctx.state.pop("draft", None)
        self.ask_field(ctx, self.field("answer"))

    def submit(self, ctx: Context) -> None:
        st = dict(ctx.state)
        text, photos = (st.get("answer") or "").strip(), st.get("photos") or []
        r = self._report(ctx)
        ctx.end_flow()
        if r is None:
            ctx.reply("Không tìm thấy phản ánh này nữa.")
            return
        if photos:
            r.photos = list(r.photos) + photos
            ctx.session.add(r)
        ev = S.add_event(ctx.session, r, ctx.now, "info_received", ctx.person.id, note=text or "(ảnh)",
                         photos=len(photos), question=st.get("question"))
        _forget_reply_route(ctx, r.id)  # answered: later text is not routed to staff again
        chat = S.unit_chat(ctx.app, r.unit_id)
        if chat:
            reply = S.card(ctx.app, r, "Người dân bổ sung thông tin cho")
            reply.text += f"\nThông tin bổ sung: {text or '(ảnh)'}"
            reply.photo = photos[0]["path"] if photos else reply.photo
            ctx.notify(chat.channel, chat.chat_id, reply, dedupe_key=f"report:{r.id}:ev:{ev.id}:unit")
        ctx.reply(f"Đã chuyển thông tin bổ sung cho cán bộ xử lý phản ánh {r.code}. Cảm ơn {{you}}!")


@dataclass(frozen=True)
class SendDraft(ButtonData, prefix="padraft"):
    """"Gửi cho cán bộ": the question typed at the answer prompt goes to staff after all."""
    report: int


def cb_send_draft(ctx: Context, payload: str) -> None:
    b = ctx.pressed(SendDraft)
    p = forms.parked_form(ctx, InfoFlow.name) if b is not None and not ctx.conv.flow else None
    if p is None or p["data"].get("report_id") != b.report or not p["data"].get("draft"):
        ctx.reply("Nút này không còn hiệu lực.")
        return
    forms.restore(ctx, p)
    ctx.state["answer"] = ctx.state.pop("draft")
    ctx.app.router.flows[InfoFlow.name].submit(ctx)


# --- erasure -----------------------------------------------------------------------------------
def on_erase(ctx: Context) -> None:
    """Keep the reports for the ward's records; forget who sent them and how to reach them."""
    for r in ctx.session.exec(select(Report).where(Report.person_id == ctx.person.id)):
        r.person_id, r.channel, r.chat_id = None, None, None
        r.contact_name, r.contact_phone, r.contact_email = None, None, None
        r.rating_comment = None
        ctx.session.add(r)
        S.add_event(ctx.session, r, ctx.now, "contact_erased", None, actor_label="yêu cầu xóa dữ liệu")


def _asked_here(ctx: Context, data: str) -> bool:
    """Whether a notice about a report (button data prefix:<report>[:...]) is this sender's: the
    staff question, the rating request."""
    n = parse_id(data.split(":")[1] if data.count(":") else "")
    r = ctx.session.get(Report, n) if n is not None else None
    return r is not None and r.person_id == ctx.person.id


_CODE_RX = re.compile(r"\bpa-\d{4}-\d{1,6}\b")
_CODE_WORDS = frozenset("tra xem kiem ma so phan anh tinh trang cua toi minh em giup voi sao roi the nao den dau "
                        "a nhe oi".split())


def on_code(ctx: Context) -> bool:
    """A report code pasted or typed on its own ("PA-2026-000123", "tra mã PA-... giúp mình"): its status."""
    from nlu.normalize import fold
    t = fold(ctx.msg.text or "").lower()
    codes = _CODE_RX.findall(t)
    rest = re.sub(r"[^a-z ]", " ", _CODE_RX.sub(" ", t)).split()
    if len(codes) != 1 or len(rest) > 8 or not set(rest) <= _CODE_WORDS:
        return False
    cmd_status(ctx, codes[0].upper())
    return True


def register(r: Router) -> None:
    r.flow(ReportFlow())
    r.on_text(on_code)
    r.flow(InfoFlow())
    r.command("phananh", "gửi phản ánh về trật tự, vệ sinh đô thị")(cmd_report)
    r.command("tinhtrang", "xem tình trạng phản ánh của bạn", keeps_flow=True)(cmd_status)
    r.on_kind("complaint", on_complaint)
    r.on_media(on_media)
    r.callback("pamedia")(cb_media)
    r.callback("pareply")(cb_info)
    r.callback(AnswerStaff.prefix)(cb_answer_staff)
    r.callback(NewReport.prefix)(cb_new_report)
    r.callback(SendDraft.prefix)(cb_send_draft)
    options.accept_free_text("pareply")
    options.addressed("pareply", _asked_here)
    r.on_erase(on_erase)
