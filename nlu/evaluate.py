"""Evaluation on labelled messages ({"text", "kind", "topic", "category"} per line): the full
pipeline beside BM25 alone and dense alone, run on the same index in one pass."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent / "eval"
MODES = ("hybrid", "bm25", "dense")


def load_set(name_or_path: str) -> list[dict]:
    p = Path(name_or_path)
    if not p.exists():
        p = EVAL_DIR / f"{name_or_path}.jsonl"
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_modes(understander, rows: list[dict], modes=MODES) -> dict[str, dict]:
    """All modes in one pass: each message is embedded once and every mode decides on the same
    scores."""
    preds: dict[str, list] = {m: [] for m in modes}
    for r in rows:
        if hasattr(understander, "decide"):
            s = understander.scores(r["text"])
            for m in modes:
                preds[m].append(_rejected(understander.decide(s, m)))
        else:
            for m in modes:
                preds[m].append(_rejected(understander.understand(r["text"])))
    return {m: score(rows, preds[m]) for m in modes}


def _rejected(u):
    """The out-of-scope intents (oos_health, oos_scam... in nlu/data/) are rejections with a
    specific answer: they count as kind "fallback", as the assistant treats them."""
    from dataclasses import replace

    from nlu.dialogue import OOS_INTENTS
    if u.kind == "smalltalk" and (u.intent or "") in OOS_INTENTS:
        return replace(u, kind="fallback")
    return u


def evaluate(understander, rows: list[dict], mode: str = "hybrid") -> dict:
    return evaluate_modes(understander, rows, (mode,))[mode]


def score(rows: list[dict], preds: list) -> dict:
    c: Counter = Counter()
    rr = 0.0
    errors: dict[str, list[str]] = defaultdict(list)
    ambiguous: list = []
    for r, u in zip(rows, preds):
        gold = r["kind"]
        c["n"] += 1
        c["kind_ok"] += u.kind == gold
        if gold == "faq":
            c["faq"] += 1
            ranked = [t for t, _ in u.candidates]
            top1 = u.kind == "faq" and u.topic == r["topic"]
            c["faq_top1"] += top1
            c["faq_top3"] += r["topic"] in ranked[:3]
            rr += 1.0 / (ranked.index(r["topic"]) + 1) if r["topic"] in ranked[:3] else 0.0
            c["faq_ambiguous"] += bool(u.ambiguous)
            if u.ambiguous:
                ambiguous.append(u)
            if not top1:
                errors[r["topic"]].append(f"{r['text']!r} -> {u.kind}:{u.topic or u.category or u.intent}")
        elif gold == "complaint":
            c["complaint"] += 1
            c["cat_ok"] += u.kind == "complaint" and u.category == r["category"]
            if not (u.kind == "complaint" and u.category == r["category"]):
                errors["complaint/" + r["category"]].append(
                    f"{r['text']!r} -> {u.kind}:{u.topic or u.category or u.intent}")
        elif gold == "fallback":
            c["oos"] += 1
            c["oos_ok"] += u.kind == "fallback"
            if u.kind != "fallback":
                errors["fallback"].append(f"{r['text']!r} -> {u.kind}:{u.topic or u.category or u.intent}")
        elif gold == "smalltalk":
            c["smalltalk"] += 1
            c["smalltalk_ok"] += u.kind == "smalltalk"
        if gold in ("faq", "complaint"):
            c["in_scope"] += 1
            c["false_reject"] += u.kind == "fallback"

    def ratio(a, b):
        return c[a] / c[b] if c[b] else 0.0
    return {
        "n": c["n"], "faq_top1": ratio("faq_top1", "faq"), "faq_top3": ratio("faq_top3", "faq"),
        "faq_mrr": rr / c["faq"] if c["faq"] else 0.0, "category_acc": ratio("cat_ok", "complaint"),
        "oos_rejection": ratio("oos_ok", "oos"), "false_rejection": ratio("false_reject", "in_scope"),
        "smalltalk_acc": ratio("smalltalk_ok", "smalltalk"), "kind_acc": ratio("kind_ok", "n"),
        "faq_ambiguous": ratio("faq_ambiguous", "faq"), "errors": dict(errors),
        "ambiguous_examples": ambiguous,
    }


def report(results: dict[str, dict], show_errors: bool = True) -> str:
    keys = [("faq_top1", "FAQ top-1"), ("faq_top3", "FAQ top-3"), ("faq_mrr", "FAQ MRR@3"),
            ("category_acc", "report category"), ("oos_rejection", "out-of-scope rejection"),
            ("false_rejection", "in-scope rejected"), ("smalltalk_acc", "small talk"),
            ("kind_acc", "kind accuracy"), ("faq_ambiguous", "FAQ asked back")]
    modes = list(results)
    lines = [f"{'':24}" + "".join(f"{m:>10}" for m in modes)]
    for k, title in keys:
        lines.append(f"{title:24}" + "".join(f"{results[m][k]:>10.3f}" for m in modes))
    if show_errors and "hybrid" in results:
        errs = results["hybrid"]["errors"]
        if errs:
            lines.append("\nerrors of the full pipeline, by topic:")
            for topic in sorted(errs):
                lines.append(f"  {topic} ({len(errs[topic])})")
                lines.extend(f"    {e}" for e in errs[topic])
    return "\n".join(lines)


# ---------------------------------------------------------------- through the engine

def multiturn_sets() -> list[Path]:
    return sorted(EVAL_DIR.glob("multiturn-*.jsonl"))


def _turn_ok(t: dict, rec: dict) -> bool:
    gold = t.get("kind", "faq")
    if gold == "faq":
        want = t.get("topics") or [t["topic"]]
        got = rec.get("topics") or ([rec["topic"]] if rec.get("topic") else [])
        if rec["kind"] == "option" and len(want) == 1:
            # "lệ phí" typed under an answer whose buttons include "Lệ phí" presses that button:
            # the section of the topic under discussion, right when that topic is the one wanted
            return rec.get("topic") == want[0]
        return rec["kind"] == "faq" and rec.get("topic") == want[0] and set(want) <= set(got)
    if gold == "complaint":
        return rec["kind"] == "complaint" and rec.get("category") == t.get("category")
    return rec["kind"] == gold


def evaluate_conversations(runner, conversations: list[dict], prefix: str = "mt") -> dict:
    """Each conversation {"id", "turns": [{"text", "kind", "topic"|"topics"|"category"}]} runs as
    one session through the real engine (bot.cli.AskSession). First turns and follow-ups are
    scored apart; every FAQ answer's first reply length is collected."""
    c: Counter = Counter()
    errors: list[str] = []
    lengths: list[int] = []
    for i, conv in enumerate(conversations):
        session = f"{prefix}-{conv.get('id', i)}"
        for j, t in enumerate(conv["turns"]):
            rec = runner.ask(t["text"], session)
            group = "oos" if t.get("kind") == "fallback" else ("first" if j == 0 else "followup")
            ok = _turn_ok(t, rec)
            c[group] += 1
            c[group + "_ok"] += ok
            if rec["kind"] == "faq" and rec.get("reply"):
                lengths.append(len(rec["reply"]))
            if not ok:
                want = t.get("topics") or t.get("topic") or t.get("category") or t.get("kind")
                errors.append(f"{session}#{j} {t['text']!r}: want {want}, got {rec['kind']}:"
                              f"{rec.get('topics') or rec.get('topic') or rec.get('category') or rec.get('intent')}")

    def ratio(k):
        return c[k + "_ok"] / c[k] if c[k] else 0.0
    return {"conversations": len(conversations), "first": ratio("first"), "n_first": c["first"],
            "followup": ratio("followup"), "n_followup": c["followup"], "oos": ratio("oos"), "n_oos": c["oos"],
            "lengths": lengths, "errors": errors}


def evaluate_first_replies(runner, rows: list[dict]) -> dict:
    """Single messages through the engine, each its own session: what residents see first."""
    lengths, c, errors = [], Counter(), []
    for i, r in enumerate(rows):
        rec = runner.ask(r["text"], f"single-{i}")
        c["n"] += 1
        c[r["kind"]] += 1
        ok = _turn_ok(r, rec)
        c[r["kind"] + "_ok"] += ok
        if not ok:
            want = r.get("topic") or r.get("category") or r["kind"]
            errors.append(f"{r['text']!r}: want {want}, got {rec['kind']}:"
                          f"{rec.get('topic') or rec.get('category') or rec.get('intent')}")
        if rec["kind"] == "faq" and rec.get("reply"):
            lengths.append(len(rec["reply"]))
    return {k: (c[k + "_ok"] / c[k] if c[k] else 0.0) for k in ("faq", "complaint", "fallback", "smalltalk")} | {
        "lengths": lengths, "errors": errors}


def length_line(lengths: list[int]) -> str:
    import statistics
    if not lengths:
        return "first reply length: no FAQ answers"
    return (f"first reply length (characters, {len(lengths)} FAQ answers): median "
            f"{statistics.median(lengths):.0f}, max {max(lengths)}")


def conversation_report(name: str, res: dict, show_errors: bool = True) -> str:
    lines = [f"multi-turn set {name}: {res['conversations']} conversations",
             f"  first turns     {res['first']:.3f}  ({res['n_first']})",
             f"  follow-ups      {res['followup']:.3f}  ({res['n_followup']})",
             f"  out of scope    {res['oos']:.3f}  ({res['n_oos']})",
             "  " + length_line(res["lengths"])]
    if show_errors and res["errors"]:
        lines.append("  errors:")
        lines.extend("    " + e for e in res["errors"])
    return "\n".join(lines)
