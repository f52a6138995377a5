"""Channel-agnostic message types. Handlers see only these, never a platform's objects."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Button:
    text: str
    data: str  # "<prefix>:<payload>"; the prefix picks the flow or callback


@dataclass
class Attachment:
    kind: str  # photo | file | sticker
    path: str | None = None  # stored under BOT_DATA_DIR/media by the channel adapter
    mime: str | None = None
    size: int | None = None
    file_id: str | None = None
    name: str | None = None


@dataclass
class Location:
    lat: float
    lon: float


@dataclass
class Incoming:
    channel: str
    chat_id: str
    user_id: str
    text: str | None = None
    button: str | None = None
    photos: list[Attachment] = field(default_factory=list)
    files: list[Attachment] = field(default_factory=list)
    location: Location | None = None
    update_id: str | None = None
    user_name: str | None = None
    is_group: bool = False

    @property
    def command(self) -> tuple[str, str] | None:
        """("start", "args") for "/start args"; Telegram's "/start@botname" is accepted too."""
        t = (self.text or "").strip()
        if not t.startswith("/") or len(t) < 2:
            return None
        head, _, rest = t[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        return name, rest.strip()


@dataclass
class Reply:
    text: str
    buttons: list[Button] = field(default_factory=list)
    photo: str | None = None  # local file path
    document: str | None = None  # local file path
    document_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"text": self.text}
        if self.buttons:
            d["buttons"] = [asdict(b) for b in self.buttons]
        for key in ("photo", "document", "document_name"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Reply":
        return cls(
            text=d.get("text", ""),
            buttons=[Button(**b) for b in d.get("buttons", [])],
            photo=d.get("photo"),
            document=d.get("document"),
            document_name=d.get("document_name"),
        )
