"""The ward's Zalo Official Account (OA Open API v3, OAuth v4): residents write to the OA page
they already follow. A different product from the Bot Platform of bot/channels/zalo.py: other
hosts, tokens that expire and rotate, a signed webhook, real buttons, and windows within which
the OA may write to a person. Facts and their sources: shared/reference/zalo-oa.md.

Receiving: POST /webhook/zalo-oa. The X-ZEvent-Signature (sha256 of app_id + raw body +
timestamp + OA secret key) is checked first, in constant time; then the event is inserted in
the webhook inbox (its msg_id is the key: a redelivery is recognised), acknowledged, and handled
in the background. The OA's own `oa_send_*` echoes are ignored.

Sending: `cs` messages; a reply names the resident's last message (`recipient.message_id`) while
it is within 48 h and has had fewer than 8 replies, so it counts as a free reply; otherwise the
message is proactive (`recipient.user_id`). Window and quota errors are final for the message:
an outbox notice then goes by ZNS (configured template, phone and consent), else to another
channel of the same person (same phone), else it is held and listed for staff (/oachuagui).

Tokens live in the zalo_oa_token row: seeded from the environment at first start, refreshed on
-216 and before expiry, under a row lock so one refresher runs across all processes; the rotated
refresh token is committed before the new access token is used.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import mimetypes
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from bot.channels.base import (ChatSerialExecutor, Part, PartSender, Replay, backoff, mount_lifecycle,
                               mount_signed_files, recover_replies, seen_before)
from bot import signing
from bot.channels.render import numbered, split_text
from bot.channels.inbox import InboxMixin
from bot.channels.zalo_oa_models import ZaloOaFallback, ZaloOaToken, ZaloOaUser
from bot.core import Attachment, Incoming, Location, Reply
from bot.models import Conversation, OutboxMessage, Person
from bot.outbox import BLOCKED_HOOKS, SendError, enqueue
from bot.ratelimit import RateLimiter

log = logging.getLogger(__name__)

CHANNEL = "zalo_oa"
PATH = "/webhook/zalo-oa"
CALLBACK_PATH = "/zalo-oa/oauth/callback"
FILES_PATH = "/files/zalo-oa"
SIGNATURE_HEADER = "X-ZEvent-Signature"
TEXT_LIMIT = 2000
MAX_BUTTONS = 5
MAX_UPLOAD = 1024 * 1024  # the OA takes jpg/png up to 1 MB by upload
MAX_DOWNLOAD = 15 * 1024 * 1024
MAX_EVENT = 1024 * 1024
BUTTON_PREFIX = "#nut:"  # an oa.query.hide payload comes back as the resident's text
# When the report form asks how to call back, the OA's request-user-info form lets the resident
# share name, phone and address with one tap; the answer arrives as user_submit_info.
CONTACT_BUTTON = "phananh:chatonly"
CONTACT_FORM = {"attachment": {"type": "template", "payload": {"template_type": "request_user_info", "elements": [{
    "title": "Gửi số điện thoại cho phường",
    "subtitle": "Cán bộ chỉ dùng số này để liên hệ về phản ánh của bạn. Không muốn gửi? Chọn nút ở trên.",
    "image_url": "https://stc-developers.zdn.vn/images/bg_1.jpg"}]}}}

REPLY_WINDOW = timedelta(hours=48)
REPLIES_PER_MESSAGE = 8
REFRESH_MARGIN = timedelta(minutes=30)  # refresh the access token this long before it expires
REFRESH_TTL = timedelta(days=90)  # refresh token lifetime (third-party sources; unverified)
WARN_BEFORE = timedelta(days=14)  # staff are told this long before the refresh token expires
NAME_TTL = timedelta(days=7)

ERR_TOKEN = -216
# Window and quota errors (codes reported by third parties; unverified): final for the message.
WINDOW_ERRORS = {-213, -211}
UNFOLLOWED_ERRORS = {-230}

IGNORED_EVENTS = {"user_received_message", "user_seen_message", "user_reacted_message",
                  "oa_reacted_message"}
UNSUPPORTED = ("Mình chưa xem được loại tin nhắn này. Bạn gõ bằng chữ, gửi ảnh hoặc chia sẻ vị trí giúp mình nhé.")
INFO_THANKS = "Cảm ơn bạn, phường đã nhận thông tin liên hệ. Cán bộ chỉ dùng số này để liên hệ về phản ánh của bạn."
NO_ATTACHMENT = "(Tệp đính kèm chưa gửi được qua Zalo OA; bạn xem trên web chat của phường nhé.)"
STAFF_REFRESH_EXPIRY = ("Cảnh báo Zalo OA: mã làm mới (refresh token) của OA hết hạn lúc {when}. "
                        "Quản trị viên OA chạy `python -m bot zalo-oa connect` để cấp quyền lại trước thời điểm đó, "
                        "nếu không trợ lý sẽ không trả lời được cư dân trên Zalo OA.")
STAFF_REFRESH_FAILED = ("Zalo OA: không làm mới được mã truy cập ({error}). Trợ lý tạm thời không gửi được tin "
                        "trên Zalo OA. Quản trị viên OA chạy `python -m bot zalo-oa connect` để cấp quyền lại.")


def _utc(dt: datetime | None) -> datetime | None:
    if dt is not None and dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt


def signature_ok(app_id: str, secret_key: str, raw: bytes, given: str) -> bool:
    """X-ZEvent-Signature is "mac=" + sha256(app_id + raw body + timestamp + OA secret key)."""
    try:
        ts = str(json.loads(raw).get("timestamp", ""))
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):  # anyone's bytes, unchecked yet
        ts = ""
    mac = hashlib.sha256(app_id.encode() + raw + ts.encode() + secret_key.encode()).hexdigest()
    given = given.strip()
    if given.lower().startswith("mac="):
        given = given[4:]
    return hmac.compare_digest(given.encode(), mac.encode())


def oa_limiter() -> RateLimiter:
    # Zalo publishes no rate for the OA API; the windows and quota are the real limit.
    return RateLimiter(per_second=10, per_chat_interval=0.5, group_per_minute=20)


class OaApiError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class WindowError(SendError):
    """The OA may not write to this person now (window or quota): final for this message."""

    def __init__(self, msg: str):
        super().__init__(msg, permanent=True)


class TokenError(Exception):
    pass


def _send_error(e: OaApiError) -> SendError:
    if e.code in WINDOW_ERRORS:
        return WindowError(f"outside the Zalo OA window or quota: {e}")
    if e.code in UNFOLLOWED_ERRORS:
        return SendError(f"unfollowed the OA: {e}", blocked=True)
    if e.code == 0 or e.code == 429 or 500 <= e.code < 600 or e.code == ERR_TOKEN:
        return SendError(str(e))  # network, throttling, server error, token still refreshing
    return SendError(str(e), permanent=True)  # a bad request: sending it again changes nothing


# --- tokens ----------------------------------------------------------------------------------
class Tokens:
    """The OA's tokens in the database. `access()` gives the current access token; `refresh(stale)`
    replaces it unless another worker already did (the caller names the token that failed)."""

    def __init__(self, app, http: httpx.Client):
        self.app, self.http = app, http
        s = app.settings
        self.app_id, self.app_secret = s.zalo_oa_app_id, s.zalo_app_secret
        self.oauth = s.zalo_oauth_url
        self._lock = threading.Lock()  # one refresher per process; the row lock does it across processes
        self._cached: str | None = None

    def seed(self) -> None:
        """First start: take the tokens from the environment; afterwards the database wins."""
        s, now = self.app.settings, self.app.clock.now()
        try:
            with self.app.db.session() as ses:
                row = ses.get(ZaloOaToken, 1)
                if row is None:
                    row = ZaloOaToken(id=1, updated_at=now)
                if row.access_token is None and row.refresh_token is None and (
                        s.zalo_oa_access_token or s.zalo_oa_refresh_token):
                    row.access_token, row.refresh_token = s.zalo_oa_access_token, s.zalo_oa_refresh_token
                    row.access_expires_at = None  # unknown: a -216 refreshes it
                    row.refresh_expires_at = now + REFRESH_TTL
                    row.source, row.updated_at = "env", now
                ses.add(row)
        except IntegrityError:  # another worker seeded it at the same moment
            pass

    def access(self) -> str | None:
        with self.app.db.session() as s:
            row = s.get(ZaloOaToken, 1)
            return row.access_token if row else None

    def _lock_row(self, s):
        if s.bind.dialect.name == "postgresql":
            return s.exec(select(ZaloOaToken).where(ZaloOaToken.id == 1).with_for_update()).first()
        # SQLite: a write takes the database's write lock until commit; other processes wait.
        s.exec(update(ZaloOaToken).where(ZaloOaToken.id == 1).values(refreshes=ZaloOaToken.refreshes))
        return s.exec(select(ZaloOaToken).where(ZaloOaToken.id == 1)).first()

    def refresh(self, stale: str | None, force: bool = False) -> str:
        """A new access token. If the stored one differs from `stale` and is not about to expire,
        another worker refreshed meanwhile: use it. The rotated refresh token is committed before
        the new access token is returned, so it is never lost."""
        with self._lock:
            now = self.app.clock.now()
            with self.app.db.session() as s:
                row = self._lock_row(s)
                if row is None or not row.refresh_token:
                    raise TokenError("no Zalo OA refresh token: run `python -m bot zalo-oa connect`")
                exp = _utc(row.access_expires_at)
                if not force and row.access_token and row.access_token != stale and (
                        exp is None or exp > now + REFRESH_MARGIN):
                    return row.access_token
                try:
                    data = self._token_call({"app_id": self.app_id, "grant_type": "refresh_token",
                                             "refresh_token": row.refresh_token})
                except TokenError as e:
                    row.last_error = str(e)[:500]
                    s.add(row)
                    s.commit()
                    self._notify_failure(str(e))
                    raise
                self._store(row, data, now, "refresh")
                row.refreshes += 1
                s.add(row)
                s.commit()  # the rotated refresh token is stored before anyone uses the new access token
                log.info("Zalo OA access token refreshed (valid until %s)", row.access_expires_at)
                return row.access_token

    def _store(self, row: ZaloOaToken, data: dict, now: datetime, source: str) -> None:
        row.access_token, row.refresh_token = data["access_token"], data["refresh_token"]
        try:
            ttl = int(str(data.get("expires_in") or "90000"))
        except ValueError:
            ttl = 90000
        row.access_expires_at = now + timedelta(seconds=ttl)
        row.refresh_expires_at = now + REFRESH_TTL
        row.source, row.updated_at, row.last_error = source, now, None

    def _token_call(self, form: dict) -> dict:
        try:
            r = self.http.post(f"{self.oauth}/v4/oa/access_token", data=form,
                               headers={"secret_key": self.app_secret or ""}, timeout=15)
            data = r.json()
        except (httpx.HTTPError, ValueError) as e:
            raise TokenError(f"token endpoint unreachable: {e!r}") from e
        if not isinstance(data, dict) or not data.get("access_token") or not data.get("refresh_token"):
            err = data if isinstance(data, dict) else {}
            raise TokenError(f"token refused: {err.get('error')} {err.get('error_name') or ''} "
                             f"{err.get('error_description') or ''}".strip())
        return data

    def exchange_code(self, code: str, state: str) -> None:
        """The consent flow's callback: the code (with the PKCE verifier) becomes the first tokens."""
        now = self.app.clock.now()
        with self._lock, self.app.db.session() as s:
            row = self._lock_row(s) or ZaloOaToken(id=1, updated_at=now)
            if not row.pkce_state or not hmac.compare_digest(row.pkce_state.encode(), state.encode()):
                raise TokenError("state does not match a started connection")
            if _utc(row.pkce_created_at) and _utc(row.pkce_created_at) < now - timedelta(hours=1):
                raise TokenError("the connection link has expired; start again")
            data = self._token_call({"app_id": self.app_id, "grant_type": "authorization_code", "code": code,
                                     "code_verifier": row.pkce_verifier or ""})
            self._store(row, data, now, "consent")
            row.pkce_verifier = row.pkce_state = None
            row.warned_for = None
            s.add(row)

    def _notify_failure(self, error: str) -> None:
        staff = self.app.profile.staff_chat
        if staff is None:
            return
        day = self.app.clock.now().strftime("%Y-%m-%d")
        with self.app.db.session() as s:
            enqueue(s, staff.channel, staff.chat_id, Reply(STAFF_REFRESH_FAILED.format(error=error[:200])),
                    self.app.clock.now(), dedupe_key=f"zalo-oa-refresh-failed-{day}")
        self.app.wake_outbox()

    def check(self) -> None:
        """Periodic: refresh ahead of expiry; warn staff before the refresh token runs out."""
        now = self.app.clock.now()
        with self.app.db.session() as s:
            row = s.get(ZaloOaToken, 1)
            if row is None or not row.refresh_token:
                return
            token, exp = row.access_token, _utc(row.access_expires_at)
            rexp = _utc(row.refresh_expires_at)
            if rexp and rexp - now < WARN_BEFORE and _utc(row.warned_for) != rexp:
                staff = self.app.profile.staff_chat
                if staff is not None:
                    from bot.clock import fmt_local
                    enqueue(s, staff.channel, staff.chat_id,
                            Reply(STAFF_REFRESH_EXPIRY.format(when=fmt_local(rexp))), now,
                            dedupe_key=f"zalo-oa-refresh-expiry-{rexp.isoformat()}")
                row.warned_for = rexp
                s.add(row)
        if exp is not None and exp - now < REFRESH_MARGIN:  # unknown expiry (env tokens): on -216
            try:
                self.refresh(token)
            except TokenError as e:
                log.error("Zalo OA token refresh failed: %s", e)
        self.app.wake_outbox()


def start_consent(app) -> str:
    """Begin the one-time consent (OAuth v4 with PKCE): store verifier and state, return the URL
    the OA admin opens. Zalo sends them back to PUBLIC_URL/zalo-oa/oauth/callback."""
    s = app.settings
    if not s.zalo_oa_app_id:
        raise TokenError("ZALO_OA_APP_ID is not set")
    if not s.public_url:
        raise TokenError("PUBLIC_URL is not set: Zalo must be able to send the admin back to this server")
    verifier = secrets.token_urlsafe(64)[:86]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    state = secrets.token_urlsafe(24)
    now = app.clock.now()
    with app.db.session() as ses:
        row = ses.get(ZaloOaToken, 1) or ZaloOaToken(id=1, updated_at=now)
        row.pkce_verifier, row.pkce_state, row.pkce_created_at = verifier, state, now
        ses.add(row)
    q = urlencode({"app_id": s.zalo_oa_app_id, "redirect_uri": s.public_url.rstrip("/") + CALLBACK_PATH,
                   "code_challenge": challenge, "state": state})
    return f"{s.zalo_oauth_url}/v4/oa/permission?{q}"


# --- the channel -----------------------------------------------------------------------------
class ZaloOaChannel(InboxMixin, PartSender):
    inbox_channel = CHANNEL

    def __init__(self, app, limiter: RateLimiter | None = None):
        s = app.settings
        self.app = app
        self.app_id, self.secret_key = s.zalo_oa_app_id or "", s.zalo_oa_secret_key or ""
        self.api = s.zalo_oa_api_url
        self.zns_url, self.zns_template = s.zalo_zns_url, s.zalo_zns_template_id
        self.transaction_template = s.zalo_oa_transaction_template
        self.http = httpx.Client(timeout=httpx.Timeout(20, connect=10),
                                 limits=httpx.Limits(max_connections=32, max_keepalive_connections=32))
        self.tokens = Tokens(app, self.http)
        self.public_url = (s.public_url or "").rstrip("/") or None
        self.data_dir = Path(s.data_dir).resolve()
        self.media_dir = self.data_dir / "media" / CHANNEL
        self.files_key = signing.load_key(self.data_dir)
        self.limiter = limiter or oa_limiter()
        self.executor = ChatSerialExecutor(workers=8, name="zalo-oa")
        self.check_interval = 300.0
        self._stopping = threading.Event()
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None

    # --- start and stop ---------------------------------------------------------------------
    def start(self) -> None:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.tokens.seed()
        recover_replies(self.app, CHANNEL)
        self.app.senders[CHANNEL] = self
        self._thread = threading.Thread(target=self._maintain, name="zalo-oa-tokens", daemon=True)
        self._thread.start()
        self.resume_inbox()
        self.ready.set()

    def _maintain(self) -> None:
        while not self._stopping.is_set():
            try:
                self.tokens.check()
            except Exception:
                log.exception("Zalo OA token check failed")
            self._stopping.wait(self.check_interval)

    def stop(self) -> None:
        self._stopping.set()
        self.executor.shutdown()
        if self.app.senders.get(CHANNEL) is self:
            del self.app.senders[CHANNEL]
        self.http.close()

    # --- receiving --------------------------------------------------------------------------
    def accept(self, raw: bytes, event: dict) -> str | None:
        """Durable insert of a verified event. Returns the inbox key to process, or None for an
        echo, an ignored event or a redelivery already in the inbox."""
        name = str(event.get("event_name") or "")
        if not name or name.startswith("oa_send_") or name in IGNORED_EVENTS:
            return None
        msg = event.get("message") if isinstance(event.get("message"), dict) else {}
        sender = event.get("sender") if isinstance(event.get("sender"), dict) else {}
        key = str(msg.get("msg_id") or "")[:120]
        if not key:  # follow, unfollow: no msg_id; the same event redelivered has the same bytes
            key = "h" + hashlib.sha256(f"{name}|{sender.get('id')}|{event.get('timestamp')}".encode()).hexdigest()[:40]
        return self.store(key, raw.decode("utf-8", "replace"))

    def chat_key(self, event: dict) -> str:
        return _user_key(event)

    def process(self, event: dict) -> None:
        name = str(event.get("event_name") or "")
        uid = _user_key(event) if isinstance(event.get("sender"), dict) else ""
        uid = "" if uid == "none" else uid[:64]
        if not uid or not name:
            return
        msg = event.get("message") if isinstance(event.get("message"), dict) else {}
        mid = str(msg.get("msg_id") or "") or None
        self._note_user(uid, mid, name)
        if name == "follow":
            ts = str(event.get("timestamp") or "")
            for cmd in ("/start", "/privacy"):  # welcome and privacy notice
                self._handle(Incoming(channel=CHANNEL, chat_id=uid, user_id=uid, text=cmd,
                                      update_id=f"f{ts}{cmd}", user_name=self.display_name(uid)))
            return
        if name == "unfollow":
            self._unfollowed(uid)
            return
        if seen_before(self.app, CHANNEL, mid):
            Replay(uid, mid).send(self, self.app, CHANNEL)  # its stored answer, if it never went out
            return
        if name == "user_submit_info":
            self._submit_info(uid, mid, event.get("info") or {})
            return
        incoming = self.to_incoming(uid, mid, name, msg)
        if isinstance(incoming, Reply):
            self.send_direct(self.app, CHANNEL, uid, [incoming])
            return
        self._handle(incoming)

    def _handle(self, incoming: Incoming) -> None:
        replies = self.app.handle(incoming)
        self.send_direct(self.app, CHANNEL, incoming.chat_id, replies, update_key=incoming.update_id)

    def to_incoming(self, uid: str, mid: str | None, name: str, msg: dict):
        incoming = Incoming(channel=CHANNEL, chat_id=uid, user_id=uid, update_id=mid,
                            user_name=self.display_name(uid))
        atts = [a for a in (msg.get("attachments") or []) if isinstance(a, dict)]
        payload = (atts[0].get("payload") or {}) if atts else {}
        text = msg.get("text") if isinstance(msg.get("text"), str) else None
        if name == "user_send_text":
            if text and text.startswith(BUTTON_PREFIX):
                incoming.button = text[len(BUTTON_PREFIX):]
            else:
                incoming.text = text
        elif name in ("user_send_image", "user_send_gif"):
            incoming.text = text or None
            url = payload.get("url")
            if isinstance(url, str) and url:
                incoming.photos = [self._download(url, "photo")]
        elif name == "user_send_location":
            coords = payload.get("coordinates") or {}
            try:  # the OA sends the coordinates as strings
                lat, lon = float(coords["latitude"]), float(coords["longitude"])
                if -90 <= lat <= 90 and -180 <= lon <= 180:
                    incoming.location = Location(lat, lon)
            except (KeyError, TypeError, ValueError):
                pass
        elif name == "user_send_file":
            url = payload.get("url")
            if isinstance(url, str) and url:
                att = self._download(url, "file")
                att.name = str(payload.get("name") or "")[:200] or None
                incoming.files = [att]
        elif name == "user_send_sticker":
            incoming.files = [Attachment(kind="sticker", file_id=str(payload.get("id") or ""))]
        if not (incoming.text or incoming.button or incoming.photos or incoming.files or incoming.location):
            return Reply(UNSUPPORTED)
        return incoming

    def _note_user(self, uid: str, mid: str | None, name: str) -> None:
        now = self.app.clock.now()
        with self.app.db.session() as s:
            u = s.get(ZaloOaUser, uid) or ZaloOaUser(user_id=uid)
            if mid and name.startswith("user_") and u.last_msg_id != mid:
                u.last_msg_id, u.last_msg_at, u.replies_to_last = mid, now, 0
            if name == "follow":
                u.followed = True
            s.add(u)

    def _unfollowed(self, uid: str) -> None:
        """No more notices: marked like a resident who blocked a bot (class notices unsubscribed)."""
        now = self.app.clock.now()
        with self.app.db.session() as s:
            u = s.get(ZaloOaUser, uid) or ZaloOaUser(user_id=uid)
            u.followed = False
            s.add(u)
            probe = OutboxMessage(channel=CHANNEL, chat_id=uid, payload={}, status="blocked")
            for hook in BLOCKED_HOOKS.values():
                hook(s, probe, now)
            for row in s.exec(select(OutboxMessage).where(OutboxMessage.channel == CHANNEL,
                                                          OutboxMessage.chat_id == uid,
                                                          OutboxMessage.status == "pending")):
                row.status, row.last_error = "blocked", "the resident unfollowed the OA"
                s.add(row)

    def _submit_info(self, uid: str, mid: str | None, info: dict) -> None:
        """The resident filled the OA's request-user-info form: consent to use these details."""
        now = self.app.clock.now()
        phone = "".join(ch for ch in str(info.get("phone") or "") if ch.isdigit())[:15] or None
        with self.app.db.session() as s:
            u = s.get(ZaloOaUser, uid) or ZaloOaUser(user_id=uid)
            u.phone = phone
            u.info_name = str(info.get("name") or "")[:200] or None
            u.address = str(info.get("address") or "")[:300] or None
            u.info_consent_at = now
            s.add(u)
            p = s.exec(select(Person).where(Person.channel == CHANNEL, Person.channel_user_id == uid)).first()
            if p is not None and phone:
                p.phone = phone
                s.add(p)
            conv = s.exec(select(Conversation).where(Conversation.channel == CHANNEL,
                                                     Conversation.chat_id == uid)).first()
            at_contact = conv is not None and conv.flow == "phananh" and conv.step == "contact"
        if at_contact and phone:  # the report form was waiting for a phone number: this is it
            self._handle(Incoming(channel=CHANNEL, chat_id=uid, user_id=uid, text=phone, update_id=mid,
                                  user_name=self.display_name(uid)))
        else:
            self.send_direct(self.app, CHANNEL, uid, [Reply(INFO_THANKS)])

    def display_name(self, uid: str) -> str | None:
        """From user/detail, cached for a week (the event does not carry it)."""
        now = self.app.clock.now()
        with self.app.db.session() as s:
            u = s.get(ZaloOaUser, uid)
            if u is not None and u.display_name and _utc(u.name_fetched_at) and _utc(u.name_fetched_at) > now - NAME_TTL:
                return u.display_name
        try:
            data = self._call("GET", "/v3.0/oa/user/detail", params={"data": json.dumps({"user_id": uid})})
        except (OaApiError, TokenError) as e:
            log.info("Zalo OA user/detail for %s failed: %s", uid, e)
            return u.display_name if u is not None else None
        name = str((data or {}).get("display_name") or "")[:200] or None
        with self.app.db.session() as s:
            u = s.get(ZaloOaUser, uid) or ZaloOaUser(user_id=uid)
            u.display_name, u.name_fetched_at = name, now
            s.add(u)
        return name

    def _download(self, url: str, kind: str) -> Attachment:
        att = Attachment(kind=kind, file_id=url)
        for attempt in range(3):
            dest = None
            try:
                with self.http.stream("GET", url, follow_redirects=True, timeout=30) as r:
                    r.raise_for_status()
                    mime = r.headers.get("content-type", "image/jpeg").split(";")[0].strip()
                    suffix = mimetypes.guess_extension(mime) or (".jpg" if kind == "photo" else ".bin")
                    dest = self.media_dir / f"{uuid.uuid4().hex}{suffix}"
                    size = 0
                    with open(dest, "wb") as out:
                        for chunk in r.iter_bytes():
                            size += len(chunk)
                            if size > MAX_DOWNLOAD:
                                raise ValueError("too large")
                            out.write(chunk)
                att.path, att.mime, att.size = str(dest), mime, size
                return att
            except ValueError as e:
                log.warning("Zalo OA %s %s not kept: %s", kind, url, e)
                if dest is not None:
                    dest.unlink(missing_ok=True)
                return att
            except httpx.HTTPError as e:
                log.warning("Zalo OA %s %s could not be downloaded: %s", kind, url, e)
                time.sleep(backoff(attempt))
        return att

    # --- the API ----------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, json_body: dict | None = None, params: dict | None = None,
              files: dict | None = None, base: str | None = None):
        """One OA API call with the current access token; on -216 the token is refreshed (by one
        worker) and the call made once more. Returns the answer's data or raises OaApiError."""
        token = self.tokens.access()
        for attempt in (0, 1):
            if not token:
                token = self.tokens.refresh(None)
            try:
                r = self.http.request(method, f"{base or self.api}{path}", json=json_body, params=params,
                                      files=files, headers={"access_token": token},
                                      timeout=60 if files else 20)
            except httpx.HTTPError as e:
                raise OaApiError(0, f"network error: {e!r}") from e
            try:
                data = r.json()
            except ValueError:
                raise OaApiError(r.status_code if r.status_code >= 400 else 502,
                                 f"unreadable answer (HTTP {r.status_code})") from None
            if not isinstance(data, dict):
                raise OaApiError(502, "unexpected answer")
            code = int(data.get("error") or 0) if str(data.get("error") or "0").lstrip("-").isdigit() else -1
            if code == 0 and r.is_success:
                return data.get("data")
            if code == ERR_TOKEN and attempt == 0:
                try:
                    token = self.tokens.refresh(token)
                except TokenError as e:
                    raise OaApiError(ERR_TOKEN, f"access token expired and refresh failed: {e}") from e
                continue
            raise OaApiError(code or r.status_code, str(data.get("message") or r.reason_phrase))
        raise AssertionError("unreachable")

    def _recipient(self, uid: str) -> dict:
        """A free reply to the resident's last message while the window allows, else proactive."""
        now = self.app.clock.now()
        with self.app.db.session() as s:
            u = s.get(ZaloOaUser, uid)
            if (u is not None and u.last_msg_id and _utc(u.last_msg_at)
                    and _utc(u.last_msg_at) > now - REPLY_WINDOW and u.replies_to_last < REPLIES_PER_MESSAGE):
                return {"message_id": u.last_msg_id}
        return {"user_id": uid}

    def _cs(self, uid: str, message: dict):
        rec = self._recipient(uid)
        try:
            try:
                res = self._call("POST", "/v3.0/oa/message/cs", json_body={"recipient": rec, "message": message})
            except OaApiError as e:
                if "message_id" in rec and e.code in WINDOW_ERRORS:
                    # Our count of the free replies disagrees with the OA's: write proactively.
                    with self.app.db.session() as s:
                        u = s.get(ZaloOaUser, uid)
                        if u is not None:
                            u.replies_to_last = REPLIES_PER_MESSAGE
                            s.add(u)
                    rec = {"user_id": uid}
                    res = self._call("POST", "/v3.0/oa/message/cs", json_body={"recipient": rec, "message": message})
                else:
                    raise
        except OaApiError as e:
            raise _send_error(e) from e
        except TokenError as e:
            raise SendError(f"Zalo OA token: {e}") from e
        if "message_id" in rec:
            with self.app.db.session() as s:
                u = s.get(ZaloOaUser, uid)
                if u is not None and u.last_msg_id == rec["message_id"]:
                    u.replies_to_last += 1
                    s.add(u)
        return res

    # --- sending ----------------------------------------------------------------------------
    def file_url(self, path: str, ttl: int = signing.PHOTO_TTL) -> str | None:
        """A signed, expiring link under BOT_DATA_DIR's media/ and reports/ (bot/signing.py),
        for images the upload refused and for documents."""
        if not self.public_url:
            return None
        signed = signing.sign(self.files_key, self.data_dir, path, ttl)
        return f"{self.public_url}{FILES_PATH}/{signed}" if signed else None

    def resolve_file(self, token: str) -> Path | None:
        return signing.resolve(self.files_key, self.data_dir, token)

    def _image_message(self, path: str) -> dict | None:
        p = Path(path)
        try:
            size = p.stat().st_size
        except OSError:
            return None
        if size <= MAX_UPLOAD and p.suffix.lower() in (".jpg", ".jpeg", ".png"):
            mime = "image/png" if p.suffix.lower() == ".png" else "image/jpeg"
            try:
                with open(p, "rb") as f:
                    data = self._call("POST", "/v2.0/oa/upload/image", files={"file": (p.name, f, mime)})
                aid = (data or {}).get("attachment_id")
                if aid:
                    return {"attachment": {"type": "template", "payload": {
                        "template_type": "media", "elements": [{"media_type": "image", "attachment_id": aid}]}}}
            except (OaApiError, TokenError) as e:
                log.warning("Zalo OA image upload failed (%s); sending a link instead", e)
        url = self.file_url(path)
        if url:
            return {"attachment": {"type": "template", "payload": {
                "template_type": "media", "elements": [{"media_type": "image", "url": url}]}}}
        return None

    def parts(self, chat_id: str, reply: Reply) -> list[Part]:
        real_buttons = 0 < len(reply.buttons) <= MAX_BUTTONS and all(
            len(BUTTON_PREFIX + b.data) <= 1000 and b.text.strip() for b in reply.buttons)
        text = reply.text if real_buttons or not reply.buttons else numbered(reply)
        if reply.document:
            link = self.file_url(reply.document, signing.DOCUMENT_TTL)
            name = reply.document_name or Path(reply.document).name
            text = f"{text}\nTải tệp {name}: {link}" if link else f"{text}\n{NO_ATTACHMENT}"
        chunks = split_text(text, TEXT_LIMIT) if text.strip() else []
        if real_buttons and not chunks:
            chunks = ["Mời bạn chọn:"]
        out: list[Part] = []
        if reply.photo:
            def photo_op(path=reply.photo):
                message = self._image_message(path)
                if message is None:
                    return self._cs(chat_id, {"text": NO_ATTACHMENT})
                return self._cs(chat_id, message)
            out.append(Part(photo_op, reply))
        for i, chunk in enumerate(chunks):
            message: dict = {"text": chunk}
            if real_buttons and i == len(chunks) - 1:
                message["attachment"] = {"type": "template", "payload": {"buttons": [
                    {"title": b.text[:100], "type": "oa.query.hide", "payload": BUTTON_PREFIX + b.data}
                    for b in reply.buttons]}}
            rest = reply if i == 0 and not reply.photo else Reply(text="\n".join(chunks[i:]),
                                                                  buttons=reply.buttons if real_buttons else [])
            out.append(Part(lambda m=message: self._cs(chat_id, m), rest))
        if any(b.data == CONTACT_BUTTON for b in reply.buttons):
            out.append(Part(lambda: self._cs(chat_id, CONTACT_FORM), Reply(text="")))
        return out

    def send(self, chat_id: str, reply: Reply) -> None:
        """The outbox path (notices, reminders, report updates): what the OA refuses for its
        windows or quota goes by ZNS, another channel, or is held for staff."""
        with self.app.db.session() as s:
            u = s.get(ZaloOaUser, chat_id)
            if u is not None and not u.followed:
                raise SendError("the resident unfollowed the OA", blocked=True)
        try:
            super().send(chat_id, reply)
        except WindowError as e:
            self._fallback(chat_id, reply, str(e))

    def _fallback(self, uid: str, reply: Reply, reason: str) -> None:
        now = self.app.clock.now()
        with self.app.db.session() as s:
            u = s.get(ZaloOaUser, uid)
            phone = u.phone if u is not None and u.info_consent_at is not None else None
            person = s.exec(select(Person).where(Person.channel == CHANNEL, Person.channel_user_id == uid)).first()
            phone_any = phone or (person.phone if person is not None else None)
            other = None
            if phone_any:
                other = s.exec(select(Person).where(Person.phone == phone_any, Person.channel != CHANNEL,
                                                    Person.channel.in_(list(self.app.senders) + ["web"]))
                               .order_by(Person.last_seen_at.desc())).first()
        text = numbered(reply)
        if self.transaction_template:
            # A transaction message (approved template type) may reach anyone who interacted
            # with the OA within a year.
            try:
                self._call("POST", "/v3.0/oa/message/transaction", json_body={
                    "recipient": {"user_id": uid}, "message": {"attachment": {"type": "template", "payload": {
                        "template_type": self.transaction_template, "language": "VI",
                        "elements": [{"type": "header", "content": self.app.profile.ward.name[:100]},
                                     {"type": "text", "align": "left", "content": text[:1000]}]}}}})
                self._log_fallback(uid, "transaction", reason, text)
                return
            except (OaApiError, TokenError) as e:
                log.warning("transaction message to %s failed: %s", uid, e)
                reason = f"{reason}; transaction failed: {e}"
        if self.zns_template and phone:
            intl = "84" + phone[1:] if phone.startswith("0") else phone
            try:
                self._call("POST", "/message/template", base=self.zns_url, json_body={
                    "phone": intl, "template_id": self.zns_template,
                    "template_data": {"message": text[:400]}, "tracking_id": uuid.uuid4().hex})
                self._log_fallback(uid, "zns", reason, text)
                return
            except (OaApiError, TokenError) as e:
                log.warning("ZNS to %s failed: %s", uid, e)
                reason = f"{reason}; ZNS failed: {e}"
        if other is not None:
            with self.app.db.session() as s:
                enqueue(s, other.channel, other.chat_id, reply, now, kind="notice")
            self.app.wake_outbox()
            self._log_fallback(uid, f"channel:{other.channel}", reason, text)
            return
        self._log_fallback(uid, "held", reason, text)
        raise SendError(f"held, undeliverable: {reason}", permanent=True)

    def _log_fallback(self, uid: str, route: str, reason: str, text: str) -> None:
        with self.app.db.session() as s:
            s.add(ZaloOaFallback(user_id=uid, route=route, reason=reason[:500], text=text[:300],
                                 at=self.app.clock.now()))
        log.info("Zalo OA message to %s: %s (%s)", uid, route, reason)


def _user_key(event: dict) -> str:
    sender = event.get("sender")
    return str(sender.get("id") or "none") if isinstance(sender, dict) else "none"


def mount(api, app) -> None:
    s = app.settings
    if not (s.zalo_oa_app_id and s.zalo_oa_secret_key):
        return
    channel = ZaloOaChannel(app)
    api.state.zalo_oa = channel

    @api.post(PATH, include_in_schema=False)
    async def zalo_oa_webhook(request: Request):
        given = request.headers.get(SIGNATURE_HEADER)
        if given is None:
            return JSONResponse({"error": "missing signature"}, status_code=401)
        if int(request.headers.get("content-length") or 0) > MAX_EVENT:
            return JSONResponse({"error": "too large"}, status_code=413)
        raw = await request.body()
        if len(raw) > MAX_EVENT:
            return JSONResponse({"error": "too large"}, status_code=413)
        if not signature_ok(channel.app_id, channel.secret_key, raw, given):
            return JSONResponse({"error": "bad signature"}, status_code=403)
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return JSONResponse({"error": "invalid JSON"}, status_code=400)
        if not isinstance(event, dict):
            return JSONResponse({"error": "invalid event"}, status_code=400)
        key = await run_in_threadpool(channel.accept, raw, event)
        if key is not None:  # stored: acknowledge now, answer in the background
            channel.submit_key(key, channel.chat_key(event))
        return {"error": 0}

    @api.get(CALLBACK_PATH, include_in_schema=False)
    def zalo_oa_callback(code: str = "", state: str = ""):
        if not code or not state:
            return HTMLResponse("<p>Thiếu mã cấp quyền. Bạn chạy lại <code>python -m bot zalo-oa connect</code>.</p>",
                                status_code=400)
        try:
            channel.tokens.exchange_code(code, state)
        except TokenError as e:
            log.warning("Zalo OA consent failed: %s", e)
            return HTMLResponse(f"<p>Kết nối Zalo OA không thành công: {_html(str(e))}. "
                                "Bạn chạy lại <code>python -m bot zalo-oa connect</code>.</p>", status_code=400)
        app.wake_outbox()
        return HTMLResponse("<p>Đã kết nối Zalo OA của phường. Bạn có thể đóng trang này.</p>")

    mount_signed_files(api, FILES_PATH, channel)

    mount_lifecycle(api, channel)


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
