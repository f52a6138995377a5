"""Command-line tools of the understanding layer: `kb check`, `kb index`, `eval`."""
from __future__ import annotations

import sys
import time

from bot.config import Settings


def cmd_kb_check(args) -> int:
    from pathlib import Path

    from knowledge.check import check, default_spec_paths
    settings = Settings.from_env()
    specs = [Path(x) for x in args.spec] if args.spec else default_spec_paths(settings.kb_dir)
    problems = check(settings.kb_dir, specs, warn_days=args.warn_days, error_days=args.error_days)
    for p in problems:
        print(p, file=sys.stderr if p.level == "error" else sys.stdout)
    n_err = sum(p.level == "error" for p in problems)
    n_warn = len(problems) - n_err
    if n_err:
        print(f"{n_err} lỗi, {n_warn} cảnh báo", file=sys.stderr)
        return 1
    from knowledge.kb import KnowledgeBase
    kb = KnowledgeBase.load(settings.kb_dir)
    print(f"OK: {len(kb.entries)} mục, {sum(len(e.questions) for e in kb.entries)} câu hỏi, {n_warn} cảnh báo"
          + ("" if specs else " (không tìm thấy danh mục chủ đề để đối chiếu)"))
    return 0


def cmd_kb_index(args) -> int:
    from knowledge.kb import KBError, KnowledgeBase
    from nlu.hybrid import load_or_build
    settings = Settings.from_env()
    try:
        kb = KnowledgeBase.load(settings.kb_dir)
    except KBError as e:
        print(e, file=sys.stderr)
        return 1
    t0 = time.monotonic()
    u = load_or_build(kb, settings.data_dir, settings.embedder, force=not args.if_stale)
    print(f"index {u.index.fingerprint}: {len(u.index.texts)} examples, {len(u.index.label_names)} labels, "
          f"embedder {u.index.emb_id}, {time.monotonic() - t0:.1f}s -> {u.index.path}")
    return 0


def cmd_eval(args) -> int:
    from knowledge.kb import KnowledgeBase
    from nlu import pipeline
    from nlu.evaluate import MODES, evaluate_modes, load_set, report
    settings = Settings.from_env()
    try:  # before the index is built: a wrong file is named at once, never a traceback
        rows = load_set(args.set)
        problem = _set_problem(rows)
    except (OSError, UnicodeDecodeError, ValueError) as e:
        problem = f"cannot read it ({e})"
    if problem:
        print(f"eval --set {args.set}: {problem}", file=sys.stderr)
        return 2
    u = pipeline.build(settings, KnowledgeBase.load(settings.kb_dir))
    if rows and all("turns" in r for r in rows):
        # A multi-turn file: only the engine can judge conversations.
        _eval_engine(settings, u, [], args, multiturn=[_set_path(args.set)])
        return 0
    results = evaluate_modes(u, rows, MODES)
    print(f"set: {args.set} ({len(rows)} messages), embedder: {settings.embedder}")
    print(report(results, show_errors=not args.quiet))
    if not args.no_engine:
        _eval_engine(settings, u, rows, args)
    return 0


def _set_problem(rows) -> str | None:
    """What is wrong with an evaluation file, None if nothing: messages {"text", "kind", ...} or
    conversations {"turns": [{"text", ...}, ...]}, one kind per file."""
    if not rows:
        return "no lines"
    multi = isinstance(rows[0], dict) and "turns" in rows[0]
    for n, r in enumerate(rows, 1):
        if not isinstance(r, dict) or ("turns" in r) != multi:
            return f"line {n}: every line must be a JSON object, all messages or all conversations (\"turns\")"
        items = r["turns"] if multi else [r]
        if not isinstance(items, list) or not items:
            return f"line {n}: \"turns\" must be a non-empty list"
        for t in items:
            if not isinstance(t, dict) or not isinstance(t.get("text"), str) or \
                    not multi and not isinstance(t.get("kind"), str):
                return f"line {n}: each message needs a \"text\"" + ("" if multi else " and a \"kind\"")
    return None


def _set_path(name_or_path: str):
    from pathlib import Path
    from nlu.evaluate import EVAL_DIR
    p = Path(name_or_path)
    return p if p.exists() else EVAL_DIR / f"{name_or_path}.jsonl"


def _eval_engine(settings, understander, rows, args, multiturn=None) -> None:
    """The same messages and the multi-turn conversations through the real engine (context,
    policies, replies), on a scratch database."""
    import json
    import shutil
    from bot.cli import AskSession, _ask_app
    from nlu.evaluate import (conversation_report, evaluate_conversations, evaluate_first_replies,
                              length_line, multiturn_sets)
    app, tmp = _ask_app(settings, understander)
    try:
        runner = AskSession(app)
        if rows:
            single = evaluate_first_replies(runner, rows)
            print(f"\nthrough the engine ({args.set}): FAQ {single['faq']:.3f}, report category "
                  f"{single['complaint']:.3f}, out of scope rejected {single['fallback']:.3f}, "
                  f"small talk {single['smalltalk']:.3f}")
            print(length_line(single["lengths"]))
            if not args.quiet and single["errors"]:
                print("errors through the engine:")
                print("\n".join("  " + e for e in single["errors"]))
        for path in (multiturn if multiturn is not None else multiturn_sets()):
            convs = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
            res = evaluate_conversations(runner, convs, prefix=path.stem)
            print()
            print(conversation_report(path.stem, res, show_errors=not args.quiet))
    finally:
        app.close()
        shutil.rmtree(tmp, ignore_errors=True)


def _db(settings):
    from bot.db import Database
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    db.migrate()
    return db


def cmd_kb_unanswered(args) -> int:
    from bot.clock import fmt_local
    from knowledge.unanswered import groups
    settings = Settings.from_env()
    db = _db(settings)
    try:
        with db.session() as s:
            gs = groups(s, limit=args.limit)
            if not gs:
                print("Không có câu hỏi nào chưa trả lời được.")
                return 0
            for g in gs:
                guess = ", ".join(f"{x['topic']} ({x['score']:.2f})" for x in g.guesses) or "không có"
                print(f"[{g.count} lần, gần nhất {fmt_local(g.last_seen)}] đoán: {guess}")
                for q in g.questions:
                    print(f"  #{q.id} ({q.count}x, {q.reason}): {q.text}")
            print("Gắn vào mục: python -m bot kb attach ID[,ID...] TOPIC; "
                  "ngoài phạm vi: python -m bot kb out-of-scope ID[,ID...]")
    finally:
        db.dispose()
    return 0


def _ids(text: str) -> list[int]:
    from bot.ids import parse_id
    out = []
    for part in text.replace(" ", "").split(","):
        n = parse_id(part.lstrip("#"))
        if n is None:
            raise ValueError(part)
        out.append(n)
    return out


def _on_unanswered(args, action) -> tuple[int, object]:
    """Run action(session, ids, now) on the questions named by `args.id`: (exit code, result).
    Bad ids and refusals are printed in Vietnamese; nothing is changed then."""
    from bot.clock import Clock
    from knowledge.unanswered import UnansweredError
    try:
        ids = _ids(args.id)
    except ValueError as e:
        print(f"Mã câu hỏi không hợp lệ: {e}", file=sys.stderr)
        return 2, None
    db = _db(args.settings)
    try:
        with db.session() as s:
            return 0, (ids, action(s, ids, Clock().now()))
    except UnansweredError as e:
        print(e, file=sys.stderr)
        return 1, None
    finally:
        db.dispose()


def cmd_kb_attach(args) -> int:
    from knowledge.kb import KnowledgeBase
    from knowledge.unanswered import attach
    settings = args.settings = Settings.from_env()
    rc, done = _on_unanswered(args, lambda s, ids, now: attach(s, ids, args.topic, settings.kb_dir, args.actor, now))
    if rc:
        return rc
    ids, path = done
    print(f"Đã thêm {len(ids)} câu hỏi vào {args.topic} ({path}).")
    if not args.no_index:
        from nlu.hybrid import load_or_build
        load_or_build(KnowledgeBase.load(settings.kb_dir), settings.data_dir, settings.embedder, progress=False)
        print("Đã cập nhật chỉ mục tìm kiếm.")
    return 0


def cmd_kb_out_of_scope(args) -> int:
    from knowledge.unanswered import mark_out_of_scope
    args.settings = Settings.from_env()
    rc, done = _on_unanswered(args, lambda s, ids, now: mark_out_of_scope(s, ids, args.actor, now))
    if rc:
        return rc
    ids, path = done
    print(f"Đã đánh dấu ngoài phạm vi {len(ids)} câu hỏi ({path}).")
    return 0


def cmd_kb_stats(args) -> int:
    from knowledge.feedback import month_range, month_report
    from knowledge.kb import KnowledgeBase
    settings = Settings.from_env()
    try:
        month_range(args.month)
    except ValueError:
        print(f"Tháng không hợp lệ: {args.month!r} (dạng YYYY-MM, ví dụ 2026-12)", file=sys.stderr)
        return 2
    titles = {e.id: e.title for e in KnowledgeBase.load(settings.kb_dir).entries}
    db = _db(settings)
    try:
        with db.session() as s:
            print(month_report(s, args.month, titles))
    finally:
        db.dispose()
    return 0


def register_cli(sub, kbs) -> None:
    st = kbs.add_parser("stats", help="monthly figures: questions by topic, answered, passed to staff, helpful")
    st.add_argument("--month", required=True, help="YYYY-MM")
    st.set_defaults(func=cmd_kb_stats, needs_app=False)
    un = kbs.add_parser("unanswered", help="questions the bot could not answer, grouped, most asked first")
    un.add_argument("--limit", type=int, default=30, help="number of groups")
    un.set_defaults(func=cmd_kb_unanswered, needs_app=False)
    at = kbs.add_parser("attach", help="add unanswered question(s) to a KB entry as example questions")
    at.add_argument("id", help="question id(s), comma-separated")
    at.add_argument("topic", help="entry id, e.g. ho-tich.khai-sinh")
    at.add_argument("--actor", default="cli", help="who did it (kept with the question)")
    at.add_argument("--no-index", action="store_true", help="do not rebuild the search index now")
    at.set_defaults(func=cmd_kb_attach, needs_app=False)
    oos = kbs.add_parser("out-of-scope", help="mark unanswered question(s) out of scope")
    oos.add_argument("id", help="question id(s), comma-separated")
    oos.add_argument("--actor", default="cli", help="who did it (kept with the question)")
    oos.set_defaults(func=cmd_kb_out_of_scope, needs_app=False)
    c = kbs.add_parser("check", help="validate the knowledge base (file:line for each problem)")
    c.add_argument("--spec", action="append", help="topic list to check against, repeatable "
                   "(default ../shared/spec/kb-topics.yaml and kb-topics-added.yaml)")
    c.add_argument("--warn-days", type=int, default=183, help="warn when reviewed longer ago than this")
    c.add_argument("--error-days", type=int, default=365, help="error when reviewed longer ago than this")
    c.set_defaults(func=cmd_kb_check, needs_app=False)
    i = kbs.add_parser("index", help="rebuild the search index (it also rebuilds itself when stale)")
    i.add_argument("--if-stale", action="store_true", help="only rebuild when the KB or embedder changed")
    i.set_defaults(func=cmd_kb_index, needs_app=False)
    e = sub.add_parser("eval", help="evaluate understanding on a labelled set")
    e.add_argument("--set", default="test", help="test | dev | multiturn-test | path to a JSONL file (messages, or conversations with turns)")
    e.add_argument("-q", "--quiet", action="store_true", help="figures only, no error list")
    e.add_argument("--no-engine", action="store_true",
                   help="understanding only: skip the engine run (context, replies, multi-turn sets)")
    e.set_defaults(func=cmd_eval, needs_app=False)
