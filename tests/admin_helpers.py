"""Back-office test helpers: accounts, logging in through the real form, CSRF tokens from pages."""
from __future__ import annotations

import re

from bot.webadmin import auth

PASSWORD = "mat-khau-dung-1"


def make_account(app, username="lan", role="admin", password=PASSWORD, name="Nguyễn Thị Lan"):
    with app.db.session() as s:
        acc = auth.create_account(s, username, password, role, app.clock.now(), display_name=name)
        return acc.id, acc.person_id


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def login(client, username="lan", password=PASSWORD, follow=False):
    page = client.get("/admin/login")
    assert page.status_code == 200
    return client.post("/admin/login", data={"username": username, "password": password, "csrf": csrf_of(page.text),
                                              "next": "/admin/"}, follow_redirects=follow)
