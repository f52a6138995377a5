"""A small lexical understander: the floor the full pipeline must beat, and a fallback when
the index cannot be built."""
from __future__ import annotations

from knowledge.kb import KnowledgeBase
from nlu.normalize import fold, normalize
from nlu.understand import Understanding

_GREET = {"xin chao", "chao", "hello", "hi", "alo", "chao ban", "chao bot", "hey"}
_THANKS = {"cam on", "cam on ban", "cam on nhieu", "thank you"}
_BYE = {"tam biet", "bye", "hen gap lai"}


def _tokens(text: str) -> set[str]:
    return set(fold(normalize(text)).split())


class BaselineUnderstander:
    def __init__(self, kb: KnowledgeBase):
        self.kb = kb
        self.index = [(e.id, _tokens(q)) for e in kb.entries for q in [e.title, *e.questions]]

    def categorize(self, text: str) -> list[tuple[str, float]]:
        """Report categories ranked for a description; the baseline knows none."""
        return []

    def understand(self, text: str) -> Understanding:
        f = fold(normalize(text)).strip(" ?!.")
        if f in _GREET:
            return Understanding("smalltalk", intent="greet", confidence=1.0)
        if f in _THANKS or f.startswith("cam on"):
            return Understanding("smalltalk", intent="thanks", confidence=1.0)
        if f in _BYE:
            return Understanding("smalltalk", intent="goodbye", confidence=1.0)
        toks = _tokens(text)
        best: dict[str, float] = {}
        for eid, qt in self.index:
            if not toks or not qt:
                continue
            score = len(toks & qt) / len(toks | qt)
            best[eid] = max(best.get(eid, 0.0), score)
        ranked = sorted(best.items(), key=lambda kv: -kv[1])[:3]
        if ranked and ranked[0][1] >= 0.3:
            return Understanding("faq", topic=ranked[0][0], confidence=ranked[0][1], candidates=ranked)
        return Understanding("fallback", confidence=1 - (ranked[0][1] if ranked else 0.0), candidates=ranked)
