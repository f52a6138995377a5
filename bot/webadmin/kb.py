"""Kho tri thức: list, search, view and edit entries. An edit is checked by the same rules as
`kb check` on a copy of the knowledge base first (only problems the edit introduces block it),
previewed as the resident's reply, then written into the entry's own lines of its YAML file (the
file's other entries and comments stay as they were; git stays the history), the knowledge base
reloaded and the search index rebuilt in the background. The audit log says who changed what."""
from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tempfile
import threading
from datetime import date
from pathlib import Path

import yaml
from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlmodel import select

from bot.models import AuditEvent
from bot.people import labels
from bot.webadmin.web import current, form_with_csrf, redirect, render
from nlu.normalize import fold

log = logging.getLogger(__name__)
_rebuild_lock = threading.Lock()
SECTION_LABELS = {"documents": "Giấy tờ cần mang", "fee": "Lệ phí", "time": "Thời gian giải quyết",
                  "where": "Nơi nộp", "who": "Ai được làm, điều kiện", "steps": "Các bước",
                  "online": "Làm trực tuyến", "notes": "Lưu ý"}
MAX_FIELD = 8000


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, s):
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None)


_Dumper.add_representer(str, _str)


# --- reading the files -------------------------------------------------------------------------
def _raw_entries(kb_dir: Path) -> list[tuple[Path, dict]]:
    from knowledge.kb import load_raw
    return load_raw(kb_dir)


def find_raw(kb_dir: Path, entry_id: str) -> tuple[Path, dict] | None:
    for path, raw in _raw_entries(kb_dir):
        if str(raw.get("id")) == entry_id:
            return path, raw
    return None


def _entry_span(text: str, path: Path, entry_id: str, kb_dir: Path) -> tuple[int, int, str]:
    """(first line index, end line index exclusive, indentation) of the entry's block in the file."""
    starts = sorted((raw.get("__line__", 0), str(raw.get("id"))) for p, raw in _raw_entries(kb_dir) if p == path)
    lines = text.split("\n")
    for i, (line, eid) in enumerate(starts):
        if eid != entry_id:
            continue
        first = line - 1
        end = starts[i + 1][0] - 1 if i + 1 < len(starts) else len(lines)
        while end > first + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
            end -= 1
        indent = re.match(r"^(\s*)-", lines[first])
        return first, end, indent.group(1) if indent else "  "
    raise KeyError(entry_id)


def dump_entry(raw: dict, indent: str) -> list[str]:
    clean = {k: v for k, v in raw.items() if k != "__line__"}
    text = yaml.dump([clean], Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096)
    return [(indent + ln) if ln else ln for ln in text.rstrip("\n").split("\n")]


def replaced_text(text: str, path: Path, entry_id: str, new_raw: dict, kb_dir: Path) -> str:
    first, end, indent = _entry_span(text, path, entry_id, kb_dir)
    lines = text.split("\n")
    return "\n".join(lines[:first] + dump_entry(new_raw, indent) + lines[end:])


def _strip_lines(raw: dict) -> dict:
    def clean(v):
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k != "__line__"}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return clean(raw)


# --- the edit form -----------------------------------------------------------------------------
def apply_form(raw: dict, form) -> tuple[dict, list[str]]:
    """The entry with the form's fields applied, and the names of the fields that changed."""
    new = dict(raw)

    def text(name):
        return str(form.get(name) or "").replace("\r\n", "\n").strip()[:MAX_FIELD]

    def lines(name):
        return [x.strip() for x in text(name).split("\n") if x.strip()]

    new["title"] = text("title")
    new["questions"] = lines("questions")
    body = "short" if "short" in raw or "answer" not in raw else "answer"
    new[body] = text(body) + "\n" if text(body) else ""
    if isinstance(raw.get("sections"), dict) or any(form.get(f"section_{k}") for k in SECTION_LABELS):
        sections = {}
        for k in SECTION_LABELS:
            v = text(f"section_{k}")
            if v:
                sections[k] = v + "\n"
        new["sections"] = sections
    new["legal_basis"] = lines("legal_basis")
    reviewed = text("reviewed")
    if reviewed:
        try:
            new["reviewed"] = date.fromisoformat(reviewed)
        except ValueError:
            new["reviewed"] = reviewed  # kept as typed: the check names the problem
    new["may_change"] = bool(form.get("may_change"))
    changed = [k for k in new if _norm(new.get(k)) != _norm(raw.get(k))]
    return new, changed


def _norm(v):
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, dict):
        return {k: _norm(x) for k, x in v.items() if k != "__line__"}
    if isinstance(v, list):
        return [_norm(x) for x in v]
    return v


def _problem_key(p) -> str:
    return f"{p.level}|{Path(p.file).name}|{re.sub(r'[0-9]+', '#', p.message)}"


def validate(kb_dir: Path, path: Path, new_text: str, entry_id: str):
    """Check a copy of the knowledge base with the edit in it. Returns (new problems of the edit,
    the edited KnowledgeBase or None when it does not load)."""
    from knowledge.check import check
    from knowledge.kb import KBError, KnowledgeBase
    before = {_problem_key(p) for p in check(kb_dir)}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp) / "kb"
        shutil.copytree(kb_dir, tmpdir)
        (tmpdir / path.name).write_text(new_text, encoding="utf-8")
        problems = [p for p in check(tmpdir) if _problem_key(p) not in before]
        for p in problems:
            p.file = str(path.name)
        try:
            kb = KnowledgeBase.load(tmpdir)
        except (KBError, ValueError, TypeError) as e:
            return problems or [type("P", (), {"level": "error", "message": str(e), "line": 0, "file": path.name})()], None
    return problems, kb


def reply_preview(app, kb, entry_id: str) -> str:
    """The first reply a resident would get for this entry."""
    import knowledge.kb as K
    entry = kb.by_id.get(entry_id) if kb else None
    if entry is None:
        return ""
    for name in ("render_short", "render_first", "render_answer"):
        fn = getattr(K, name, None)
        if fn:
            try:
                return f"{entry.title}\n\n{fn(entry, app.profile)}"
            except Exception as e:  # a preview problem must not hide the form
                return f"(không xem trước được: {e})"
    return entry.title


def reload_kb_later(app) -> None:
    """Reload the knowledge base now (answers change at once) and rebuild the search index in the
    background when the questions changed; the old index keeps answering meanwhile."""
    from knowledge.kb import KnowledgeBase
    kb = KnowledgeBase.load(app.settings.kb_dir)
    changed = kb.fingerprint() != app.kb.fingerprint()
    app.kb = kb
    nlu = getattr(app, "_nlu", None)
    # Re-index only an index this app built and keeps in its own data dir; an understander it
    # was handed (tests, tools) is kept as it is.
    own_index = (app.settings.data_dir / "index").is_dir()
    if not changed or nlu is None or not own_index or type(nlu).__module__.split(".")[0] != "nlu":
        return

    def rebuild():
        with _rebuild_lock:
            try:
                from nlu import pipeline
                app._nlu = pipeline.build(app.settings, app.kb, progress=False)
                log.info("search index rebuilt after a knowledge-base edit")
            except Exception:
                log.exception("index rebuild failed; the previous index keeps answering")

    threading.Thread(target=rebuild, name="kb-reindex", daemon=True).start()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def register(api, app) -> None:
    @api.get("/admin/kb", response_class=HTMLResponse)
    def kb_list(request: Request, q: str = ""):
        st = current(request)
        term = fold(q.strip())[:100]
        rows = []
        for e in app.kb.entries:
            hay = fold(" ".join([e.id, e.title, *e.questions]))
            if not term or term in hay:
                rows.append(e)
        return render(request, "kb_list.html", st, page="kb", title="Kho tri thức", rows=rows, q=q, today=date.today())

    def _form(request, st, entry_id, raw, path, base, problems=(), preview="", status=200, error=None):
        with app.db.session() as s:
            hist = list(s.exec(select(AuditEvent).where(AuditEvent.object_type == "kb_entry",
                                                        AuditEvent.object_id == entry_id[:64])
                               .order_by(AuditEvent.id.desc()).limit(20)))
            names = labels(s, (h.actor_id for h in hist))
        body = "short" if "short" in raw or "answer" not in raw else "answer"
        return render(request, "kb_edit.html", st, status=status, page="kb", title=raw.get("title") or entry_id,
                      entry_id=entry_id, raw=raw, file=path.name, base=base, body=body, problems=problems,
                      preview=preview or reply_preview(app, app.kb, entry_id), history=hist, names=names,
                      sections=SECTION_LABELS, error=error,
                      has_sections=isinstance(raw.get("sections"), dict) or body == "short")

    @api.get("/admin/kb/{entry_id}", response_class=HTMLResponse)
    def kb_entry(request: Request, entry_id: str):
        st = current(request)
        found = find_raw(app.settings.kb_dir, entry_id)
        if found is None:
            return render(request, "message.html", st, status=404, title="Không tìm thấy",
                          message="Không có mục này trong kho tri thức.")
        path, raw = found
        return _form(request, st, entry_id, _strip_lines(raw), path, _digest(path.read_text(encoding="utf-8")))

    @api.post("/admin/kb/{entry_id}", response_class=HTMLResponse)
    async def kb_save(request: Request, entry_id: str):
        st = current(request)
        form = await form_with_csrf(request, st)
        kb_dir = app.settings.kb_dir
        found = find_raw(kb_dir, entry_id)
        if found is None:
            return redirect("/admin/kb", err="Không có mục này trong kho tri thức.")
        path, raw = found
        raw = _strip_lines(raw)
        text = path.read_text(encoding="utf-8")
        new_raw, changed = apply_form(raw, form)
        if str(form.get("base") or "") != _digest(text):
            return _form(request, st, entry_id, new_raw, path, _digest(text), status=409,
                         error="Tệp vừa được người khác sửa. Bạn xem lại nội dung mới nhất rồi sửa lại nhé.")
        try:
            new_text = replaced_text(text, path, entry_id, new_raw, kb_dir)
        except KeyError:
            return redirect("/admin/kb", err="Không tìm thấy vị trí của mục trong tệp.")
        problems, kb = validate(kb_dir, path, new_text, entry_id)
        errors = [p for p in problems if p.level == "error"]
        preview = reply_preview(app, kb, entry_id)
        if form.get("action") != "save" or errors:
            return _form(request, st, entry_id, new_raw, path, _digest(text), problems=problems, preview=preview,
                         status=422 if errors else 200,
                         error="Chưa lưu: còn lỗi cần sửa (xem danh sách bên dưới)." if errors else None)
        if not changed:
            return redirect(f"/admin/kb/{entry_id}", ok="Không có gì thay đổi.")
        tmp = path.with_suffix(".yaml.tmp")
        tmp.write_text(new_text, encoding="utf-8")
        os.replace(tmp, path)
        with app.db.session() as s:
            s.add(AuditEvent(at=app.clock.now(), actor_id=st.person_id, action="kb_entry_edited",
                             object_type="kb_entry", object_id=entry_id[:64],
                             detail={"file": path.name, "fields": changed}))
        reload_kb_later(app)
        return redirect(f"/admin/kb/{entry_id}", ok="Đã lưu. Trợ lý trả lời theo nội dung mới ngay; "
                                                   "chỉ mục tìm kiếm đang được cập nhật.")
