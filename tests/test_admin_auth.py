"""Back-office authentication over HTTP: login, wrong passwords, the 429 slowdown, CSRF, logout,
cookie flags, accounts from the CLI and from the back office, linking a chat identity."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from bot import roles as R
from bot.models import AuditEvent
from bot.webadmin import auth
from bot.webadmin.models import StaffAccount, StaffSession
from tests.admin_helpers import PASSWORD, csrf_of, login, make_account
from tests.conftest import Chat
from tests.helpers import ROOT, bot_env


@pytest.fixture
def client(app):
    from bot.server import create_api
    with TestClient(create_api(app, background=False)) as c:
        yield c


def test_password_hash_is_scrypt_and_salted():
    h1, h2 = auth.hash_password("abcdefgh"), auth.hash_password("abcdefgh")
    assert h1.startswith("scrypt$16384$8$1$") and h1 != h2
    assert auth.verify_password("abcdefgh", h1) and not auth.verify_password("abcdefgh!", h1)
    assert not auth.verify_password("x", "garbage")


def test_admin_pages_need_login(client):
    for path in ("/admin/", "/admin/reports", "/admin/unanswered", "/admin/audit", "/admin/accounts"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/login?next="), path
    assert client.get("/admin/reports", headers={"accept": "application/json"}, follow_redirects=False).status_code == 401
    assert client.post("/admin/reports/1/action", data={"action": "accept"}).status_code == 401


def test_login_sets_a_safe_cookie_and_opens_pages(client, app):
    make_account(app)
    r = login(client)
    assert r.status_code == 303 and r.headers["location"] == "/admin/"
    cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("bo_session=")][0]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower() and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http on a laptop; see the https test
    page = client.get("/admin/reports")
    assert page.status_code == 200 and "Phản ánh" in page.text and "Nguyễn Thị Lan" in page.text
    with app.db.session() as s:
        row = s.exec(select(StaffSession)).one()
        token = cookie.split(";")[0].split("=", 1)[1]
        assert row.token_hash == auth.sha(token) and token not in row.token_hash  # only the hash is stored


def test_secure_cookie_behind_https(make_app, settings):
    from bot.server import create_api
    app = make_app(settings=replace(settings, public_url="https://phuong.example.vn"))
    make_account(app)
    with TestClient(create_api(app, background=False), base_url="https://testserver") as c:
        r = login(c)
        cookie = [h for h in r.headers.get_list("set-cookie") if h.startswith("bo_session=")][0]
        assert "Secure" in cookie


def test_wrong_password_opens_nothing(client, app):
    make_account(app)
    r = login(client, password="sai-mat-khau")
    assert r.status_code == 401 and "không đúng" in r.text
    assert not [h for h in r.headers.get_list("set-cookie") if h.startswith("bo_session=")]
    assert client.get("/admin/reports", follow_redirects=False).status_code == 303
    r = login(client, username="khong-co-ai")
    assert r.status_code == 401
    with app.db.session() as s:
        assert [e.action for e in s.exec(select(AuditEvent).where(AuditEvent.action.startswith("staff_login")))] \
            == ["staff_login_failed", "staff_login_failed"]


def test_repeated_failures_get_429_per_account(client, app):
    make_account(app)
    for _ in range(auth.MAX_FAILS_ACCOUNT):
        assert login(client, password="sai-mat-khau").status_code == 401
    r = login(client, password="sai-mat-khau")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    # even the right password waits: that is the point of slowing guessing down
    assert login(client).status_code == 429
    # 15 minutes later the account opens again
    app.clock.advance(minutes=16)
    assert login(client).status_code == 303


def test_repeated_failures_get_429_per_address(client, app):
    make_account(app)
    for i in range(auth.MAX_FAILS_ADDRESS):
        assert login(client, username=f"khach{i}", password="sai-mat-khau").status_code == 401
    assert login(client).status_code == 429  # a different, real account from the same address


def test_login_form_needs_its_csrf_token(client, app):
    make_account(app)
    client.get("/admin/login")
    r = client.post("/admin/login", data={"username": "lan", "password": PASSWORD, "csrf": "forged"},
                    follow_redirects=False)
    assert r.status_code == 403


def test_state_changing_forms_need_csrf(client, app):
    make_account(app)
    login(client)
    r = client.post("/admin/accounts", data={"username": "minh", "password": "12345678x", "role": "staff"})
    assert r.status_code == 403
    r = client.post("/admin/accounts", data={"username": "minh", "password": "12345678x", "role": "staff",
                                             "csrf": "wrong"})
    assert r.status_code == 403
    token = csrf_of(client.get("/admin/accounts").text)
    r = client.post("/admin/accounts", data={"username": "minh", "password": "12345678x", "role": "staff",
                                             "display_name": "Trần Minh", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and "ok=" not in r.headers["location"]  # the outcome is not in the URL...
    assert "Trần Minh" in client.get(r.headers["location"]).text
    with app.db.session() as s:
        acc = s.exec(select(StaffAccount).where(StaffAccount.username == "minh")).one()
        assert R.roles_of(s, acc.person_id) >= {R.STAFF} and R.ADMIN not in R.roles_of(s, acc.person_id)


def test_only_admins_create_accounts(client, app):
    make_account(app, "minh", "staff", name="Trần Minh")
    login(client, "minh")
    token = csrf_of(client.get("/admin/accounts").text)
    r = client.post("/admin/accounts", data={"username": "x-y-z", "password": "12345678x", "role": "admin",
                                             "csrf": token})
    assert r.status_code == 403


def test_outcome_messages_cannot_be_forged_by_a_link(client, app):
    """A link such as /admin/?err=<words> must not put someone else's words on staff pages; the
    outcome of a form is shown once, from a short-lived cookie the server set."""
    make_account(app)
    login(client)
    forged = "Phiên đã hết hạn, đăng nhập lại tại http://lua-dao.example"
    page = client.get("/admin/", params={"err": forged, "ok": forged})
    assert page.status_code == 200 and "lua-dao" not in page.text
    token = csrf_of(client.get("/admin/accounts").text)
    r = client.post("/admin/accounts", data={"username": "minh", "password": "12345678x", "role": "staff",
                                             "display_name": "Trần Minh", "csrf": token}, follow_redirects=False)
    shown = client.get(r.headers["location"]).text
    assert 'class="flash ok"' in shown
    assert 'class="flash ok"' not in client.get(r.headers["location"]).text  # once


def test_logout_ends_the_session(client, app):
    make_account(app)
    r = login(client)
    old = client.cookies.get("bo_session")
    token = csrf_of(client.get("/admin/").text)
    r = client.post("/admin/logout", data={"csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/login"
    assert client.get("/admin/", follow_redirects=False).status_code == 303
    # the old cookie replayed is dead too: the session ended in the database, not only in the browser
    client.cookies.set("bo_session", old, path="/admin")
    assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_session_expires(client, app):
    make_account(app)
    login(client)
    assert client.get("/admin/", follow_redirects=False).status_code == 200
    app.clock.advance(hours=13)
    assert client.get("/admin/", follow_redirects=False).status_code == 303


def test_next_must_stay_in_the_back_office(client, app):
    make_account(app)
    page = client.get("/admin/login?next=https://evil.example/x")
    r = client.post("/admin/login", data={"username": "lan", "password": PASSWORD, "csrf": csrf_of(page.text),
                                          "next": "//evil.example/x"}, follow_redirects=False)
    assert r.headers["location"] == "/admin/"


def test_linking_a_chat_identity_gives_one_set_of_roles(client, app):
    make_account(app, "minh", "staff", name="Trần Minh")
    login(client, "minh")
    page = client.get("/admin/accounts")
    acc_id = int(page.text.split('/admin/accounts/')[1].split('/link')[0])
    r = client.post(f"/admin/accounts/{acc_id}/link", data={"csrf": csrf_of(page.text)}, follow_redirects=True)
    code = r.text.split("/nhapma ")[1].split(" ")[0].strip(". <")
    chat = Chat(app, "tg-55", channel="telegram", name="Minh trên Telegram")
    assert "cán bộ" in chat.text(f"/nhapma {code}")
    client.get("/admin/")  # the next request notices the redeemed code
    with app.db.session() as s:
        acc = s.get(StaffAccount, acc_id)
        assert acc.link_code is None
        from bot.models import Person
        p = s.get(Person, acc.person_id)
        assert (p.channel, p.chat_id) == ("telegram", "tg-55")
        assert R.STAFF in R.roles_of(s, p.id)
    assert "Minh trên Telegram" in client.get("/admin/accounts").text


def test_cli_staff_add_reads_password_from_stdin(settings, tmp_path):
    env = bot_env(settings)
    run = subprocess.run([sys.executable, "-m", "bot", "staff", "add", "hoa", "--role", "staff", "--password-stdin"],
                         cwd=ROOT, env=env, input="mot-mat-khau-dai\n", capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "mot-mat-khau-dai" not in run.stdout + run.stderr
    short = subprocess.run([sys.executable, "-m", "bot", "staff", "add", "hoa2", "--role", "staff",
                            "--password-stdin"], cwd=ROOT, env=env, input="ngan\n", capture_output=True, text=True,
                           timeout=120)
    assert short.returncode == 1 and "ít nhất" in short.stderr
    from bot.db import Database
    db = Database(settings.database_url)
    with db.session() as s:
        acc = s.exec(select(StaffAccount).where(StaffAccount.username == "hoa")).one()
        assert auth.verify_password("mot-mat-khau-dai", acc.password_hash)
    db.dispose()


@pytest.mark.parametrize("trusted", [True, False])
def test_login_limit_per_address_behind_a_proxy(settings, trusted):
    """Behind the ward's TLS proxy every request comes from the proxy: the limit must count the
    address the proxy forwards, and only a trusted proxy's header may be believed (a real
    `serve`, as deployed; FORWARDED_ALLOW_IPS names the proxy)."""
    import httpx
    from tests.helpers import Server
    subprocess.run([sys.executable, "-m", "bot", "staff", "add", "lan", "--role", "admin", "--password-stdin"],
                   cwd=ROOT, env=bot_env(settings), input=PASSWORD + "\n", text=True, check=True, timeout=120)
    srv = Server(settings, FORWARDED_ALLOW_IPS="127.0.0.1" if trusted else "10.9.9.9").start()
    try:
        def client(addr):
            return httpx.Client(base_url=srv.url, headers={"X-Forwarded-For": addr}, timeout=30)
        with client("203.0.113.7") as guesser:
            for i in range(auth.MAX_FAILS_ADDRESS):
                assert login(guesser, username=f"khach{i}", password="sai-mat-khau").status_code == 401
            assert login(guesser).status_code == 429
        with client("203.0.113.8") as lan:
            # Trusted: another address is not held back by the guesser. Untrusted: the header is
            # ignored, so a guesser cannot dodge the limit by inventing addresses.
            assert login(lan).status_code == (303 if trusted else 429)
    finally:
        srv.stop()
