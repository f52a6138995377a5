"""The class API over real HTTP (`python -m bot serve`): a staff token from chat, a draft with its
preview, confirm, and the report; residents opt in through the same server's chat API."""
from __future__ import annotations

import re

from datetime import datetime, timedelta, timezone

import httpx
from sqlmodel import create_engine, select, Session

from bot import roles as R
from bot.clock import to_local
from bot.config import ROOT
from bot.models import OutboxMessage, Person
from tests.helpers import Server


def test_staff_token_draft_preview_confirm_and_report(settings, tmp_path):
    # The server runs on the real clock: without quiet hours, the notices it sends do not wait
    # for 06:00 when the suite runs late in the evening (Vietnam time).
    profile = tmp_path / "ward.yaml"
    profile.write_text(re.sub(r"(?m)^quiet_hours:.*$", 'quiet_hours: {start: "00:00", end: "00:00"}',
                              (ROOT / "knowledge" / "ward.yaml").read_text(encoding="utf-8")), encoding="utf-8")
    srv = Server(settings, WARD_PROFILE=profile).start()
    try:
        for cid, grp in (("r-1", "tdp-01"), ("r-2", "tdp-01"), ("r-3", "tdp-02")):
            srv.post(cid, "/dangky")
            srv.post(cid, button=f"bsub:g:{grp}")
            assert "Đã đăng ký" in srv.texts(cid, button="bsub:done")
        assert "dành cho cán bộ" in srv.texts("staff-web", "/tokenapi")
        eng = create_engine(settings.database_url)
        with Session(eng) as s:
            p = s.exec(select(Person).where(Person.chat_id == srv.chat_id("staff-web"))).one()
            R.grant(s, p, R.STAFF, datetime.now(timezone.utc))
            s.commit()
        out = srv.texts("staff-web", "/tokenapi")
        token = next(line for line in out.splitlines() if line.startswith("tk_"))
        api = srv.url + "/api/classes"
        start = (to_local(datetime.now(timezone.utc)) + timedelta(days=5)).replace(hour=8, minute=0)
        body = {"topic": "vneid", "starts_at": start.strftime("%Y-%m-%dT%H:%M"), "repeat": {"weeks": 3},
                "cultural_house": "tdp-01", "capacity": 20, "audience": {"team": "tdp-01"}}

        r = httpx.post(api, json=body)
        assert r.status_code == 401 and "Bearer" in r.json()["error"]
        r = httpx.post(api, json=body, headers={"Authorization": "Bearer tk_wrong"})
        assert r.status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(api, json={**body, "capacity": 0}, headers=auth)
        assert r.status_code == 400 and "Số chỗ" in r.json()["error"]
        r = httpx.post(api, json={**body, "topic": "nau-an"}, headers=auth)
        assert r.status_code == 400 and "Chủ đề" in r.json()["error"]
        r = httpx.post(api, content=b"{oops", headers={**auth, "content-type": "application/json"})
        assert r.status_code == 400

        r = httpx.post(api, json=body, headers=auth)
        assert r.status_code == 201, r.text
        draft = r.json()
        assert draft["status"] == "draft" and draft["recipients"] == 2 and len(draft["occurrences"]) == 3
        assert "Nhà sinh hoạt cộng đồng tổ 1" in draft["preview"] and "(2 người)" in draft["preview"]
        with Session(eng) as s:
            assert s.exec(select(OutboxMessage).where(OutboxMessage.kind == "broadcast")).all() == []

        r = httpx.post(srv.url + draft["confirm_url"], headers=auth)
        assert r.status_code == 200 and r.json()["enqueued"] == 2 and r.json()["status"] == "published"
        assert httpx.post(srv.url + draft["confirm_url"], headers=auth).status_code == 409
        with Session(eng) as s:
            rows = s.exec(select(OutboxMessage).where(OutboxMessage.kind == "broadcast")).all()
            assert sorted(x.chat_id for x in rows) == sorted([srv.chat_id("r-1"), srv.chat_id("r-2")])
            occ1 = draft["occurrences"][0]["id"]
        assert "Đã giữ chỗ" in srv.texts("r-1", button=f"lop:y:{occ1}")
        rep = httpx.get(f"{api}/{draft['id']}", headers=auth).json()
        assert rep["occurrences"][0]["going"] == 1 and rep["delivery"]["signups"] == 1
        # The web chat has no push: its notices wait to be pulled, and that counts as sent.
        notes = srv.notifications("r-2")
        assert any("Bình dân học vụ số" in n["text"] for n in notes)
        assert httpx.get(f"{api}/{draft['id']}", headers=auth).json()["delivery"]["sent"] == 1

        r = httpx.get(f"{api}/abc", headers=auth)
        assert r.status_code == 404 and "Không tìm thấy" in r.json()["error"]
        assert "thu hồi 1" in srv.texts("staff-web", "/tokenapi huy")
        assert httpx.get(f"{api}/{draft['id']}", headers=auth).status_code == 401
        eng.dispose()
    finally:
        srv.stop()
