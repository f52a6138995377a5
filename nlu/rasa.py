"""Read intent examples in the Rasa NLU YAML format (version 2/3), so a ward that already has Rasa
training data can bring it: every *.yml / *.yaml under nlu/data/ is read.

Supported: `nlu:` items with `intent:` and `examples: |` (a block of "- text" lines) or a list;
entity annotations `[text](entity)`, `[text]{"entity": ...}` and `[text][...]` keep only the text;
`synonym:` items are returned as a mapping (value -> synonyms); `lookup:` and `regex:` are ignored.
Retrieval intents keep their full name ("complaint/rac-thai")."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).resolve().parent / "data"

_ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\}|\[[^\]]*\])")


class RasaFormatError(ValueError):
    pass


@dataclass
class NLUData:
    examples: dict[str, list[str]] = field(default_factory=dict)  # intent -> texts, in file order
    synonyms: dict[str, list[str]] = field(default_factory=dict)

    def add(self, intent: str, texts: list[str]) -> None:
        bucket = self.examples.setdefault(intent, [])
        seen = set(bucket)
        for t in texts:
            if t and t not in seen:
                bucket.append(t)
                seen.add(t)

    def merge(self, other: "NLUData") -> None:
        for k, v in other.examples.items():
            self.add(k, v)
        for k, v in other.synonyms.items():
            self.synonyms.setdefault(k, []).extend(v)


def strip_annotations(text: str) -> str:
    """"cho tôi ở [Hải Châu](district)" -> "cho tôi ở Hải Châu"."""
    return _ANNOTATION.sub(r"\1", text).strip()


def _example_lines(block) -> list[str]:
    if isinstance(block, list):  # some tools write examples as a YAML list
        items = [str(x.get("text", "")) if isinstance(x, dict) else str(x) for x in block]
    else:
        items = []
        for line in str(block or "").splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("- "):
                line = line[2:]
            elif line == "-":
                continue
            items.append(line)
    return [strip_annotations(t) for t in items if t.strip()]


def parse(text: str, source: str = "<string>") -> NLUData:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RasaFormatError(f"{source}: YAML không hợp lệ: {e}") from e
    data = NLUData()
    if doc is None:
        return data
    if not isinstance(doc, dict):
        raise RasaFormatError(f"{source}: expected a mapping with 'nlu:'")
    items = doc.get("nlu") or []
    if not isinstance(items, list):
        raise RasaFormatError(f"{source}: 'nlu' must be a list")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RasaFormatError(f"{source}: nlu item {i + 1} is not a mapping")
        if "intent" in item:
            data.add(str(item["intent"]).strip(), _example_lines(item.get("examples")))
        elif "synonym" in item:
            data.synonyms.setdefault(str(item["synonym"]), []).extend(_example_lines(item.get("examples")))
        # lookup / regex tables carry no intent examples
    return data


def load_dir(path: Path = DATA_DIR) -> NLUData:
    data = NLUData()
    files = sorted([*Path(path).glob("*.yml"), *Path(path).glob("*.yaml")])
    for f in files:
        data.merge(parse(f.read_text(encoding="utf-8"), str(f)))
    return data
