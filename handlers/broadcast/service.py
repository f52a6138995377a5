"""Class notices: the logic shared by the chat commands, the HTTP API and the scheduled tasks.
Nothing here talks to a chat; callers pass a session and get data or Vietnamese messages back."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import func, update
from sqlmodel import Session, select

from bot.clock import TZ, to_local
from bot.core import Button, Reply
from bot.models import OutboxMessage, Person
from bot.outbox import enqueue, enqueue_many
from bot.profile import WardProfile
from handlers.broadcast.models import ClassOccurrence, ClassSignup, ClassSubscription, LiteracyClass
from scheduler import core as sched

TOPICS: dict[str, str] = {
    "vneid": "VNeID",
    "dvc": "Dịch vụ công trực tuyến",
    "thanhtoan": "Thanh toán số",
    "antoan": "An toàn trên mạng",
    "ytegd": "Ứng dụng y tế, giáo dục",
    "banhang": "Bán hàng online",
}
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật"]
MAX_OCCURRENCES = 26  # half a year of weekly classes
MAX_CAPACITY = 2000
NOTICE_LEAD = timedelta(days=3)  # notices of later occurrences of a weekly class go this early
REMINDER_TIME = time(19, 0)  # local, the evening before
KIND = "broadcast"


class ClassError(ValueError):
    """The message is Vietnamese and shown as is (chat reply or API error)."""


# --- formatting --------------------------------------------------------------------------------
def when_text(dt: datetime) -> str:
    d = to_local(dt)
    return f"{d.strftime('%H:%M')} {WEEKDAYS[d.weekday()]} {d.strftime('%d/%m/%Y')}"


def topic_label(topic: str) -> str:
    return TOPICS.get(topic, topic)


def signup_buttons(occ_id: int) -> list[Button]:
    return [Button("Tham gia", f"lop:y:{occ_id}"), Button("Không tham gia", f"lop:n:{occ_id}")]


def notice_reply(cls: LiteracyClass, occ: ClassOccurrence, total: int) -> Reply:
    series = f" (buổi {occ.n}/{total}, học hằng tuần)" if total > 1 else ""
    text = (f"📢 Lớp \"Bình dân học vụ số\" miễn phí: {topic_label(cls.topic)}{series}\n"
            f"🕗 {when_text(occ.starts_at)}\n"
            f"📍 {cls.place}\n"
            f"👥 {cls.capacity} chỗ, mang theo điện thoại của bạn.\n"
            "Bạn bấm \"Tham gia\" để giữ chỗ. Không muốn nhận thông báo lớp học nữa, gõ /huydangky.")
    return Reply(text, buttons=signup_buttons(occ.id))


def notice_key(class_id: int, n: int, person_id: int) -> str:
    return f"class-{class_id}-occ-{n}-person-{person_id}"


# --- parsing (chat form and API share it) -----------------------------------------------------
def parse_local_datetime(text: str, now: datetime) -> datetime:
    """"30/11 8:00", "30/11/2026 08:00", "8h 30/11" or ISO "2026-11-30T08:00[+07:00]"."""
    t = " ".join(text.strip().lower().replace("giờ", "h").split())
    try:
        dt = datetime.fromisoformat(t.upper())
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=TZ)
        if not 2000 <= dt.year <= 2100:
            raise ClassError("Ngày giờ không hợp lệ. Ví dụ đúng: 30/11 8:00 hoặc 30/11/2026 08:30.")
        return dt.astimezone(timezone.utc)
    except ValueError:
        pass
    parts = t.split()
    day_part = next((p for p in parts if "/" in p or "-" in p), None)
    time_part = next((p for p in parts if p is not day_part and (":" in p or "h" in p or p.isdigit())), None)
    if not day_part or not time_part:
        raise ClassError("Mình chưa hiểu ngày giờ. Bạn nhập theo dạng NGÀY/THÁNG GIỜ:PHÚT, ví dụ 30/11 8:00.")
    try:
        nums = [int(x) for x in day_part.replace("-", "/").split("/") if x]
        day, month = nums[0], nums[1]
        local_now = to_local(now)
        year = nums[2] if len(nums) > 2 else local_now.year
        if year < 100:
            year += 2000
        hh, _, mm = time_part.replace("h", ":").partition(":")
        d = datetime(year, month, day, int(hh), int(mm or 0), tzinfo=TZ)
        if len(nums) == 2 and d < local_now - timedelta(days=1):
            d = d.replace(year=year + 1)  # "5/1" in December means next January
        if not 2000 <= d.year <= 2100:
            raise ValueError("year out of range")
    except (ValueError, IndexError, OverflowError):
        raise ClassError("Ngày giờ không hợp lệ. Ví dụ đúng: 30/11 8:00 hoặc 30/11/2026 08:30.") from None
    return d.astimezone(timezone.utc)


def parse_date(text: str, now: datetime) -> date:
    try:
        if "-" in text.strip() and len(text.strip()) == 10:
            return date.fromisoformat(text.strip())
        nums = [int(x) for x in text.strip().split("/") if x]
        year = nums[2] if len(nums) > 2 else to_local(now).year
        d = date(year + 2000 if year < 100 else year, nums[1], nums[0])
        if not 2000 <= d.year <= 2100:
            raise ValueError("year out of range")
        return d
    except (ValueError, IndexError, OverflowError):
        raise ClassError("Ngày không hợp lệ. Ví dụ: 28/12 hoặc 28/12/2026.") from None


def occurrence_times(first: datetime, weeks: int | None = None, until: date | None = None) -> list[datetime]:
    """Weekly repeats keep the local wall-clock time (Sunday 8:00 stays 8:00)."""
    local = to_local(first)
    if weeks is None and until is None:
        return [first]
    out = []
    for i in range(MAX_OCCURRENCES + 1):
        d = local + timedelta(weeks=i)
        if (weeks is not None and i >= weeks) or (until is not None and d.date() > until):
            break
        out.append(d.astimezone(timezone.utc))
    if len(out) > MAX_OCCURRENCES:
        raise ClassError(f"Một lớp lặp lại tối đa {MAX_OCCURRENCES} buổi. Bạn chọn ít buổi hơn nhé.")
    if not out:
        raise ClassError("Ngày kết thúc phải sau buổi học đầu tiên.")
    return out


@dataclass
class ClassDraft:
    """What a class definition needs; the chat form and the API both fill one."""
    topic: str
    starts: list[datetime]
    place: str
    capacity: int
    groups: list[str] = field(default_factory=list)  # [] = every subscriber
    topic_only: bool = False
    group_code: str | None = None  # hosting residential group (the team that runs it)
    duration_minutes: int = 90

    def check(self, profile: WardProfile, now: datetime) -> None:
        if self.topic not in TOPICS:
            raise ClassError("Chủ đề không có trong danh sách: " + ", ".join(TOPICS) + ".")
        if not self.starts or self.starts[0] <= now:
            raise ClassError("Buổi học phải ở thời điểm sau bây giờ.")
        if not self.place.strip() or len(self.place) > 300:
            raise ClassError("Bạn ghi địa điểm học (tối đa 300 ký tự).")
        if not (1 <= self.capacity <= MAX_CAPACITY):
            raise ClassError(f"Số chỗ phải từ 1 đến {MAX_CAPACITY}.")
        for g in self.groups + ([self.group_code] if self.group_code else []):
            if profile.group(g) is None:
                codes = ", ".join(x.code for x in profile.residential_groups)
                raise ClassError(f"Không có tổ dân phố \"{g}\". Các mã hiện có: {codes}.")
        if len(self.starts) > MAX_OCCURRENCES:
            raise ClassError(f"Một lớp lặp lại tối đa {MAX_OCCURRENCES} buổi.")

    def to_state(self) -> dict:
        return {"topic": self.topic, "starts": [d.isoformat() for d in self.starts], "place": self.place,
                "capacity": self.capacity, "groups": self.groups, "topic_only": self.topic_only,
                "group_code": self.group_code, "duration_minutes": self.duration_minutes}


# --- subscriptions ------------------------------------------------------------------------------
def subscription(session: Session, person_id: int) -> ClassSubscription | None:
    return session.exec(select(ClassSubscription).where(ClassSubscription.person_id == person_id)).first()


def subscribe(session: Session, person: Person, channel: str, chat_id: str, group_code: str,
              topics: list[str], now: datetime) -> ClassSubscription:
    sub = subscription(session, person.id)
    if sub is None:
        sub = ClassSubscription(person_id=person.id, created_at=now, channel=channel, chat_id=chat_id,
                                group_code=group_code)
    sub.channel, sub.chat_id, sub.group_code = channel, chat_id, group_code
    sub.topics = sorted(t for t in set(topics) if t in TOPICS)
    sub.updated_at = now
    session.add(sub)
    session.flush()
    return sub


def cancel_pending_notices(session: Session, channel: str, chat_id: str) -> int:
    """Not-yet-sent class notices to this chat are dropped at once ("cancelled")."""
    res = session.exec(update(OutboxMessage).where(
        OutboxMessage.kind == KIND, OutboxMessage.channel == channel, OutboxMessage.chat_id == chat_id,
        OutboxMessage.status == "pending").values(status="cancelled", last_error="recipient unsubscribed"))
    return res.rowcount or 0


def unsubscribe(session: Session, person_id: int, now: datetime) -> bool:
    sub = subscription(session, person_id)
    if sub is None:
        return False
    cancel_pending_notices(session, sub.channel, sub.chat_id)
    # A waiting-list place would later need a notice to be useful: release it.
    for su, occ in session.exec(select(ClassSignup, ClassOccurrence)
                                .join(ClassOccurrence, ClassOccurrence.id == ClassSignup.occurrence_id)
                                .where(ClassSignup.person_id == person_id, ClassSignup.status == "waiting",
                                       ClassOccurrence.starts_at > now)):
        su.status, su.updated_at = "declined", now
        session.add(su)
    session.delete(sub)
    session.flush()
    return True


def unsubscribe_blocked(session: Session, row: OutboxMessage, now: datetime) -> None:
    """Outbox hook: a resident who blocked the bot gets nothing more from us."""
    for sub in session.exec(select(ClassSubscription).where(ClassSubscription.channel == row.channel,
                                                            ClassSubscription.chat_id == row.chat_id)):
        unsubscribe(session, sub.person_id, now)


# --- audience -----------------------------------------------------------------------------------
def audience(session: Session, groups: list[str], topic: str | None, topic_only: bool) -> list[ClassSubscription]:
    q = select(ClassSubscription).order_by(ClassSubscription.id)
    if groups:
        q = q.where(ClassSubscription.group_code.in_(groups))
    subs = list(session.exec(q))
    if topic_only and topic:
        subs = [s for s in subs if not s.topics or topic in s.topics]  # [] means "every topic"
    return subs


def class_audience(session: Session, cls: LiteracyClass) -> list[ClassSubscription]:
    return audience(session, list(cls.audience.get("groups") or []), cls.topic, bool(cls.audience.get("topic_only")))


def after_quiet_hours(profile: WardProfile, when: datetime) -> datetime:
    """Broadcasts wait for the end of the ward's quiet hours (default 22:00-06:00)."""
    qs, qe = profile.quiet_hours.start, profile.quiet_hours.end
    start, end = time.fromisoformat(qs), time.fromisoformat(qe)
    local = to_local(when)
    t = local.time()
    quiet = (start <= t or t < end) if start > end else (start <= t < end)
    if not quiet:
        return when
    day = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, tzinfo=TZ).astimezone(timezone.utc)


# --- classes ------------------------------------------------------------------------------------
def create_class(session: Session, draft: ClassDraft, profile: WardProfile, now: datetime,
                 created_by: int | None) -> LiteracyClass:
    draft.check(profile, now)
    cls = LiteracyClass(topic=draft.topic, place=draft.place.strip(), capacity=draft.capacity,
                        group_code=draft.group_code or (draft.groups[0] if len(draft.groups) == 1 else None),
                        duration_minutes=draft.duration_minutes,
                        audience={"groups": list(draft.groups), "topic_only": draft.topic_only},
                        repeat_weekly=len(draft.starts) > 1, status="draft", created_by=created_by,
                        created_at=now)
    session.add(cls)
    session.flush()
    for i, start in enumerate(draft.starts, 1):
        session.add(ClassOccurrence(class_id=cls.id, n=i, starts_at=start))
    session.flush()
    return cls


def occurrences(session: Session, class_id: int) -> list[ClassOccurrence]:
    return list(session.exec(select(ClassOccurrence).where(ClassOccurrence.class_id == class_id)
                             .order_by(ClassOccurrence.n)))


def preview(session: Session, cls: LiteracyClass, profile: WardProfile) -> str:
    occs = occurrences(session, cls.id)
    n = len(class_audience(session, cls))
    groups = cls.audience.get("groups") or []
    who = ("mọi người đã đăng ký nhận tin" if not groups
           else "người đăng ký ở " + ", ".join(profile.group(g).name if profile.group(g) else g for g in groups))
    if cls.audience.get("topic_only"):
        who += f", chỉ người quan tâm chủ đề {topic_label(cls.topic)}"
    when = when_text(occs[0].starts_at)
    if len(occs) > 1:
        when += f", hằng tuần {len(occs)} buổi, buổi cuối {when_text(occs[-1].starts_at)}"
    return (f"Xem trước lớp #{cls.id}:\n• Chủ đề: {topic_label(cls.topic)}\n• Thời gian: {when}\n"
            f"• Địa điểm: {cls.place}\n• Số chỗ: {cls.capacity}\n• Gửi tới: {who} ({n} người)\n\n"
            f"Nội dung thông báo:\n{notice_reply(cls, occs[0], len(occs)).text}")


def publish(app, session: Session, cls: LiteracyClass, now: datetime) -> int:
    """Confirm a draft: the first occurrence's notices go out now (after quiet hours), later
    occurrences' notices and every reminder are scheduled. Returns notices enqueued now."""
    if cls.status != "draft":
        raise ClassError(f"Lớp #{cls.id} đã được gửi thông báo rồi.")
    occs = occurrences(session, cls.id)
    if not occs or occs[0].starts_at <= now:
        raise ClassError("Buổi học đầu tiên đã qua, không gửi thông báo được. Bạn tạo lại lớp với ngày mới nhé.")
    cls.status, cls.published_at = "published", now
    session.add(cls)
    sent_now = 0
    for occ in occs:
        notice_at = occ.starts_at - NOTICE_LEAD
        if occ.n == 1 or notice_at <= now:
            sent_now += enqueue_notices(app, session, cls, occ, now, total=len(occs))
        else:
            sched.schedule(session, f"bclass-notice-{occ.id}", "bclass.notice", notice_at, {"occ": occ.id})
        eve = datetime.combine(to_local(occ.starts_at).date() - timedelta(days=1), REMINDER_TIME, tzinfo=TZ)
        fire = max(eve.astimezone(timezone.utc), now)
        if fire < occ.starts_at - timedelta(hours=1):
            sched.schedule(session, f"bclass-remind-{occ.id}", "bclass.remind", fire, {"occ": occ.id})
    return sent_now


def enqueue_notices(app, session: Session, cls: LiteracyClass, occ: ClassOccurrence, now: datetime,
                    total: int | None = None) -> int:
    total = total or len(occurrences(session, cls.id))
    reply = notice_reply(cls, occ, total)
    already = set(session.exec(select(ClassSignup.person_id).where(ClassSignup.occurrence_id == occ.id)))
    items = [(s.channel, s.chat_id, reply, notice_key(cls.id, occ.n, s.person_id))
             for s in class_audience(session, cls) if s.person_id not in already]
    return enqueue_many(session, items, now, kind=KIND, not_before=after_quiet_hours(app.profile, now))


# --- sign-ups -----------------------------------------------------------------------------------
def _lock_occurrence(session: Session, occ_id: int) -> ClassOccurrence | None:
    # Writing the row first takes its lock (SQLite: the database write lock; PostgreSQL: the row),
    # so two residents pressing "Tham gia" at once cannot both take the last seat.
    session.exec(update(ClassOccurrence).where(ClassOccurrence.id == occ_id)
                 .values(seq=ClassOccurrence.seq + 1))
    occ = session.get(ClassOccurrence, occ_id)
    if occ is not None:
        session.refresh(occ)
    return occ


def counts(session: Session, occ_id: int) -> dict[str, int]:
    rows = session.exec(select(ClassSignup.status, func.count()).where(ClassSignup.occurrence_id == occ_id)
                        .group_by(ClassSignup.status))
    return {st: n for st, n in rows}


def _signup(session: Session, occ_id: int, person_id: int) -> ClassSignup | None:
    return session.exec(select(ClassSignup).where(ClassSignup.occurrence_id == occ_id,
                                                  ClassSignup.person_id == person_id)).first()


def waiting_position(session: Session, su: ClassSignup) -> int:
    return session.exec(select(func.count()).where(
        ClassSignup.occurrence_id == su.occurrence_id, ClassSignup.status == "waiting",
        ClassSignup.queue_no < su.queue_no)).one() + 1


@dataclass
class SignupResult:
    message: str
    promoted: list[int] = field(default_factory=list)  # person ids moved from waiting to going


def join(app, session: Session, occ_id: int, person_id: int, now: datetime) -> SignupResult:
    occ = _lock_occurrence(session, occ_id)
    cls = session.get(LiteracyClass, occ.class_id) if occ else None
    if occ is None or cls is None or cls.status == "draft":
        return SignupResult("Không tìm thấy lớp học này.")
    if cls.status == "cancelled" or occ.status == "cancelled":
        return SignupResult("Rất tiếc, buổi học này đã bị hủy.")
    if occ.starts_at <= now:
        return SignupResult("Buổi học này đã bắt đầu hoặc đã diễn ra, không đăng ký được nữa.")
    su = _signup(session, occ_id, person_id)
    what = f"lớp {topic_label(cls.topic)} lúc {when_text(occ.starts_at)} tại {cls.place}"
    if su is not None and su.status == "going":
        return SignupResult(f"Bạn đã có chỗ trong {what} rồi. Hẹn gặp bạn!")
    if su is not None and su.status == "waiting":
        return SignupResult(f"Bạn đang ở vị trí {waiting_position(session, su)} trong danh sách chờ của {what}. "
                            "Có chỗ trống mình sẽ báo bạn ngay.")
    going = counts(session, occ_id).get("going", 0)
    status = "going" if going < cls.capacity else "waiting"
    if su is None:
        su = ClassSignup(occurrence_id=occ_id, person_id=person_id, status=status, updated_at=now,
                         queue_no=occ.seq)
    else:
        su.status, su.updated_at, su.attended, su.queue_no = status, now, None, occ.seq
    session.add(su)
    session.flush()
    if status == "going":
        remind = ("Tối hôm trước mình sẽ nhắc bạn." if subscription(session, person_id) is not None
                  else "Gõ /dangky nếu bạn muốn được nhắc lịch và báo các lớp sau.")
        return SignupResult(f"Đã giữ chỗ cho bạn: {what}. {remind} "
                            "Nếu bận, bạn chọn \"Không tham gia\" để nhường chỗ cho người khác nhé.")
    return SignupResult(f"Lớp đã đủ {cls.capacity} chỗ. Bạn đang ở vị trí {waiting_position(session, su)} "
                        "trong danh sách chờ; có người hủy, mình sẽ tự động xếp bạn vào và báo bạn ngay.")


def leave(app, session: Session, occ_id: int, person_id: int, now: datetime) -> SignupResult:
    occ = _lock_occurrence(session, occ_id)
    cls = session.get(LiteracyClass, occ.class_id) if occ else None
    if occ is None or cls is None or cls.status == "draft":
        return SignupResult("Không tìm thấy lớp học này.")
    su = _signup(session, occ_id, person_id)
    if occ.starts_at <= now:
        return SignupResult("Buổi học này đã diễn ra rồi.")
    if su is None or su.status == "declined":
        if su is None:
            session.add(ClassSignup(occurrence_id=occ_id, person_id=person_id, status="declined", updated_at=now))
        return SignupResult("Dạ vâng, mình ghi nhận bạn không tham gia buổi này. Cảm ơn bạn đã báo.")
    was_going = su.status == "going"
    su.status, su.updated_at = "declined", now
    session.add(su)
    session.flush()
    promoted = promote(app, session, cls, occ, now) if was_going else []
    return SignupResult("Đã hủy đăng ký của bạn. Khi nào rảnh bạn lại chọn \"Tham gia\" nhé.", promoted)


def promote(app, session: Session, cls: LiteracyClass, occ: ClassOccurrence, now: datetime) -> list[int]:
    """Fill free seats from the waiting list, first come first served, and tell those moved up."""
    free = cls.capacity - counts(session, occ.id).get("going", 0)
    if free <= 0:
        return []
    nxt = list(session.exec(select(ClassSignup).where(ClassSignup.occurrence_id == occ.id,
                                                      ClassSignup.status == "waiting")
                            .order_by(ClassSignup.queue_no).limit(free)))
    out = []
    for su in nxt:
        su.status, su.updated_at = "going", now
        session.add(su)
        out.append(su.person_id)
        sub = subscription(session, su.person_id)
        if sub is not None:  # only opted-in residents get anything from us
            enqueue(session, sub.channel, sub.chat_id,
                    Reply(f"Tin vui: đã có chỗ trống, bạn được xếp vào lớp {topic_label(cls.topic)} lúc "
                          f"{when_text(occ.starts_at)} tại {cls.place}. Nếu không đi được, bạn bấm "
                          "\"Không tham gia\" để nhường chỗ nhé.", buttons=signup_buttons(occ.id)),
                    now=now, kind=KIND, not_before=after_quiet_hours(app.profile, now),
                    dedupe_key=f"class-{cls.id}-occ-{occ.n}-promoted-{su.person_id}-{int(now.timestamp())}")
    session.flush()
    return out


# --- reminders and later notices (scheduler tasks) ---------------------------------------------
@sched.task_kind("bclass.remind")
def _remind(app, session: Session, task, now: datetime) -> None:
    occ = session.get(ClassOccurrence, task.payload["occ"])
    cls = session.get(LiteracyClass, occ.class_id) if occ else None
    if occ is None or cls is None or cls.status != "published" or occ.status == "cancelled" or occ.starts_at <= now:
        return
    for su in session.exec(select(ClassSignup).where(ClassSignup.occurrence_id == occ.id,
                                                     ClassSignup.status == "going")):
        sub = subscription(session, su.person_id) if su.person_id else None
        if sub is None:
            continue
        enqueue(session, sub.channel, sub.chat_id,
                Reply(f"Nhắc lịch: {when_text(occ.starts_at)} bạn có lớp \"Bình dân học vụ số\" "
                      f"{topic_label(cls.topic)} tại {cls.place}. Nhớ mang điện thoại (và căn cước nếu học VNeID). "
                      "Nếu không đi được, bạn bấm \"Không tham gia\" để nhường chỗ nhé.",
                      buttons=[Button("Không tham gia", f"lop:n:{occ.id}")]),
                now=now, kind=KIND, dedupe_key=f"class-{cls.id}-occ-{occ.n}-remind-{su.person_id}")


@sched.task_kind("bclass.notice")
def _later_notice(app, session: Session, task, now: datetime) -> None:
    occ = session.get(ClassOccurrence, task.payload["occ"])
    cls = session.get(LiteracyClass, occ.class_id) if occ else None
    if occ is None or cls is None or cls.status != "published" or occ.status == "cancelled" or occ.starts_at <= now:
        return
    enqueue_notices(app, session, cls, occ, now)


# --- reports ------------------------------------------------------------------------------------
def find_occurrence(session: Session, class_id: int, n: int | None, now: datetime,
                    past: bool = False) -> ClassOccurrence | None:
    occs = occurrences(session, class_id)
    if n is not None:
        return next((o for o in occs if o.n == n), None)
    if past:  # attendance: the latest that has started
        started = [o for o in occs if o.starts_at <= now]
        return started[-1] if started else (occs[0] if occs else None)
    upcoming = [o for o in occs if o.starts_at > now]
    return upcoming[0] if upcoming else (occs[-1] if occs else None)


def delivery_report(session: Session, class_id: int) -> dict[str, int]:
    rows = session.exec(select(OutboxMessage.status, func.count()).where(
        OutboxMessage.dedupe_key.like(f"class-{class_id}-occ-%-person-%")).group_by(OutboxMessage.status))
    st = {s: n for s, n in rows}
    occ_ids = [o.id for o in occurrences(session, class_id)]
    su = {}
    if occ_ids:
        su = {s: n for s, n in session.exec(select(ClassSignup.status, func.count())
                                            .where(ClassSignup.occurrence_id.in_(occ_ids))
                                            .group_by(ClassSignup.status))}
    return {"sent": st.get("sent", 0), "failed": st.get("failed", 0), "blocked": st.get("blocked", 0),
            "pending": st.get("pending", 0) + st.get("sending", 0), "cancelled": st.get("cancelled", 0),
            "signups": su.get("going", 0), "waiting": su.get("waiting", 0), "declined": su.get("declined", 0)}


def attendance(session: Session, occ: ClassOccurrence) -> int:
    if occ.attendance_count is not None:
        return occ.attendance_count
    return session.exec(select(func.count()).where(ClassSignup.occurrence_id == occ.id,
                                                   ClassSignup.attended.is_(True))).one()


def stats_provider(session: Session, start: datetime, end: datetime, group_code: str | None) -> dict:
    """Quarterly report figures. A class counts as held once its attendance is marked."""
    q = (select(ClassOccurrence, LiteracyClass).join(LiteracyClass, LiteracyClass.id == ClassOccurrence.class_id)
         .where(ClassOccurrence.starts_at >= start, ClassOccurrence.starts_at < end,
                LiteracyClass.status == "published", ClassOccurrence.status != "cancelled"))
    if group_code:
        q = q.where(LiteracyClass.group_code == group_code)
    held = attended = signups = 0
    for occ, _cls in session.exec(q):
        signups += counts(session, occ.id).get("going", 0)
        if occ.status == "held":
            held += 1
            attended += attendance(session, occ)
    return {"classes_held": held, "class_attendance": attended, "class_signups": signups}


STATS_LABELS = {"classes_held": "Số buổi học BDHVS đã tổ chức", "class_attendance": "Lượt người dự lớp",
                "class_signups": "Lượt đăng ký dự lớp"}
