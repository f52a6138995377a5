"""Entry schema v2: `short` first reply, `sections` on request, `sources`; the checks that keep
entries phone-sized and sourced; the export other tools read."""
import json
from datetime import date
from pathlib import Path

from bot.cli import main
from bot.config import ROOT
from bot.profile import load_profile
from knowledge.check import check
from knowledge.kb import SECTION_KEYS, SECTION_LABELS, KnowledgeBase, render_answer, render_section, render_short

Q6 = "\n".join(f"      - câu hỏi số {i} về thủ tục" for i in range(6))
TODAY = date(2026, 12, 1)


def entry(eid, body, questions=Q6, reviewed="2026-11-20"):
    return f"""  - id: {eid}
    title: Thủ tục {eid}
    questions:
{questions.replace("số", eid)}
{body}
    where: ttpvhcc
    reviewed: {reviewed}
"""


OK_BODY = """    short: |
      Nộp tại {centre_name}, {centre_address}. Phí: miễn.
    sections:
      documents: |
        Căn cước.
      fee: Miễn.
    legal_basis: [Luật Hộ tịch 2014]
    sources:
      - url: https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html
        title: Cổng DVC quốc gia
        checked: 2026-11-20"""
VIA_BODY = OK_BODY + """
      - url: https://vbpl.vn/TW/Pages/vbpq-toanvan.aspx?ItemID=1
        title: Nghị định 1 (toàn văn)
        checked: 2026-12-01
        via: https://github.com/o/r/blob/1/nd-1.md"""
SRC = "    sources: [{url: 'https://vbpl.vn/x', title: t, checked: 2026-11-20}]"


def _kb(tmp_path: Path, text: str) -> Path:
    d = tmp_path / "kb"
    d.mkdir(exist_ok=True)
    (d / "a.yaml").write_text("entries:\n" + text, encoding="utf-8")
    return d


def _msgs(problems, level):
    return [f"{p.line}: {p.message}" for p in problems if p.level == level]


def test_each_problem_is_named(tmp_path):
    long_short = "    short: '{centre_address} " + "x" * 420 + "'"  # under 450 as typed, over once filled
    entries = [
        entry("a.ok", OK_BODY),
        entry("a.no-short", "    sections: {fee: Miễn.}\n" + SRC),
        entry("a.long", long_short + "\n" + SRC),
        entry("a.no-http", "    short: Ngắn.\n    sources: [{url: 'vbpl.vn/x', title: t}]"),
        entry("a.no-sources", "    short: Ngắn."),
        entry("a.few", "    short: Ngắn.\n" + SRC, questions="      - một\n      - hai"),
        entry("a.bad-section", "    short: Ngắn.\n    sections:\n      phi: Miễn.\n      fee: '{centre_fax}'\n" + SRC),
        entry("a.old", "    short: Ngắn.\n" + SRC, reviewed="2025-06-01"),
        entry("a.aging", "    short: Ngắn.\n" + SRC, reviewed="2026-05-01"),
        entry("a.cites", "    short: Theo Nghị định 123/2015/NĐ-CP, nộp tại phường.\n" + SRC),
        entry("a.both", "    short: Ngắn.\n    answer: Dài.\n" + SRC),
        entry("a.legacy", "    answer: Nội dung cũ.\n    legal_basis: [Luật Hộ tịch 2014]"),
        entry("a.colon", "    short: Ngắn.\n" + SRC + "\n    legal_basis:\n      - Luật X (Điều 1: phạm vi)"),
        entry("a.home", "    short: Ngắn.\n    sources: [{url: 'https://dichvucong.gov.vn', title: t, checked: "
                        "2026-11-20}, 'https://vbpl.vn/', 'http://www.chinhphu.vn/index.html']"),
        entry("a.mirror", "    short: Ngắn.\n    sources: [{url: 'https://github.com/o/r/blob/1/nd.md', title: t, "
                          "checked: 2026-11-20}, 'https://raw.githubusercontent.com/o/r/1/x.md']"),
        entry("a.via", "    short: Ngắn.\n    sources: [{url: 'https://vbpl.vn/x', title: t, checked: 2026-11-20, "
                       "via: 'https://github.com/o/r/blob/1/nd.md'}]"),
        entry("a.bad-via", "    short: Ngắn.\n    sources: [{url: 'https://vbpl.vn/x', title: t, via: 'github.com/o/r'},"
                           " {url: 'https://vbpl.vn/y', via: [x]}]"),
        entry("a.odd-source", "    short: Ngắn.\n    sources: [{url: 'https://vbpl.vn/x', title: t}, {url: [a, b]},"
                              " {url: 'https://vbpl.vn/z', title: {a: 1}}, 'javascript:alert(1)']"),
    ]
    kb = _kb(tmp_path, "".join(entries))
    problems = check(kb, None, today=TODAY)
    errors, warnings = _msgs(problems, "error"), _msgs(problems, "warning")

    def has(msgs, *needles):
        hits = [m for m in msgs if all(n in m for n in needles)]
        assert hits, f"{needles} not in {msgs}"
        return hits[0]

    assert not [m for m in errors + warnings if "a.ok" in m]
    has(errors, "thiếu trường 'short'")
    filled = load_profile(ROOT / "knowledge" / "ward.yaml").centre.address
    has(errors, "a.long", f"'short' dài {len(filled) + 1 + 420} ký tự", "tối đa 450")
    has(errors, "a.no-http", "nguồn http(s)")
    has(errors, "thiếu trường 'sources'")
    has(errors, "a.few", "chỉ có 2 câu hỏi", "ít nhất 6")
    has(errors, "mục con lạ trong 'sections': 'phi'")
    has(errors, "{centre_fax}")
    has(errors, "a.old", "2025-06-01", "365")
    has(warnings, "a.aging", "2026-05-01", "183")
    assert not [m for m in errors if "a.aging" in m]
    has(warnings, "a.cites", "trích dẫn")
    assert len([m for m in errors if "'answer' không còn dùng" in m]) == 2  # a.both and the v1 a.legacy
    has(errors, "'legal_basis' phải là chữ")
    has(warnings, "a.home", "trang chủ")
    assert not [m for m in errors if "a.home" in m]
    assert len([m for m in warnings if "trang chủ" in m]) == 1  # a deep link anywhere is enough
    has(warnings, "a.mirror", "github.com", "ghi trang chính thức vào url, bản sao đã đọc vào via")
    has(warnings, "a.mirror", "raw.githubusercontent.com")
    assert not [m for m in errors if "a.mirror" in m]
    assert not [m for m in errors + warnings if "a.via" in m]  # the mirror in via is how it should be
    assert len([m for m in errors if "a.bad-via" in m and "'via'" in m and "http(s)" in m]) == 2
    # residents read every source's url and title: a list, a mapping or a non-web link is named
    assert len([m for m in errors if "a.odd-source" in m and "một dòng chữ" in m]) == 2
    assert len([m for m in errors if "a.odd-source" in m and "không phải đường dẫn" in m]) == 2
    assert not [m for m in errors if "a.no-http" in m and "không phải đường dẫn" in m]  # said once already


def test_mirror_hosts_are_told_from_official_sites():
    from knowledge.check import mirror_host
    for url in ("https://github.com/o/r/blob/1/a.md", "https://raw.githubusercontent.com/o/r/1/a.md",
                "https://gitlab.com/o/r", "https://huggingface.co/datasets/o/d", "https://o.github.io/van-ban/a"):
        assert mirror_host(url), url
    for url in ("https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.000656",
                "https://vanban.chinhphu.vn/?pageid=27160&docid=1", "https://notgithub.com/x", "not a url", ""):
        assert mirror_host(url) is None, url


def test_home_pages_are_told_from_deep_links():
    from knowledge.check import is_home_page
    for url in ("https://dichvucong.gov.vn", "https://dichvucong.gov.vn/", "https://vbpl.vn/index.html",
                "https://dichvucong.gov.vn/p/home/", "http://www.chinhphu.vn/Default.aspx"):
        assert is_home_page(url), url
    for url in ("https://vbpl.vn/TW/Pages/vbpq-toanvan.aspx?ItemID=46746", "https://dichvucong.gov.vn/?ma=1",
                "https://thuvienphapluat.vn/van-ban/Quyen-dan-su/Luat-Ho-tich-2014-259713.aspx",
                "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html"):
        assert not is_home_page(url), url


def _profile():
    return load_profile(ROOT / "knowledge" / "ward.yaml")


def test_residents_see_the_official_url_not_the_mirror(tmp_path):
    e = KnowledgeBase.load(_kb(tmp_path, entry("a.via", VIA_BODY))).by_id["a.via"]
    assert e.sources[0].via is None
    assert e.sources[1].via == "https://github.com/o/r/blob/1/nd-1.md"
    shown = render_section(e, "sources", _profile())
    assert "- Nghị định 1 (toàn văn): https://vbpl.vn/TW/Pages/vbpq-toanvan.aspx?ItemID=1" in shown
    assert "github" not in shown and "github" not in render_answer(e, _profile())


def test_render_short_sections_and_full_answer(tmp_path):
    kb = KnowledgeBase.load(_kb(tmp_path, entry("a.ok", OK_BODY + "\n    may_change: true")))
    e, p = kb.by_id["a.ok"], _profile()
    assert list(e.sections) == ["documents", "fee"]
    assert e.sources[0].url.startswith("https://") and e.sources[0].checked == date(2026, 11, 20)
    short = render_short(e, p)
    assert short == f"Nộp tại {p.centre.name}, {p.centre.address}. Phí: miễn."
    from knowledge.kb import caution
    assert p.centre.phone in caution(e, p) and p.centre.phone in render_answer(e, p)
    assert "Luật" not in short  # citations only on request
    assert render_section(e, "fee", p) == "Lệ phí:\nMiễn."
    assert render_section(e, "legal_basis", p) == "Căn cứ pháp lý:\n- Luật Hộ tịch 2014"
    assert "https://dichvucong.gov.vn" in render_section(e, "sources", p)
    assert render_section(e, "time", p) is None and render_section(e, "nope", p) is None
    assert e.section_keys() == ["documents", "fee", "legal_basis", "sources"]
    full = render_answer(e, p)
    assert full.index("Nộp tại") < full.index("Giấy tờ cần mang:") < full.index("Lệ phí:") < full.index("Căn cứ pháp lý:")
    assert "{" not in full
    assert list(SECTION_LABELS)[:len(SECTION_KEYS)] == list(SECTION_KEYS)


def test_export_carries_the_v2_fields(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_DIR", str(_kb(tmp_path, entry("a.ok", OK_BODY))))
    assert main(["kb", "export", "--jsonl"]) == 0
    rec = json.loads(capsys.readouterr().out.splitlines()[0])
    assert {"id", "title", "questions", "answer", "short", "sections", "sources", "reviewed", "may_change"} <= set(rec)
    assert rec["short"] == "Nộp tại {centre_name}, {centre_address}. Phí: miễn."
    assert rec["sections"] == {"documents": "Căn cước.", "fee": "Miễn."}
    assert rec["sources"] == [{"url": "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html",
                               "title": "Cổng DVC quốc gia", "checked": "2026-11-20", "via": None}]
    assert rec["reviewed"] == "2026-11-20" and rec["may_change"] is False
    assert rec["answer"].startswith(rec["short"]) and "Lệ phí:\nMiễn." in rec["answer"]


def test_export_carries_via(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_DIR", str(_kb(tmp_path, entry("a.via", VIA_BODY))))
    assert main(["kb", "export", "--jsonl"]) == 0
    rec = json.loads(capsys.readouterr().out.splitlines()[0])
    assert [s["via"] for s in rec["sources"]] == [None, "https://github.com/o/r/blob/1/nd-1.md"]
    assert rec["sources"][1]["url"] == "https://vbpl.vn/TW/Pages/vbpq-toanvan.aspx?ItemID=1"
