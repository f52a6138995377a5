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

_HOME_PATH = re.compile(r"^/?(?:index\.(?:html?|php|aspx?)|default\.aspx|home|trang-chu|p/home/?)?/?$", re.I)


def is_home_page(url: str) -> bool:
    """A site's front page (no path, or only "index.html"/"home"): no fact can be found from it."""
    from urllib.parse import urlsplit
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and not parts.query and bool(_HOME_PATH.match(parts.path or "/"))


# Code-hosting sites: a copy someone put there is honest provenance (`via`), never the page to send
# a resident to.
MIRROR_HOSTS = ("github.com", "githubusercontent.com", "github.io", "gitlab.com", "gitlab.io", "bitbucket.org",
                "huggingface.co", "hf.co", "codeberg.org", "sourceforge.net", "kaggle.com")


def mirror_host(url: str) -> str | None:
    """The host when url is on a code-hosting site (github.com, raw.githubusercontent.com,
    huggingface.co...), else None."""
    from urllib.parse import urlsplit
    try:
        host = (urlsplit(url.strip()).hostname or "").lower()
    except ValueError:
        return None
    return host if any(host == h or host.endswith("." + h) for h in MIRROR_HOSTS) else None


REQUIRED = ("id", "title", "questions", "short", "sources", "where", "reviewed")
KNOWN_KEYS = set(REQUIRED) | {"sections", "legal_basis", "online", "may_change", "answer"}
WHERE = {"ttpvhcc", "conganphuong", "conganphuong_or_online", "online"}
# Same keys as WardProfile.placeholders(): what an answer may use.
PLACEHOLDERS = {"ward_name", "centre_name", "centre_address", "centre_hours", "centre_phone", "police_name",
                "police_address", "police_phone", "hotline", "portal_url", "city_portal_url"}
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.[a-z0-9]+(?:-[a-z0-9]+)*)+$")
SPEC_ID_RE = re.compile(r"^\s*-\s*id:\s*([A-Za-z0-9._-]+)\s*$", re.MULTILINE)
SPEC_FILES = ("kb-topics.yaml", "kb-topics-added.yaml")
# Legal citations belong in legal_basis, shown on request, never in the first reply.
CITATION_RE = re.compile(r"\b(Nghị định|Thông tư|Nghị quyết|Quyết định|Luật [A-ZĐ]|Điều \d|NĐ-CP|TT-B|/QH\d)")
WARN_DAYS = 183   # about 6 months: worth a look
ERROR_DAYS = 365  # 12 months: facts this old are not to be served
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


def default_spec_paths(kb_dir: Path | None = None) -> list[Path]:
    """The topic lists (kb-topics.yaml, kb-topics-added.yaml) in shared/spec/ inside the repository
    or in the nearest parent directory that has one."""
    root = Path(__file__).resolve().parent.parent
    bases = [root / "shared" / "spec"] + [p / "shared" / "spec" for p in root.parents]  # worktrees sit deeper
    out = []
    for name in SPEC_FILES:
        for base in bases:
            if (base / name).exists():
                out.append(base / name)
                break
    return out


def default_spec_path(kb_dir: Path | None = None) -> Path | None:
    """The original topic list only (kept for callers that want the first 38 topics)."""
    paths = [p for p in default_spec_paths(kb_dir) if p.name == SPEC_FILES[0]]
    return paths[0] if paths else None


def _sample_profile():
    from bot.config import ROOT
    from bot.profile import load_profile
    return load_profile(ROOT / "knowledge" / "ward.yaml")


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


def _placeholder_problems(text: str) -> tuple[set[str], str | None]:
    try:
        return {n for _, n, _, _ in string.Formatter().parse(text) if n is not None}, None
    except ValueError as e:
        return set(), str(e)


def _as_date(val) -> date | None:
    if isinstance(val, str):
        try:
            return date.fromisoformat(val.strip())
        except ValueError:
            return None
    return val if isinstance(val, date) else None


def check(kb_dir: Path, spec_path: Path | list[Path] | None = None, today: date | None = None,
          warn_days: int = WARN_DAYS, error_days: int = ERROR_DAYS, profile=None) -> list[Problem]:
    """Every problem of the KB in kb_dir; spec_path: one topic list or several, each topic must
    have an entry. `short` is measured filled with `profile` (default: the sample ward profile)."""
    from knowledge.kb import SECTION_KEYS, SHORT_MAX, fill
    today = today or date.today()
    profile = profile or _sample_profile()
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

    def ln(node) -> int:
        return node.start_mark.line + 1

    def text_placeholders(f, node, what):
        names, bad = _placeholder_problems(str(node.value))
        if bad:
            err(f, ln(node), f"dấu ngoặc nhọn không khớp trong '{what}': {bad}")
        for n in sorted(names):
            if n not in PLACEHOLDERS:
                err(f, ln(node), f"placeholder không có: {{{n}}} (dùng được: {', '.join(sorted(PLACEHOLDERS))})")
        return bad is None

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
            err(f, ln(entries) if entries is not None else 1, "thiếu danh sách 'entries'")
            continue
        for node in entries.value:
            line = ln(node)
            if not isinstance(node, yaml.MappingNode):
                err(f, line, "mỗi mục phải là một mapping (id, title, questions, ...)")
                continue
            fields = {k.value: (k, v) for k, v in node.value}
            for key, (knode, _) in fields.items():
                if key not in KNOWN_KEYS:
                    warn(f, ln(knode), f"khóa lạ '{key}' (bị bỏ qua)")
            if "answer" in fields:  # schema v1: the full text is now derived from short + sections
                err(f, ln(fields["answer"][0]), "'answer' không còn dùng (mẫu v2): viết câu trả lời đầu "
                    "trong 'short', chi tiết trong 'sections'")
            for key in REQUIRED:
                if key not in fields:
                    err(f, line, f"thiếu trường '{key}'")
            eid = None
            if "id" in fields:
                vnode = fields["id"][1]
                eid = str(_scalar(vnode) or "")
                if not ID_RE.match(eid):
                    err(f, ln(vnode), f"id '{eid}' không đúng dạng 'linh-vuc.ten-thu-tuc'")
                if eid in ids:
                    pf, pl = ids[eid]
                    err(f, ln(vnode), f"id '{eid}' trùng với mục ở {pf}:{pl}")
                else:
                    ids[eid] = (f, ln(vnode))
            label = eid or f"(mục dòng {line})"
            for key in ("title", "short", "answer"):
                if key in fields:
                    v = fields[key][1]
                    if not isinstance(v, yaml.ScalarNode) or not str(v.value).strip():
                        err(f, ln(v), f"'{key}' trống")
                    elif key != "title" and text_placeholders(f, v, key) and key == "short":
                        filled = fill(str(v.value).strip(), profile)
                        if len(filled) > SHORT_MAX:
                            err(f, ln(v), f"{label}: 'short' dài {len(filled)} ký tự khi điền thông tin "
                                f"phường mẫu, tối đa {SHORT_MAX}: chuyển chi tiết sang 'sections'")
                        if CITATION_RE.search(str(v.value)):
                            warn(f, ln(v), f"{label}: 'short' có trích dẫn văn bản pháp lý; "
                                 "để trong 'legal_basis' (chỉ hiện khi hỏi thêm)")
            if "sections" in fields:
                snode = fields["sections"][1]
                if not isinstance(snode, yaml.MappingNode):
                    err(f, ln(snode), f"'sections' phải là mapping với các khóa: {', '.join(SECTION_KEYS)}")
                else:
                    for k, v in snode.value:
                        if k.value not in SECTION_KEYS:
                            err(f, ln(k), f"mục con lạ trong 'sections': '{k.value}' "
                                f"(dùng được: {', '.join(SECTION_KEYS)})")
                        elif not isinstance(v, yaml.ScalarNode) or not str(v.value).strip():
                            err(f, ln(v), f"'sections.{k.value}' trống hoặc không phải chữ")
                        else:
                            text_placeholders(f, v, f"sections.{k.value}")
            if "sources" in fields:
                snode = fields["sources"][1]
                urls = []
                if not isinstance(snode, yaml.SequenceNode):
                    err(f, ln(snode), "'sources' phải là danh sách {url, title, checked, via}")
                else:
                    for item in snode.value:
                        val = _scalar(item)
                        if isinstance(val, str):
                            url = val
                        elif not isinstance(val, dict) or not val.get("url"):
                            err(f, ln(item), "mỗi nguồn cần 'url' (và 'title', 'checked')")
                            continue
                        else:
                            url = str(val["url"])
                            if not isinstance(val["url"], str) or \
                                    "title" in val and val["title"] is not None and not isinstance(val["title"], str):
                                # shown to residents as they are: a list or a mapping would read "['...']"
                                err(f, ln(item), f"{label}: 'url' và 'title' của nguồn phải là một dòng chữ")
                            if "checked" in val and _as_date(val["checked"]) is None:
                                err(f, ln(item), "'checked' của nguồn phải là ngày dạng YYYY-MM-DD")
                            via = val.get("via")
                            if via is not None and not (isinstance(via, str) and re.match(r"^https?://\S+$", via.strip())):
                                err(f, ln(item), f"{label}: 'via' (bản sao đã đọc) phải là đường dẫn http(s)")
                        urls.append(url)
                        if not re.match(r"^https?://\S+$", url.strip()) and len(snode.value) > 1:
                            # (a lone source is covered by "cần ít nhất một nguồn http(s)")
                            err(f, ln(item), f"{label}: nguồn '{url[:60]}' không phải đường dẫn http(s) mở được")
                        host = mirror_host(url)
                        if host:
                            warn(f, ln(item), f"{label}: nguồn trên {host} là bản sao, không phải trang chính thức; "
                                 "ghi trang chính thức vào url, bản sao đã đọc vào via")
                if not any(re.match(r"^https?://\S+$", u.strip()) for u in urls):
                    err(f, ln(snode), f"{label}: cần ít nhất một nguồn http(s) người dân hoặc cán bộ mở được")
                elif all(is_home_page(u) for u in urls):
                    warn(f, ln(snode), f"{label}: nguồn chỉ là trang chủ; ghi đường dẫn tới đúng trang thủ tục "
                                       "hoặc văn bản (dichvucong.gov.vn, vbpl.vn, thuvienphapluat.vn...)")
            if "questions" in fields:
                qnode = fields["questions"][1]
                if not isinstance(qnode, yaml.SequenceNode):
                    err(f, ln(qnode), "'questions' phải là danh sách câu hỏi")
                else:
                    seen: dict[str, int] = {}
                    for q in qnode.value:
                        ql = ln(q)
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
                        err(f, ln(qnode), f"{label}: chỉ có {len(qnode.value)} câu hỏi, cần ít nhất {MIN_QUESTIONS}")
            if "where" in fields:
                v = fields["where"][1]
                if str(getattr(v, "value", "")) not in WHERE:
                    err(f, ln(v), f"'where' phải là một trong {', '.join(sorted(WHERE))}")
            if "legal_basis" in fields:
                v = fields["legal_basis"][1]
                empty = (isinstance(v, yaml.SequenceNode) and not v.value) or \
                        (isinstance(v, yaml.ScalarNode) and not str(v.value).strip())
                if empty:
                    warn(f, ln(v), f"{label}: 'legal_basis' trống: nên ghi văn bản pháp lý làm căn cứ")
                elif isinstance(v, yaml.SequenceNode):
                    for item in v.value:  # "Điều 27: ..." unquoted becomes a mapping, not a line of text
                        if not isinstance(item, yaml.ScalarNode):
                            err(f, ln(item), "mỗi dòng 'legal_basis' phải là chữ (có dấu ':' thì đặt trong ngoặc kép)")
            if "reviewed" in fields:
                v = fields["reviewed"][1]
                val = _as_date(_scalar(v))
                if val is None:
                    err(f, ln(v), "'reviewed' phải là ngày dạng YYYY-MM-DD")
                elif (today - val).days > error_days:
                    err(f, ln(v), f"{label}: thông tin kiểm tra lần cuối {val.isoformat()}, đã quá "
                        f"{error_days} ngày: rà soát lại trước khi dùng")
                elif (today - val).days > warn_days:
                    warn(f, ln(v), f"{label}: thông tin kiểm tra lần cuối {val.isoformat()}, đã quá "
                         f"{warn_days} ngày, nên rà soát lại")
                elif val > today:
                    warn(f, ln(v), f"{label}: ngày rà soát {val.isoformat()} ở tương lai")

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

    specs = [spec_path] if isinstance(spec_path, (str, Path)) else list(spec_path or [])
    for sp in specs:
        if Path(sp).exists():
            for sid, sline in spec_topic_ids(sp):
                if sid not in ids:
                    err(str(sp), sline, f"chủ đề '{sid}' trong danh mục chưa có mục nào trong {kb_dir}")
    return problems
