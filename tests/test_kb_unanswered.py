"""The unanswered-question log: recorded through the engine with personal data masked, grouped
for staff, attached to an entry (the YAML gains the question, a rebuilt index answers it) or
marked out of scope (an out_of_scope example the index learns from)."""
import shutil
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlmodel import select

from bot.config import ROOT
from knowledge.kb import KnowledgeBase
from knowledge.unanswered import (UnansweredError, UnansweredQuestion, append_question, attach, groups,
                                  mark_out_of_scope, mask, record)
from nlu.understand import Understanding
from tests.conftest import Chat

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ROAD = "Tôi là Nguyễn Văn An, sđt 0905 123 456, muốn hỏi thủ tục xin cấp phép đào đường để đấu nối nước thải"


def _fallback():
    return Understanding("fallback", confidence=0.9, candidates=[("cu-tru.tam-tru", 0.3), ("ho-tich.ket-hon", 0.2)])


@pytest.mark.parametrize("text,expected,gone", [
    ("Tôi là Nguyễn Văn An, sđt 0905 123 456, hỏi căn cước", "Tôi là [tên], sđt [số điện thoại], hỏi căn cước",
     ["Nguyễn", "0905"]),
    ("em tên là trần thị bé muốn hỏi khai sinh", "em tên là [tên] muốn hỏi khai sinh", ["trần", "bé"]),
    ("mất cccd 048095001234, cmnd cũ 201234567", "mất cccd [số giấy tờ], cmnd cũ [số giấy tờ]", ["0480", "2012"]),
    ("gửi giúp về an.nguyen@gmail.com hoặc +84 905.123.456", "gửi giúp về [email] hoặc [số điện thoại]", ["gmail"]),
    ("Mình tên Lan, hỏi thủ tục kết hôn", "Mình tên [tên], hỏi thủ tục kết hôn", ["Lan"]),
    # not names, not personal numbers: kept as typed
    ("tôi là sinh viên muốn hỏi tạm trú", "tôi là sinh viên muốn hỏi tạm trú", []),
    ("đổi tên cho con mất 5 ngày, phí 8000 đồng", "đổi tên cho con mất 5 ngày, phí 8000 đồng", []),
])
def test_masking(text, expected, gone):
    out = mask(text)
    assert out == expected
    assert not any(g in out for g in gone)


def test_record_counts_the_same_question_typed_differently(app):
    with app.db.session() as s:
        a = record(s, "Làm giấy phép nuôi chó ở đâu?", _fallback(), NOW)
        b = record(s, "lam giay phep nuoi cho o dau", _fallback(), NOW + timedelta(hours=2))
        assert a.id == b.id and b.count == 2
        assert b.first_seen == NOW and b.last_seen == NOW + timedelta(hours=2)
        assert b.guesses == [{"topic": "cu-tru.tam-tru", "score": 0.3}, {"topic": "ho-tich.ket-hon", "score": 0.2}]
        # a confident answer is not logged; an ambiguous or weak one is, with its reason
        assert record(s, "khai sinh ở đâu", Understanding("faq", topic="ho-tich.khai-sinh", confidence=0.95), NOW) is None
        amb = record(s, "xác nhận ở chung với ông bà", Understanding("faq", topic="cu-tru.thuong-tru", confidence=0.9,
                                                                     ambiguous=True), NOW)
        low = record(s, "đào đường nối cống", Understanding("faq", topic="an-toan-so.lua-dao", confidence=0.4), NOW)
        assert (amb.reason, low.reason) == ("ambiguous", "low_confidence")
        assert record(s, "   ", _fallback(), NOW) is None


def test_engine_records_fallback_and_low_confidence_masked(app):
    Chat(app, "r1").say(ROAD)
    Chat(app, "r2").say("dự báo thời tiết ngày mai ở Hà Nội thế nào, gọi tôi 0912345678")
    Chat(app, "r3").say("Dự báo thời tiết ngày mai ở Hà Nội thế nào, gọi tôi 0987654321!")
    Chat(app, "r4").say("đăng ký khai sinh cho con cần giấy tờ gì")  # answered confidently: not logged
    # answered, but weakly: no entry covers a conduct certificate (the lost-papers question used here
    # before has its own entry, an-ninh.mat-giay-to, since the KB went to 100 entries)
    Chat(app, "r5").say("xin xác nhận hạnh kiểm cho con đi du học")
    with app.db.session() as s:
        rows = {r.norm_key: r for r in s.exec(select(UnansweredQuestion))}
    texts = [r.text for r in rows.values()]
    assert len(rows) >= 2, texts  # the weather question may get the out-of-scope policy's own answer
    road = next(r for r in rows.values() if "đào đường" in r.text)
    assert road.reason in ("fallback", "low_confidence") and road.guesses and road.count == 1
    assert next(r for r in rows.values() if "hạnh kiểm" in r.text).reason == "low_confidence"
    assert "Nguyễn" not in road.text and "0905" not in road.text and "[số điện thoại]" in road.text
    assert all("0912" not in r.text and "0987" not in r.text for r in rows.values())


def test_groups_similar_questions_most_asked_first(app):
    with app.db.session() as s:
        for t, n in [("đăng ký nuôi chó ở phường", 1), ("dang ky nuoi cho o phuong the nao", 2),
                     ("đăng ký nuôi chó mèo ở phường ạ", 1), ("giờ mở cửa thư viện", 3), ("bắn pháo hoa tết", 1)]:
            for _ in range(n):
                record(s, t, _fallback(), NOW)
        gs = groups(s, limit=10)
        assert [g.count for g in gs] == [4, 3, 1]
        assert {q.text for q in gs[0].questions} == {"đăng ký nuôi chó ở phường", "dang ky nuoi cho o phuong the nao",
                                                     "đăng ký nuôi chó mèo ở phường ạ"}
        assert gs[0].text == "dang ky nuoi cho o phuong the nao"  # the most asked wording leads
        assert gs[0].guesses[0]["topic"] == "cu-tru.tam-tru"
        assert len(groups(s, limit=2)) == 2
        mark_ids = [q.id for q in gs[1].questions]
    with app.db.session() as s:
        mark_out_of_scope(s, mark_ids, "cli", NOW, nlu_dir=app.settings.data_dir)
        assert [g.count for g in groups(s)] == [4, 1]  # only open questions are listed


def _kb_copy(tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(ROOT / "knowledge" / "kb", kb)
    return kb


def test_attach_end_to_end(make_app, settings, tmp_path):
    """A question the bot answered weakly -> staff attach it to an entry -> the YAML has it, the
    other lines untouched -> a rebuilt index answers that question with that topic."""
    from nlu.hybrid import load_or_build
    kb = _kb_copy(tmp_path)
    app = make_app(settings=replace(settings, kb_dir=kb))
    Chat(app, "r1").say(ROAD)
    with app.db.session() as s:
        row = s.exec(select(UnansweredQuestion)).one()
        assert row.guesses[0]["topic"] != "xay-dung.giay-phep"
        qid = row.id
    path = kb / "dat-dai-xay-dung.yaml"
    before = path.read_text(encoding="utf-8")
    with app.db.session() as s:
        assert attach(s, [qid], "xay-dung.giay-phep", kb, "canbo-1", NOW) == path
    after = path.read_text(encoding="utf-8")
    added = [ln for ln in after.splitlines() if ln not in before.splitlines()]
    assert added == ["      - Tôi là, sđt, muốn hỏi thủ tục xin cấp phép đào đường để đấu nối nước thải"]
    assert after.replace(added[0] + "\n", "", 1) == before  # comments and every other line as they were
    entry = KnowledgeBase.load(kb).by_id["xay-dung.giay-phep"]
    assert entry.questions[-1] == added[0].strip()[2:]
    with app.db.session() as s:
        row = s.get(UnansweredQuestion, qid)
        assert (row.status, row.topic, row.resolved_by, row.resolved_at) == ("attached", "xay-dung.giay-phep",
                                                                             "canbo-1", NOW)
    u = load_or_build(KnowledgeBase.load(kb), tmp_path / "data", settings.embedder, progress=False)
    got = u.understand(ROAD)
    assert (got.kind, got.topic) == ("faq", "xay-dung.giay-phep")
    # and through the running bot once it re-reads the KB (what the back office does after attaching)
    assert settings.data_dir == tmp_path / "data"  # the index built above is the one it loads
    app.reload_kb()
    assert "Giấy phép xây dựng" in Chat(app, "r9").text(ROAD)
    with app.db.session() as s:
        assert s.get(UnansweredQuestion, qid).count == 1  # answered now: not logged again


def test_attach_refuses_unknown_topic_and_id_and_leaves_files_alone(app, tmp_path):
    kb = _kb_copy(tmp_path)
    snapshot = {p.name: p.read_text(encoding="utf-8") for p in kb.glob("*.yaml")}
    with app.db.session() as s:
        row = record(s, "đăng ký nuôi chó ở phường", _fallback(), NOW)
        with pytest.raises(UnansweredError, match="Không có mục"):
            attach(s, [row.id], "khong.co", kb, "x", NOW)
        with pytest.raises(UnansweredError, match="#999"):
            attach(s, [999], "ho-tich.khai-sinh", kb, "x", NOW)
    assert {p.name: p.read_text(encoding="utf-8") for p in kb.glob("*.yaml")} == snapshot


def test_append_question_quotes_when_needed_and_handles_flow_lists(tmp_path):
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.yaml").write_text("# top comment\nentries:\n  - id: a.b\n    questions: [một, hai]  # flow\n"
                               "    short: x\n  - id: a.c\n    questions:\n    - ba\n    # trailing comment\n"
                               "    short: y\n", encoding="utf-8")
    append_question(kb, "a.b", ["phí: bao nhiêu?"])
    append_question(kb, "a.c", ["#1 ưu tiên: gì", "ba"])
    k = KnowledgeBase.load(kb)
    assert k.by_id["a.b"].questions == ["một", "hai", "phí: bao nhiêu?"]
    assert k.by_id["a.c"].questions == ["ba", "#1 ưu tiên: gì"]  # a repeat is not added twice
    text = (kb / "a.yaml").read_text(encoding="utf-8")
    assert "# top comment" in text and "# flow" in text and "# trailing comment" in text


def test_out_of_scope_teaches_the_index(app, settings, tmp_path):
    from nlu import rasa
    from nlu.hybrid import load_or_build
    nlu_dir = tmp_path / "nlu"
    shutil.copytree(rasa.DATA_DIR, nlu_dir)
    q = "cho hỏi lịch bắn pháo hoa đêm giao thừa ở cầu Rồng"
    with app.db.session() as s:
        row = record(s, q, Understanding("faq", topic="x.y", confidence=0.3, candidates=[("x.y", 0.3)]), NOW)
        path = mark_out_of_scope(s, [row.id], "canbo-2", NOW, nlu_dir=nlu_dir)
        mark_out_of_scope(s, [row.id], "canbo-2", NOW, nlu_dir=nlu_dir)  # twice: one example
    assert path == nlu_dir / "out_of_scope_staff.yml"
    data = rasa.load_dir(nlu_dir)
    assert data.examples["out_of_scope"].count(q) == 1
    with app.db.session() as s:
        assert s.get(UnansweredQuestion, row.id).status == "out_of_scope"
    u = load_or_build(KnowledgeBase.load(ROOT / "knowledge" / "kb"), tmp_path / "data", settings.embedder,
                      nlu_dir=nlu_dir, progress=False)
    assert u.understand(q).kind == "fallback"


def test_cli_unanswered_attach_out_of_scope(app, settings, tmp_path, monkeypatch, capsys):
    from bot.cli import main
    kb = _kb_copy(tmp_path)
    with app.db.session() as s:
        a = record(s, "đăng ký nuôi chó ở phường", _fallback(), NOW)
        record(s, "dang ky nuoi cho o phuong the nao", _fallback(), NOW)
        b = record(s, "giờ mở cửa thư viện", _fallback(), NOW)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KB_DIR", str(kb))
    assert main(["kb", "unanswered", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert out.index("nuôi chó") < out.index("thư viện") and f"#{a.id}" in out
    assert main(["kb", "attach", "abc", "ho-tich.khai-sinh"]) == 2
    for bad in ("²", "1,٣", "9" * 40):  # digits that are not ASCII, ids too big for the column
        assert main(["kb", "out-of-scope", bad]) == 2
        assert "Mã câu hỏi không hợp lệ" in capsys.readouterr().err
    assert main(["kb", "attach", str(a.id), "khong.co", "--no-index"]) == 1
    assert "Không có mục" in capsys.readouterr().err
    assert main(["kb", "attach", str(a.id), "cu-tru.tam-tru", "--no-index"]) == 0
    assert "đăng ký nuôi chó ở phường" in KnowledgeBase.load(kb).by_id["cu-tru.tam-tru"].questions
    assert main(["kb", "out-of-scope", "999"]) == 1
