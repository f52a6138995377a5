"""Issue 12 point 7: a session logged after the team submitted its quarter is kept and flagged
`late`, the member is told plainly, the leader decides (reopen the quarter or leave it); never a
loop. The flag shows in /buoicuatoi, the report text, the XLSX and the back office."""
from __future__ import annotations

import pytest
from sqlmodel import select

from bot import roles as R
from bot.models import AuditEvent, OutboxMessage
from handlers.teams import report as REP
from handlers.teams.models import TeamSession, TeamSubmission
from tests.conftest import Chat
from tests.teams_helpers import enrol

# The clock fixture: Monday 23/11/2026 09:00 in Da Nang, quarter IV.


@pytest.fixture
def team(app):
    leader = enrol(app, "l1", R.TEAM_LEADER, "tdp-01", name="Tổ trưởng Hải")
    member = enrol(app, "m1", R.TEAM_MEMBER, "tdp-01", name="Lê Thị Hoa")
    member.say("/ghinhan gõ cửa 10 hộ, 4 vneid")
    assert "Đã lưu" in member.text(button="ghinhan:save")
    leader.press("tsubmit:ask:tdp-01:2026-4")
    assert "Đã nộp" in leader.text(button="tsubmit:do:tdp-01:2026-4")
    return leader, member


def _sessions(app) -> list[TeamSession]:
    with app.db.session() as s:
        return list(s.exec(select(TeamSession).order_by(TeamSession.id)))


def _outbox(app, chat_id) -> list[dict]:
    with app.db.session() as s:
        return [m.payload for m in s.exec(select(OutboxMessage).where(OutboxMessage.chat_id == chat_id)
                                          .order_by(OutboxMessage.id))]


def _figures(app):
    with app.db.session() as s:
        return REP.build(app, s, 2026, 4, "tdp-01")


def test_a_late_session_is_kept_flagged_and_the_leader_reopens_by_typing(app, team):
    leader, member = team
    # the whole form: told up front, then it goes on to the end (no loop, no /huy)
    out = member.text("/ghinhan")
    assert "vẫn được ghi nhận" in out and "tổ trưởng sẽ quyết định" in out.lower()
    member.press("ghinhan:today")
    member.press("ghinhan:place-cultural")
    for n in ("6", "8", "2", "0"):
        member.say(n)
    member.press("ghinhan:acts-done")
    member.press("ghinhan:m-done")
    member.press("ghinhan:none")
    summary = member.text(button="ghinhan:none")
    assert "Tóm tắt buổi hỗ trợ" in summary and "ghi sau khi nộp" in summary
    saved = member.text(button="ghinhan:save")
    assert "Đã lưu buổi hỗ trợ" in saved and "báo tổ trưởng" in saved
    late = _sessions(app)[-1]
    assert late.late and not _sessions(app)[0].late
    assert "(ghi sau khi nộp, chờ tổ trưởng)" in member.text("/buoicuatoi")
    # not counted while the quarter stays submitted; shown as pending
    data = _figures(app)
    assert data.q_figs["tdp-01"]["sessions"] == 1 and data.late == {"tdp-01": 1}
    assert "1 buổi ghi sau khi tổ đã nộp" in REP.short_text(data)
    # the leader is asked, with options that can be typed
    notice = _outbox(app, "l1")[-1]
    assert "Lê Thị Hoa" in notice["text"] and "8 người" in notice["text"]
    assert [b["data"] for b in notice["buttons"]] == ["tlate:open:tdp-01:2026-4", "tlate:keep:tdp-01:2026-4"]
    assert "Chỉ tổ trưởng" in member.text(button="tlate:open:tdp-01:2026-4")
    out = leader.text("mở lại")
    assert "Đã mở lại báo cáo quý IV/2026" in out and "1 buổi" in out
    with app.db.session() as s:
        assert s.exec(select(TeamSubmission)).all() == []
        ev = s.exec(select(AuditEvent).where(AuditEvent.action == "team_report_reopened")).one()
        assert ev.detail["late_sessions"] == [late.id] and ev.detail["via"] == "late_session"
    data = _figures(app)
    assert data.q_figs["tdp-01"]["sessions"] == 2 and data.q_figs["tdp-01"]["people"] == 8 + 4 and not data.late
    assert "mở lại báo cáo" in _outbox(app, app.profile.staff_chat.chat_id)[-1]["text"]
    assert "đang mở rồi" in leader.text(button="tlate:open:tdp-01:2026-4")
    # the leader submits again, with the late session counted
    leader.press("tsubmit:ask:tdp-01:2026-4")
    assert "Đã nộp" in leader.text(button="tsubmit:do:tdp-01:2026-4")


def test_the_leader_keeps_the_report_and_the_xlsx_shows_the_flag(app, team):
    from openpyxl import load_workbook
    leader, member = team
    member.say("/ghinhan gõ cửa 3 hộ, 2 vneid")
    assert "ghi sau khi nộp" in member.text(button="ghinhan:save")
    assert "giữ nguyên" in leader.text("Giữ nguyên")
    with app.db.session() as s:
        assert len(s.exec(select(TeamSubmission)).all()) == 1
        _, xlsx, _ = REP.generate(app, s, 2026, 4, None)
    ws = load_workbook(xlsx)["Tình trạng nộp"]
    assert ws.cell(row=3, column=7).value == REP.LATE_LABEL
    row = next(r for r in range(4, ws.max_row + 1) if ws.cell(row=r, column=1).value == "Tổ dân phố 1")
    assert ws.cell(row=row, column=6).value == 1 and ws.cell(row=row, column=7).value == 1


def test_the_leader_logging_late_is_asked_at_once_and_a_sent_ward_report_stays(app, team):
    leader, _ = team
    leader.say("/ghinhan gõ cửa 3 hộ, 2 vneid")
    replies = leader.say(button="ghinhan:save")
    assert "Bạn là tổ trưởng" in replies[-1].text
    assert [b.data for b in replies[-1].buttons] == ["tlate:open:tdp-01:2026-4", "tlate:keep:tdp-01:2026-4"]
    staff = enrol(app, "s1", R.STAFF)
    staff.say("/danop 4/2026")  # the ward already sent the quarter to the Department
    assert "báo cán bộ phường" in leader.text(button="tlate:open:tdp-01:2026-4")
    assert _sessions(app)[-1].late
    # staff still can (/mokhoa), and the late session then counts
    assert "Đã mở lại" in staff.text("/mokhoa tdp-01 4/2026")
    assert not _sessions(app)[-1].late


def test_forged_late_buttons(app, team):
    leader, _ = team
    for data in ("tlate:open:tdp-99:2026-4", "tlate:open:tdp-01:²", "tlate:x:tdp-01:2026-4", "tlate:open:tdp-01:2026-0"):
        assert "hết hiệu lực" in leader.text(button=data), data
    assert "Chỉ tổ trưởng" in Chat(app, "r1").text(button="tlate:open:tdp-01:2026-4")


def test_late_session_on_zalo_the_leader_types_1(make_app, settings, clock):
    from tests.channel_helpers import Running
    from tests.emulators.zalo import ZaloEmulator
    zl = ZaloEmulator().start()
    try:
        with Running(make_app, settings, zalo=zl) as run:
            app = run.app

            def say(chat, text, needle):
                import time
                before = len(zl.sent(chat))
                zl.text(chat, text)
                deadline = time.time() + 20
                while time.time() < deadline:  # replies may arrive as several messages
                    got = "\n".join(zl.texts(chat)[before:])
                    if needle in got:
                        time.sleep(0.3)  # the rest of this answer
                        return "\n".join(zl.texts(chat)[before:])
                    time.sleep(0.05)
                raise AssertionError(f"{needle!r} not in {zl.texts(chat)[before:]}")
            for chat, role in (("zl-lead", R.TEAM_LEADER), ("zl-mem", R.TEAM_MEMBER)):
                with app.db.session() as s:
                    code = R.create_invite(s, role, clock.now(), group_code="tdp-01").code
                    s.commit()
                say(chat, f"/nhapma {code}", "họ tên đầy đủ")
            say("zl-mem", "trần thị mai", "Cảm ơn Trần Thị Mai")  # asked once on joining (point 6)
            say("zl-lead", "/nopbaocao", "Xác nhận nộp")
            say("zl-lead", "1", "Đã nộp")
            say("zl-mem", "/ghinhan gõ cửa 5 hộ, 2 vneid", "ghi sau khi nộp")
            say("zl-mem", "1", "báo tổ trưởng")
            app.wake_outbox()
            import time
            deadline = time.time() + 20
            while time.time() < deadline and not any("Mở lại báo cáo quý" in t for t in zl.texts("zl-lead")):
                time.sleep(0.05)
            assert "Mở lại báo cáo quý" in zl.texts("zl-lead")[-1] and "Trần Thị Mai" in zl.texts("zl-lead")[-1]
            say("zl-lead", "1", "Đã mở lại báo cáo quý IV/2026")
            with app.db.session() as s:
                assert not s.exec(select(TeamSession)).one().late
                assert s.exec(select(TeamSubmission)).all() == []
    finally:
        zl.stop()


@pytest.mark.parametrize("typed", ["báo cáo", "báo cáo quý", "quý", "lại"])
def test_a_word_of_the_notice_does_not_reopen_the_quarter(app, team, typed):
    """Days after the late-session notice, a leader typing "báo cáo" (asking about the report)
    reopened the submitted quarter: every typed word is in "Mở lại báo cáo quý". A notice's button
    is taken from loose words only when they include the label's first word (its verb)."""
    leader, member = team
    member.say("/ghinhan gõ cửa 3 hộ, 2 vneid")
    assert "ghi sau khi nộp" in member.text(button="ghinhan:save")
    assert "Đã mở lại" not in leader.text(typed)
    with app.db.session() as s:
        assert len(s.exec(select(TeamSubmission)).all()) == 1
