"""Editing the knowledge base from the back office, on a copy of the real KB: problems found by the
`kb check` rules are shown and block the save, the preview shows the resident's reply, a save
changes only that entry's lines, the bot answers with the new text at once, the audit says who."""
from __future__ import annotations

import re
import shutil
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from bot.config import ROOT
from tests.admin_helpers import csrf_of, login, make_account
from tests.conftest import Chat


@pytest.fixture
def kb_dir(tmp_path):
    d = tmp_path / "kb"
    shutil.copytree(ROOT / "knowledge" / "kb", d)
    return d


@pytest.fixture
def app(make_app, settings, kb_dir):
    return make_app(settings=replace(settings, kb_dir=kb_dir))


@pytest.fixture
def client(app):
    from bot.server import create_api
    make_account(app)
    with TestClient(create_api(app, background=False)) as c:
        login(c)
        yield c


def _fields(html: str) -> dict:
    """The edit form as the browser would post it."""
    data = {}
    for m in re.finditer(r'<input (?:type="hidden" )?name="([^"]+)" value="([^"]*)"', html):
        data[m.group(1)] = m.group(2)
    for m in re.finditer(r'<input name="([^"]+)" value="([^"]*)"', html):
        data[m.group(1)] = m.group(2)
    for m in re.finditer(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        data[m.group(1)] = m.group(2)
    import html as h
    data = {k: h.unescape(v) for k, v in data.items()}
    if 'name="may_change" value="1" checked' in html:
        data["may_change"] = "1"
    m = re.search(r'type="date" name="reviewed" value="([^"]*)"', html)
    data["reviewed"] = m.group(1) if m else ""
    return data


def test_list_search_and_view(client, app):
    e = app.kb.entries[0]
    page = client.get("/admin/kb")
    assert page.status_code == 200 and e.title in page.text
    assert e.title in client.get("/admin/kb", params={"q": e.questions[0][:12]}).text
    assert "Không có mục nào" in client.get("/admin/kb", params={"q": "zzzqqq không có"}).text
    view = client.get(f"/admin/kb/{e.id}")
    assert view.status_code == 200 and e.questions[0].replace('"', "&#34;")[:10] in view.text
    assert client.get("/admin/kb/khong.co-muc-nay").status_code == 404


def test_edit_checked_previewed_saved_and_answered(client, app, kb_dir):
    # an entry whose first question asks for no particular section, so the reply is its `short`
    e = app.kb.by_id["an-sinh.tro-cap-xa-hoi"]
    path = kb_dir / e.source.rsplit("/", 1)[-1]
    before = path.read_text(encoding="utf-8")
    page = client.get(f"/admin/kb/{e.id}").text
    data = _fields(page)
    body = "short" if "short" in data else "answer"
    new_text = "Bạn mang căn cước đến {centre_address}. Nội dung đã sửa từ bàn làm việc."

    # a problem the edit introduces blocks the save and is shown on the form
    bad = dict(data, **{body: new_text, "title": "", "action": "save"})
    r = client.post(f"/admin/kb/{e.id}", data=bad)
    assert r.status_code == 422 and "Lỗi" in r.text and "Chưa lưu" in r.text
    assert path.read_text(encoding="utf-8") == before

    # preview: placeholders filled as the resident sees it, nothing written
    prev = client.post(f"/admin/kb/{e.id}", data=dict(data, **{body: new_text, "action": "preview"}))
    assert prev.status_code == 200 and app.profile.centre.address in prev.text
    assert path.read_text(encoding="utf-8") == before

    r = client.post(f"/admin/kb/{e.id}", data=dict(data, **{body: new_text, "action": "save"}), follow_redirects=True)
    assert r.status_code == 200 and "Đã lưu" in r.text, r.text[-2000:]
    after = path.read_text(encoding="utf-8")
    assert "Nội dung đã sửa từ bàn làm việc" in after
    # the other entries and the file's comments are untouched
    first_line = before.split("\n")[0]
    assert after.startswith(first_line)
    other = [x for x in app.kb.entries if x.source == e.source and x.id != e.id]
    for x in other:
        assert x.questions[0] in after
    # answers change at once
    chat = Chat(app, "dan-kb")
    from handlers.faq import answer_topic  # noqa: F401  (the bot's own answer path)
    assert "Nội dung đã sửa từ bàn làm việc" in app.kb.by_id[e.id].__dict__.get(body, app.kb.by_id[e.id].answer)
    out = chat.text(e.questions[0])
    assert "Nội dung đã sửa từ bàn làm việc" in out or "Ý bạn là" in out
    # who changed what, on the entry page and in the audit log
    view = client.get(f"/admin/kb/{e.id}").text
    assert "Nguyễn Thị Lan" in view and body in view
    assert "kb_entry_edited" in client.get("/admin/audit").text


def test_stale_form_is_refused(client, app, kb_dir):
    e = app.kb.entries[0]
    data = _fields(client.get(f"/admin/kb/{e.id}").text)
    path = kb_dir / e.source.rsplit("/", 1)[-1]
    path.write_text(path.read_text(encoding="utf-8") + "\n# sửa tay\n", encoding="utf-8")
    r = client.post(f"/admin/kb/{e.id}", data=dict(data, action="save"))
    assert r.status_code == 409 and "người khác sửa" in r.text


def test_kb_edit_needs_csrf(client, app):
    e = app.kb.entries[0]
    data = _fields(client.get(f"/admin/kb/{e.id}").text)
    data["csrf"] = "sai"
    assert client.post(f"/admin/kb/{e.id}", data=dict(data, action="save")).status_code == 403


def test_new_question_reindexed_in_the_background(make_app, settings, kb_dir):
    """With the app's own index (here the fast `hash` embedder), a question added from the form
    is learnt by a rebuild in the background while the old index keeps answering."""
    import threading

    from bot.server import create_api
    app = make_app(settings=replace(settings, kb_dir=kb_dir, embedder="hash"), understander=None)
    old = app.nlu  # builds this app's index in its data dir
    make_account(app)
    e = app.kb.entries[0]
    new_q = "cho hỏi thủ tục nuôi chim yến trên sân thượng nhà phố"
    with TestClient(create_api(app, background=False)) as c:
        login(c)
        data = _fields(c.get(f"/admin/kb/{e.id}").text)
        data["questions"] = data["questions"] + "\n" + new_q
        r = c.post(f"/admin/kb/{e.id}", data=dict(data, action="save"), follow_redirects=True)
        assert "Đã lưu" in r.text
    assert new_q in app.kb.by_id[e.id].questions
    for t in threading.enumerate():
        if t.name == "kb-reindex":
            t.join(timeout=600)
    assert app._nlu is not old
    u = app.nlu.understand(new_q)
    assert u.topic == e.id or e.id in [t for t, _ in u.candidates]


def test_an_edit_reaches_the_other_workers(client, app, make_app, settings, kb_dir):
    """Two workers on one database and one KB folder: an edit saved on one is answered by the
    other once its watcher sees the files change (bot/kbwatch.py), without a restart."""
    import time
    from bot.kbwatch import KbWatcher
    other = make_app(settings=replace(settings, kb_dir=kb_dir))
    watcher = KbWatcher(other, interval=0.2)
    watcher.start()
    try:
        e = app.kb.by_id["an-sinh.tro-cap-xa-hoi"]
        data = _fields(client.get(f"/admin/kb/{e.id}").text)
        body = "short" if "short" in data else "answer"
        new_text = "Bạn mang căn cước đến {centre_address}. Bản sửa cho mọi worker."
        r = client.post(f"/admin/kb/{e.id}", data=dict(data, **{body: new_text, "action": "save"}),
                        follow_redirects=True)
        assert "Đã lưu" in r.text
        deadline = time.time() + 15
        while time.time() < deadline and "Bản sửa cho mọi worker" not in getattr(other.kb.by_id[e.id], body):
            time.sleep(0.1)
        assert "Bản sửa cho mọi worker" in getattr(other.kb.by_id[e.id], body)
        out = Chat(other, "dan-kb-2").text(e.questions[0])
        assert "Bản sửa cho mọi worker" in out or "Ý bạn là" in out
        assert watcher.check() is False  # nothing changed since: no reload
    finally:
        watcher.stop()


def test_a_broken_file_keeps_the_previous_entries(app, kb_dir):
    from bot.kbwatch import KbWatcher
    watcher = KbWatcher(app, interval=3600)
    before = len(app.kb.entries)
    victim = sorted(kb_dir.glob("*.yaml"))[0]
    victim.write_text("- id: [unclosed\n", encoding="utf-8")  # a file caught half-written
    assert watcher.check() is False
    assert len(app.kb.entries) == before
