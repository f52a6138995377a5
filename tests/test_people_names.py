"""Issue 12 point 6 (display side): staff see names, not "Người dân #96" / "Thành viên #93".
One helper (bot.people.person_label); team members are asked their full name once on joining."""
from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import select

from bot import roles as R
from bot.models import Person
from bot.people import clean_full_name, person_label
from handlers.teams import report as REP
from handlers.teams.models import TeamSession
from tests.admin_helpers import login, make_account
from tests.conftest import Chat


def _person(app, chat_id) -> Person:
    with app.db.session() as s:
        return s.exec(select(Person).where(Person.chat_id == chat_id)).one()


def _join(app, chat: Chat, role=R.TEAM_MEMBER, group="tdp-01") -> list:
    chat.say("/start")
    with app.db.session() as s:
        code = R.create_invite(s, role, app.clock.now(), group_code=group).code
    return chat.say(f"/nhapma {code}")


def test_person_label_prefers_the_given_name_and_numbers_last():
    p = Person(id=96, channel="web", channel_user_id="x", chat_id="x")
    assert person_label(p) == "Người dân #96" and person_label(p, "Thành viên") == "Thành viên #96"
    p.display_name = "  Hoa   Lê "
    assert person_label(p) == "Hoa Lê"
    p.full_name = "Lê Thị Hoa"
    assert person_label(p) == "Lê Thị Hoa"
    assert person_label(None, person_id=5) == "Người dân #5" and person_label(None) == "(không rõ)"
    assert clean_full_name("nguyễn  thị hoa") == "Nguyễn Thị Hoa"
    for bad in ("0905123456", "làm căn cước ở đâu?", "", "a b c d e f g h"):
        assert clean_full_name(bad) is None, bad


def test_a_new_member_is_asked_once_and_the_name_shows_in_team_lists_and_the_xlsx(app):
    member = Chat(app, "m1", name=None)  # a channel that gives no display name
    replies = _join(app, member)
    assert "họ tên đầy đủ" in replies[-1].text and [b.data for b in replies[-1].buttons] == ["tname:skip"]
    assert "Cảm ơn Trần Thị Mai" in member.text("trần thị mai")
    assert _person(app, "m1").full_name == "Trần Thị Mai"
    # shown where staff and the leader look
    staff = Chat(app, "s1", name="Cán bộ Lan")
    _join(app, staff, R.STAFF, None)
    assert "Trần Thị Mai" in staff.text("/doi tdp-01")
    summary = member.text("/ghinhan gõ cửa 5 hộ, 2 vneid")
    assert "Thành viên đi: Trần Thị Mai" in summary
    member.press("ghinhan:save")
    with app.db.session() as s:
        row = s.exec(select(TeamSession)).one()
        row.difficulties = "Thiếu mạng"
        s.add(row)
        s.commit()
        data = REP.build(app, s, 2026, 4, "tdp-01")
    assert data.notes[0][2] == "Trần Thị Mai"
    # asked once: a second team role does not ask again; /hoten corrects it
    assert "họ tên đầy đủ" not in " ".join(r.text for r in _join(app, member, R.TEAM_LEADER))
    assert "Lê Thị Mai" in member.text("/hoten lê thị mai")
    assert "chỉ gồm chữ" in member.text("/hoten 0905123456")
    assert _person(app, "m1").full_name == "Lê Thị Mai"


def test_the_question_never_swallows_other_messages(app):
    member = Chat(app, "m2", name="Hoa")
    replies = _join(app, member)
    assert [b.data for b in replies[-1].buttons] == ["tname:use", "tname:skip"]
    out = member.text("hôm nay gõ cửa 12 hộ, kích hoạt 5 vneid")  # a session typed straight away
    assert "Tóm tắt buổi hỗ trợ" in out and _person(app, "m2").full_name is None
    member.say("/huy")
    member.say("Nguyễn Thị Hoa")
    assert _person(app, "m2").full_name is None  # the question was dropped, not asked again

    other = Chat(app, "m3", name="Bé Na")
    _join(app, other)
    other.say("cảm ơn nhiều")  # not a name
    assert _person(app, "m3").full_name is None
    other.press("tname:skip")  # skipped: recorded as "" and never asked again
    assert _person(app, "m3").full_name == ""
    assert "họ tên đầy đủ" not in " ".join(r.text for r in _join(app, other, R.TEAM_LEADER))
    other2 = Chat(app, "m4", name="Bé Na")
    _join(app, other2)
    assert "Cảm ơn Bé Na" in other2.text(button="tname:use")
    assert _person(app, "m4").full_name == "Bé Na"


def test_erasure_forgets_the_full_name(app):
    from handlers.basic import ERASE_CONFIRM
    member = Chat(app, "m5", name=None)
    _join(app, member)
    member.say("Phạm Văn Đức")
    pid = _person(app, "m5").id
    assert _person(app, "m5").full_name == "Phạm Văn Đức"
    member.say("/xoadulieu")
    assert "Đã xóa" in member.text(button=f"erase:{ERASE_CONFIRM}")
    with app.db.session() as s:
        p = s.get(Person, pid)
        assert p.full_name is None and p.display_name is None


def test_back_office_report_page_names_the_resident_who_rated(app, clock):
    from handlers.reports import service as RS
    from handlers.reports.models import RESOLVED
    make_account(app)
    res = Chat(app, "r1", name=None)
    res.say("/start")
    with app.db.session() as s:
        person = s.exec(select(Person).where(Person.chat_id == "r1")).one()
        r = RS.create_report(app, s, clock.now(), category="rac-thai", description="Rác đổ trộm đầu kiệt",
                             address="kiệt 9 Lê Lợi", person=person, channel="web", chat_id="r1")
        RS.transition(app, s, clock.now(), r, RESOLVED, None, "test", note="đã dọn")
        s.commit()
        rid, pid = r.id, person.id
    res.press(f"parate:{rid}:5")
    from bot.server import create_api
    with TestClient(create_api(app, background=False)) as c:
        login(c)
        assert f"Người dân #{pid}" in c.get(f"/admin/reports/{rid}").text  # no name known: the last resort
        with app.db.session() as s:
            p = s.get(Person, pid)
            p.full_name = "Võ Thị Sáu"
            s.add(p)
            s.commit()
        page = c.get(f"/admin/reports/{rid}").text
        assert "Võ Thị Sáu" in page and f"Người dân #{pid}" not in page
