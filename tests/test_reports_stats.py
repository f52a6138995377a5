"""Staff figures (/thongke) and the provider the teams' quarterly report reads."""
from __future__ import annotations

from datetime import datetime

import pytest

from bot import stats
from bot.core import Location
from scheduler.core import run_due
from tests.conftest import Chat
from tests.reports_helpers import FakeNLU, file_report, make_staff

NEAR = Location(16.0671, 108.2231)


@pytest.fixture
def app(make_app, understander):
    return make_app(understander=FakeNLU(understander))


def _resolve(staff, rid, note="Đã xử lý"):
    staff.press(f"pa:res:{rid}")
    staff.say(note)
    staff.press("pastaff:skip")


def test_figures_for_staff_and_the_quarterly_report(app, clock):
    staff = make_staff(app, clock)
    staff.say("/ghiphananh 1022 | rac-thai | tdp-02 | 7 Bạch Đằng | Rác tràn ra đường")  # 1: resolved in 6 h
    staff.say("/ghiphananh hop | chieu-sang | tdp-02 | 9 Hùng Vương | Đèn đường hỏng cả dãy")  # 2: will be late
    staff.say("/ghiphananh 1022 | tieng-on | tdp-04 | 3 Lê Duẩn | Karaoke ồn ào quá")  # 3: rejected
    file_report(Chat(app, "r1"), "Rác chất đống ở 7 Bạch Đằng", address="7 Bạch Đằng")  # 4: duplicate of 1
    clock.advance(hours=6)
    staff.press("pa:acc:1")
    _resolve(staff, 1)
    staff.press("pa:rej:3")
    staff.say("Đã kiểm tra, không có tiếng ồn vượt mức")
    clock.advance(days=7)  # chieu-sang: 72 h to accept, 144 h to resolve -> escalated
    run_due(app, prefix="report:")
    out = staff.text("/thongke")
    assert "Đang mở: 1, trong đó quá hạn: 1" in out
    assert "quý 4/2026: 1" in out and "trung vị: 6.0 giờ" in out
    assert "Đèn đường" in out and "Công an phường" in out and "PA-2026-000002" in out

    start, end = datetime(2026, 10, 1, tzinfo=clock.local().tzinfo), datetime(2027, 1, 1, tzinfo=clock.local().tzinfo)
    with app.db.session() as s:
        ward = stats.collect(s, start, end)
        tdp2 = stats.collect(s, start, end, "tdp-02")
        tdp4 = stats.collect(s, start, end, "tdp-04")
        earlier = stats.collect(s, datetime(2026, 7, 1, tzinfo=start.tzinfo), start)
    assert {k: ward[k] for k in ("reports_received", "reports_resolved", "reports_overdue")} == {
        "reports_received": 3, "reports_resolved": 1, "reports_overdue": 1}  # the duplicate counts once
    assert (tdp2["reports_received"], tdp2["reports_resolved"], tdp2["reports_overdue"]) == (2, 1, 1)
    assert (tdp4["reports_received"], tdp4["reports_resolved"], tdp4["reports_overdue"]) == (1, 0, 0)
    assert earlier["reports_received"] == 0
    assert stats.LABELS["reports_overdue"] == "Phản ánh quá hạn"


def test_figures_when_there_is_nothing(app, clock):
    staff = make_staff(app, clock)
    out = staff.text("/thongke")
    assert "Đang mở: 0" in out and "chưa có" in out
