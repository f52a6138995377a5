"""Command-line tools of the understanding layer: `kb check`, `kb index`, `eval`."""
from __future__ import annotations

import sys
import time

from bot.config import Settings


def cmd_kb_check(args) -> int:
    from pathlib import Path

    from knowledge.check import check, default_spec_path
    settings = Settings.from_env()
    spec = Path(args.spec) if args.spec else default_spec_path(settings.kb_dir)
    problems = check(settings.kb_dir, spec, stale_days=args.stale_days)
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
          + ("" if spec else " (không tìm thấy danh mục chủ đề để đối chiếu)"))
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
    u = pipeline.build(settings, KnowledgeBase.load(settings.kb_dir))
    rows = load_set(args.set)
    results = evaluate_modes(u, rows, MODES)
    print(f"set: {args.set} ({len(rows)} messages), embedder: {settings.embedder}")
    print(report(results, show_errors=not args.quiet))
    if not args.no_engine:
        _eval_engine(settings, u, rows, args)
    return 0


def _eval_engine(settings, understander, rows, args) -> None:
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
        single = evaluate_first_replies(runner, rows)
        print(f"\nthrough the engine ({args.set}): FAQ {single['faq']:.3f}, report category "
              f"{single['complaint']:.3f}, out of scope rejected {single['fallback']:.3f}, "
              f"small talk {single['smalltalk']:.3f}")
        print(length_line(single["lengths"]))
        for path in multiturn_sets():
            convs = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
            res = evaluate_conversations(runner, convs, prefix=path.stem)
            print()
            print(conversation_report(path.stem, res, show_errors=not args.quiet))
    finally:
        app.close()
        shutil.rmtree(tmp, ignore_errors=True)


def register_cli(sub, kbs) -> None:
    c = kbs.add_parser("check", help="validate the knowledge base (file:line for each problem)")
    c.add_argument("--spec", help="topic list to check against (default ../shared/spec/kb-topics.yaml)")
    c.add_argument("--stale-days", type=int, default=365, help="warn when reviewed longer ago than this")
    c.set_defaults(func=cmd_kb_check, needs_app=False)
    i = kbs.add_parser("index", help="rebuild the search index (it also rebuilds itself when stale)")
    i.add_argument("--if-stale", action="store_true", help="only rebuild when the KB or embedder changed")
    i.set_defaults(func=cmd_kb_index, needs_app=False)
    e = sub.add_parser("eval", help="evaluate understanding on a labelled set")
    e.add_argument("--set", default="test", help="test | dev | path to a JSONL file")
    e.add_argument("-q", "--quiet", action="store_true", help="figures only, no error list")
    e.add_argument("--no-engine", action="store_true",
                   help="understanding only: skip the engine run (context, replies, multi-turn sets)")
    e.set_defaults(func=cmd_eval, needs_app=False)
