"""Safety inside the engine (issue 10): strict ids, clean input, quarantine of poison updates,
forms that belong to whoever started them, one-time invites, complete erasure, and retries that
get the original answer. Real database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set)."""
from __future__ import annotations

import json
import threading

import pytest
from sqlmodel import SQLModel, select

from bot import roles as R
from bot import texts
from bot.ids import digits_of, parse_id, parse_int
from bot.models import Conversation, Invite, Person, ProcessedUpdate, RoleGrant, UpdateAttempt
from tests.conftest import Chat


def person_of(app, chat: Chat) -> Person:
    with app.db.session() as s:
        return s.exec(select(Person).where(Person.channel == chat.channel,
                                           Person.channel_user_id == chat.user_id)).one()


def with_role(app, chat: Chat, role: str, group: str | None = None) -> Chat:
    chat.say("/start")
    with app.db.session() as s:
        code = R.create_invite(s, role, app.clock.now(), group_code=group).code
    assert "Chào mừng" in chat.text(f"/nhapma {code}")
    return chat


class GroupMember(Chat):
    """A member of a group chat: one chat id, several people."""

    def __init__(self, app, user_id, name, chat_id="-100777"):
        super().__init__(app, chat_id=chat_id, user_id=user_id, name=name)

    def say(self, text=None, **kw):
        kw.setdefault("is_group", True)
        return super().say(text, **kw)


# --- ids ------------------------------------------------------------------------------------------
def test_parse_id_takes_ascii_digits_only_with_a_length_cap():
    assert parse_id("12") == 12 and parse_id(" 7 ") == 7 and parse_id("0") == 0
    for bad in ("²", "1²", "٣", "１２", "-1", "+1", "1_000", "1.0", "", " ", "9" * 10, "9" * 19, None, 12):
        assert parse_id(bad) is None, bad
    assert parse_id("9" * 9) == int("9" * 9) and parse_id("9" * 10) is None  # 32-bit INTEGER ids
    assert parse_int("5", 1, 5) == 5 and parse_int("6", 1, 5) is None and parse_int("9" * 40, 1, 5) is None
    assert digits_of("0905 ²111-222٣") == "0905111222"


def test_unicode_digits_and_huge_ids_never_end_in_the_internal_error(app, clock):
    staff = with_role(app, Chat(app, "staff-ids", name="Cán bộ Hùng"), R.ADMIN)
    resident = Chat(app, "res-ids", name="Lê Văn Tư")
    resident.say("/start")
    huge = "9" * 25
    staff_inputs = [f"/traloi ² x", f"/traloi {huge} trả lời", "/traloi #² x", f"/dangkylop {huge}",
                    "/dangkylop ²", "/diemdanh ²", "/diemdanh 1 ² 3", f"/diemdanh 1 1 {huge}", "/baocaogui ²",
                    "/xoathanhvien ²", f"/xoathanhvien {huge}", "/chuyendoi ² tdp-01", "/danop nam ²",
                    f"/danop nam {huge}", "/tinhtrang ²", f"/tinhtrang {huge}"]
    staff_buttons = ["pa:acc:²", f"pa:acc:{huge}", "pa:to:1:²", f"pa:to:1:{huge}", "pa:tr:²", "pa:tru:1:²",
                     f"pa:tru:{huge}:ca", "ddanh:²", f"ddanh:{huge}",
                     "ddanh:done²", f"ddanh:done{huge}", "tward:²-1", f"tward:{huge}-{huge}", "tsubmit:ok:tdp-01:²-²",
                     "tsess:edit:²", f"tsess:edit:{huge}"]
    resident_buttons = ["pareply:²", f"pareply:{huge}", "parate:²:5", "parate:1:²", f"parate:{huge}:{huge}",
                        "lop:y:²", f"lop:y:{huge}", f"lop:n:{huge}", "erase:²"]
    for text in staff_inputs:
        assert texts.INTERNAL_ERROR not in staff.text(text), text
    for data in staff_buttons:
        assert texts.INTERNAL_ERROR not in staff.text(button=data), data
    for data in resident_buttons:
        assert texts.INTERNAL_ERROR not in resident.text(button=data), data
    # A numbered choice typed as "²" on a channel without buttons is not a choice
    resident.say("/xoadulieu")
    assert texts.INTERNAL_ERROR not in resident.text("²")


def test_nul_bytes_and_lone_surrogates_never_reach_the_database(app):
    c = Chat(app, "nul-1", name="Tên\x00lạ\ud800")
    assert c.text("xin chào\x00") == texts.BINARY_INPUT
    out = c.text("xin chào \ud83d")  # half an emoji: dropped, the rest is answered
    assert texts.INTERNAL_ERROR not in out and out
    assert texts.INTERNAL_ERROR not in c.text(button="faq:\x00\udc00")
    assert texts.INTERNAL_ERROR not in c.text("/phananh rác\x00")
    with app.db.session() as s:
        p = s.exec(select(Person).where(Person.channel_user_id == "nul-1")).one()
        assert p.display_name == "Tênlạ"
    assert Chat(app, "x" * 500).text("/start") == texts.BAD_SENDER
    assert Chat(app, "nul-2").text(button="faq:" + "x" * 5000) == texts.STALE_BUTTON


# --- quarantine -----------------------------------------------------------------------------------
POISON = "thuốc độc ☠"


class Crash(BaseException):
    """Stands for the process dying mid-handling: nothing in the engine catches it."""


class Calls(list):
    crash_at: int | None = None


@pytest.fixture
def poisoned(app):
    calls = Calls()

    def handler(ctx):
        if POISON in (ctx.msg.text or ""):
            calls.append(ctx.msg.update_id)
            if len(calls) == calls.crash_at:
                raise Crash()
            raise RuntimeError("handler bug")
        return False

    app.router.text_handlers.insert(0, handler)
    return calls


def test_an_update_that_keeps_failing_is_quarantined_and_others_are_answered(app, poisoned, clock):
    victim, other = Chat(app, "poison-1", name="Phạm Thị Mơ"), Chat(app, "poison-2")
    poisoned.crash_at = 2
    assert victim.text(POISON, update_id="p-1") == texts.INTERNAL_ERROR
    with pytest.raises(Crash):  # the process "dies"; the attempt was counted before handling
        victim.say(POISON, update_id="p-1")
    assert victim.text(POISON, update_id="p-1") == texts.INTERNAL_ERROR
    assert "Xin chào" in other.text("/start", update_id="o-1")
    assert len(poisoned) == 3
    # The fourth delivery is acknowledged without handling, and so is every later one.
    assert victim.text(POISON, update_id="p-1") == texts.QUARANTINED
    assert victim.text(POISON, update_id="p-1") == texts.QUARANTINED
    assert len(poisoned) == 3
    assert "Xin chào" in victim.text("/start", update_id="p-2")  # the chat itself goes on
    with app.db.session() as s:
        row = s.get(UpdateAttempt, ("web", "p-1"))
        assert row.attempts == 4 and row.quarantined_at is not None and "handler bug" in row.last_error
        assert row.excerpt == POISON
        assert s.get(UpdateAttempt, ("web", "o-1")) is None  # handled at once: no row left behind
    admin = with_role(app, Chat(app, "admin-q", name="Quản trị"), R.ADMIN)
    listing = admin.text("/hangloi")
    assert "poison-1" in listing and POISON in listing and "4 lần" in listing
    assert "dành cho" in other.text("/hangloi")  # residents cannot read it


def test_quarantine_cli_lists_the_poison_update(app, poisoned, settings, capsys, monkeypatch):
    c = Chat(app, "poison-cli")
    for _ in range(4):
        c.say(POISON, update_id="cli-1")
    from bot import cli
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BOT_DATA_DIR", str(settings.data_dir))
    assert cli.main(["quarantine", "list"]) == 0
    out = capsys.readouterr().out
    assert "poison-cli" in out and "cli-1" in out and "RuntimeError" in out


# --- a retry gets the original answer --------------------------------------------------------------
def test_a_retry_after_a_lost_reply_gets_the_same_answer_with_the_report_code(make_app, understander, tmp_path):
    from tests.reports_helpers import FakeNLU
    app = make_app(understander=FakeNLU(understander))
    c = Chat(app, "retry-1", name="Võ Văn Ba")
    c.say("Rác thải ùn ứ ở đầu kiệt 12 Lê Lợi mấy ngày nay")
    c.press("phananh:catok")
    c.press("phananh:photodone")
    c.say("12 Lê Lợi")
    c.press("phananh:grp:tdp-02")
    c.press("phananh:chatonly")
    c.press("phananh:pub:no")
    first = c.say(button="phananh:send", update_id="web:msg-42")  # committed... and the reply is lost
    assert "PA-" in first[0].text
    again = c.say(button="phananh:send", update_id="web:msg-42")  # the client retries
    assert [r.to_dict() for r in again] == [r.to_dict() for r in first]
    from handlers.reports.models import Report
    with app.db.session() as s:
        assert len(list(s.exec(select(Report)))) == 1
        assert s.get(ProcessedUpdate, ("web", "web:msg-42")).chat_id == "retry-1"


def test_stored_replies_are_purged_by_retention(app, clock):
    from datetime import timedelta

    from handlers import retention
    Chat(app, "ret-1").say("/start", update_id="r-1")
    with app.db.session() as s:
        retention.purge(app, s, clock.now() + timedelta(days=2))
    with app.db.session() as s:
        pu = s.get(ProcessedUpdate, ("web", "r-1"))
        assert pu is not None and pu.replies is None  # the mark stays a week, the answer a day


# --- forms belong to whoever started them ----------------------------------------------------------
def test_a_group_member_cannot_complete_a_staff_members_class_form(app):
    from handlers.broadcast import service as S
    officer = GroupMember(app, "tg-officer", "Cán bộ Hoa")
    with_role(app, Chat(app, "tg-officer", name="Cán bộ Hoa"), R.STAFF)
    intruder = GroupMember(app, "tg-intruder", "Kẻ Lạ Mặt")
    assert "Chủ đề" in officer.text("/taolop")
    topic = next(iter(S.TOPICS))
    # The intruder presses the form's buttons and types its answers: refused or answered apart.
    assert "Cán bộ Hoa" in intruder.text(button=f"taolop:topic:{topic}")
    assert "Cán bộ Hoa" in intruder.text("/huy")
    intruder.say("30/11 8:00")
    # Each member has their own forms in a group: the intruder's report does not touch the class form.
    assert "mô tả sự việc" in intruder.text("/phananh")
    assert texts.INTERNAL_ERROR not in intruder.text("/help")

    def row(user_id):
        with app.db.session() as s:
            return s.exec(select(Conversation).where(Conversation.chat_id == "-100777",
                                                     Conversation.member == user_id)).one()
    owner = person_of(app, Chat(app, "tg-officer"))
    conv = row("tg-officer")
    assert conv.flow == "taolop" and conv.step == "topic" and conv.flow_owner_id == owner.id
    assert row("tg-intruder").flow == "phananh"
    assert "Đã hủy" in intruder.text("/huy")  # their own form, not the officer's
    assert row("tg-intruder").flow is None and row("tg-officer").flow == "taolop"
    # The owner goes on where they were.
    assert "Chủ đề" not in officer.text(button=f"taolop:topic:{topic}")
    assert row("tg-officer").step != "topic"
    # Nobody else closes it: a colleague's /huy names the owner (it blocks nobody any more).
    colleague = GroupMember(app, "tg-colleague", "Cán bộ Tâm")
    with_role(app, Chat(app, "tg-colleague", name="Cán bộ Tâm"), R.STAFF)
    assert "Cán bộ Hoa" in colleague.text("/huy")
    assert row("tg-officer").flow == "taolop"


def test_a_role_revoked_mid_form_stops_the_form(app):
    from handlers.broadcast import service as S
    officer = with_role(app, Chat(app, "rev-officer", name="Cán bộ Nam"), R.STAFF)
    officer.say("/taolop")
    with app.db.session() as s:
        R.revoke(s, person_of(app, officer).id, R.STAFF, app.clock.now())
    out = officer.text(button=f"taolop:topic:{next(iter(S.TOPICS))}")
    assert "không còn quyền" in out
    with app.db.session() as s:
        assert s.exec(select(Conversation).where(Conversation.chat_id == "rev-officer")).one().flow is None


# --- invites -------------------------------------------------------------------------------------
def test_an_invite_code_is_one_time_under_concurrency(app):
    with app.db.session() as s:
        code = R.create_invite(s, R.ADMIN, app.clock.now()).code
    chats = [Chat(app, f"race-{i}", name=f"Người {i}") for i in range(12)]
    for c in chats:
        c.say("/start")
    barrier, out = threading.Barrier(len(chats)), {}

    def redeem(c):
        barrier.wait()
        out[c.chat_id] = c.text(f"/nhapma {code}")

    threads = [threading.Thread(target=redeem, args=(c,)) for c in chats]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [k for k, v in out.items() if "Chào mừng" in v]
    assert len(out) == 12 and len(winners) == 1, out
    assert all("đã được dùng" in v for k, v in out.items() if k not in winners)
    with app.db.session() as s:
        assert len(list(s.exec(select(RoleGrant).where(RoleGrant.role == R.ADMIN)))) == 1
        inv = s.get(Invite, R.invite_key(code))
        assert inv.used_by == s.exec(select(Person).where(Person.channel_user_id == winners[0])).one().id


def test_invite_codes_are_kept_only_as_hashes(app):
    """A copy of the database must not hand out roles: the code lives only in the reply that
    shows it (the retry store, cleared within a day, and the outbox until sent)."""
    import re
    admin = with_role(app, Chat(app, "inv-admin", name="Quản trị"), R.ADMIN)
    out = admin.text("/moi canbo")
    code = re.search(r"/nhapma ([A-Z0-9]{8})", out).group(1)
    found = [f for f in _scan(app, [code]) if not f.startswith(("processed_update.", "outbox."))]
    assert found == []
    assert "Chào mừng" in Chat(app, "inv-new", name="Cán bộ mới").text(f"/nhapma {code.lower()}")
    with app.db.session() as s:
        assert s.get(Invite, R.invite_key(code)).used_by is not None


def test_invite_codes_issued_before_hashing_still_work(tmp_path):
    """Migration 0090 hashes the codes already in the database; they keep working."""
    from datetime import datetime, timedelta, timezone
    import sqlalchemy as sa
    from alembic import command
    from bot.db import alembic_config
    url = f"sqlite:///{tmp_path / 'old.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "0080_webadmin")  # a database from before the hashing
    eng = sa.create_engine(url)
    exp = datetime.now(timezone.utc) + timedelta(days=3)
    with eng.begin() as c:
        c.execute(sa.text("INSERT INTO invite (code, role, created_at, expires_at) "
                          "VALUES ('AB3D5F7H', 'staff', :n, :e)"), {"n": datetime.now(timezone.utc), "e": exp})
    command.upgrade(cfg, "heads")
    with eng.connect() as c:
        codes = [r[0] for r in c.execute(sa.text("SELECT code FROM invite"))]
    assert codes == [R.invite_key("AB3D5F7H")]
    eng.dispose()


def test_invite_attempts_are_rate_limited_per_chat(app, clock):
    from datetime import timedelta
    with app.db.session() as s:
        code = R.create_invite(s, R.STAFF, clock.now()).code
    guesser = Chat(app, "guesser")
    for i in range(5):
        assert "không đúng" in guesser.text(f"/nhapma WRONG{i}")
    assert "quá nhiều lần" in guesser.text(f"/nhapma {code}")  # even the right one, for now
    assert "Chào mừng" in Chat(app, "someone-else").text(f"/nhapma {code}")  # per chat
    clock.advance(minutes=11)
    assert "đã được dùng" in guesser.text(f"/nhapma {code}")


# --- erasure ------------------------------------------------------------------------------------
NAME, PHONE, CHAT = "Trần Thị Bích Ngọc", "0905123456", "resident-erase-8831"


def _scan(app, needles: list[str]) -> list[str]:
    """Every table, every column: where does any needle still appear?"""
    import bot.all_models  # noqa: F401
    found = []
    with app.db.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            for row in conn.execute(table.select()).mappings():
                for col, value in row.items():
                    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
                    for n in needles:
                        if n in text:
                            found.append(f"{table.name}.{col} = {text[:120]}")
    return found


def test_erasure_leaves_nothing_that_links_the_person(make_app, understander, clock, tmp_path):
    from handlers.broadcast.models import ClassOccurrence, ClassSignup
    from handlers.reports.models import Report
    from tests.broadcast_helpers import publish_class
    from tests.reports_helpers import FakeNLU, make_staff
    app = make_app(understander=FakeNLU(understander))
    me = Chat(app, CHAT, name=NAME)
    # A report with a call-back number; staff ask a question (a notice waits in the outbox for me)
    me.say("Rác thải ùn ứ ở đầu kiệt 12 Lê Lợi mấy ngày nay", update_id="e-1")
    me.press("phananh:catok")
    me.press("phananh:photodone")
    me.say("12 Lê Lợi")
    me.press("phananh:grp:tdp-02")
    me.say(PHONE)
    me.press("phananh:pub:no")
    assert "PA-" in me.text(button="phananh:send", update_id="e-2")
    staff = make_staff(app, clock)
    with app.db.session() as s:
        rid = s.exec(select(Report)).one().id
    staff.press(f"pa:acc:{rid}")
    staff.press(f"pa:ask:{rid}")
    staff.say(f"Chị {NAME} cho hỏi số {PHONE} có gọi được không?")
    # A question for staff with the same number; a class seat, someone waiting behind me
    me.say("/hoicanbo")
    me.say("Cho hỏi thủ tục đăng ký tạm trú cho người thuê nhà")
    me.say(PHONE)
    me.press("handoff:send")
    staff.text("/hangcho", update_id="e-staff-1")  # the staff's stored answer lists my number
    cid = publish_class(app, capacity=1)
    with app.db.session() as s:
        occ = s.exec(select(ClassOccurrence).where(ClassOccurrence.class_id == cid)).first()
    me.say("/dangky")
    assert "Đã" in me.text(button=f"lop:y:{occ.id}") or True
    waiting = Chat(app, "waiting-resident", name="Người Chờ Lớp")
    waiting.press(f"lop:y:{occ.id}")
    with app.db.session() as s:
        assert s.exec(select(ClassSignup).where(ClassSignup.status == "going")).one().person_id == \
            person_of(app, me).id
    # Half a form left open, then erase.
    me.say("/phananh")
    pid = person_of(app, me).id
    me.say("/xoadulieu")
    assert "Đã xóa dữ liệu" in me.text(button="erase:xoa", update_id="e-9")

    found = _scan(app, [NAME, PHONE, CHAT])
    assert not found, "\n".join(found)
    import bot.all_models  # noqa: F401
    with app.db.engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            fks = [c for c in table.columns if any(fk.column.table.name == "person" for fk in c.foreign_keys)]
            for col in fks:
                n = conn.execute(table.select().where(col == pid)).all()
                assert not n, f"{table.name}.{col.name} still points at the erased person"
    with app.db.session() as s:
        p = s.get(Person, pid)
        assert p.display_name is None and p.phone is None and p.chat_id == "" and CHAT not in p.channel_user_id
        signups = list(s.exec(select(ClassSignup).where(ClassSignup.occurrence_id == occ.id)))
        going = [su for su in signups if su.status == "going"]
        assert len(going) == 1 and going[0].person_id == person_of(app, waiting).id  # promoted
        assert s.exec(select(Report)).one().description  # the ward keeps the report itself
    # Writing again starts afresh: no old form, no old identity.
    assert "Xin chào" in me.text("/start")
    assert person_of(app, me).id != pid
