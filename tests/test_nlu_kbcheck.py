"""`python -m bot kb check`: every problem named with file and line, non-zero exit on errors."""
from datetime import date
from pathlib import Path

from bot.cli import main
from knowledge.check import check

GOOD = """entries:
  - id: ho-tich.khai-sinh
    title: Đăng ký khai sinh
    questions:
      - làm giấy khai sinh cho con ở đâu
      - khai sinh cần giấy tờ gì
      - khai sinh có mất phí không
      - bao lâu phải đi khai sinh cho bé
      - làm khai sinh online được không
      - ông bà đi khai sinh cho cháu được không
    short: |
      Nộp tại {centre_name}, {centre_address}.
    sections:
      fee: Miễn phí khi đúng hạn.
    legal_basis:
      - Luật Hộ tịch 2014
    sources:
      - url: https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001193
        title: Cổng Dịch vụ công quốc gia
        checked: 2026-11-01
    where: ttpvhcc
    reviewed: 2026-11-01
"""

SECOND = """entries:
  - id: ho-tich.ket-hon
    title: Đăng ký kết hôn
    questions:
      - đăng ký kết hôn cần gì
      - kết hôn làm ở đâu
      - Làm giấy khai sinh cho con ở đâu?
      - kết hôn có mất phí không
      - đăng ký kết hôn mất bao lâu
      - khai sinh có mất phí không nhỉ
    short: Gọi {hotline} hoặc {centre_fax}.
    sources: [https://dichvucong.gov.vn]
    where: ubnd
    reviewed: 2025-10-01
  - id: ho-tich.khai-sinh
    title: Trùng id
    questions: [a, b, c, d, e, f]
    short: x
    sources: [https://dichvucong.gov.vn]
    where: ttpvhcc
    reviewed: 2026-11-01
"""


def _kb(tmp_path: Path, files: dict[str, str]) -> Path:
    d = tmp_path / "kb"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    return d


def _find(problems, needle):
    hits = [p for p in problems if needle in p.message]
    assert hits, f"no problem mentioning {needle!r} in {[str(p) for p in problems]}"
    return hits[0]


def test_clean_kb_passes(tmp_path):
    kb = _kb(tmp_path, {"a.yaml": GOOD})
    assert check(kb, None, today=date(2026, 11, 22)) == []


def test_errors_and_warnings_name_file_and_line(tmp_path):
    kb = _kb(tmp_path, {"a.yaml": GOOD, "b.yaml": SECOND})
    problems = check(kb, None, today=date(2026, 11, 22))
    b = str(kb / "b.yaml")
    dup = _find(problems, "trùng với mục")
    assert (dup.level, dup.file, dup.line) == ("error", b, 15)
    same_q = _find(problems, "có ở cả")
    assert (same_q.level, same_q.file, same_q.line) == ("error", b, 7)
    ph = _find(problems, "{centre_fax}")
    assert (ph.level, ph.file, ph.line) == ("error", b, 11)
    assert "{hotline}" not in ph.message
    where = _find(problems, "'where'")
    assert (where.file, where.line) == (b, 13)
    stale = _find(problems, "đã quá 365 ngày")
    assert (stale.level, stale.line) == ("error", 14)
    near = _find(problems, "gần giống")
    assert (near.level, near.file, near.line) == ("warning", b, 10)
    assert str(dup).startswith(f"{b}:15: lỗi:")


def test_yaml_syntax_error_has_a_line(tmp_path):
    kb = _kb(tmp_path, {"a.yaml": GOOD + "  - id: [unclosed\n"})
    p = check(kb, None)[0]
    assert p.level == "error" and p.line >= 23 and "YAML" in p.message


def test_spec_topics_must_all_be_present(tmp_path):
    kb = _kb(tmp_path, {"a.yaml": GOOD})
    spec = tmp_path / "kb-topics.yaml"
    # not valid YAML on purpose, like the shared spec: ids are read with a regex
    spec.write_text("topics:\n  - id: ho-tich.khai-sinh\n    note: a\n    note: b: c\n  - id: ho-tich.khai-tu\n",
                    encoding="utf-8")
    p = _find(check(kb, spec, today=date(2026, 11, 22)), "ho-tich.khai-tu")
    assert (p.level, p.file, p.line) == ("error", str(spec), 5)
    added = tmp_path / "kb-topics-added.yaml"
    added.write_text("topics:\n  - id: tu-phap.ly-lich-tu-phap\n", encoding="utf-8")
    p = _find(check(kb, [spec, added], today=date(2026, 11, 22)), "tu-phap.ly-lich-tu-phap")
    assert (p.level, p.file, p.line) == ("error", str(added), 2)


def test_cli_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KB_DIR", str(_kb(tmp_path, {"b.yaml": SECOND})))
    assert main(["kb", "check", "--spec", str(tmp_path / "none.yaml")]) == 1
    err = capsys.readouterr().err
    assert "b.yaml:11: lỗi: placeholder" in err and "lỗi," in err
    (tmp_path / "ok").mkdir()
    (tmp_path / "ok" / "a.yaml").write_text(GOOD, encoding="utf-8")
    monkeypatch.setenv("KB_DIR", str(tmp_path / "ok"))
    assert main(["kb", "check", "--spec", str(tmp_path / "none.yaml")]) == 0
    assert capsys.readouterr().out.startswith("OK: 1 mục")


def test_shipped_kb_is_clean_against_the_spec():
    from bot.config import ROOT
    from knowledge.check import default_spec_path
    kb = ROOT / "knowledge" / "kb"
    errors = [str(p) for p in check(kb, default_spec_path(kb)) if p.level == "error"]
    assert errors == []
