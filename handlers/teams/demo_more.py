"""Demo residents' reports and literacy classes, so the demo quarterly report shows every row
(reports received/resolved/overdue, classes held and attendance), not only the teams' sessions."""
from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlmodel import Session, select, update

from bot.clock import TZ
from bot.models import OutboxMessage, Person, ScheduledTask

REPORTS = [
    ("rac-thai", "Rác sinh hoạt đổ thành đống ở đầu kiệt, mấy ngày chưa ai thu gom, bốc mùi."),
    ("lan-chiem-via-he", "Quán nước bày bàn ghế kín vỉa hè, người đi bộ phải xuống lòng đường."),
    ("tieng-on", "Nhà trong kiệt hát karaoke tới gần 12 giờ đêm, rất ồn."),
    ("chieu-sang", "Hai bóng đèn đường trong kiệt bị hỏng, tối đi lại nguy hiểm."),
    ("thoat-nuoc", "Mưa xong nước ngập tới nửa bánh xe, cống bị rác bịt kín."),
    ("cay-xanh", "Cành cây lớn bị gãy treo lơ lửng trên đường sau trận mưa gió."),
    ("ha-tang-giao-thong", "Ổ gà lớn giữa đường, tối qua có người đi xe máy bị ngã."),
    ("quang-cao-trai-phep", "Tờ rơi cho vay dán kín cột điện đầu đường."),
    ("dong-vat", "Chó thả rông không rọ mõm chạy quanh khu vui chơi của trẻ em."),
    ("o-nhiem", "Có người đốt rác ở bãi đất trống, khói bay vào nhà dân."),
]
STREETS = ["Trần Phú", "Bạch Đằng", "Lê Lợi", "Phan Châu Trinh", "Hùng Vương", "Quang Trung"]
CLASS_TOPICS = ["vneid", "dvc", "thanhtoan", "antoan", "ytegd"]


def _local(day, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=TZ)


def fill_reports(app, s: Session, rng: random.Random, today, residents: list[Person]) -> int:
    from handlers.reports import service as S
    from handlers.reports.models import CLOSED, IN_PROGRESS, RESOLVED
    n = 0
    day = today - timedelta(days=360)
    while day <= today:
        if rng.random() < 0.2:
            cat, text = rng.choice(REPORTS)
            g = rng.choice(app.profile.residential_groups)
            who = rng.choice(residents)
            at = _local(day, rng.randint(6, 21), rng.randint(0, 59))
            r = S.create_report(app, s, at, category=cat, description=text, source=rng.choice(["chat"] * 4 + ["hotline"]),
                                address=f"{rng.randint(1, 200)} {rng.choice(STREETS)}", group_code=g.code,
                                person=who, channel=who.channel, chat_id=who.chat_id)
            age = (today - day).days
            if r.parent_id is None and age > 2:
                # most are handled within the deadline, some late, a few never (overdue)
                fate = rng.random()
                if fate < 0.93:
                    sla = r.sla_hours * (rng.uniform(0.2, 0.9) if fate < 0.8 else rng.uniform(1.2, 2.5))
                    S.transition(app, s, at + timedelta(hours=sla / 3), r, IN_PROGRESS, None, "Cán bộ phường",
                                 notify=False)
                    done = at + timedelta(hours=sla)
                    S.transition(app, s, done, r, RESOLVED, None, "Cán bộ phường",
                                 note="Đã kiểm tra hiện trường và xử lý xong.", notify=False)
                    if age > 10:
                        S.transition(app, s, done + timedelta(days=2), r, CLOSED, None, "Người dân", notify=False)
            n += 1
        day += timedelta(days=1)
    return n


def fill_classes(app, s: Session, rng: random.Random, today, residents: list[Person]) -> int:
    from handlers.broadcast.models import ClassOccurrence, ClassSignup, LiteracyClass
    n = 0
    sunday = today - timedelta(days=(today.weekday() + 1) % 7 + 350)
    while sunday < today:
        if rng.random() < 0.5:
            g = rng.choice(app.profile.residential_groups)
            cls = LiteracyClass(topic=rng.choice(CLASS_TOPICS), place=g.cultural_house or g.name, group_code=g.code,
                                capacity=30, audience={"groups": [g.code], "topic_only": False},
                                status="published", created_at=_local(sunday - timedelta(days=7), 9),
                                published_at=_local(sunday - timedelta(days=7), 9))
            s.add(cls)
            s.flush()
            going = rng.sample(residents, k=min(len(residents), rng.randint(8, 20)))
            occ = ClassOccurrence(class_id=cls.id, n=1, starts_at=_local(sunday, 8), status="held",
                                  marked_at=_local(sunday, 10))
            s.add(occ)
            s.flush()
            attended = 0
            for p in going:
                came = rng.random() < 0.8
                attended += came
                s.add(ClassSignup(occurrence_id=occ.id, person_id=p.id, status="going", attended=came,
                                  updated_at=_local(sunday - timedelta(days=2), 20)))
            occ.attendance_count = attended + rng.randint(0, 5)  # walk-ins
            s.add(occ)
            n += 1
        sunday += timedelta(days=7)
    return n


def fill(app, s: Session, rng: random.Random, today) -> str:
    now = app.clock.now()
    residents = []
    for i in range(40):
        uid = f"demo-resident-{i + 1}"
        p = s.exec(select(Person).where(Person.channel == "web", Person.channel_user_id == uid)).first()
        if p is None:
            p = Person(channel="web", channel_user_id=uid, chat_id=uid, created_at=now, last_seen_at=now)
            s.add(p)
            s.flush()
        residents.append(p)
    reports = fill_reports(app, s, rng, today, residents)
    classes = fill_classes(app, s, rng, today, residents)
    # The demo's past has already happened: nothing of it should be sent or reminded now.
    s.exec(update(OutboxMessage).where(OutboxMessage.created_at < now - timedelta(days=1))
           .values(status="sent", sent_at=now))
    s.exec(update(ScheduledTask).where(ScheduledTask.key.startswith("report:"), ScheduledTask.fire_at < now,
                                      ScheduledTask.status == "pending").values(status="done", done_at=now))
    return f"{reports} residents' reports, {classes} classes held"
