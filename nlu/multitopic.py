"""Several procedures in one message ("đăng ký tạm trú và đổi căn cước"): which ones. Lexical
only (no second embedding call), so it stays cheap.

The message is cut at conjunctions ("và", "với", "rồi", "còn", "lẫn", "ngoài ra"...; typed plain
"va", "voi") and at commas and sentence ends. Each piece is scored by the lexical retrievers on
its own. Two pieces count as two procedures only when each is clearly about its own entry and
neither entry explains the other piece nearly as well: "giấy tờ và lệ phí khai sinh" is one
procedure (one piece names none), "vneid bị khóa, mở lại bằng cách nào" too (the two entries are
siblings that score alike on both pieces). A piece cut off by a comma alone must also ask for
something ("làm", "xin", "ở đâu"...): "Bố tôi vừa mất, cần làm thủ tục khai tử" is one question
with its background, not two.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from nlu.normalize import fold, normalize, syllables

MAX_TOPICS = 3
MIN_CONFIDENCE = 0.55  # the piece's own lexical decision (a margin over its runner-up)
MIN_CONTENT = 2.0      # idf of the piece's words other than filler: "ở đâu vậy ad" names nothing
# Another found entry scoring within this share of the piece's winner explains the piece too.
# Reciprocal-rank scores: a runner-up ranked second by every retriever sits at 5/6 of the winner.
RIVAL_SHARE = 0.85
NEAR_RANK = 6  # ...or its lexical ranking's first entries
SURE_OUTSIDE = 0.7  # a piece's entry not near the top for the whole message needs this confidence

_L = r"[\wà-ỹđ]"  # a letter of a (marked) word
# Request verbs: "rồi" joins two requests only before one ("khai tử rồi xin tiền mai táng"); after
# a clause it means "already" ("mất rồi", "2 tuần rồi").
_VERBS = ["làm", "xin", "đăng ký", "đổi", "tách", "chuyển", "chứng thực", "nộp", "hỏi", "tra cứu", "sang tên",
          "rút", "kích hoạt", "trình báo", "khai báo", "khai", "cấp", "mở", "đóng", "lấy", "nhập", "xóa", "ký"]
# "với" after these is "with" (a partner, a counterpart), not "and": "kết hôn với người Nhật",
# "không đồng ý với quyết định", "tranh chấp đất với hàng xóm", "so với".
_WITH = ["kết hôn", "ly hôn", "cưới", "lấy", "đồng ý", "so", "tranh chấp", "nói", "liên hệ", "ở", "sống",
         "chung", "cãi", "quen", "gặp", "giống", "khác", "làm việc", "hòa giải", "xích mích", "mâu thuẫn"]
# Conjunctions joining two requests. Written with their marks: a message typed with marks says
# "và", and a plain "con" in it is a child, not "còn".
_CONJ_MARKED = ["và", "với lại", "còn", "lẫn", "sau đó", "ngoài ra", "thêm nữa", "hoặc", "hay là",
                "kèm theo", "đồng thời", "rồi(?= (?:" + "|".join(_VERBS) + "))"]
# Typed without marks: "con" (child), "lan" (lần), "ca" (cá, ca) are too ambiguous to cut at.
_CONJ_PLAIN = ["va", "voi lai", "sau do", "ngoai ra", "them nua", "hoac", "hay la", "kem theo", "dong thoi",
               "roi(?= (?:" + "|".join(fold(v) for v in _VERBS) + "))"]


def _with_rx(words: list[str]) -> str:
    """"với" unless it follows one of `words` (a fixed-width lookbehind each)."""
    return "".join(f"(?<!{w} )" for w in words) + "{}"


_CONJ_MARKED.append(_with_rx(_WITH).format("với"))
_CONJ_PLAIN.append(_with_rx(sorted({fold(w) for w in _WITH})).format("voi"))


def _conj_rx(words: list[str]) -> re.Pattern:
    return re.compile(rf"(?<!{_L})(?:" + "|".join(sorted(words, key=len, reverse=True)) + rf")(?!{_L})")


CONJ_MARKED, CONJ_PLAIN = _conj_rx(_CONJ_MARKED), _conj_rx(_CONJ_PLAIN)
# Commas and sentence ends (not a decimal point or a thousands separator).
_PUNCT = re.compile(r"[\n;!?]+|[,.](?!\d)")
# A piece that asks for something: a request verb or a question word (folded).
ASKS = re.compile(r"(?<![a-z])(?:lam|xin|dang ky|doi|tach|chuyen|chung thuc|nop|hoi|thu tuc|tra cuu|"
                  r"sang ten|rut|kich hoat|trinh bao|khai bao|cap lai|cap doi|cap moi|xac nhan|"
                  r"o dau|the nao|ra sao|bao nhieu|bao lau|can gi|giay gi|giay to gi|duoc khong|duoc ko|"
                  r"co duoc|nua)(?![a-z])")


@dataclass
class Piece:
    text: str        # normalised
    joined: bool     # next to a conjunction: part of a coordination ("khai sinh và thường trú")


def pieces(text: str, marked: bool) -> list[Piece]:
    """The message cut at punctuation, then at conjunctions, in order."""
    out: list[Piece] = []
    rx = CONJ_MARKED if marked else CONJ_PLAIN
    for chunk in _PUNCT.split(text or ""):
        norm = normalize(chunk)
        if not marked:
            norm = fold(norm)
        parts = [p.strip(" ,.-/") for p in rx.split(norm)]
        if len(parts) > 1 and not parts[0] and out:
            out[-1].joined = True  # ", rồi đăng ký...": the piece before the comma is joined too
        out += [Piece(p, joined=len(parts) > 1) for p in parts if p]
    return out


def _content(understander, piece: str, marked: bool) -> float:
    """How much the piece names: idf of its words other than filler ("ở đâu vậy ad" names nothing)."""
    from nlu import dialogue  # the filler list lives with the conversation rules
    plain = set() if marked else dialogue.FILLER_PLAIN
    return sum(understander.index.idf(fold(w)) for w in syllables(piece)
               if w not in dialogue.FILLER and not (fold(w) == w and w in plain) and not w.isdigit())


def topics_in(text: str, topic: str | None, understander, candidates=()) -> list[str]:
    """The procedures a message asks about (at most MAX_TOPICS): the whole message's best guess
    `topic` first, then the others in the order the message names them; [topic] when it is about
    one. The best guess must be among the pieces' entries: they confirm the retriever instead of
    overruling it.
    `candidates`: the entries the whole message ranks best (ids)."""
    if not topic or not all(hasattr(understander, a) for a in ("scores", "decide", "fuse", "index")):
        return [topic] if topic else []
    from nlu import dialogue
    marked = dialogue.typed_with_marks(syllables(text or ""))
    parts = pieces(text, marked)
    if len(parts) < 2:
        return [topic]
    pos = understander.index.label_pos

    def score(fused, t: str) -> float:
        return float(fused[pos["faq:" + t]]) if "faq:" + t in pos else 0.0

    near = set(candidates)
    try:  # the entries the whole message ranks near the top lexically: siblings may fill `candidates`
        whole = understander.fuse(understander.scores(text, ("words", "chars")), "lexical")
        faq = [n[4:] for n in pos if n.startswith("faq:")]
        near |= set(sorted(faq, key=lambda t: -score(whole, t))[:NEAR_RANK])
    except Exception:  # noqa: BLE001 - the retriever's own candidates still count
        pass
    found: list[tuple[str, object]] = []  # (entry, its piece's fused lexical scores)
    for p in parts:
        if not p.joined and not ASKS.search(fold(p.text)):
            continue  # background before a comma ("bố tôi vừa mất"), not a request
        if _content(understander, p.text, marked) < MIN_CONTENT:
            continue
        try:
            s = understander.scores(p.text, ("words", "chars"))
            v = understander.decide(s, "lexical")
            fused = understander.fuse(s, "lexical")
        except Exception:  # noqa: BLE001 - a second opinion only; the main answer stands
            return [topic]
        if v.kind != "faq" or not v.topic or v.confidence < MIN_CONFIDENCE or any(a == v.topic for a, _ in found):
            continue
        if v.topic not in near and v.confidence < SURE_OUTSIDE:
            # a piece that only asks ("gia hạn thế nào") lands anywhere; an entry the whole
            # message does not rank near the top needs a clear win of its own piece
            continue
        b = v.topic
        # neither entry may explain the other's piece nearly as well (siblings, or one request)
        if all(score(fused, a) < RIVAL_SHARE * score(fused, b) and score(other, b) < RIVAL_SHARE * score(other, a)
               for a, other in found):
            found.append((b, fused))
    names = [t for t, _ in found]
    if len(names) < 2 or topic not in names:
        return [topic]
    # the whole message's best guess leads: a wrong split then never costs the right answer
    return [topic] + [t for t in names if t != topic][:MAX_TOPICS - 1]
