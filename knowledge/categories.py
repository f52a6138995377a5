"""Report categories: the shared ids, with the ward's overrides of unit and deadline applied."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.profile import WardProfile

CATEGORIES_FILE = Path(__file__).resolve().parent / "categories.yaml"


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    examples: str
    unit: str
    sla_hours: float


def load_categories(profile: WardProfile | None = None, path: Path = CATEGORIES_FILE) -> dict[str, Category]:
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))["categories"]
    out = {}
    for c in raw:
        ov = profile.categories.get(c["id"]) if profile else None
        out[c["id"]] = Category(
            id=c["id"], title=c["title"], examples=c.get("examples", ""),
            unit=(ov.unit if ov and ov.unit else c["unit"]),
            sla_hours=float(ov.sla_hours if ov and ov.sla_hours else c["sla_hours"]),
        )
    return out
