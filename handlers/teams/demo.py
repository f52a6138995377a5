"""A realistic demo ward, so a newcomer sees a real report in a minute: a team per residential
group (a leader and a few members), a year of sessions with plausible figures and notes."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlmodel import delete, func, select

from bot import roles as R
from bot.models import Person, RoleGrant
from handlers.teams import catalog as C
from handlers.teams import demo_more
from handlers.teams.models import TeamSession, TeamSubmission

SURNAMES = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Huỳnh", "Ngô"]
MIDDLE = ["Văn", "Thị", "Minh", "Thanh", "Ngọc", "Hữu", "Thu", "Quốc", "Kim", "Đức"]
GIVEN = ["An", "Bình", "Cường", "Dung", "Hà", "Hải", "Hạnh", "Hùng", "Lan", "Linh", "Mai", "Nam", "Phúc",
         "Quang", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến", "Khoa", "Nhi", "Long"]
DIFFICULTIES = [
    "Nhiều cụ cao tuổi không nhớ mật khẩu VNeID, phải đặt lại nhiều lần.",
    "Một số hộ đi làm cả ngày, phải quay lại vào buổi tối.",
    "Điện thoại của người dân đời cũ, không cài được ứng dụng VNeID.",
    "Sóng 4G yếu ở cuối kiệt, hồ sơ dịch vụ công tải lên chậm.",
    "Người dân lo ngại bị lừa khi liên kết tài khoản ngân hàng.",
    "Thiếu máy tính bảng để hỗ trợ tại nhà sinh hoạt cộng đồng.",
    "Hộ kinh doanh nhỏ chưa có ảnh sản phẩm đủ đẹp để đưa lên sàn.",
    "",
]
GOOD = [
    "Hẹn lịch qua nhóm Zalo tổ dân phố trước một ngày, bà con ở nhà đông đủ.",
    "Ghép cặp đoàn viên thanh niên với các cụ, hướng dẫn từng bước trên chính điện thoại của cụ.",
    "In tờ hướng dẫn cảnh giác lừa đảo cỡ chữ lớn, dán ở bảng tin tổ.",
    "Phối hợp với chi hội phụ nữ lồng ghép hướng dẫn vào buổi sinh hoạt.",
    "Mở ví điện tử kèm hướng dẫn nộp tiền điện, nước không dùng tiền mặt.",
    "Chụp ảnh sản phẩm bánh, nước mắm của hộ kinh doanh ngay tại chỗ để đăng lên sàn.",
    "",
]


class DemoError(Exception):
    pass


def _name(rng: random.Random) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def _session(rng: random.Random, code: str, day, author: int, members: list[int]) -> TeamSession:
    place = rng.choices(list(C.PLACES), weights=[50, 15, 10, 5, 5, 12, 3])[0]
    households = rng.randint(6, 25) if place == "door" else 0
    people = max(households + rng.randint(0, 12), rng.randint(5, 30))
    elderly = rng.randint(1, max(1, people // 3))
    vulnerable = rng.randint(0, max(0, min(4, people - elderly)))
    r = TeamSession(group_code=code, day=day, author_id=author, place=place, households=households,
                    people=people, elderly=elderly, vulnerable=vulnerable,
                    act_vneid=rng.randint(0, min(10, people)), act_dvc=rng.randint(0, 6),
                    act_payment=rng.randint(0, min(8, people)), act_signature=rng.choice([0, 0, 0, 1, 2]),
                    act_security=rng.randint(0, people), act_apps=rng.randint(0, 5),
                    act_ecommerce=rng.choice([0, 0, 0, 0, 1, 2, 3]),
                    members=sorted(set([author, *rng.sample(members, k=min(len(members), rng.randint(1, 3)))])),
                    difficulties=(rng.choice(DIFFICULTIES) or None) if rng.random() < 0.4 else None,
                    good_practices=(rng.choice(GOOD) or None) if rng.random() < 0.3 else None)
    return r


def fill(app, force: bool = False, seed: int = 2026) -> str:
    rng = random.Random(seed)
    now = app.clock.now()
    today = C.today(now)
    with app.db.session() as s:
        people = s.exec(select(func.count()).select_from(Person)).one()
        sessions = s.exec(select(func.count()).select_from(TeamSession)).one()
        if (people or sessions) and not force:
            raise DemoError("the database is not empty; demo data goes into a fresh database only "
                            "(use --force to replace earlier demo data and the teams' sessions)")
        if force:
            s.exec(delete(TeamSession))
            s.exec(delete(TeamSubmission))
            demo_ids = list(s.exec(select(Person.id).where(Person.channel_user_id.startswith("demo-"))))
            if demo_ids:
                s.exec(delete(RoleGrant).where(RoleGrant.person_id.in_(demo_ids)))
        total_members, rows = 0, 0
        start = today - timedelta(days=365)
        for g in app.profile.residential_groups:
            ids = []
            for i in range(rng.randint(4, 6)):
                uid, name = f"demo-{g.code}-{i + 1}", _name(rng)  # same seed, same ward: draw even when reused
                p = s.exec(select(Person).where(Person.channel == "web", Person.channel_user_id == uid)).first()
                if p is None:
                    p = Person(channel="web", channel_user_id=uid, chat_id=uid, display_name=name,
                               created_at=now, last_seen_at=now)
                    s.add(p)
                    s.flush()
                R.grant(s, p, R.TEAM_LEADER if i == 0 else R.TEAM_MEMBER, now, group_code=g.code)
                ids.append(p.id)
            total_members += len(ids)
            day = start
            while day <= today:
                # about two sessions a week, more before the quarterly deadlines
                busy = day.month % 3 == 0 and 1 <= day.day <= 19
                if rng.random() < (0.45 if busy else 0.28) and day.weekday() != 6:
                    s.add(_session(rng, g.code, day, rng.choice(ids), ids))
                    rows += 1
                day += timedelta(days=1)
            # past quarters were submitted, mostly on time, by the leader
            y, q = C.quarter_of(start)
            while (y, q) < C.quarter_of(today):
                deadline = C.deadline_of(y, q, app.profile.team_reports.deadline_day)
                late = rng.random() < 0.15
                when = C.local_at(deadline + timedelta(days=rng.randint(1, 4)) if late
                                  else deadline - timedelta(days=rng.randint(1, 6)), "16:30")
                if when < now:
                    s.add(TeamSubmission(group_code=g.code, year=y, quarter=q, submitted_by=ids[0],
                                         submitted_at=when))
                y, q = (y + 1, 1) if q == 4 else (y, q + 1)
        extra = demo_more.fill(app, s, rng, today) if not force else "reports and classes kept"
    return (f"demo ward ready: {len(app.profile.residential_groups)} teams, {total_members} members, "
            f"{rows} sessions from {start:%d/%m/%Y} to {today:%d/%m/%Y}, {extra}. Try: python -m bot chat, or "
            f"/baocaophuong as staff (python -m bot invite --role staff).")
