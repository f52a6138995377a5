"""/ghinhan: logging one support session in a short chat form, or from one message.

Steps keep their answers in the conversation row, so a restart or a wrong answer loses nothing.
Numeric steps show no buttons on purpose: on Zalo buttons become a numbered list, and a typed
"2" would press button 2 instead of meaning two.
"""
from __future__ import annotations

from datetime import date, timedelta

from bot import roles as R
from bot.context import Context
from bot.core import Button, Reply
from bot.ids import parse_id
from bot.forms import SetAside
from bot.router import Flow
from handlers.teams import catalog as C
from handlers.teams import service as S
from handlers.teams.models import TeamSession
from handlers.teams.parse import parse_date_text, parse_int, parse_session

NAME = "ghinhan"
NUMBER_STEPS = ["households", "people", "elderly", "vulnerable"]
QUESTIONS = {
    "households": "Buổi này tổ đã đến bao nhiêu hộ? (gõ số, không đến hộ nào thì gõ 0)",
    "people": "Có bao nhiêu người được hỗ trợ? (gõ số)",
    "elderly": "Trong đó có bao nhiêu người cao tuổi (từ 60 tuổi)? (gõ số, không có thì gõ 0)",
    "vulnerable": "Có bao nhiêu người yếu thế khác (khuyết tật, neo đơn, hộ nghèo...)? (gõ số, không có thì gõ 0)",
}
NUMBER_ERRORS = {
    "negative": "Số không được âm. Bạn gõ lại một số từ 0 trở lên nhé.",
    "decimal": "Bạn gõ số nguyên giúp mình nhé (ví dụ 12).",
    "text": "Mình cần một con số (ví dụ 12). Bạn gõ lại giúp mình nhé.",
    "big": f"Số này lớn bất thường (tối đa {C.MAX_NUMBER}). Bạn kiểm tra và gõ lại giúp mình nhé.",
}
EDITABLE = [("day", "Ngày"), ("place", "Nơi hỗ trợ"), ("households", "Số hộ"), ("people", "Số người"),
            ("elderly", "Người cao tuổi"), ("vulnerable", "Người yếu thế"), ("acts", "Hoạt động"),
            ("members", "Thành viên đi"), ("difficulties", "Khó khăn"), ("good", "Cách làm hay")]
PEOPLE_ACTS = ("vneid", "dvc", "payment", "signature", "apps")


def number(text: str | None) -> int | str:
    v = parse_int(text or "")
    if isinstance(v, int) and v > C.MAX_NUMBER:
        return "big"
    return v


class SessionFlow(SetAside, Flow):
    name = NAME
    title = "ghi nhận buổi hỗ trợ"
    roles = (R.TEAM_MEMBER,)

    def handle(self, ctx: Context) -> None:
        if self.question_aside(ctx):  # "cho hỏi cài VNeID thế nào?" mid-form: answered, then "tiếp tục"
            return
        super().handle(ctx)
        if ctx.conv.flow == NAME:
            ctx.save_state()  # steps mutate nested state in place; JSON columns need telling

    # --- helpers ------------------------------------------------------------------------
    def _next(self, ctx: Context, step: str) -> None:
        """Go on to `step`, or back to the summary when the member was correcting one field."""
        if ctx.state.get("back"):
            ctx.state.pop("back", None)
            step = "confirm"
        ctx.goto(step)
        getattr(self, f"ask_{step}")(ctx)

    def b(self, payload: str) -> str:
        return f"{NAME}:{payload}"

    # --- day ----------------------------------------------------------------------------
    def ask_day(self, ctx: Context) -> None:
        ctx.reply("Buổi hỗ trợ diễn ra ngày nào? Bấm nút, hoặc gõ ngày/tháng (ví dụ 15/11).",
                  buttons=[("Hôm nay", self.b("today")), ("Hôm qua", self.b("yesterday"))])

    def on_start(self, ctx: Context) -> None:
        ctx.goto("day")
        self.ask_day(ctx)

    def on_day(self, ctx: Context) -> None:
        today = C.today(ctx.now)
        if ctx.msg.button == self.b("today"):
            d = today
        elif ctx.msg.button == self.b("yesterday"):
            d = today - timedelta(days=1)
        else:
            d = parse_date_text(ctx.msg.text or "", today)
            if d is None or d == "bad":
                ctx.reply("Mình chưa hiểu ngày này. Bạn gõ theo dạng ngày/tháng, ví dụ 15/11, hoặc bấm nút nhé.",
                          buttons=[("Hôm nay", self.b("today")), ("Hôm qua", self.b("yesterday"))])
                return
        new = not ctx.state.get("edit_id")
        problem = S.check_day(ctx.session, ctx.state["group"], d, ctx.now, late_ok=new)
        if problem:
            ctx.reply(problem, buttons=[("Hôm nay", self.b("today")), ("Hôm qua", self.b("yesterday"))])
            return
        ctx.state["day"] = d.isoformat()
        if new and S.is_locked(ctx.session, ctx.state["group"], d) and not ctx.state.get("late_told"):
            ctx.state["late_told"] = True
            ctx.reply(S.late_notice(d))  # said once, up front: the form goes on, no dead end
        self._next(ctx, "place")

    # --- place --------------------------------------------------------------------------
    def ask_place(self, ctx: Context) -> None:
        ctx.reply("Tổ hỗ trợ ở đâu, theo hình thức nào?",
                  buttons=[(label, self.b(f"place-{pid}")) for pid, label in C.PLACES.items()])

    def on_place(self, ctx: Context) -> None:
        data = ctx.msg.button or ""
        pid = data.removeprefix(self.b("place-")) if data.startswith(self.b("place-")) else None
        if pid not in C.PLACES:
            ctx.reply("Bạn chọn một trong các nút bên dưới giúp mình nhé.",
                      buttons=[(label, self.b(f"place-{p}")) for p, label in C.PLACES.items()])
            return
        ctx.state["place"] = pid
        self._next(ctx, "households")

    # --- numbers ------------------------------------------------------------------------
    def _ask_number(self, ctx: Context, key: str) -> None:
        ctx.reply(QUESTIONS[key])

    def ask_households(self, ctx): self._ask_number(ctx, "households")
    def ask_people(self, ctx): self._ask_number(ctx, "people")
    def ask_elderly(self, ctx): self._ask_number(ctx, "elderly")
    def ask_vulnerable(self, ctx): self._ask_number(ctx, "vulnerable")

    def _on_number(self, ctx: Context, key: str) -> None:
        v = number(ctx.msg.text)
        if ctx.msg.button or not isinstance(v, int):
            ctx.reply(NUMBER_ERRORS.get(v, NUMBER_ERRORS["text"]) if not ctx.msg.button else NUMBER_ERRORS["text"])
            return
        people = int(ctx.state.get("people") or 0)
        if key == "elderly" and v > people:
            ctx.reply(f"Số người cao tuổi ({v}) không thể nhiều hơn số người được hỗ trợ ({people}). "
                      "Bạn gõ lại giúp mình nhé.")
            return
        if key == "vulnerable" and v + int(ctx.state.get("elderly") or 0) > people:
            ctx.reply(f"Người cao tuổi và người yếu thế cộng lại không thể nhiều hơn số người được hỗ trợ "
                      f"({people}). Bạn gõ lại số người yếu thế khác giúp mình nhé.")
            return
        if key == "people" and v < int(ctx.state.get("elderly") or 0) + int(ctx.state.get("vulnerable") or 0):
            ctx.reply(f"Số người được hỗ trợ không thể ít hơn số người cao tuổi và người yếu thế "
                      f"({ctx.state.get('elderly', 0)} + {ctx.state.get('vulnerable', 0)}). Bạn gõ lại giúp mình nhé.")
            return
        ctx.state[key] = v
        ctx.state.pop("people_est", None) if key == "people" else None
        nxt = {"households": "people", "people": "elderly", "elderly": "vulnerable", "vulnerable": "acts"}[key]
        if v > C.PLAUSIBLE[key] and key not in ctx.state.setdefault("ok_warn", []):
            ctx.state["warn"] = {"key": key, "next": nxt}
            ctx.goto("warn")
            ctx.reply(f"{C.COUNTS[key]}: {v} trong một buổi là khá nhiều. Bạn kiểm tra lại giúp mình: số này đúng chứ?",
                      buttons=[("Đúng, giữ số này", self.b("warn-ok")), ("Nhập lại", self.b("warn-redo"))])
            return
        self._next(ctx, nxt)

    def on_households(self, ctx): self._on_number(ctx, "households")
    def on_people(self, ctx): self._on_number(ctx, "people")
    def on_elderly(self, ctx): self._on_number(ctx, "elderly")
    def on_vulnerable(self, ctx): self._on_number(ctx, "vulnerable")

    def on_warn(self, ctx: Context) -> None:
        w = ctx.state.get("warn") or {}
        key, nxt = w.get("key"), w.get("next", "confirm")
        if ctx.msg.button == self.b("warn-ok"):
            ctx.state.setdefault("ok_warn", []).append(key)
            ctx.state.pop("warn", None)
            if key in C.ACTIVITIES:
                ctx.goto("acts")
                return self.ask_acts(ctx)
            return self._next(ctx, nxt)
        if ctx.msg.button == self.b("warn-redo") or (ctx.msg.text and not ctx.msg.button):
            ctx.state.pop("warn", None)
            if key in C.ACTIVITIES:
                ctx.state["act"] = key
                ctx.goto("act_count")
            else:
                ctx.goto(key)
            if ctx.msg.text and not ctx.msg.button:  # a corrected number typed straight away
                return self.handle(ctx)
            return self.ask_act_count(ctx) if key in C.ACTIVITIES else self._ask_number(ctx, key)
        ctx.reply("Bạn bấm một nút giúp mình nhé.",
                  buttons=[("Đúng, giữ số này", self.b("warn-ok")), ("Nhập lại", self.b("warn-redo"))])

    # --- activities ---------------------------------------------------------------------
    def ask_acts(self, ctx: Context) -> None:
        acts = ctx.state.setdefault("acts", {})
        buttons = [(f"{C.SHORT[a]}" + (f": {acts[a]}" if acts.get(a) else ""), self.b(f"act-{a}"))
                   for a in C.ACTIVITIES]
        buttons.append(("Xong phần hoạt động", self.b("acts-done")))
        ctx.reply("Tổ đã làm được những việc gì? Bấm từng việc để nhập số lượng, xong thì bấm "
                  "\"Xong phần hoạt động\". Có thể gõ luôn, ví dụ: 5 vneid, 3 ví điện tử.", buttons=buttons)

    def on_acts(self, ctx: Context) -> None:
        data = ctx.msg.button or ""
        if data == self.b("acts-done"):
            ctx.state.pop("act", None)
            return self._next(ctx, "members")
        if data.startswith(self.b("act-")) and data.removeprefix(self.b("act-")) in C.ACTIVITIES:
            ctx.state["act"] = data.removeprefix(self.b("act-"))
            ctx.goto("act_count")
            return self.ask_act_count(ctx)
        if ctx.msg.text and not data:
            parsed = parse_session(ctx.msg.text, C.today(ctx.now))
            found = {k: v for k, v in parsed.figures.items() if k in C.ACTIVITIES}
            if found:
                ctx.state["acts"].update(found)
                return self.ask_acts(ctx)
        ctx.reply("Mình chưa hiểu. Bạn bấm tên việc để nhập số, hoặc gõ kiểu \"5 vneid, 3 ví điện tử\".")
        self.ask_acts(ctx)

    def ask_act_count(self, ctx: Context) -> None:
        ctx.reply(f"{C.ACTIVITIES[ctx.state['act']][1]}: bao nhiêu? (gõ số)")

    def on_act_count(self, ctx: Context) -> None:
        act = ctx.state.get("act")
        v = number(ctx.msg.text)
        if ctx.msg.button or not isinstance(v, int) or act not in C.ACTIVITIES:
            ctx.reply(NUMBER_ERRORS.get(v, NUMBER_ERRORS["text"]) if isinstance(v, str) else NUMBER_ERRORS["text"])
            return
        ctx.state.setdefault("acts", {})[act] = v
        if not v:
            ctx.state["acts"].pop(act, None)
        ctx.state.pop("act", None)
        ctx.goto("acts")
        if v > C.PLAUSIBLE_ACTIVITY and act not in ctx.state.setdefault("ok_warn", []):
            ctx.state["warn"] = {"key": act, "next": "acts"}
            ctx.goto("warn")
            ctx.reply(f"{C.SHORT[act]}: {v} trong một buổi là khá nhiều. Số này đúng chứ?",
                      buttons=[("Đúng, giữ số này", self.b("warn-ok")), ("Nhập lại", self.b("warn-redo"))])
            return
        self.ask_acts(ctx)

    # --- members ------------------------------------------------------------------------
    def ask_members(self, ctx: Context) -> None:
        chosen = set(ctx.state.setdefault("members", [ctx.person.id]))
        buttons = [(("✓ " if p.id in chosen else "") + S.person_name(p), self.b(f"m-{p.id}"))
                   for p, _ in S.roster(ctx.session, ctx.state["group"])][:12]
        buttons.append(("Xong", self.b("m-done")))
        ctx.reply("Những ai trong tổ đã đi buổi này? Bấm tên để chọn hoặc bỏ chọn, xong thì bấm \"Xong\".",
                  buttons=buttons)

    def on_members(self, ctx: Context) -> None:
        data = ctx.msg.button or ""
        team_ids = {p.id for p, _ in S.roster(ctx.session, ctx.state["group"])}
        if data == self.b("m-done"):
            if not ctx.state.get("members"):
                ctx.reply("Bạn chọn ít nhất một người đã đi nhé.")
                return self.ask_members(ctx)
            return self._next(ctx, "difficulties")
        pid = parse_id(data.removeprefix(self.b("m-"))) if data.startswith(self.b("m-")) else None
        if pid is not None:
            if pid in team_ids:
                members = ctx.state.setdefault("members", [])
                members.remove(pid) if pid in members else members.append(pid)
            return self.ask_members(ctx)
        ctx.reply("Bạn bấm tên người đã đi, hoặc \"Xong\" giúp mình nhé.")
        self.ask_members(ctx)

    # --- notes --------------------------------------------------------------------------
    def ask_difficulties(self, ctx: Context) -> None:
        ctx.reply("Tổ có gặp khó khăn gì không? Gõ ngắn gọn, hoặc bấm \"Không có\". Có thể gửi kèm ảnh.",
                  buttons=[("Không có", self.b("none"))])

    def ask_good(self, ctx: Context) -> None:
        ctx.reply("Có cách làm hay nào muốn chia sẻ không? Gõ ngắn gọn, hoặc bấm \"Không có\".",
                  buttons=[("Không có", self.b("none"))])

    def _on_note(self, ctx: Context, key: str, nxt: str) -> None:
        if ctx.msg.photos:
            self._take_photos(ctx)
            if not (ctx.msg.text or "").strip():
                ctx.reply("Đã nhận ảnh.")
                return getattr(self, f"ask_{ctx.conv.step}")(ctx)
        if ctx.msg.button == self.b("none"):
            ctx.state[key] = ""
        elif (ctx.msg.text or "").strip() and not ctx.msg.button:
            text = ctx.msg.text.strip()
            if len(text) > 1000:
                ctx.reply("Ghi chú hơi dài, bạn rút gọn dưới 1000 ký tự giúp mình nhé.")
                return
            ctx.state[key] = text
        else:
            return getattr(self, f"ask_{ctx.conv.step}")(ctx)
        self._next(ctx, nxt)

    def on_difficulties(self, ctx): self._on_note(ctx, "difficulties", "good")
    def on_good(self, ctx): self._on_note(ctx, "good", "confirm")

    def _take_photos(self, ctx: Context) -> None:
        photos = ctx.state.setdefault("photos", [])
        for a in ctx.msg.photos:
            if len(photos) < 10:
                photos.append(a.path or a.file_id)

    # --- summary, corrections, saving ----------------------------------------------------
    def ask_confirm(self, ctx: Context) -> None:
        errors, warnings = S.check_counts(ctx.state)
        pending = [w for k, w in warnings if k not in ctx.state.get("ok_warn", [])]
        text = summary(ctx, ctx.state)
        if not ctx.state.get("edit_id") and ctx.state.get("day") and \
                S.is_locked(ctx.session, ctx.state["group"], date.fromisoformat(ctx.state["day"])):
            text += "\n\nℹ " + S.late_notice(date.fromisoformat(ctx.state["day"]))
        if errors:
            text += "\n\n⚠ " + "\n⚠ ".join(errors) + "\nBạn bấm \"Sửa\" để chỉnh lại giúp mình."
            buttons = [("Sửa", self.b("edit")), ("Hủy", self.b("cancel"))]
        else:
            save = "Lưu"
            if pending:
                text += "\n\n⚠ " + "\n⚠ ".join(pending) + "\nBạn kiểm tra lại giúp mình nhé."
                save = "Số liệu đúng, lưu"
            buttons = [(save, self.b("save")), ("Sửa", self.b("edit")), ("Hủy", self.b("cancel"))]
        ctx.reply(text, buttons=buttons)

    def on_confirm(self, ctx: Context) -> None:
        data = ctx.msg.button
        if ctx.msg.photos and not data:
            self._take_photos(ctx)
            return self.ask_confirm(ctx)
        if data == self.b("cancel"):
            ctx.end_flow()
            ctx.reply("Đã hủy, buổi hỗ trợ chưa được lưu." if not ctx.state.get("edit_id")
                      else "Đã hủy, buổi hỗ trợ giữ nguyên như cũ.")
            return
        if data == self.b("edit"):
            ctx.goto("edit_pick")
            return self.ask_edit_pick(ctx)
        if data != self.b("save"):
            ctx.reply("Bạn bấm \"Lưu\" để lưu, \"Sửa\" để chỉnh, hoặc \"Hủy\".")
            return self.ask_confirm(ctx)
        self.save(ctx)

    def ask_edit_pick(self, ctx: Context) -> None:
        ctx.reply("Bạn muốn sửa mục nào?", buttons=[(label, self.b(f"fix-{k}")) for k, label in EDITABLE]
                  + [("Quay lại tóm tắt", self.b("fix-back"))])

    def on_edit_pick(self, ctx: Context) -> None:
        key = (ctx.msg.button or "").removeprefix(self.b("fix-"))
        if key == "back":
            ctx.goto("confirm")
            return self.ask_confirm(ctx)
        if key not in dict(EDITABLE):
            return self.ask_edit_pick(ctx)
        ctx.state["back"] = True
        ctx.goto(key)
        getattr(self, f"ask_{key}")(ctx)

    def save(self, ctx: Context) -> None:
        st = ctx.state
        d = date.fromisoformat(st["day"])
        problem = S.check_day(ctx.session, st["group"], d, ctx.now, late_ok=not st.get("edit_id"))
        errors, warnings = S.check_counts(st)
        if problem or errors:
            ctx.reply(problem or errors[0])
            ctx.goto("day" if problem else "confirm")
            return self.ask_day(ctx) if problem else self.ask_confirm(ctx)
        if st.get("edit_id"):
            row = ctx.session.get(TeamSession, st["edit_id"])
            if row is None or row.author_id != ctx.person.id:
                ctx.end_flow()
                ctx.reply("Không sửa được: buổi này không còn, hoặc không phải do bạn ghi nhận.")
                return
            if S.is_locked(ctx.session, row.group_code, row.day):
                ctx.end_flow()
                ctx.reply("Không sửa được: tổ đã nộp báo cáo quý của buổi này.")
                return
            action = "team_session_edited"
        else:
            row = TeamSession(author_id=ctx.person.id, group_code=st["group"], day=d, place="other",
                              created_at=ctx.now, late=S.is_locked(ctx.session, st["group"], d))
            action = "team_session_logged"
        S.apply_state(row, st, ctx.now)
        ctx.session.add(row)
        ctx.session.flush()
        ctx.audit(action, "team_session", row.id, warnings_confirmed=[k for k, _ in warnings],
                  **({"late": True} if row.late else {}))
        ctx.end_flow()
        if row.late:
            return self._saved_late(ctx, row)
        verb = "Đã cập nhật" if action == "team_session_edited" else "Đã lưu"
        ctx.reply(f"{verb} buổi hỗ trợ #{row.id}. Cảm ơn tổ! Xem các buổi đã ghi: /buoicuatoi")

    def _saved_late(self, ctx: Context, row: TeamSession) -> None:
        """Kept and flagged; the leader decides whether to reopen the quarter (commands.cb_late)."""
        y, q = C.quarter_of(row.day)
        label = C.quarter_label(y, q)
        choice = [("Mở lại báo cáo quý", f"tlate:open:{row.group_code}:{y}-{q}"),
                  ("Giữ nguyên", f"tlate:keep:{row.group_code}:{y}-{q}")]
        leader = S.leader_of(ctx.session, row.group_code)
        if leader is not None and leader.id == ctx.person.id:
            ctx.reply(f"Đã lưu buổi hỗ trợ #{row.id}, đánh dấu ghi sau khi tổ nộp báo cáo {label} (chưa tính vào). "
                      "Bạn là tổ trưởng: mở lại báo cáo quý để tính buổi này rồi nộp lại?", buttons=choice)
            return
        ctx.reply(f"Đã lưu buổi hỗ trợ #{row.id}. Vì tổ đã nộp báo cáo {label}, buổi này được đánh dấu ghi sau "
                  "khi nộp và chưa tính vào báo cáo; mình đã báo tổ trưởng để quyết định. Cảm ơn bạn!")
        text = (f"{S.person_name(ctx.person)} vừa ghi buổi hỗ trợ #{row.id} ngày {row.day:%d/%m/%Y} "
                f"({row.households} hộ, {row.people} người) sau khi tổ đã nộp báo cáo {label}. Buổi này chưa "
                "được tính. Mở lại báo cáo quý để tính vào rồi nộp lại, hay giữ nguyên?")
        if leader is not None and leader.chat_id:
            ctx.notify(leader.channel, leader.chat_id, Reply(text, buttons=[Button(t, d) for t, d in choice]),
                       dedupe_key=f"teams:late:{row.id}")
            return
        staff = ctx.app.profile.staff_chat  # no leader: the ward decides (/mokhoa)
        if staff:
            ctx.notify(staff.channel, staff.chat_id,
                       text.replace("Mở lại báo cáo quý để tính vào rồi nộp lại, hay giữ nguyên?",
                                    f"Tổ chưa có tổ trưởng; mở lại bằng /mokhoa {row.group_code} {q}/{y} nếu cần."),
                       dedupe_key=f"teams:late:{row.id}")


def summary(ctx: Context, st: dict) -> str:
    group = ctx.app.profile.group(st["group"])
    d = date.fromisoformat(st["day"]) if st.get("day") else None
    names = []
    from bot.models import Person
    for pid in st.get("members") or []:
        names.append(S.person_name(ctx.session.get(Person, pid)))
    acts = st.get("acts") or {}
    act_text = "; ".join(f"{C.SHORT[a]} {acts[a]}" for a in C.ACTIVITIES if acts.get(a)) or "chưa có"
    people = f"{st.get('people', 0)}" + (" (ước tính)" if st.get("people_est") else "")
    head = "Sửa buổi hỗ trợ #%s" % st["edit_id"] if st.get("edit_id") else "Tóm tắt buổi hỗ trợ"
    lines = [
        f"{head} - {group.name if group else st['group']}:",
        f"• Ngày: {d:%d/%m/%Y}" if d else "• Ngày: chưa chọn",
        f"• Nơi: {C.PLACES.get(st.get('place') or 'other')}",
        f"• Thành viên đi: {', '.join(names) or 'chưa chọn'}",
        f"• Số hộ đã đến: {st.get('households', 0)}",
        f"• Số người được hỗ trợ: {people}, trong đó người cao tuổi {st.get('elderly', 0)}, "
        f"người yếu thế khác {st.get('vulnerable', 0)}",
        f"• Hoạt động: {act_text}",
    ]
    if st.get("difficulties"):
        lines.append(f"• Khó khăn: {st['difficulties']}")
    if st.get("good"):
        lines.append(f"• Cách làm hay: {st['good']}")
    if st.get("photos"):
        lines.append(f"• Ảnh: {len(st['photos'])}")
    return "\n".join(lines)


def state_from_parse(ctx: Context, group: str, text: str) -> tuple[dict, int]:
    today = C.today(ctx.now)
    p = parse_session(text, today)
    st: dict = {"group": group, "day": (p.day or today).isoformat(), "members": [ctx.person.id], "acts": {},
                "difficulties": "", "good": "", "photos": [], "ok_warn": []}
    for k, v in p.figures.items():
        if k in C.ACTIVITIES:
            st["acts"][k] = min(v, C.MAX_NUMBER)
        else:
            st[k] = min(v, C.MAX_NUMBER)
    for k in C.COUNTS:
        st.setdefault(k, 0)
    if "people" not in p.figures:
        # Nobody counts heads in a hurry: at least everyone counted elsewhere was helped.
        st["people"] = max([st["elderly"] + st["vulnerable"], *(st["acts"].get(a, 0) for a in PEOPLE_ACTS)])
        st["people_est"] = True
    st["place"] = p.place or ("door" if st["households"] else "other")
    return st, p.known


def start_quick(ctx: Context, group: str, text: str) -> bool:
    """Show a one-message log back as the form's summary. False when nothing was recognised."""
    st, known = state_from_parse(ctx, group, text)
    if not known:
        return False
    flow = ctx.app.router.flows[NAME]
    problem = S.check_day(ctx.session, group, date.fromisoformat(st["day"]), ctx.now, late_ok=True)
    if problem:
        ctx.start_flow(NAME, "day", st)
        ctx.reply(problem)
        flow.ask_day(ctx)
        return True
    ctx.start_flow(NAME, "confirm", st)
    flow.ask_confirm(ctx)
    return True


def cmd_log(ctx: Context, args: str) -> None:
    group = S.team_of(ctx.session, ctx.person.id)
    if group is None:
        ctx.reply("Bạn chưa thuộc Tổ công nghệ số cộng đồng nào. Bạn xin cán bộ phường mã mời rồi gõ /nhapma MÃ nhé.")
        return
    if args.strip() and start_quick(ctx, group, args):
        return
    if args.strip():
        ctx.reply("Mình chưa đọc được số liệu trong tin nhắn này, mình hỏi từng mục nhé.")
    state = {"group": group, "members": [ctx.person.id], "acts": {}, "ok_warn": []}
    today = C.today(ctx.now)
    if S.is_locked(ctx.session, group, today):
        state["late_told"] = True
        ctx.reply(S.late_notice(today))
    ctx.run_flow(NAME, "start", state)


def on_text(ctx: Context) -> bool:
    """Free text from a team member that reads as a session (>= 2 known figures) is a quick log.
    Residents never get here: their questions go on to the knowledge base untouched."""
    text = ctx.msg.text or ""
    if not text.strip() or ctx.msg.is_group or not any(ch.isdigit() for ch in text) or "?" in text:
        return False  # a question, even one full of numbers, goes to the knowledge base
    if not ctx.has_role(R.TEAM_MEMBER):
        return False
    group = S.team_of(ctx.session, ctx.person.id)
    if group is None:
        return False
    st, known = state_from_parse(ctx, group, text)
    if known < 2:
        return False
    return start_quick(ctx, group, text)
