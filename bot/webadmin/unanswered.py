"""Câu hỏi chờ trả lời: questions the assistant could not answer (knowledge/unanswered.py, when
present), grouped with counts, to attach to an entry or mark out of scope; and the questions
residents passed to staff (/hoicanbo), answered from here to the resident's channel."""
from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from bot.core import Reply
from bot.ids import parse_id
from bot.models import AuditEvent, Handoff
from bot.outbox import enqueue
from bot.webadmin.web import current, form_with_csrf, redirect, render

MAX_ANSWER = 4000


def _unanswered_module():
    try:
        from knowledge import unanswered
    except ImportError:
        return None
    return unanswered


def _groups(app, s, limit: int = 50) -> list[dict]:
    """The open questions grouped (knowledge/unanswered.py's Group: ids, count, text, guesses)."""
    mod = _unanswered_module()
    if mod is None:
        return []
    out = []
    for g in mod.groups(s, limit):
        qs = list(getattr(g, "questions", []) or [])
        guesses = [x.get("topic") if isinstance(x, dict) else str(x) for x in (getattr(g, "guesses", None) or [])]
        out.append({"text": g.text, "count": g.count, "ids": list(g.ids),
                    "samples": [q.text for q in qs[:5]],
                    "guesses": [app.kb.by_id[t].title if t in app.kb.by_id else t for t in guesses if t]})
    return out


def register(api, app) -> None:
    @api.get("/admin/unanswered", response_class=HTMLResponse)
    def unanswered(request: Request, show: str = "open"):
        st = current(request)
        with app.db.session() as s:
            q = select(Handoff).order_by(Handoff.id.desc()).limit(100)
            if show != "all":
                q = q.where(Handoff.status == "open")
            handoffs = list(s.exec(q))
            groups = _groups(app, s)
        topics = sorted(((e.id, e.title) for e in app.kb.entries), key=lambda x: x[1])
        return render(request, "unanswered.html", st, page="unanswered", title="Câu hỏi chờ trả lời",
                      handoffs=handoffs, groups=groups, topics=topics, show=show,
                      has_log=_unanswered_module() is not None)

    @api.post("/admin/handoffs/{hid}/answer")
    async def answer(request: Request, hid: int):
        st = current(request)
        form = await form_with_csrf(request, st)
        text = str(form.get("answer") or "").strip()
        if not text:
            return redirect("/admin/unanswered", err="Bạn nhập nội dung trả lời.")
        if len(text) > MAX_ANSWER:
            return redirect("/admin/unanswered", err=f"Trả lời dài quá (tối đa {MAX_ANSWER} ký tự).")
        now = app.clock.now()
        with app.db.session() as s:
            h = s.get(Handoff, hid)
            if h is None:
                return redirect("/admin/unanswered", err="Không tìm thấy câu hỏi này.")
            if h.person_id is None:
                return redirect("/admin/unanswered", err=f"Người hỏi #{hid} đã xoá dữ liệu, không gửi được trả lời.")
            h.status, h.answer, h.answered_by, h.answered_at = "answered", text, st.person_id, now
            s.add(h)
            s.add(AuditEvent(at=now, actor_id=st.person_id, action="handoff_answered", object_type="handoff",
                             object_id=str(h.id), detail={"via": "admin"}))
            enqueue(s, h.channel, h.chat_id, Reply(f"Cán bộ phường trả lời câu hỏi #{h.id} của bạn "
                                                  f"(\"{h.question[:100]}\"):\n{text}"),
                    now=now, dedupe_key=f"handoff-answer-{h.id}-{now.timestamp():.0f}")
        app.wake_outbox()
        return redirect("/admin/unanswered", ok=f"Đã gửi trả lời cho người hỏi #{hid}.")

    @api.post("/admin/unanswered/resolve")
    async def resolve(request: Request):
        st = current(request)
        form = await form_with_csrf(request, st)
        mod = _unanswered_module()
        if mod is None:
            return redirect("/admin/unanswered", err="Chưa có sổ câu hỏi chưa trả lời được.")
        ids = [n for v in form.getlist("ids") for x in str(v).split(",") if (n := parse_id(x)) is not None]
        if not ids:
            return redirect("/admin/unanswered", err="Bạn chọn ít nhất một câu hỏi.")
        action, topic = str(form.get("action") or ""), str(form.get("topic") or "")
        now = app.clock.now()
        try:
            with app.db.session() as s:
                if action == "attach":
                    if topic not in app.kb.by_id:
                        return redirect("/admin/unanswered", err="Bạn chọn một mục trong kho tri thức.")
                    mod.attach(s, ids, topic, app.settings.kb_dir, st.account.username, now)
                    msg = f"Đã gắn {len(ids)} câu hỏi vào mục \"{app.kb.by_id[topic].title}\"."
                elif action == "out_of_scope":
                    mod.mark_out_of_scope(s, ids, st.account.username, now)
                    msg = f"Đã đánh dấu {len(ids)} câu hỏi ngoài phạm vi."
                else:
                    return redirect("/admin/unanswered", err="Thao tác không hợp lệ.")
                s.add(AuditEvent(at=now, actor_id=st.person_id, action=f"unanswered_{action}",
                                 object_type="unanswered_question", object_id=",".join(map(str, ids))[:64],
                                 detail={"topic": topic or None}))
        except (ValueError, KeyError, OSError) as e:
            return redirect("/admin/unanswered", err=f"Chưa làm được: {e}")
        if action == "attach":
            from bot.webadmin.kb import reload_kb_later
            reload_kb_later(app)
        return redirect("/admin/unanswered", ok=msg)
