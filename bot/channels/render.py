"""Text rendering shared by channels that have no inline keyboards (Zalo, console)."""
from __future__ import annotations

from bot.core import Reply


def numbered(reply: Reply) -> str:
    if not reply.buttons:
        return reply.text
    from bot.options import typed_only_hint
    plain = [b for b in reply.buttons if typed_only_hint(b.data) is None]
    hints = list(dict.fromkeys(h for b in reply.buttons if (h := typed_only_hint(b.data))))
    text = reply.text
    if plain:  # numbered as options.match numbers them: typed-only buttons left out
        opts = "\n".join(f"{i}. {b.text}" for i, b in enumerate(plain, 1))
        text = f"{text}\n{opts}\n(Trả lời bằng số thứ tự)"
    return "\n".join([text, *hints])


def split_text(text: str, limit: int) -> list[str]:
    """Split at line boundaries (then spaces) so no part exceeds the platform's limit."""
    if len(text) <= limit:
        return [text]
    parts, cur = [], ""
    for line in text.split("\n"):
        while len(line) > limit:  # one very long line: cut at the last space before the limit
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(line[:cut])
            line = line[cut:].lstrip()
        candidate = f"{cur}\n{line}" if cur else line
        if len(candidate) > limit:
            parts.append(cur)
            cur = line
        else:
            cur = candidate
    if cur:
        parts.append(cur)
    return [p for p in parts if p.strip()]
