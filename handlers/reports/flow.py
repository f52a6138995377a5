"""The resident's side: the report form (/phananh, free text the NLU calls a complaint, or a photo
sent out of the blue), status look-up (/tinhtrang), and answering a staff question. The rating is in rating.py."""
from __future__ import annotations

from sqlmodel import select

from bot import options
from bot import roles as R
from bot.clock import fmt_local
from bot.context import Context
from bot.core import Button
from bot.ids import digits_of
from bot.router import Flow, Router
from handlers.reports import service as S
from handlers.reports.models import STATUS_LABELS, Report
from handlers.reports.rating import own_report as _own_report

CONFIDENT = 0.5  # below this the resident picks the category from the list
MAX_PHOTOS = 5
MIN_DESCRIPTION = 5
MIN_ADDRESS = 5


# --- input checks shared by the forms ------------------------------------------------------------
def photo_problem(ctx: Context, att) -> str | None:
    limit = ctx.app.profile.limits.photo_max_mb
    if att.mime and not att.mime.lower().startswith("image/"):
        return ("Mình chỉ nhận ảnh chụp (JPG, PNG...), chưa nhận được tệp loại này. "
                "Bạn gửi ảnh giúp mình nhé.")
    if att.size is not None and att.size > limit * 1024 * 1024:
        return (f"Ảnh này lớn quá ({att.size / 1024 / 1024:.1f} MB, tối đa {limit:g} MB). "
                "Bạn chụp lại ở chế độ thường hoặc gửi ảnh nhỏ hơn giúp mình nhé.")
    return None


FILE_NOT_SUPPORTED = ("Mình chưa nhận được tệp này: phản ánh chỉ kèm được ảnh chụp (JPG, PNG...). "
                      "Bạn gửi ảnh giúp mình nhé, những gì bạn đã nhập vẫn được giữ nguyên.")
OUTSIDE_WARD = ("Vị trí bạn gửi nằm ngoài địa bàn {ward}, nên phường chưa xử lý được. "
                "Bạn kiểm tra lại vị trí, hoặc gõ địa chỉ cụ thể giúp mình nhé. "
                "Sự việc ở nơi khác bạn có thể gọi đường dây nóng {hotline}.")
EMPTY_DESCRIPTION = ("Bạn mô tả ngắn gọn sự việc giúp mình nhé, ví dụ: \"rác đổ đầy đầu hẻm 12 Lê Lợi "
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
class ReportFlow(Flow):
    """description -> category -> photos -> place (location or address + group) -> contact -> confirm.
    Photos and a location are taken at any step; whatever is missing is asked next."""
    name = "phananh"
    title = "phản ánh hiện trường"

    def handle(self, ctx: Context) -> None:
        msg = ctx.msg
        if msg.button == "phananh:cancel":
            ctx.end_flow()
            ctx.reply("Đã hủy phản ánh, chưa có gì được gửi đi.")
            return
        if msg.files:
            ctx.reply(FILE_NOT_SUPPORTED)
            return self.ask(ctx, repeat=True)
        took_media = False
        if msg.photos:
            for att in msg.photos:
                problem = photo_problem(ctx, att)
                if problem:
                    ctx.reply(problem)
                    return self.ask(ctx, repeat=True)
            photos = ctx.state.setdefault("photos", [])
            if len(photos) + len(msg.photos) > MAX_PHOTOS:
                ctx.reply(f"Mỗi phản ánh kèm tối đa {MAX_PHOTOS} ảnh. Mình giữ {len(photos)} ảnh đã nhận.")
                return self.ask(ctx, repeat=True)
            photos.extend(photo_dict(a) for a in msg.photos)
            ctx.save_state()
            took_media = True
        if msg.location is not None:
            if not S.inside_ward(ctx.app, msg.location.lat, msg.location.lon):
                p = ctx.app.profile
                ctx.reply(OUTSIDE_WARD.format(ward=p.ward.name, hotline=p.hotline))
                return self.ask(ctx, repeat=True)
            ctx.state["lat"], ctx.state["lon"] = msg.location.lat, msg.location.lon
            ctx.save_state()
            took_media = True
        step = ctx.conv.step or "start"
        if step == "photo" and msg.photos:  # a caption on a photo is not an answer to anything
            n = len(ctx.state["photos"])
            ctx.reply(f"Đã nhận {n} ảnh. Bạn gửi thêm ảnh, hoặc bấm Tiếp tục.",
                      buttons=[("Tiếp tục", "phananh:photodone")])
            return
        if took_media and not (msg.text and msg.text.strip()):
            if step == "photo" and msg.location is not None:
                ctx.state["photo_done"] = True  # sharing the place answers "any more photos?"
                ctx.save_state()
            return self.ask(ctx)
        super().handle(ctx)

    # what is missing, in order
    def ask(self, ctx: Context, repeat: bool = False) -> None:
        st = ctx.state
        if not st.get("desc"):
            ctx.goto("desc")
            if not repeat or ctx.conv.step != "desc":
                ctx.reply("Bạn mô tả sự việc cần phản ánh (ở đâu, việc gì, từ bao giờ). Gõ /huy để thôi.")
            else:
                ctx.reply(EMPTY_DESCRIPTION)
            return
        if not st.get("cat"):
            return self.ask_category(ctx)
        if not st.get("cat_ok"):
            ctx.goto("cat")
            ctx.reply(f"Mình hiểu đây là phản ánh về: {S.category_title(ctx.app, st['cat'])}. Đúng không ạ?",
                      buttons=[("Đúng", "phananh:catok"), ("Chọn loại khác", "phananh:catlist")])
            return
        if not st.get("photo_done"):
            ctx.goto("photo")
            n = len(st.get("photos", []))
            lead = f"Đã có {n} ảnh. " if n else ""
            ctx.reply(f"{lead}Bạn gửi ảnh chụp hiện trường (tối đa {MAX_PHOTOS} ảnh) để cán bộ dễ xử lý, "
                      "xong thì bấm Tiếp tục. Không có ảnh thì bấm Bỏ qua.",
                      buttons=[("Tiếp tục" if n else "Bỏ qua", "phananh:photodone")])
            return
        if st.get("lat") is None and not st.get("address"):
            ctx.goto("place")
            ctx.reply("Sự việc ở đâu? Bạn bấm chia sẻ vị trí (nút ghim/📎 > Vị trí), hoặc gõ địa chỉ, "
                      "ví dụ: \"kiệt 12 Lê Lợi, gần trường tiểu học\".")
            return
        if not st.get("group_done"):
            ctx.goto("group")
            ctx.reply("Nơi đó thuộc tổ dân phố nào? (Không rõ thì bấm \"Không rõ\".)",
                      buttons=group_buttons(ctx.app, "phananh"))
            return
        if not st.get("contact_done"):
            ctx.goto("contact")
            ctx.reply("Bạn có muốn cán bộ gọi lại không? Nếu có, bạn nhập số điện thoại. Kết quả luôn được báo "
                      "cho bạn qua khung chat này.\nBạn cũng có thể gửi ẩn danh: cán bộ không thấy tên bạn.",
                      buttons=[("Chỉ báo qua chat", "phananh:chatonly"), ("Gửi ẩn danh", "phananh:anon")])
            return
        self.ask_confirm(ctx)

    def ask_category(self, ctx: Context) -> None:
        ctx.goto("cat")
        ctx.reply("Sự việc thuộc loại nào? Bạn chọn giúp mình:", buttons=category_buttons(ctx.app, "phananh"))

    def ask_confirm(self, ctx: Context) -> None:
        st, app = ctx.state, ctx.app
        ctx.goto("confirm")
        place = []
        if st.get("address"):
            place.append(st["address"])
        if st.get("lat") is not None:
            place.append(f"vị trí đã chia sẻ ({st['lat']:.5f}, {st['lon']:.5f})")
        if st.get("group") and app.profile.group(st["group"]):
            place.append(app.profile.group(st["group"]).name)
        contact = "ẩn danh" if st.get("anonymous") else (f"gọi lại số {st['phone']}" if st.get("phone")
                                                        else "chỉ báo qua chat")
        ctx.reply("Bạn kiểm tra lại phản ánh:\n"
                  f"• Loại: {S.category_title(app, st['cat'])}\n"
                  f"• Nội dung: {st['desc']}\n"
                  f"• Ảnh: {len(st.get('photos', []))}\n"
                  f"• Địa điểm: {'; '.join(place)}\n"
                  f"• Liên hệ: {contact}",
                  buttons=[("Gửi phản ánh", "phananh:send"), ("Đổi loại", "phananh:catlist"),
                           ("Hủy", "phananh:cancel")])

    # steps
    def on_start(self, ctx: Context) -> None:
        self.ask(ctx)

    def on_desc(self, ctx: Context) -> None:
        text = (ctx.msg.text or "").strip()
        if ctx.msg.button or sum(ch.isalnum() for ch in text) < MIN_DESCRIPTION:
            ctx.reply(EMPTY_DESCRIPTION)
            return
        if len(text) > S.MAX_DESCRIPTION:
            ctx.reply(f"Mô tả hơi dài, bạn rút gọn dưới {S.MAX_DESCRIPTION} ký tự giúp mình nhé.")
            return
        ctx.state["desc"] = text
        cat, sure = guess_category(ctx, text)
        ctx.state["cat"] = cat if cat else None
        ctx.save_state()
        if cat is None or not sure:
            return self.ask_category(ctx)
        self.ask(ctx)

    def on_cat(self, ctx: Context) -> None:
        b = ctx.msg.button or ""
        if b == "phananh:catok" and ctx.state.get("cat"):
            ctx.state["cat_ok"] = True
        elif b == "phananh:catlist":
            return self.ask_category(ctx)
        elif b.startswith("phananh:cat:") and b[12:] in ctx.app.categories:
            ctx.state["cat"], ctx.state["cat_ok"] = b[12:], True
        else:
            ctx.reply("Bạn bấm một nút bên dưới để chọn loại sự việc giúp mình nhé.",
                      buttons=category_buttons(ctx.app, "phananh"))
            return
        ctx.save_state()
        self.ask(ctx)

    def on_photo(self, ctx: Context) -> None:
        if ctx.msg.button == "phananh:photodone":
            ctx.state["photo_done"] = True
            ctx.save_state()
            return self.ask(ctx)
        n = len(ctx.state.get("photos", []))
        ctx.reply("Bạn gửi ảnh chụp hiện trường, hoặc bấm nút bên dưới để sang bước tiếp theo.",
                  buttons=[("Tiếp tục" if n else "Bỏ qua", "phananh:photodone")])

    def on_place(self, ctx: Context) -> None:
        text = (ctx.msg.text or "").strip()
        if ctx.msg.button or len(text) < MIN_ADDRESS:
            ctx.reply("Bạn chia sẻ vị trí, hoặc gõ địa chỉ cụ thể (số nhà, tên đường, kiệt/hẻm) giúp mình nhé.")
            return
        ctx.state["address"] = text[:300]
        ctx.save_state()
        self.ask(ctx)

    def on_group(self, ctx: Context) -> None:
        b = ctx.msg.button or ""
        code = None
        if b.startswith("phananh:grp:"):
            code = b[12:]
        elif ctx.msg.text:
            code = match_group(ctx.app, ctx.msg.text)
        if code is None or (code != "none" and ctx.app.profile.group(code) is None):
            ctx.reply("Bạn chọn tổ dân phố bằng nút bên dưới giúp mình nhé.", buttons=group_buttons(ctx.app, "phananh"))
            return
        ctx.state["group"] = None if code == "none" else code
        ctx.state["group_done"] = True
        ctx.save_state()
        self.ask(ctx)

    def on_contact(self, ctx: Context) -> None:
        b = ctx.msg.button
        st = ctx.state
        if b == "phananh:anon":
            st["anonymous"], st["phone"] = True, None
        elif b == "phananh:chatonly":
            st["anonymous"], st["phone"] = False, None
        else:
            digits = digits_of(ctx.msg.text)
            if not (9 <= len(digits) <= 11):
                ctx.reply("Số điện thoại chưa đúng (9 đến 11 chữ số). Bạn nhập lại, hoặc chọn một nút bên dưới.",
                          buttons=[("Chỉ báo qua chat", "phananh:chatonly"), ("Gửi ẩn danh", "phananh:anon")])
                return
            st["anonymous"], st["phone"] = False, digits
        st["contact_done"] = True
        ctx.save_state()
        self.ask(ctx)

    def on_confirm(self, ctx: Context) -> None:
        if ctx.msg.button == "phananh:catlist":
            ctx.state["cat_ok"] = False
            ctx.save_state()
            return self.ask_category(ctx)
        if ctx.msg.button != "phananh:send":
            ctx.reply("Bạn bấm \"Gửi phản ánh\" để gửi, hoặc \"Hủy\" nếu không gửi nữa.",
                      buttons=[("Gửi phản ánh", "phananh:send"), ("Đổi loại", "phananh:catlist"),
                               ("Hủy", "phananh:cancel")])
            return
        st = ctx.state
        r = S.create_report(
            ctx.app, ctx.session, ctx.now, category=st["cat"], description=st["desc"], source="chat",
            lat=st.get("lat"), lon=st.get("lon"), address=st.get("address"), group_code=st.get("group"),
            photos=st.get("photos", []), person=ctx.person, channel=ctx.msg.channel, chat_id=ctx.msg.chat_id,
            contact_name=None if st.get("anonymous") else ctx.person.display_name,
            contact_phone=st.get("phone"), anonymous=bool(st.get("anonymous")), actor_id=ctx.person.id)
        ctx.end_flow()
        if r.parent_id:
            main = ctx.session.get(Report, r.parent_id)
            ctx.reply(f"Cảm ơn bạn! Sự việc này đã có người phản ánh trước ({main.code}) và đang được "
                      f"{S.unit_name(ctx.app, main.unit_id)} xử lý ({STATUS_LABELS[main.status]}). "
                      f"Mình đã ghi nhận thêm phản ánh của bạn, mã {r.code}, và sẽ báo cho bạn khi có kết quả.\n"
                      f"Xem tình trạng: /tinhtrang {r.code}")
            return
        ctx.reply(f"Đã gửi phản ánh. Mã phản ánh của bạn: {r.code}\n"
                  f"Phản ánh đã được chuyển tới {S.unit_name(ctx.app, r.unit_id)}, hạn xử lý trước "
                  f"{fmt_local(r.resolve_by)}. Mình sẽ báo cho bạn mỗi khi có tiến triển.\n"
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
        if cat and not sure:
            ctx.start_flow("phananh", "cat", data)
            return ReportFlow().ask_category(ctx)
    ctx.run_flow("phananh", "start", data)


def cmd_report(ctx: Context, args: str) -> None:
    start_report(ctx, args)


def on_complaint(ctx: Context) -> None:
    u = ctx.understanding  # type: ignore[attr-defined]
    start_report(ctx, ctx.msg.text, getattr(u, "category", None), getattr(u, "confidence", 0.0) or 0.0)


def on_media(ctx: Context) -> bool:
    """A photo or a location sent outside any form may be the start of a report."""
    msg = ctx.msg
    if any(f.kind != "sticker" for f in msg.files) and not msg.photos:
        ctx.reply(FILE_NOT_SUPPORTED.replace(", những gì bạn đã nhập vẫn được giữ nguyên", ""))
        return True
    pending: dict = {}
    if msg.photos:
        for att in msg.photos:
            problem = photo_problem(ctx, att)
            if problem:
                ctx.reply(problem)
                return True
        pending["photos"] = [photo_dict(a) for a in msg.photos[:MAX_PHOTOS]]
    if msg.location is not None:
        if not S.inside_ward(ctx.app, msg.location.lat, msg.location.lon):
            p = ctx.app.profile
            ctx.reply(OUTSIDE_WARD.format(ward=p.ward.name, hotline=p.hotline))
            return True
        pending["lat"], pending["lon"] = msg.location.lat, msg.location.lon
    if not pending:
        return False
    ctx.conv.data = {**ctx.conv.data, "report_media": pending}
    ctx.save_state()
    what = "trong ảnh" if msg.photos else "tại vị trí này"
    ctx.reply(f"Bạn muốn phản ánh sự việc {what} tới phường?",
              buttons=[("Có, gửi phản ánh", "pamedia:yes"), ("Không", "pamedia:no")])
    return True


def cb_media(ctx: Context, payload: str) -> None:
    pending = (ctx.conv.data or {}).get("report_media")
    if payload != "yes" or not pending:
        if pending:
            ctx.conv.data = {k: v for k, v in ctx.conv.data.items() if k != "report_media"}
            ctx.save_state()
        ctx.reply("Dạ vâng. Bạn cần gì cứ nhắn mình nhé.")
        return
    ctx.run_flow("phananh", "start", pending)


# --- status ------------------------------------------------------------------------------------
def cmd_status(ctx: Context, args: str) -> None:
    code = args.strip()
    if code:
        r = S.by_code(ctx.session, code)
        if r is None:
            ctx.reply(f"Không tìm thấy phản ánh mã {code[:30]}. Mã có dạng PA-2026-000123, bạn kiểm tra lại nhé.")
            return
        if r.person_id == ctx.person.id or ctx.has_role(R.STAFF):
            ctx.reply(S.status_text(ctx.app, r, ctx.now))
        else:  # somebody else's report: the state, not what they wrote
            ctx.reply(f"Phản ánh {r.code} - {S.category_title(ctx.app, r.category)}\n"
                      f"Gửi lúc {fmt_local(r.created_at)}. Trạng thái: {STATUS_LABELS[r.status]}.")
        return
    rows = list(ctx.session.exec(select(Report).where(Report.person_id == ctx.person.id)
                                 .order_by(Report.id.desc()).limit(5)))
    if not rows:
        ctx.reply("Bạn chưa gửi phản ánh nào. Gõ /phananh để gửi phản ánh, hoặc /tinhtrang MÃ để tra một mã.")
        return
    lines = ["Phản ánh gần đây của bạn:"]
    for r in rows:
        lines.append(f"• {r.code} ({fmt_local(r.created_at, with_time=False)}) "
                     f"{short_title(ctx.app, r.category)}: {STATUS_LABELS[r.status]}")
    lines.append("Xem chi tiết: /tinhtrang MÃ")
    ctx.reply("\n".join(lines))


# --- answering a staff question ----------------------------------------------------------------
def cb_info(ctx: Context, payload: str) -> None:
    r = _own_report(ctx, payload)
    if r is None:
        return
    if ctx.conv.flow:
        ctx.reply("Bạn đang điền dở một biểu mẫu. Gõ /huy rồi bấm lại nút \"Trả lời cán bộ\" nhé.")
        return
    ctx.start_flow("painfo", "answer", {"report_id": r.id})
    if (ctx.msg.text or "").strip():  # typed straight after the staff question (bot/options.py)
        return InfoFlow().on_answer(ctx)
    ctx.reply(f"Bạn nhập thông tin bổ sung cho phản ánh {r.code} (có thể kèm ảnh). Gõ /huy để thôi.")


class InfoFlow(Flow):
    name = "painfo"
    title = "trả lời cán bộ"

    def on_answer(self, ctx: Context) -> None:
        msg = ctx.msg
        if msg.files:
            ctx.reply(FILE_NOT_SUPPORTED)
            return
        for att in msg.photos:
            problem = photo_problem(ctx, att)
            if problem:
                ctx.reply(problem)
                return
        text = (msg.text or "").strip()
        if not text and not msg.photos:
            ctx.reply("Bạn gõ thông tin bổ sung (hoặc gửi ảnh) giúp mình nhé.")
            return
        r = ctx.session.get(Report, ctx.state.get("report_id"))
        ctx.end_flow()
        if r is None:
            ctx.reply("Không tìm thấy phản ánh này nữa.")
            return
        if msg.photos:
            r.photos = list(r.photos) + [photo_dict(a) for a in msg.photos]
            ctx.session.add(r)
        ev = S.add_event(ctx.session, r, ctx.now, "info_received", ctx.person.id, note=text or "(ảnh)",
                         photos=len(msg.photos))
        chat = S.unit_chat(ctx.app, r.unit_id)
        if chat:
            reply = S.card(ctx.app, r, "Người dân bổ sung thông tin cho")
            reply.text += f"\nThông tin bổ sung: {text or '(ảnh)'}"
            reply.photo = msg.photos[0].path if msg.photos else reply.photo
            ctx.notify(chat.channel, chat.chat_id, reply, dedupe_key=f"report:{r.id}:ev:{ev.id}:unit")
        ctx.reply(f"Đã chuyển thông tin bổ sung cho cán bộ xử lý phản ánh {r.code}. Cảm ơn bạn!")


# --- erasure -----------------------------------------------------------------------------------
def on_erase(ctx: Context) -> None:
    """Keep the reports for the ward's records; forget who sent them and how to reach them."""
    for r in ctx.session.exec(select(Report).where(Report.person_id == ctx.person.id)):
        r.person_id, r.channel, r.chat_id = None, None, None
        r.contact_name, r.contact_phone, r.contact_email = None, None, None
        r.rating_comment = None
        ctx.session.add(r)
        S.add_event(ctx.session, r, ctx.now, "contact_erased", None, actor_label="yêu cầu xóa dữ liệu")


def register(r: Router) -> None:
    r.flow(ReportFlow())
    r.flow(InfoFlow())
    r.command("phananh", "gửi phản ánh về trật tự, vệ sinh đô thị")(cmd_report)
    r.command("tinhtrang", "xem tình trạng phản ánh của bạn", keeps_flow=True)(cmd_status)
    r.on_kind("complaint", on_complaint)
    r.on_media(on_media)
    r.callback("pamedia")(cb_media)
    r.callback("pareply")(cb_info)
    options.accept_free_text("pareply")
    r.on_erase(on_erase)
