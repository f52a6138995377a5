"""What a message is: a question for the knowledge base, a report, small talk, or neither."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol


@dataclass
class Understanding:
    kind: str  # faq | complaint | smalltalk | fallback
    topic: str | None = None
    category: str | None = None
    confidence: float = 0.0
    intent: str | None = None  # smalltalk intent: greet | thanks | goodbye | bot_identity
    candidates: list[tuple[str, float]] = field(default_factory=list)  # top KB ids with scores
    ambiguous: bool = False  # close call between candidates: ask "Ý bạn là...?"
    # Set by the conversation layer (nlu/dialogue.py, handlers/faq.py), not by the understander:
    topics: list[str] = field(default_factory=list)  # every procedure the message asks about
    aspect: str | None = None  # fee | time | documents | where | online | who | steps | legal
    policy: str | None = None  # a report that also matched this out-of-scope policy: its advice goes with it

    def to_dict(self) -> dict:
        d = asdict(self)
        d["candidates"] = [{"topic": t, "score": round(s, 4)} for t, s in self.candidates]
        d["confidence"] = round(self.confidence, 4)
        return d


class Understander(Protocol):
    def understand(self, text: str) -> Understanding: ...

    def categorize(self, text: str) -> list[tuple[str, float]]:
        """Report categories (ids from knowledge/categories.yaml) ranked best first, with scores
        in [0, 1]; used inside the report form when the resident describes the problem."""
        ...
