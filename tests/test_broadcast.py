"""Class notices ("Bình dân học vụ số"): opt-in/out, audience, the staff form, capacity and the
waiting list, reminders, attendance and the quarterly-report figures, erasure."""
from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from bot import stats
from bot.models import Person
from handlers.broadcast import service as S
from handlers.broadcast.models import ClassOccurrence, ClassSignup, ClassSubscription, LiteracyClass
from scheduler import core as sched
from tests.broadcast_helpers import FakeSender, outbox, publish_class, staff_chat, subscribe_many
from tests.conftest import Chat


def _sub(app, chat_id):
    with app.db.session() as s:
        p = s.exec(select(Person).where(Person.channel_user_id == chat_id)).one()
        return S.subscription(s, p.id), p.id


def test_opt_in_with_group_and_topics_buttons(app):
    r = Chat(app, "an")
    out = r.text("/dangky")
    assert "tổ dân phố nào" in out
    assert "mọi chủ đề" not in r.text("hello")  # wrong answer: asked again, nothing saved
    assert _sub(app, "an")[0] is None
    assert "chủ đề nào" in r.text(button="bsub:g:tdp-02")
    r.press("bsub:t:vneid")
    r.press("bsub:t:banhang")
    last = r.say(button="bsub:t:banhang")[-1]  # pressed twice: deselected
    assert "Đang chọn: VNeID" in last.text and any(b.text == "✓ VNeID" for b in last.buttons)
    assert _sub(app, "an")[0] is None  # nothing is subscribed before "Xong"
    out = r.text(button="bsub:done")
    assert "Đã đăng ký" in out and "/huydangky" in out and "Tổ dân phố 2" in out
    sub, _ = _sub(app, "an")
    assert sub.group_code == "tdp-02" and sub.topics == ["vneid"] and sub.chat_id == "an"


def test_opt_out_takes_effect_at_once_and_cancels_pending_notices(app):
    a, b = Chat(app, "a"), Chat(app, "b")
    for c in (a, b):
        c.say("/dangky")
        c.press("bsub:g:tdp-01")
        c.press("bsub:done")
    cid = publish_class(app)
    assert len(outbox(app, kind="broadcast", status="pending")) == 2
    assert "Đã hủy đăng ký" in a.text("/huydangky")
    assert _sub(app, "a")[0] is None
    assert [r.status for r in outbox(app, chat_id="a")] == ["cancelled"]
    app.senders["web"] = sender = FakeSender()
    app.deliver_outbox()
    assert sender.per_chat() == {"b": 1}
    assert "chưa đăng ký" in a.text("/huydangky")
    a.say("/dangky")
    a.press("bsub:g:tdp-01")
    assert "Đã hủy" not in a.text("/huydangky") and "Đã đăng ký" not in a.text(button="bsub:done")
    assert _sub(app, "a")[0] is None  # opting out in the middle of the form leaves nothing behind
    with app.db.session() as s:
        rep = S.delivery_report(s, cid)
    assert rep["sent"] == 1 and rep["cancelled"] == 1


def test_nobody_who_did_not_opt_in_gets_a_notice(app):
    Chat(app, "stranger").say("/start")
    subscribe_many(app, 3)
    publish_class(app)
    chats = {r.chat_id for r in outbox(app, kind="broadcast")}
    assert chats == {"r0", "r1", "r2"}


def test_audience_by_groups_team_and_topic(app):
    subscribe_many(app, 2, group="tdp-01", topics=["vneid"], prefix="a")
    subscribe_many(app, 2, group="tdp-01", topics=["banhang"], prefix="b")
    subscribe_many(app, 2, group="tdp-02", topics=[], prefix="c")  # [] = every topic
    subscribe_many(app, 2, group="tdp-03", topics=["vneid"], prefix="d")
    with app.db.session() as s:
        def who(groups, topic_only):
            return sorted(x.chat_id for x in S.audience(s, groups, "vneid", topic_only))
        assert who([], False) == ["a0", "a1", "b0", "b1", "c0", "c1", "d0", "d1"]
        assert who(["tdp-01"], False) == ["a0", "a1", "b0", "b1"]
        assert who(["tdp-01", "tdp-02"], True) == ["a0", "a1", "c0", "c1"]
        assert who([], True) == ["a0", "a1", "c0", "c1", "d0", "d1"]
    publish_class(app, groups=["tdp-02", "tdp-03"], topic_only=True)
    assert sorted(r.chat_id for r in outbox(app, kind="broadcast")) == ["c0", "c1", "d0", "d1"]


def test_staff_form_preview_then_confirm(app, clock):
    subscribe_many(app, 3, group="tdp-01")
    subscribe_many(app, 2, group="tdp-04", prefix="x")
    resident = Chat(app, "nosy")
    assert "dành cho cán bộ phường" in resident.text("/taolop")
    st = staff_chat(app)
    assert "Chủ đề" in st.text("/taolop")
    st.press("taolop:topic:dvc")
    assert "chưa hiểu ngày giờ" in st.text("mai nhé")
    assert "đã qua" in st.text("20/11/2026 8:00")
    assert "một buổi hay" in st.text("29/11 8:00").lower()
    assert "bao nhiêu buổi" in st.text(button="taolop:rep:weekly").lower()
    assert "từ 1 đến 26" in st.text("99")
    assert "Học ở đâu" in st.text("4")
    st.press("taolop:place:tdp-01")
    assert "từ 1 đến" in st.text("nhiều lắm")
    st.say("25")
    st.press("taolop:aud:groups")  # the hosting group is pre-selected
    st.press("taolop:grp:tdp-04")
    out = st.text(button="taolop:grp:done")
    assert "Chỉ gửi cho người đã chọn quan tâm" in out
    out = st.text(button="taolop:tf:no")
    assert "Xem trước" in out and "(5 người)" in out and "4 buổi" in out and "Nhà sinh hoạt cộng đồng tổ 1" in out
    assert "Chủ nhật 29/11/2026" in out and "20/12/2026" in out
    assert outbox(app, kind="broadcast") == []  # nothing goes out before confirming
    out = st.text(button="taolop:ok")
    assert "Đã tạo lớp" in out and "5 thông báo" in out
    rows = outbox(app, kind="broadcast")
    assert len(rows) == 5 and all(r.dedupe_key.endswith(f"person-{r.dedupe_key.split('-')[-1]}") for r in rows)
    assert rows[0].dedupe_key.startswith("class-1-occ-1-person-")
    assert [b["text"] for b in rows[0].payload["buttons"]] == ["Tham gia", "Không tham gia"]
    with app.db.session() as s:
        occs = S.occurrences(s, 1)
        assert [S.to_local(o.starts_at).strftime("%d/%m %H:%M") for o in occs] == \
            ["29/11 08:00", "06/12 08:00", "13/12 08:00", "20/12 08:00"]
        cls = s.get(LiteracyClass, 1)
        assert cls.group_code == "tdp-01" and cls.audience == {"groups": ["tdp-01", "tdp-04"], "topic_only": False}
    # Later occurrences are announced NOTICE_LEAD before, to the audience of that day.
    subscribe_many(app, 1, group="tdp-04", prefix="late")
    clock.set(datetime(2026, 12, 3, 8, 5))
    sched.run_due(app)
    keys = {r.dedupe_key for r in outbox(app, kind="broadcast")}
    assert any(k.startswith("class-1-occ-2-") for k in keys)
    assert len([k for k in keys if k.startswith("class-1-occ-2-")]) == 6


def test_until_a_date_and_cancel_keeps_nothing(app):
    st = staff_chat(app)
    st.say("/taolop")
    st.press("taolop:topic:vneid")
    st.say("29/11 8:00")
    st.press("taolop:rep:weekly")
    st.say("13/12")
    st.say("Nhà văn hóa khu dân cư số 7")
    st.say("10")
    st.press("taolop:aud:all")
    out = st.text(button="taolop:tf:yes")
    assert "3 buổi" in out and "Nhà văn hóa khu dân cư số 7" in out
    assert "chưa gửi" in st.text(button="taolop:cancel")
    assert outbox(app, kind="broadcast") == []


def _occ(app, cid, n=1):
    with app.db.session() as s:
        return s.exec(select(ClassOccurrence).where(ClassOccurrence.class_id == cid, ClassOccurrence.n == n)).one()


def test_capacity_waiting_list_promotion_and_change_of_mind(app):
    subscribe_many(app, 4)
    cid = publish_class(app, capacity=2)
    occ = _occ(app, cid)
    people = [Chat(app, f"r{i}", name=f"Người r{i}") for i in range(4)]
    assert "Đã giữ chỗ" in people[0].text(button=f"lop:y:{occ.id}")
    assert "đã có chỗ" in people[0].text(button=f"lop:y:{occ.id}")
    assert "Đã giữ chỗ" in people[1].text(button=f"lop:y:{occ.id}")
    assert "vị trí 1 trong danh sách chờ" in people[2].text(button=f"lop:y:{occ.id}")
    assert "vị trí 2 trong danh sách chờ" in people[3].text(button=f"lop:y:{occ.id}")
    with app.db.session() as s:
        assert S.counts(s, occ.id) == {"going": 2, "waiting": 2}
    assert "Đã hủy đăng ký của bạn" in people[0].text(button=f"lop:n:{occ.id}")
    with app.db.session() as s:
        assert S.counts(s, occ.id) == {"going": 2, "waiting": 1, "declined": 1}
    told = [r for r in outbox(app, chat_id="r2") if "Tin vui" in r.payload["text"]]
    assert len(told) == 1
    # Changing one's mind again: back of the queue, not ahead of r3.
    assert "vị trí 2 trong danh sách chờ" in people[0].text(button=f"lop:y:{occ.id}")
    assert "vị trí 1" in people[3].text(button=f"lop:y:{occ.id}")
    st = staff_chat(app)
    out = st.text(f"/dangkylop {cid}")
    assert "2/2 người đăng ký, 2 người chờ" in out and "Người r1" in out and "Danh sách chờ" in out


def test_two_residents_race_for_the_last_seat(app):
    import threading
    subscribe_many(app, 8)
    cid = publish_class(app, capacity=3)
    occ = _occ(app, cid)
    barrier = threading.Barrier(8)

    def go(i):
        barrier.wait()
        Chat(app, f"r{i}").say(button=f"lop:y:{occ.id}")
    ts = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    with app.db.session() as s:
        assert S.counts(s, occ.id) == {"going": 3, "waiting": 5}


def test_reminder_the_evening_before_once(app, clock):
    subscribe_many(app, 3)
    cid = publish_class(app, weeks=2)  # Sundays 29/11 and 6/12 at 8:00
    occ1, occ2 = _occ(app, cid, 1), _occ(app, cid, 2)
    Chat(app, "r0").say(button=f"lop:y:{occ1.id}")
    Chat(app, "r1").say(button=f"lop:y:{occ1.id}")
    Chat(app, "r1").say(button=f"lop:n:{occ1.id}")
    Chat(app, "r2").say(button=f"lop:y:{occ2.id}")
    clock.set(datetime(2026, 11, 28, 18, 59))
    sched.run_due(app)
    assert not [r for r in outbox(app) if "Nhắc lịch" in r.payload["text"]]
    clock.set(datetime(2026, 11, 28, 19, 0))
    sched.run_due(app)
    sched.run_due(app)
    rem = [r for r in outbox(app) if "Nhắc lịch" in r.payload["text"]]
    assert [(r.chat_id, r.dedupe_key) for r in rem] == [("r0", f"class-{cid}-occ-1-remind-{_sub(app, 'r0')[1]}")]
    assert "8:00" in rem[0].payload["text"] or "08:00" in rem[0].payload["text"]
    clock.set(datetime(2026, 12, 5, 19, 0))
    sched.run_due(app)
    rem = [r.chat_id for r in outbox(app) if "Nhắc lịch" in r.payload["text"]]
    assert rem == ["r0", "r2"]


def test_unsubscribed_signups_get_no_reminder(app, clock):
    subscribe_many(app, 1)
    cid = publish_class(app)
    occ = _occ(app, cid)
    r = Chat(app, "r0")
    r.say(button=f"lop:y:{occ.id}")
    r.say("/huydangky")
    clock.set(datetime(2026, 11, 28, 19, 0))
    sched.run_due(app)
    assert not [x for x in outbox(app) if "Nhắc lịch" in x.payload["text"]]


def test_attendance_buttons_and_counts_feed_the_quarterly_report(app, clock):
    subscribe_many(app, 3)
    with app.db.session() as s:
        start = datetime(2026, 11, 29, 8, 0).replace(tzinfo=S.TZ)
        cls = S.create_class(s, S.ClassDraft(topic="vneid", starts=S.occurrence_times(start, weeks=2),
                                             place="Nhà sinh hoạt tổ 1", capacity=10, group_code="tdp-01"),
                             app.profile, clock.now(), None)
        S.publish(app, s, cls, clock.now())
        cid = cls.id
    o1, o2 = _occ(app, cid, 1), _occ(app, cid, 2)
    for i in range(3):
        Chat(app, f"r{i}").say(button=f"lop:y:{o1.id}")
    st = staff_chat(app)
    assert "chưa diễn ra" in st.text(f"/diemdanh {cid}")
    clock.set(datetime(2026, 11, 29, 10, 0))
    out = st.say(f"/diemdanh {cid}")[-1]
    assert len(out.buttons) == 4 and "Có mặt: 0" in out.text
    su_ids = [b.data for b in out.buttons[:2]]
    st.press(su_ids[0])
    out = st.say(button=su_ids[1])[-1]
    assert "Có mặt: 2" in out.text and out.buttons[0].text.startswith("✅")
    assert "2 người có mặt" in st.text(button=out.buttons[-1].data)
    assert "dành cho cán bộ" in Chat(app, "r0").text(f"/diemdanh {cid}")
    assert "dành cho cán bộ" in Chat(app, "r0").text(button=su_ids[0])
    clock.set(datetime(2026, 12, 6, 10, 0))
    assert "có 12 người dự" in st.text(f"/diemdanh {cid} 2 12")
    with app.db.session() as s:
        q4 = (datetime(2026, 10, 1).replace(tzinfo=S.TZ), datetime(2027, 1, 1).replace(tzinfo=S.TZ))
        figures = stats.collect(s, *q4)
        assert figures["classes_held"] == 2 and figures["class_attendance"] == 14 and figures["class_signups"] == 3
        assert stats.collect(s, *q4, group_code="tdp-01")["class_attendance"] == 14
        assert stats.collect(s, *q4, group_code="tdp-02")["classes_held"] == 0
        nov = (q4[0], datetime(2026, 12, 1).replace(tzinfo=S.TZ))
        assert stats.collect(s, *nov)["classes_held"] == 1
    assert "Số buổi học" in stats.LABELS["classes_held"]


def test_delivery_report_for_staff(app):
    subscribe_many(app, 4)
    cid = publish_class(app)
    app.senders["web"] = sender = FakeSender()
    sender.script = {"r1": ["blocked"], "r2": ["400"]}
    app.deliver_outbox()
    Chat(app, "r0").say(button=f"lop:y:{_occ(app, cid).id}")
    out = staff_chat(app).text(f"/baocaogui {cid}")
    assert "Đã gửi: 2" in out and "Lỗi: 1" in out and "đã chặn Trợ lý: 1" in out and "Đăng ký tham gia: 1" in out
    assert "Không tìm thấy lớp #99" in staff_chat(app, "staff-2").text("/baocaogui 99")


def test_quiet_hours_delay_the_broadcast(app, clock):
    subscribe_many(app, 2)
    clock.set(datetime(2026, 11, 23, 22, 30))
    publish_class(app)
    rows = outbox(app, kind="broadcast")
    assert {S.to_local(r.not_before).strftime("%d/%m %H:%M") for r in rows} == {"24/11 06:00"}
    app.senders["web"] = sender = FakeSender()
    app.deliver_outbox()
    assert sender.calls == []
    clock.set(datetime(2026, 11, 24, 6, 0))
    app.deliver_outbox()
    assert len(sender.calls) == 2


def test_erasure_removes_subscription_and_anonymises_signups(app):
    subscribe_many(app, 1)
    cid = publish_class(app)
    r = Chat(app, "r0")
    r.say(button=f"lop:y:{_occ(app, cid).id}")
    r.say("/xoadulieu")
    r.press("erase:xoa")
    with app.db.session() as s:
        assert s.exec(select(ClassSubscription)).all() == []
        su = s.exec(select(ClassSignup)).one()
        assert su.person_id is None and su.status == "declined"  # the seat goes back to the class
    assert [x.status for x in outbox(app, kind="broadcast")] == ["cancelled"]


def test_upcoming_classes_and_late_or_unknown_presses(app, clock):
    subscribe_many(app, 1)
    cid = publish_class(app)
    occ = _occ(app, cid)
    walk_in = Chat(app, "walk-in")
    out = walk_in.say("/lophoc")
    assert "VNeID" in out[0].text and [b.data for b in out[0].buttons] == [f"lop:y:{occ.id}", f"lop:n:{occ.id}"]
    assert "/dangky" in walk_in.text(button=f"lop:y:{occ.id}")  # not subscribed: no reminder promised
    assert "nhắc bạn" in Chat(app, "r0").text(button=f"lop:y:{occ.id}")
    assert not [r for r in outbox(app) if r.chat_id == "walk-in"]
    assert "Không tìm thấy" in walk_in.text(button="lop:y:9999")
    assert "không còn dùng" in walk_in.text(button="lop:x:1")
    clock.set(datetime(2026, 11, 29, 8, 30))
    assert "đã bắt đầu" in walk_in.text(button=f"lop:y:{occ.id}")
    assert "chưa có lớp" in walk_in.text("/lophoc")
