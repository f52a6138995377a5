"""`python -m bot reminders plan --year 2026` and `python -m bot demo-data`."""
from __future__ import annotations


def register_cli(sub) -> None:
    r = sub.add_parser("reminders", help="the teams' report-deadline reminders")
    rs = r.add_subparsers(dest="reminders_command", required=True)
    p = rs.add_parser("plan", help="print every reminder that would be sent in a year")
    p.add_argument("--year", type=int, required=True)
    p.set_defaults(func=_plan)
    d = sub.add_parser("demo-data", help="fill a fresh database with a realistic demo ward")
    d.add_argument("--force", action="store_true", help="replace earlier demo data on a non-empty database")
    d.add_argument("--seed", type=int, default=2026)
    d.set_defaults(func=_demo)


def _plan(args, app) -> int:
    from handlers.teams.reminders import describe_plan
    with app.db.session() as s:
        lines = describe_plan(app, s, args.year)
    print(f"Lời nhắc hạn nộp báo cáo Tổ CNSCĐ năm {args.year} ({app.profile.ward.name}), giờ Việt Nam:")
    print("\n".join(lines))
    return 0


def _demo(args, app) -> int:
    from handlers.teams.demo import DemoError, fill
    try:
        summary = fill(app, force=args.force, seed=args.seed)
    except DemoError as e:
        print(f"error: {e}")
        return 2
    print(summary)
    return 0
