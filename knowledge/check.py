"""`python -m bot kb check`: what staff need to fix in the knowledge base, each problem with
file and line. Errors (exit 1) break answers or contracts; warnings are worth a look."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml

from nlu.normalize import fold, normalize, syllables

REQUIRED = ("id", "title", "questions", "answer", "legal_basis", "where", "reviewed")
KNOWN_KEYS = set(REQUIRED) | {"online", "may_change"}
WHERE = {"ttpvhcc", "conganphuong", "online"}
# Same keys as WardProfile.placeholders(): what an answer may use.
PLACEHOLDERS = {"ward_name", "centre_name", "centre_address", "centre_hours", "centre_phone", "police_name",
                "police_address", "police_phone", "hotline", "portal_url", "city_portal_url"}
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+$")
SPEC_ID_RE = re.compile(r"^\s*-\s*id:\s*([A-Za-z0-9._-]+)\s*$", re.MULTILINE)
MIN_QUESTIONS = 6
NEAR_DUP = 0.85


@dataclass
class Problem:
    level: str  # error | warning
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {'lỗi' if self.level == 'error' else 'cảnh báo'}: {self.message}"


def default_spec_path(kb_dir: Path) -> Path | None:
    """../shared/spec/kb-topics.yaml relative to the repository root, when present."""
    root = Path(__file__).resolve().parent.parent
    for cand in (root.parent / "shared" / "spec" / "kb-topics.yaml", root / "shared" / "spec" / "kb-topics.yaml"):
        if cand.exists():
            return cand
    return None


def spec_topic_ids(path: Path) -> list[tuple[str, int]]:
    """(id, line); the spec file is not valid YAML, so ids are read with a regex."""
    text = Path(path).read_text(encoding="utf-8")
    return [(m.group(1), text.count("\n", 0, m.start()) + 1) for m in SPEC_ID_RE.finditer(text)]


def _scalar(node) -> object:
    return yaml.SafeLoader("").construct_object(node, deep=True) if node is not None else None


def _key(text: str) -> str:
    """What makes two questions the same: their words, ignoring case, marks and punctuation."""
    return " ".join(fold(w) for w in syllables(normalize(text)))


def _trigrams(text: str) -> set[str]:
    s = f" {_key(text)} "
    return {s[i:i + 3] for i in range(len(s) - 2)}


def _near_pairs(questions: list[tuple[str, str, str, int]]):
    """Pairs of questions of different entries whose trigram Jaccard similarity is >= NEAR_DUP
    (exact repeats are reported as errors elsewhere). One matrix product instead of n² set ops."""
    import numpy as np
    grams = [_trigrams(q[1]) for q in questions]
    vocab = {g: i for i, g in enumerate(sorted(set().union(*grams)))} if grams else {}
    if not vocab:
        return []
    m = np.zeros((len(questions), len(vocab)), dtype=np.float32)
    for i, gs in enumerate(grams):
        m[i, [vocab[g] for g in gs]] = 1.0
    inter = m @ m.T
    sizes = m.sum(axis=1)
    jac = inter / np.maximum(sizes[:, None] + sizes[None, :] - inter, 1.0)
    out = []
    for i, j in zip(*np.nonzero(np.triu(jac >= NEAR_DUP, k=1))):
        a, b = questions[i], questions[j]
        if a[0] != b[0] and _key(a[1]) != _key(b[1]):
            out.append((a, b, float(jac[i, j])))
    return out


def check(kb_dir: Path, spec_path: Path | None = None, today: date | None = None,
          stale_days: int = 365) -> list[Problem]:
    today = today or date.today()
    problems: list[Problem] = []
    ids: dict[str, tuple[str, int]] = {}
    questions: list[tuple[str, str, str, int]] = []  # (entry id, text, file, line)
    files = sorted(Path(kb_dir).glob("*.yaml"))
    if not files:
        problems.append(Problem("error", str(kb_dir), 0, "không có tệp *.yaml nào"))

    def err(f, line, msg):
        problems.append(Problem("error", f, line, msg))

    def warn(f, line, msg):
        problems.append(Problem("warning", f, line, msg))

    for path in files:
        f = str(path)
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
            err(f, mark.line + 1 if mark else 1, f"YAML không hợp lệ: {getattr(e, 'problem', e)}")
            continue
        if not isinstance(root, yaml.MappingNode):
            err(f, 1, "tệp phải là một mapping có khóa 'entries'")
            continue
        top = {k.value: v for k, v in root.value}
        entries = top.get("entries")
        if not isinstance(entries, yaml.SequenceNode):
            err(f, (entries.start_mark.line + 1) if entries is not None else 1, "thiếu danh sách 'entries'")
            continue
        for node in entries.value:
            line = node.start_mark.line + 1
            if not isinstance(node, yaml.MappingNode):
                err(f, line, "mỗi mục phải là một mapping (id, title, questions, ...)")
                continue
            fields = {k.value: (k, v) for k, v in node.value}
            for key, (knode, _) in fields.items():
                if key not in KNOWN_KEYS:
                    warn(f, knode.start_mark.line + 1, f"khóa lạ '{key}' (bị bỏ qua)")
            for key in REQUIRED:
                if key not in fields:
                    err(f, line, f"thiếu trường '{key}'")
            eid = None
            if "id" in fields:
                knode, vnode = fields["id"]
                eid = str(_scalar(vnode) or "")
                ln = vnode.start_mark.line + 1
                if not ID_RE.match(eid):
                    err(f, ln, f"id '{eid}' không đúng dạng 'linh-vuc.ten-thu-tuc'")
                if eid in ids:
                    pf, pl = ids[eid]
                    err(f, ln, f"id '{eid}' trùng với mục ở {pf}:{pl}")
                else:
                    ids[eid] = (f, ln)
            label = eid or f"(mục dòng {line})"
            for key in ("title", "answer"):
                if key in fields:
                    v = fields[key][1]
                    if not isinstance(v, yaml.ScalarNode) or not str(v.value).strip():
                        err(f, v.start_mark.line + 1, f"'{key}' trống")
            if "questions" in fields:
                qnode = fields["questions"][1]
                if not isinstance(qnode, yaml.SequenceNode):
                    err(f, qnode.start_mark.line + 1, "'questions' phải là danh sách câu hỏi")
                else:
                    seen: dict[str, int] = {}
                    for q in qnode.value:
                        ql = q.start_mark.line + 1
                        if not isinstance(q, yaml.ScalarNode) or not str(q.value).strip():
                            err(f, ql, "câu hỏi trống hoặc không phải chữ")
                            continue
                        key = _key(q.value)
                        if key in seen:
                            warn(f, ql, f"câu hỏi lặp lại trong cùng mục (dòng {seen[key]}): {q.value!r}")
                            continue
                        seen[key] = ql
                        questions.append((label, q.value, f, ql))
                    if len(qnode.value) < MIN_QUESTIONS:
                        warn(f, qnode.start_mark.line + 1,
                             f"{label}: chỉ có {len(qnode.value)} câu hỏi, nên có ít nhất {MIN_QUESTIONS}")
            if "answer" in fields and isinstance(fields["answer"][1], yaml.ScalarNode):
                v = fields["answer"][1]
                try:
                    names = {n for _, n, _, _ in string.Formatter().parse(str(v.value)) if n is not None}
                except ValueError as e:
                    err(f, v.start_mark.line + 1, f"dấu ngoặc nhọn không khớp trong 'answer': {e}")
                    names = set()
                for n in sorted(names):
                    if n not in PLACEHOLDERS:
                        err(f, v.start_mark.line + 1, f"placeholder không có: {{{n}}} "
                            f"(dùng được: {', '.join(sorted(PLACEHOLDERS))})")
            if "where" in fields:
                v = fields["where"][1]
                if str(getattr(v, "value", "")) not in WHERE:
                    err(f, v.start_mark.line + 1, f"'where' phải là một trong {', '.join(sorted(WHERE))}")
            if "legal_basis" in fields:
                v = fields["legal_basis"][1]
                empty = (isinstance(v, yaml.SequenceNode) and not v.value) or \
                        (isinstance(v, yaml.ScalarNode) and not str(v.value).strip())
                if empty:
                    err(f, v.start_mark.line + 1, "'legal_basis' trống: ghi văn bản pháp lý làm căn cứ")
            if "reviewed" in fields:
                v = fields["reviewed"][1]
                val = _scalar(v)
                if isinstance(val, str):
                    try:
                        val = date.fromisoformat(val)
                    except ValueError:
                        val = None
                if not isinstance(val, date):
                    err(f, v.start_mark.line + 1, "'reviewed' phải là ngày dạng YYYY-MM-DD")
                elif (today - val).days > stale_days:
                    warn(f, v.start_mark.line + 1, f"{label}: thông tin kiểm tra lần cuối {val.isoformat()}, "
                         f"đã quá {stale_days} ngày, cần rà soát lại")
                elif val > today:
                    warn(f, v.start_mark.line + 1, f"{label}: ngày rà soát {val.isoformat()} ở tương lai")

    # The same question under two entries: the bot cannot know which to answer.
    by_key: dict[str, tuple[str, str, str, int]] = {}
    for q in questions:
        key = _key(q[1])
        other = by_key.get(key)
        if other and other[0] != q[0]:
            err(q[2], q[3], f"câu hỏi {q[1]!r} có ở cả {other[0]} ({other[2]}:{other[3]}) và {q[0]}")
        else:
            by_key.setdefault(key, q)
    for a, b, sim in _near_pairs(questions):
        warn(b[2], b[3], f"câu hỏi {b[1]!r} ({b[0]}) gần giống {a[1]!r} ({a[0]}, {a[2]}:{a[3]}); "
             "nên viết rõ khác biệt")

    if spec_path is not None and Path(spec_path).exists():
        for sid, sline in spec_topic_ids(spec_path):
            if sid not in ids:
                err(str(spec_path), sline, f"chủ đề '{sid}' trong danh mục chưa có mục nào trong {kb_dir}")
    return problems
