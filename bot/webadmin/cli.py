"""`python -m bot staff add NAME --role staff|admin --password-stdin`: back-office accounts."""
from __future__ import annotations

import sys


def register_cli(sub, _kbs=None) -> None:
    p = sub.add_parser("staff", help="back-office staff accounts")
    ps = p.add_subparsers(dest="staff_command", required=True)
    a = ps.add_parser("add", help="create an account; the password is read from stdin")
    a.add_argument("name", help="username: lower-case letters, digits, . _ -")
    a.add_argument("--role", required=True, choices=["staff", "admin"])
    a.add_argument("--display-name", help="the person's name shown in the back office")
    a.add_argument("--password-stdin", action="store_true", required=True,
                   help="read the password from the first line of stdin (never from the command line)")
    a.set_defaults(func=_add)
    pw = ps.add_parser("passwd", help="set an account's password from stdin")
    pw.add_argument("name")
    pw.add_argument("--password-stdin", action="store_true", required=True)
    pw.set_defaults(func=_passwd)
    ps.add_parser("list", help="list accounts").set_defaults(func=_list)


def _read_password() -> str:
    return sys.stdin.readline().rstrip("\r\n")


def _add(args, app) -> int:
    from bot.webadmin import auth
    password = _read_password()
    try:
        with app.db.session() as s:
            acc = auth.create_account(s, args.name, password, args.role, app.clock.now(),
                                      display_name=args.display_name)
            name, role = acc.username, acc.role
    except auth.AccountError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"created {role} account {name}: log in at /admin/login")
    return 0


def _passwd(args, app) -> int:
    from sqlmodel import select

    from bot.webadmin import auth
    from bot.webadmin.models import StaffAccount
    password = _read_password()
    try:
        with app.db.session() as s:
            acc = s.exec(select(StaffAccount).where(StaffAccount.username == auth.normalise_username(args.name))).first()
            if acc is None:
                print(f"error: no account {args.name}", file=sys.stderr)
                return 1
            auth.set_password(s, acc, password, app.clock.now(), None)
    except auth.AccountError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"password set for {args.name}; its sessions were ended")
    return 0


def _list(args, app) -> int:
    from sqlmodel import select

    from bot.webadmin.models import StaffAccount
    with app.db.session() as s:
        for a in s.exec(select(StaffAccount).order_by(StaffAccount.username)):
            print(f"{a.username}\t{a.role}\t{a.display_name}\t{'disabled' if a.disabled_at else 'active'}")
    return 0
