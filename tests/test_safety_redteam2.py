"""Attacks on session 4's changes (one conversation row per group member, the comment after a
rating and the answer to staff as Forms, KB sources with `via`): each test is one attack that
once worked."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot import texts
from bot.core import Location
from bot.models import Conversation
from handlers.reports.models import Report, ReportEvent
from tests.conftest import Chat
from tests.reports_helpers import FakeNLU, file_report, make_staff, outbox

NEAR = Location(16.0671, 108.2231)
UNIT = "-1001000000001"


@pytest.fixture
def app(make_app, understander):
    return make_app(understander=FakeNLU(understander))


class Member(Chat):
    def say(self, text=None, **kw):
        kw.setdefault("is_group", True)
        return super().say(text, **kw)


def _asked_in_group(app, clock, a: Chat, chat_id: str):
    a.say("/phananh")
    file_report(a, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff = make_staff(app, clock)
    staff.press("pa:ask:1")
    staff.say("Rác ở bên trái hay bên phải?")
    assert any("cần thêm thông tin" in m.payload["text"] for m in outbox(app, chat_id))
    return staff


def _answers(app):
    return [m.payload["text"].split("Thông tin bổ sung: ", 1)[1] for m in outbox(app, UNIT)
            if "Thông tin bổ sung: " in m.payload["text"]]


# --- a group message that names no member ------------------------------------------------------------
def test_a_zalo_group_message_without_a_sender_cannot_erase_the_groups_data(app, clock):
    """A Zalo update without `from` took the chat's id as the sender's: in a group, the group itself
    became a person, and its /xoadulieu redacted the group's id on a member's report and cancelled
    the staff question waiting to go to the group."""
    from dataclasses import replace
    from bot.channels.zalo import ZaloChannel
    group = "zg-7f3a9c21d4e5"
    a = Member(app, group, user_id="zu-a1b2c3d4", name="Anh A", channel="zalo")
    _asked_in_group(app, clock, a, group)
    app.settings = replace(app.settings, zalo_token="1:test")
    ch = ZaloChannel(app)
    for n, (event, chat) in enumerate([("/xoadulieu", {"id": group, "chat_type": "GROUP"}),
                                       ("/xoadulieu", {"id": group})]):
        upd = {"event_name": "message.text.received",
               "message": {"chat": chat, "message_id": f"x{n}", "text": event}}
        msg = ch.to_incoming(upd)
        assert msg.is_group
        assert texts.BAD_SENDER in [r.text for r in app.handle(msg)]
        msg.text, msg.button, msg.update_id = None, "erase:xoa", f"y{n}"
        assert "Đã xóa" not in " ".join(r.text for r in app.handle(msg))
    # chat_type missing, a member named: still a group member, never the group's own private chat
    upd = {"event_name": "message.text.received",
           "message": {"chat": {"id": group}, "from": {"id": "zu-b9"}, "message_id": "x9", "text": "chào"}}
    assert ch.to_incoming(upd).is_group
    # and the engine itself: a group "member" whose id is the group's is nobody
    assert Member(app, group, user_id=group, channel="zalo").text("/xoadulieu") == texts.BAD_SENDER
    with app.db.session() as s:
        assert [r.chat_id for r in s.exec(select(Report))] == [group]
    assert [m.status for m in outbox(app, group) if "cần thêm thông tin" in m.payload["text"]] == ["pending"]


# --- a staff question in a group is the asked member's alone ---------------------------------------
@pytest.mark.parametrize("channel", ["telegram", "zalo"])
def test_another_members_words_after_a_staff_question_in_a_group_are_theirs(app, clock, channel):
    """The typed route to staff (and the notice's numbered button) was the group's: the next text
    of any member went to 'Trả lời cán bộ', got 'Nút này không còn hiệu lực' instead of an answer,
    and used the route up, so the resident's own answer no longer reached staff."""
    group = "-100901" if channel == "telegram" else "zg-901abcdef"
    a = Member(app, group, user_id="ua", name="Anh A", channel=channel)
    b = Member(app, group, user_id="ub", name="Chị B", channel=channel)
    _asked_in_group(app, clock, a, group)
    for said in ("mấy giờ phường làm việc?", "1"):
        assert "không còn hiệu lực" not in b.text(said)
    assert "Đã chuyển" in a.text("Bên trái, cạnh cột điện")
    assert _answers(app) == ["Bên trái, cạnh cột điện"]


# --- long words for a person are taken whole or sent back, never cut --------------------------------
def test_a_long_rating_comment_is_sent_back_to_shorten_never_cut(app, clock):
    """The comment field took 4000 characters and kept the first 1000 ('Đã ghi nhận')."""
    res = Chat(app, "r1")
    staff = make_staff(app, clock)
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff.press("pa:res:1")
    staff.say("Đã thu gom")
    staff.press("pastaff:skip")
    res.press("parate:1:4")
    long = "Cán bộ làm nhanh nhưng còn sót túi rác ở góc. " * 30 + "HẾT"
    assert "rút gọn" in res.text(long)
    with app.db.session() as s:
        assert s.get(Report, 1).rating_comment is None
    assert "Đã ghi nhận" in res.text(long[:900])
    with app.db.session() as s:
        assert s.get(Report, 1).rating_comment == long[:900].strip()


def test_a_long_answer_kept_as_a_draft_reaches_staff_whole(app, clock):
    """A report-like answer to staff kept as a draft ('Trả lời cán bộ' / 'Phản ánh mới') was cut to
    2000 characters: pressing 'Trả lời cán bộ' sent staff only the first part."""
    from sqlmodel import delete
    from bot import options
    res = Chat(app, "r1")
    staff = make_staff(app, clock)
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff.press("pa:ask:1")
    staff.say("Bên nào?")
    with app.db.session() as s:  # the typed route used up or expired: the draft question asks
        s.exec(delete(options.PendingOption))
        s.commit()
    long = "Rác ở bên trái, cạnh cột điện, " + "túi rác nằm tràn ra lòng đường " * 80 + "HẾT"
    assert "trả lời cho cán bộ, hay một phản ánh mới" in res.text(long)
    assert "Đã chuyển" in res.text(button="pans:1")
    assert _answers(app) == [long]


# --- PostgreSQL: a group's messages are handled one at a time across workers ------------------------
def test_two_workers_take_a_groups_messages_one_at_a_time_on_postgresql(app):
    """With one conversation row per member, the row lock no longer covered the group: two staff in
    the unit's group pressing one report card's buttons on two workers ran side by side (two
    'accepted' events, two notices to the resident). A group is locked as a whole again."""
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session
    from bot.core import Incoming
    if app.db.engine.dialect.name != "postgresql":
        pytest.skip("row and advisory locks: PostgreSQL only (SQLite has one writer anyway)")
    a = Incoming(channel="telegram", chat_id="-100902", user_id="1", text="x", is_group=True)
    b = Incoming(channel="telegram", chat_id="-100902", user_id="2", text="y", is_group=True)
    other = Incoming(channel="telegram", chat_id="-100903", user_id="2", text="y", is_group=True)
    eng = app.engine
    with Session(app.db.engine) as s1, Session(app.db.engine) as s2:
        eng._conversation(s1, a, eng._person(s1, a))  # worker 1 is handling A's message
        s2.exec(text("SET lock_timeout = '200ms'"))
        eng._conversation(s2, other, eng._person(s2, other))  # another group: not held up
        s2.commit()
        s2.exec(text("SET lock_timeout = '200ms'"))
        with pytest.raises(OperationalError):  # worker 2, B's message in the same group: waits
            eng._conversation(s2, b, eng._person(s2, b))


# --- /xoadulieu and a group's old shared row ----------------------------------------------------------
def test_erasure_leaves_another_members_form_on_a_groups_old_shared_row(app):
    """A group's row from before one-row-per-member names whoever wrote first; their /xoadulieu
    deleted it with the form another member was filling in there."""
    a = Member(app, "-100904", user_id="ua", name="Anh A")
    b = Member(app, "-100904", user_id="ub", name="Chị B")
    a.say("xin chào")
    b.say("/phananh")
    b.say("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")
    with app.db.session() as s:  # as before migration 0110: one row, created by A, holding B's form
        rows = {c.member: c for c in s.exec(select(Conversation).where(Conversation.chat_id == "-100904"))}
        rows["ua"].flow, rows["ua"].step, rows["ua"].data = rows["ub"].flow, rows["ub"].step, dict(rows["ub"].data)
        rows["ua"].flow_owner_id, rows["ua"].member = rows["ub"].flow_owner_id, ""
        s.delete(rows["ub"])
        s.add(rows["ua"])
        s.commit()
    private = Chat(app, "ua", user_id="ua", name="Anh A")
    private.say("/xoadulieu")
    assert "Đã xóa" in private.text(button="erase:xoa")
    assert "ảnh" in b.text(button="phananh:catok")  # B's form goes on, on B's own row now


# --- a private report's staff question stays out of the resident's groups ----------------------------
def test_a_report_sent_privately_is_not_named_in_a_group_the_resident_writes_in(app, clock):
    """A staff question awaited on a report sent in a private chat turned the resident's next
    report-like message in any group into 'Cán bộ đang chờ bạn trả lời câu hỏi về phản ánh PA-...':
    the other members read the code, and the group report was not started."""
    res = Chat(app, "ua", user_id="ua", name="Anh A", channel="telegram")
    staff = make_staff(app, clock)
    file_report(res, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff.press("pa:ask:1")
    staff.say("Bên nào?")
    in_group = Member(app, "-100905", user_id="ua", name="Anh A", channel="telegram")
    out = in_group.text("Rác đổ đầy chân cầu Rồng mấy hôm nay, bốc mùi lắm")
    assert "PA-" not in out and "cán bộ" not in out.lower()
    assert "Đúng không" in out  # the group report starts
    assert "Đã chuyển" in res.text("Rác ở bên trái, cạnh cột điện, bốc mùi lắm")  # answered where asked


# --- Telegram service messages ------------------------------------------------------------------------
def test_a_member_joining_or_leaving_a_telegram_group_gets_no_answer(app):
    """Service messages come with the member as sender and no text: at every join, leave, pin or
    title change the bot said 'Mình chưa xem được loại tin nhắn này' to the whole group."""
    from dataclasses import replace
    from telegram import Update
    from bot.channels.telegram import UNSUPPORTED, TelegramChannel
    app.settings = replace(app.settings, telegram_token="123:test")
    ch = TelegramChannel(app)
    user = {"id": 1001, "is_bot": False, "first_name": "An"}
    chat = {"id": -100777, "type": "supergroup", "title": "Tổ dân phố 1"}
    for n, extra in enumerate(({"left_chat_member": user}, {"new_chat_members": [user]}, {"new_chat_title": "Tổ 1"},
                               {"pinned_message": {"message_id": 1, "date": 0, "chat": chat}})):
        data = {"update_id": n, "message": {"message_id": 10 + n, "date": 0, "chat": chat, "from": user, **extra}}
        assert ch.to_incoming(Update.de_json(data, ch.bot)) is None, extra
    voice = {"update_id": 9, "message": {"message_id": 20, "date": 0, "chat": chat, "from": user,
                                         "voice": {"file_id": "v", "file_unique_id": "v", "duration": 1}}}
    assert ch.to_incoming(Update.de_json(voice, ch.bot)).text == UNSUPPORTED  # a member's voice note: still told


# --- /xoadulieu in a group ------------------------------------------------------------------------------
def test_pressing_another_members_erase_button_in_a_group_erases_nobody(app):
    """'Xóa dữ liệu của tôi' under A's /xoadulieu is on everybody's screen in a group: B pressing it
    erased B's own data, without B ever asking."""
    from bot.models import Person
    a = Member(app, "-100906", user_id="ua", name="Anh A")
    b = Member(app, "-100906", user_id="ub", name="Chị B")
    b.say("xin chào")
    a.say("/xoadulieu")
    assert "/xoadulieu" in b.text(button="erase:xoa")
    with app.db.session() as s:
        assert s.exec(select(Person).where(Person.channel_user_id == "ub")).one().display_name == "Chị B"
    assert "Đã xóa" in a.text(button="erase:xoa")  # the one who asked confirms
    with app.db.session() as s:
        assert s.exec(select(Person).where(Person.channel_user_id == "ua")).first() is None
    b.say("/xoadulieu")
    assert "giữ nguyên" in b.text(button="erase:no")
    assert "/xoadulieu" in b.text(button="erase:xoa")  # answered already: asks again first


def test_another_members_typed_rating_in_a_group_leaves_the_rating_request_alone(app, clock):
    """The rating request of a report sent from a group: another member's "5" was taken as its
    button, answered 'Nút này không còn hiệu lực' and used up the request for the resident."""
    a = Member(app, "-100907", user_id="ua", name="Anh A", channel="zalo")
    b = Member(app, "-100907", user_id="ub", name="Chị B", channel="zalo")
    a.say("/phananh")
    file_report(a, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    staff = make_staff(app, clock)
    staff.press("pa:res:1")
    staff.say("Đã thu gom")
    staff.press("pastaff:skip")
    assert any("đánh giá" in m.payload["text"].lower() for m in outbox(app, "-100907"))
    assert "không còn hiệu lực" not in b.text("5")
    assert "góp ý thêm" in a.text("5")
    with app.db.session() as s:
        assert s.get(Report, 1).rating == 5


# --- ids that cleaning would change ---------------------------------------------------------------------
def test_an_id_with_control_characters_is_nobody_never_the_member_it_cleans_to(app):
    """Ids lost their control characters before use: an update from 'ua\\x00' in a group was member
    'ua', and went on A's report form; a chat id '-100908\\x07' was the group '-100908'."""
    a = Member(app, "-100908", user_id="ua", name="Anh A")
    a.say("/phananh")
    for chat_id, user_id in (("-100908", "ua\x00"), ("-100908", "u\u200ba"[:1] + "\x07a"), ("-100908\x07", "ua")):
        m = Member(app, chat_id, user_id=user_id, name="Kẻ mạo danh")
        assert m.text("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay") == texts.BAD_SENDER
        assert m.text(button="phananh:cancel") == texts.BAD_SENDER
    with app.db.session() as s:
        conv = s.exec(select(Conversation).where(Conversation.chat_id == "-100908")).one()
        assert conv.flow == "phananh" and not conv.data.get("desc")
    assert "Đúng không" in a.text("Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay")


def test_a_members_erasure_leaves_the_groups_id_on_everybody_elses_records(app):
    """A person first seen in a group has the group's id as chat_id, and /xoadulieu redacted it
    everywhere: the other members' reports from the group lost their chat (no more news), their
    forms their row, and a second erasure in the group crashed on the rows already renamed."""
    a = Member(app, "-100909", user_id="ua", name="Anh A")
    b = Member(app, "-100909", user_id="ub", name="Chị B")
    c = Member(app, "-100909", user_id="uc", name="Cô C")
    a.say("xin chào")
    b.say("/phananh")
    file_report(b, "Rác chất đống ở đầu kiệt 45 Lê Lợi", location=NEAR)
    c.say("/phananh")
    c.say("Đèn đường hỏng cả dãy ở kiệt 12 Trần Phú tối om")
    a.say("/xoadulieu")
    assert "Đã xóa" in a.text(button="erase:xoa")
    with app.db.session() as s:
        assert [r.chat_id for r in s.exec(select(Report))] == ["-100909"]
        assert {x.member for x in s.exec(select(Conversation).where(Conversation.chat_id == "-100909"))} == {"ub", "uc"}
    assert "ảnh" in c.text("đúng")  # C's form goes on
    b.say("/xoadulieu")
    assert "Đã xóa" in b.text(button="erase:xoa")  # a second erasure in the group: no crash


# --- random scripts of three members in two groups and in private -------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_members_words_never_reach_another_member(app, clock, seed):
    """Three members, two groups and private chats, forms, staff questions, ratings, erasures and
    stray buttons at random (fixed seeds): no internal error, and what one member typed (tagged
    MK<member>) is never in another member's replies nor in another member's conversation row, and
    no erasure renames a chat (the group-id redaction above failed it)."""
    import json
    import random
    rnd = random.Random(seed)
    groups = {"-100960": "ABC", "-100961": "AB"}
    chats = {(g, k): Member(app, g, user_id=f"u{k}", name=f"Người {k}") for g, ks in groups.items() for k in ks}
    chats |= {("", k): Chat(app, f"u{k}", user_id=f"u{k}", name=f"Người {k}") for k in "AC"}
    staff = make_staff(app, clock)
    typed = ["Rác đổ bừa bãi ở đầu kiệt 45 Lê Lợi mấy hôm nay MK{k}", "đúng", "1", "2", "5", "tiếp tục", "thôi",
             "/huy", "/phananh", "/phananh Đèn đường hỏng ở kiệt 12 MK{k}", "Kiệt 45 Lê Lợi MK{k}", "bỏ qua",
             "cho hỏi làm căn cước ở đâu", "0905123456", "/xoadulieu", "/tinhtrang", "Bên trái MK{k}", "xin chào"]
    pressed = ["phananh:catok", "phananh:photodone", "phananh:grp:tdp-01", "phananh:chatonly", "phananh:pub:no",
               "phananh:send", "fres:phananh", "fdrop:phananh", "fres:painfo", "fdrop:painfo", "pareply:1",
               "parate:1:4", "pans:1", "panew:1", "padraft:1", "erase:no", "erase:xoa", "parating:skip"]
    keys = list(chats)
    for step in range(300):
        where, k = rnd.choice(keys)
        if rnd.random() < 0.6:
            said = rnd.choice(typed).format(k=k)
            out = chats[(where, k)].say(said)
            if said == "/xoadulieu" and rnd.random() < 0.5:  # and confirmed at once
                out = chats[(where, k)].say(button="erase:xoa")
        else:
            out = chats[(where, k)].say(button=rnd.choice(pressed))
        assert texts.INTERNAL_ERROR not in [r.text for r in out], step
        assert not [r.text for r in out if any(f"MK{o}" in r.text for o in "ABC" if o != k)], step
        if step % 40 == 5:
            staff.press("pa:ask:1")
            staff.say("Bên nào?")
        if step % 60 == 7:
            staff.press("pa:res:1")
            staff.say("Đã xong")
            staff.press("pastaff:skip")
        with app.db.session() as s:
            for c in s.exec(select(Conversation)):
                assert "[đã xóa]" not in c.chat_id, (step, c.member)  # a chat is never renamed
                owner = (c.member or c.chat_id)
                if owner.startswith("u"):
                    blob = json.dumps(c.data, ensure_ascii=False)
                    assert not [o for o in "ABC" if o != owner[-1] and f"MK{o}" in blob], (step, owner, blob[:200])


def test_tinhtrang_in_a_group_shows_only_that_groups_reports(app, clock):
    """/tinhtrang in a group listed the resident's private reports to every member, and
    /tinhtrang CODE showed what they wrote and where."""
    res = Chat(app, "ua", user_id="ua", name="Anh A", channel="telegram")
    file_report(res, "Rác chất đống trước nhà số 7 ngõ 3 Lê Lợi", location=NEAR)
    in_group = Member(app, "-100910", user_id="ua", name="Anh A", channel="telegram")
    assert "PA-2026-000001" not in in_group.text("/tinhtrang")
    out = in_group.text("/tinhtrang PA-2026-000001")
    assert "Trạng thái" in out and "nhà số 7" not in out
    assert "nhà số 7" in res.text("/tinhtrang PA-2026-000001")  # in private, all of it
    in_group.say("/phananh")
    file_report(in_group, "Rác đổ đầy chân cầu Rồng mấy hôm nay", address="Chân cầu Rồng")
    listed = in_group.text("/tinhtrang")
    assert "PA-2026-000002" in listed and "PA-2026-000001" not in listed
    assert "chân cầu Rồng" in in_group.text("/tinhtrang PA-2026-000002")
