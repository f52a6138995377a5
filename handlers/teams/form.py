"""/ghinhan: logging one support session in a short chat form (a bot.forms.Form), or from one message.

Steps keep their answers in the conversation row, so a restart or a wrong answer loses nothing.
Counts show no buttons on purpose: on Zalo buttons become a numbered list, and a typed
"2" would press button 2 instead of meaning two.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bot import roles as R
from bot.context import Context
from bot.core import Button, Reply
from bot.forms import (Again, Choice, Field, Form, MultiChoice, Option, Problem, Text, _clean, is_question,
                       match_option, reads_as_question)
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


# --- field types of this form ------------------------------------------------------------------
WARN_OPTIONS = [Option("Đúng, giữ số này", "ok", "warn-ok", ("dung", "dung roi", "giu", "giu nguyen", "ok")),
                Option("Nhập lại", "redo", "warn-redo", ("nhap lai", "sai", "sai roi", "sua"))]


@dataclass
class Count(Field):
    """A head count, typed (no buttons on purpose: on Zalo a typed "2" would press button 2).
    A count above `plausible` not yet confirmed sets a warning, asked next (the `warn` field)."""
    plausible: int = 0

    def take(self, form, ctx):
        if ctx.msg.button:
            raise Problem(NUMBER_ERRORS["text"], buttons=[])
        v = number(ctx.msg.text)
        if not isinstance(v, int):
            raise Problem(NUMBER_ERRORS.get(v, NUMBER_ERRORS["text"]), buttons=[])
        return v

    def store(self, st, value):
        st[self.key] = value
        if self.key == "people":
            st.pop("people_est", None)  # counted now, no longer estimated
        _warn_if_many(st, self.key, value, self.plausible)


@dataclass
class ActCount(Count):
    """How many of the activity picked in the menu (`act` in the state); asked only then."""

    def is_done(self, st):
        return st.get("act") not in C.ACTIVITIES

    def clear(self, st):
        pass

    def store(self, st, value):
        act = st.pop("act")
        acts = st.setdefault("acts", {})
        acts[act] = value
        if not value:
            acts.pop(act, None)
        _warn_if_many(st, act, value, self.plausible)


def _warn_if_many(st: dict, key: str, value: int, plausible: int) -> None:
    if value > plausible and key not in st.setdefault("ok_warn", []):
        st["warn"] = {"key": key}


@dataclass
class Warn(Field):
    """"Số này đúng chứ?" after an implausible figure; asked right after it (first in the list)."""

    def applies(self, ctx):
        return bool((ctx.state.get("warn") or {}).get("key"))

    def is_done(self, st):
        return not (st.get("warn") or {}).get("key")

    def clear(self, st):
        pass

    def options(self, ctx):
        return WARN_OPTIONS

    def store(self, st, value):
        key = st.pop("warn")["key"]
        if value == "ok":
            st.setdefault("ok_warn", []).append(key)
        elif key in C.ACTIVITIES:
            st["act"] = key  # its count is asked again
        else:
            st.pop(key, None)


@dataclass
class Activities(Field):
    """The activities menu: a press asks that activity's count (ActCount), "5 vneid, 3 ví" typed
    fills several, "Xong phần hoạt động" ends. Counts are kept when the field is edited again."""
    done_key: str | None = "acts_done"

    def clear(self, st):
        st.pop("acts_done", None)

    def options(self, ctx):
        acts = ctx.state.get("acts") or {}
        return [Option(C.SHORT[a] + (f": {acts[a]}" if acts.get(a) else ""), a, f"act-{a}",
                       (_clean(C.SHORT[a]), a)) for a in C.ACTIVITIES] + \
            [Option("Xong phần hoạt động", "done", "acts-done", ("xong", "xong roi", "het", "khong co", "ko co"))]

    def take(self, form, ctx):
        st, text = ctx.state, (ctx.msg.text or "").strip()
        if text and not ctx.msg.button:  # "5 vneid, 3 ví điện tử": several at once
            found = {k: min(v, C.MAX_NUMBER) for k, v in parse_session(text, C.today(ctx.now)).figures.items()
                     if k in C.ACTIVITIES}
            if found:
                st.setdefault("acts", {}).update(found)
                raise Again()
        try:
            picked = super().take(form, ctx)
        except Problem:
            raise Problem("Mình chưa hiểu. Bạn bấm tên việc để nhập số, hoặc gõ kiểu \"5 vneid, 3 ví điện tử\".")
        if picked == "done":
            st.pop("act", None)
            return st.setdefault("acts", {})
        st["act"] = picked
        raise Again()  # SessionFlow.ask_acts asks its count

    def store(self, st, value):
        st["acts"] = value
        st["acts_done"] = True


@dataclass
class Members(MultiChoice):
    """Who went (the author is chosen to begin with); edited again, the choice is kept."""

    def clear(self, st):
        st.pop(self.done_key, None)

    def take(self, form, ctx):
        if not ctx.msg.button and _clean(ctx.msg.text) in ONLY_ME:
            ctx.state[self.key] = [ctx.person.id]  # "chỉ mình tôi": the author alone, and done
            return ctx.state[self.key]
        return super().take(form, ctx)


ONLY_ME = ("chi minh toi", "minh toi", "mot minh", "chi minh", "chi co minh", "chi toi", "chi co toi", "chi minh em",
           "minh em", "chi em", "chi co em", "minh toi thoi", "chi minh toi thoi", "toi thoi", "em thoi", "minh thoi")


def _member_options(ctx: Context) -> list[Option]:
    group = ctx.state.get("group")
    return [Option(S.person_name(p), p.id, f"m-{p.id}") for p, _ in S.roster(ctx.session, group)][:12] if group else []


NO_NOTE = ("khong", "ko", "k", "khong co", "ko co", "k co", "khong co gi", "ko co gi", "bo qua", "thoi", "1")


@dataclass
class Note(Text):
    """A short note, or "Không có" (pressed, or typed alone: "không có mạng" is a note)."""

    def options(self, ctx):
        return [Option("Không có", "", "none", NO_NOTE)]

    def take(self, form, ctx):
        if not ctx.msg.button and _clean(ctx.msg.text) not in NO_NOTE:
            return self.take_text(ctx, (ctx.msg.text or "").strip())
        return super().take(form, ctx)


def _day_options(ctx: Context) -> list[Option]:
    today = C.today(ctx.now)
    return [Option("Hôm nay", today.isoformat(), "today", ("hom nay",)),
            Option("Hôm qua", (today - timedelta(days=1)).isoformat(), "yesterday", ("hom qua",))]


@dataclass
class Day(Choice):
    def take_text(self, ctx, text):
        d = parse_date_text(text, C.today(ctx.now))
        if d is None or d == "bad":
            raise Problem("Mình chưa hiểu ngày này. Bạn gõ theo dạng ngày/tháng, ví dụ 15/11, hoặc bấm nút nhé.")
        return d.isoformat()


class SessionFlow(Form):
    """day -> place -> four counts -> activities -> who went -> difficulties -> good practice ->
    summary. A figure that looks too big is confirmed right after it (`warn`)."""
    name = NAME
    title = "ghi nhận buổi hỗ trợ"
    roles = (R.TEAM_MEMBER,)
    fields = [
        Warn("warn"),
        Day("day", "Buổi hỗ trợ diễn ra ngày nào? Bấm nút, hoặc gõ ngày/tháng (ví dụ 15/11).", "Ngày",
            choices=_day_options),
        Choice("place", "Tổ hỗ trợ ở đâu, theo hình thức nào?", "Nơi hỗ trợ",
               choices=[Option(label, pid, f"place-{pid}") for pid, label in C.PLACES.items()],
               error="Bạn chọn một trong các nút bên dưới giúp mình nhé."),
        *(Count(k, QUESTIONS[k], label, plausible=C.PLAUSIBLE[k])
          for k, label in (("households", "Số hộ"), ("people", "Số người"), ("elderly", "Người cao tuổi"),
                           ("vulnerable", "Người yếu thế"))),
        ActCount("act_count", plausible=C.PLAUSIBLE_ACTIVITY),
        Activities("acts", "Tổ đã làm được những việc gì? Bấm từng việc để nhập số lượng, xong thì bấm "
                           "\"Xong phần hoạt động\". Có thể gõ luôn, ví dụ: 5 vneid, 3 ví điện tử.", "Hoạt động"),
        Members("members", "Những ai trong tổ đã đi buổi này? Bấm tên để chọn hoặc bỏ chọn, xong thì bấm \"Xong\".",
                "Thành viên đi", choices=_member_options, done_wire="m-done",
                at_least_one="Bạn chọn ít nhất một người đã đi nhé."),
        Note("difficulties", "Tổ có gặp khó khăn gì không? Gõ ngắn gọn, hoặc bấm \"Không có\". Có thể gửi kèm ảnh.",
             "Khó khăn", max_len=1000),
        Note("good", "Có cách làm hay nào muốn chia sẻ không? Gõ ngắn gọn, hoặc bấm \"Không có\".", "Cách làm hay",
             max_len=1000),
    ]

    # --- steps with more to say than their question -------------------------------------------
    def validate_day(self, ctx: Context, value: str) -> str | None:
        d, new = date.fromisoformat(value), not ctx.state.get("edit_id")
        problem = S.check_day(ctx.session, ctx.state["group"], d, ctx.now, late_ok=new)
        if problem:
            return problem
        if new and S.is_locked(ctx.session, ctx.state["group"], d) and not ctx.state.get("late_told"):
            ctx.state["late_told"] = True
            ctx.reply(S.late_notice(d))  # said once, up front: the form goes on, no dead end
        return None

    def take_place(self, ctx: Context):
        try:
            return self.field("place").take(self, ctx)
        except Problem:
            # "nhà văn hóa tổ 1", "gõ cửa từng nhà": the quick log's place words, in a short answer
            text = ctx.msg.text or ""
            if not ctx.msg.button and len(_clean(text).split()) <= 8 and not reads_as_question(text):
                place = parse_session(text, C.today(ctx.now)).place
                if place in C.PLACES:
                    return place
            raise

    def validate_people(self, ctx: Context, v: int) -> str | None:
        st = ctx.state
        if v < int(st.get("elderly") or 0) + int(st.get("vulnerable") or 0):
            return (f"Số người được hỗ trợ không thể ít hơn số người cao tuổi và người yếu thế "
                    f"({st.get('elderly', 0)} + {st.get('vulnerable', 0)}). Bạn gõ lại giúp mình nhé.")
        return None

    def validate_elderly(self, ctx: Context, v: int) -> str | None:
        people = int(ctx.state.get("people") or 0)
        if v > people:
            return (f"Số người cao tuổi ({v}) không thể nhiều hơn số người được hỗ trợ ({people}). "
                    "Bạn gõ lại giúp mình nhé.")
        return None

    def validate_vulnerable(self, ctx: Context, v: int) -> str | None:
        people = int(ctx.state.get("people") or 0)
        if v + int(ctx.state.get("elderly") or 0) > people:
            return (f"Người cao tuổi và người yếu thế cộng lại không thể nhiều hơn số người được hỗ trợ "
                    f"({people}). Bạn gõ lại số người yếu thế khác giúp mình nhé.")
        return None

    def ask_warn(self, ctx: Context) -> None:
        key = ctx.state["warn"]["key"]
        if key in C.ACTIVITIES:
            text = f"{C.SHORT[key]}: {(ctx.state.get('acts') or {}).get(key)} trong một buổi là khá nhiều. Số này đúng chứ?"
        else:
            text = f"{C.COUNTS[key]}: {ctx.state.get(key)} trong một buổi là khá nhiều. Bạn kiểm tra lại giúp mình: số này đúng chứ?"
        ctx.reply(text, buttons=self.field_buttons(ctx, self.field("warn")))

    def ask_act_count(self, ctx: Context) -> None:
        ctx.reply(f"{C.ACTIVITIES[ctx.state['act']][1]}: bao nhiêu? (gõ số)")

    def ask_acts(self, ctx: Context) -> None:
        if ctx.state.get("act") in C.ACTIVITIES:  # an activity was just picked: its count first
            return self.ask_field(ctx, self.field("act_count"))
        f = self.field("acts")
        ctx.reply(f.ask, buttons=self.field_buttons(ctx, f))

    def handle(self, ctx: Context) -> None:
        self._old_edit_button(ctx)
        w = ctx.state.get("warn") or {}
        text = (ctx.msg.text or "").strip()
        if ctx.conv.step == "warn" and w.get("key") and text and not ctx.msg.button and \
                any(ch.isdigit() for ch in text) and match_option(text, WARN_OPTIONS) is None:
            # a corrected number typed straight away: the answer to the question warned about
            Warn("warn").store(ctx.state, "redo")
            ctx.goto("act_count" if w["key"] in C.ACTIVITIES else w["key"])
        super().handle(ctx)

    def _old_edit_button(self, ctx: Context) -> None:
        """Edit buttons sent before the Form port ("ghinhan:fix-households", "fix-back", pressed at
        the summary or from a form left at its old "edit_pick" step) still edit the field they name."""
        b = ctx.msg.button or ""
        if not b.startswith(self.b("fix-")):
            return
        key = b.removeprefix(self.b("fix-"))
        st = ctx.state
        if "acts" in st:  # offered at the summary: everything was answered (the old state had no flags)
            st.setdefault("acts_done", True)
        if "members" in st:
            st.setdefault("members_done", True)
        ctx.msg.button = self.b("review") if key == "back" else self.b(f"edit:{key}")
        if ctx.conv.step == "edit_pick":
            ctx.goto("confirm")

    def before(self, ctx: Context) -> bool:
        """Photos are kept at any step; a photo alone is acknowledged and the step asked again."""
        if not ctx.msg.photos:
            return False
        photos = ctx.state.setdefault("photos", [])
        for a in ctx.msg.photos:
            if len(photos) < 10:
                photos.append(a.path or a.file_id)
        if ctx.conv.step == "confirm" and not ctx.msg.button:
            self.ask_confirm(ctx)
            return True
        if (ctx.msg.text or "").strip():
            return False  # a caption is the answer to the step
        ctx.reply("Đã nhận ảnh.")
        self.ask(ctx)
        return True

    # --- summary, corrections, saving ----------------------------------------------------
    def ask_confirm(self, ctx: Context) -> None:
        ctx.goto("confirm")
        ctx.state.pop("_editing", None)
        ctx.reply(*self._summary(ctx))

    def _summary(self, ctx: Context) -> tuple[str, list[Button]]:
        errors, warnings = S.check_counts(ctx.state)
        pending = [w for k, w in warnings if k not in ctx.state.get("ok_warn", [])]
        text = summary(ctx, ctx.state)
        if not ctx.state.get("edit_id") and ctx.state.get("day") and \
                S.is_locked(ctx.session, ctx.state["group"], date.fromisoformat(ctx.state["day"])):
            text += "\n\nℹ " + S.late_notice(date.fromisoformat(ctx.state["day"]))
        save, *rest = self.summary_buttons()
        if errors:
            text += "\n\n⚠ " + "\n⚠ ".join(errors) + "\nBạn bấm \"Sửa\" để chỉnh lại giúp mình."
            return text, rest
        if pending:
            text += "\n\n⚠ " + "\n⚠ ".join(pending) + "\nBạn kiểm tra lại giúp mình nhé."
            save = Button("Số liệu đúng, lưu", save.data)
        return text, [save, *rest]

    def summary_buttons(self) -> list[Button]:
        return [Button("Lưu", self.b("save")), Button("Sửa", self.b("edit")), Button("Hủy", self.b("cancel"))]

    def on_confirm_step(self, ctx: Context) -> None:
        b = ctx.msg.button or ""
        editing = ctx.state.pop("_editing", False)
        if not b and ctx.msg.text:  # typed: "lưu", "sửa", "1"; after "Sửa", "3" is the third field
            shown = self.edit_buttons(ctx) if editing else self._summary(ctx)[1]
            words = {"save": ("luu", "luu lai", "ok", "dong y", "xac nhan", "gui", "nop"), "edit": ("sua", "chinh sua", "sua lai"),
                     "cancel": ("huy", "thoi", "khong luu"), "review": ("khong sua", "quay lai")}
            data = None if editing else self.typed_field(ctx, ctx.msg.text)  # "sửa số hộ": that field
            o = match_option(ctx.msg.text, [Option(bt.text, bt.data, bt.data.partition(":")[2],
                                                   words.get(bt.data.partition(":")[2], ())) for bt in shown]) \
                if data is None else None
            data = data or (o.value if o is not None else None)
            if data is not None:  # a field named at the summary ("số hộ") opens it for editing
                ctx.msg.button, ctx.msg.text = data, None
                return self.handle(ctx)
        if b == self.b("save"):
            return self.save(ctx)
        if b == self.b("review"):
            return self.ask_confirm(ctx)
        if is_question(ctx, None, parsed=False):
            return self.answer_question(ctx)
        ctx.reply("Bạn bấm \"Lưu\" để lưu, \"Sửa\" để chỉnh, hoặc \"Hủy\".")
        self.ask_confirm(ctx)

    def cancel(self, ctx: Context) -> None:
        ctx.end_flow()
        ctx.reply("Đã hủy, buổi hỗ trợ chưa được lưu." if not ctx.state.get("edit_id")
                  else "Đã hủy, buổi hỗ trợ giữ nguyên như cũ.")

    def b(self, payload: str) -> str:
        return f"{NAME}:{payload}"

    def submit(self, ctx: Context) -> None:
        self.save(ctx)

    def save(self, ctx: Context) -> None:
        st = ctx.state
        d = date.fromisoformat(st["day"])
        problem = S.check_day(ctx.session, st["group"], d, ctx.now, late_ok=not st.get("edit_id"))
        errors, warnings = S.check_counts(st)
        if problem or errors:
            ctx.reply(problem or errors[0])
            if problem:
                st.pop("day", None)
                return self.ask_field(ctx, self.field("day"))
            return self.ask_confirm(ctx)
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
                "difficulties": "", "good": "", "photos": [], "ok_warn": [], "acts_done": True, "members_done": True}
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
        st.pop("day")
        ctx.start_flow(NAME, "day", st)
        ctx.reply(problem)
        flow.ask_next(ctx)
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
