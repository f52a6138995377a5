"""Zalo channel over the Zalo Bot Platform API (https://bot.zaloplatforms.com/docs).

Calls are POST {ZALO_API_URL}/bot{token}/{method} with a JSON body; answers are {"ok": true,
"result": ...} or {"ok": false, "error_code", "description"}. getUpdates (long polling, no
offset: an update is consumed once returned) for development; setWebhook with a secret token for
production, echoed by Zalo in the X-Bot-Api-Secret-Token header of every webhook request.
Events: message.text.received, message.image.received (photo URL, caption),
message.sticker.received, message.unsupported.received; a text message is at most 2,000
characters. Zalo has no buttons: they become a numbered list, answered with "1", "2"...
Real image events carry `photo_url` (the documentation says `photo`); a 429 names no wait, so we
wait ZALO_429_WAIT. The webhook stores the event (webhook_inbox) and acknowledges before answering.

A thin httpx client rather than python-zalo-bot 0.1.9: that package's webhook calls use
asyncio.run (unusable inside a running server), getUpdates returns a single parsed object and
errors lose the platform's error code, which the retry policy needs.
"""
from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import threading
import time
import uuid
from pathlib import Path

import httpx
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from bot.channels.base import (ChatSerialExecutor, Part, PartSender, Typing, apply_text_location, backoff,
                               derived_secret, mount_lifecycle, mount_signed_files, read_webhook, recover_replies, Replay,
                               seen_before, shape_problem, ZALO_UPDATE)
from bot import signing
from bot.channels.inbox import InboxMixin
from bot.channels.render import numbered, split_text
from bot.core import Attachment, Incoming, Location, Reply
from bot.outbox import SendError
from bot.ratelimit import RateLimiter
from bot.ratelimit import limiter as shared_limiter

log = logging.getLogger(__name__)

CHANNEL = "zalo"
PATH = "/webhook/zalo"
FILES_PATH = "/files/zalo"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
TEXT_LIMIT = 2000
MAX_DOWNLOAD = 15 * 1024 * 1024
MAX_UPDATE = 1024 * 1024
ZALO_429_WAIT = 2.0  # seconds: Zalo documents no retry_after
PHOTO_TIMEOUT = 60.0  # sendPhoto: Zalo fetches the image from our link before it answers
UNSUPPORTED = ("Mình chưa xem được loại tin nhắn này. Bạn gõ bằng chữ hoặc gửi ảnh giúp mình nhé. "
               "Để báo vị trí, bạn dán đường link Google Maps của điểm đó.")
NO_ATTACHMENT = "(Tệp đính kèm chưa gửi được qua Zalo; bạn xem trên web chat của phường nhé.)"


def zalo_limiter(db=None) -> RateLimiter:
    # Zalo publishes no figures beyond answering 429 "Quota exceeded"; stay well below
    # Telegram's limits and let 429s slow us down further.
    # With a database (PostgreSQL), every worker shares the overall rate (bot.ratelimit.limiter).
    return shared_limiter(db, "zalo", per_second=15, per_chat_interval=1.0, group_per_minute=20)


class ZaloApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: float | None = None):
        super().__init__(f"{code}: {description}")
        self.code, self.description, self.retry_after = code, description, retry_after


class ZaloClient:
    def __init__(self, token: str, root: str, pool: int = 64):
        self.base = f"{root.rstrip('/')}/bot{token}"
        self.http = httpx.Client(timeout=httpx.Timeout(20, connect=10),
                                 limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool))

    def call(self, method: str, params: dict | None = None, timeout: float | None = None):
        try:
            r = self.http.post(f"{self.base}/{method}", json=params or {},
                               **({"timeout": timeout} if timeout else {}))
        except httpx.HTTPError as e:  # refused, reset, dropped mid-answer, timed out
            raise ZaloApiError(0, f"network error: {e!r}") from e
        try:
            data = r.json()
        except ValueError:
            raise ZaloApiError(r.status_code, f"unreadable answer (HTTP {r.status_code})") from None
        if r.is_success and isinstance(data, dict) and data.get("ok"):
            return data.get("result")
        data = data if isinstance(data, dict) else {}
        code = int(data.get("error_code") or data.get("errorCode") or r.status_code or 0)
        retry_after = (data.get("parameters") or {}).get("retry_after")
        if retry_after is None and r.headers.get("retry-after", "").isdigit():
            retry_after = int(r.headers["retry-after"])
        raise ZaloApiError(code, str(data.get("description") or r.reason_phrase),
                           float(retry_after) if retry_after is not None else None)

    def close(self) -> None:
        self.http.close()


def _send_error(e: ZaloApiError) -> SendError:
    if e.code == 429:
        return SendError(str(e), retry_after=e.retry_after if e.retry_after is not None else ZALO_429_WAIT)
    if e.code in (400, 401, 404):  # bad request, bad token, unknown chat
        return SendError(str(e), permanent=True)
    return SendError(str(e))  # network, 403 ("internal error" in Zalo's table), 408, 5xx


class ZaloChannel(InboxMixin, PartSender):
    inbox_channel = CHANNEL

    def __init__(self, app, limiter: RateLimiter | None = None, poll_timeout: int = 30):
        s = app.settings
        self.app = app
        self.token: str = s.zalo_token
        self.api_root = s.zalo_api_url
        self.client = ZaloClient(self.token, self.api_root)
        self.public_url = (s.public_url or "").rstrip("/") or None
        self.secret = s.zalo_webhook_secret or derived_secret(self.token, "zalo-webhook")
        self.files_key = signing.load_key(s.data_dir)
        self.data_dir = Path(s.data_dir).resolve()
        self.media_dir = self.data_dir / "media" / CHANNEL
        self.limiter = limiter or zalo_limiter(app.db)
        self.poll_timeout = poll_timeout
        self.webhook_delay = 1.0
        self.executor = ChatSerialExecutor(workers=8, name="zalo")
        self._stopping = threading.Event()
        self.ready = threading.Event()
        self._settled = threading.Event()  # start-up finished, well or for good
        self._boot_thread: threading.Thread | None = None
        self._poll_thread: threading.Thread | None = None

    # --- start and stop ---------------------------------------------------------------------
    def start(self, wait: float = 15) -> None:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        recover_replies(self.app, CHANNEL)
        self.app.senders[CHANNEL] = self
        self.resume_inbox()
        self._boot_thread = threading.Thread(target=self._boot, name="zalo-boot", daemon=True)
        self._boot_thread.start()
        if self.public_url:
            return  # setWebhook waits for the server to listen: see _boot
        if not self._settled.wait(wait):
            log.warning("Zalo is not answering yet; still trying in the background")

    def _boot(self) -> None:
        try:
            self._boot_loop()
        finally:
            self._settled.set()

    def _boot_loop(self) -> None:
        attempt = 0
        if self.public_url:
            # Zalo calls the webhook to check it as soon as it is set, and start-up work runs
            # before the server accepts connections: give it a moment to listen.
            self._stopping.wait(self.webhook_delay)
        while not self._stopping.is_set():
            try:
                self.client.call("getMe")
                if self.public_url:
                    if not 8 <= len(self.secret) <= 256:
                        log.error("ZALO_WEBHOOK_SECRET must be 8 to 256 characters; the Zalo channel is off")
                        return
                    res = self.client.call("setWebhook", {"url": self.public_url + PATH, "secret_token": self.secret})
                    check = (res or {}).get("verification") if isinstance(res, dict) else None
                    if isinstance(check, dict) and not check.get("ok", True):
                        log.warning("Zalo could not reach the webhook %s%s: %s (%s)", self.public_url, PATH,
                                    check.get("outcome"), check.get("hint"))
                    else:
                        log.info("Zalo webhook registered at %s%s", self.public_url, PATH)
                else:
                    self.client.call("deleteWebhook")  # getUpdates does not work while a webhook is set
                    self._poll_thread = threading.Thread(target=self._poll, name="zalo-poll", daemon=True)
                    self._poll_thread.start()
                    log.info("Zalo: polling for updates")
                self.ready.set()
                return
            except ZaloApiError as e:
                if e.code == 401:
                    log.error("ZALO_BOT_TOKEN was rejected by Zalo; the Zalo channel is off")
                    self.app.senders.pop(CHANNEL, None)  # notices stay in the outbox until it is fixed
                    return
                delay = backoff(attempt) * 2
                attempt += 1
                log.warning("Zalo start-up failed (%s); retrying in %.0fs", e, delay)
                self._stopping.wait(delay)

    def stop(self) -> None:
        self._stopping.set()
        if self._poll_thread is not None:
            # A long poll cannot be interrupted; the thread ends when it returns, handling in
            # its own thread what it fetched after this point (Zalo will not send it again).
            self._poll_thread.join(timeout=2)
        self.executor.shutdown()
        if self.app.senders.get(CHANNEL) is self:
            del self.app.senders[CHANNEL]
        self.client.close()

    # --- receiving --------------------------------------------------------------------------
    def _poll(self) -> None:
        poller = ZaloClient(self.token, self.api_root, pool=1)
        failures = 0
        try:
            while not self._stopping.is_set():
                try:
                    result = poller.call("getUpdates", {"timeout": str(self.poll_timeout)},
                                         timeout=self.poll_timeout + 10)
                    failures = 0
                except ZaloApiError as e:
                    if e.code == 408:  # nothing arrived within the timeout
                        continue
                    if e.code == 401:
                        log.error("Zalo rejected the token; polling stopped")
                        return
                    failures += 1
                    log.warning("Zalo getUpdates failed: %s", e)
                    self._stopping.wait(backoff(failures))
                    continue
                updates = result if isinstance(result, list) else [result] if result else []
                for u in updates:
                    if not isinstance(u, dict):
                        continue
                    try:
                        self.executor.submit(_chat_key(u), lambda u=u: self._process_logged(u))
                    except RuntimeError:  # shutting down: the executor takes no more work
                        self._process_logged(u)
        finally:
            poller.close()

    # --- webhook: store, acknowledge, answer in the background ----------------------------------
    def accept(self, update: dict) -> str | None:
        """Durable insert of a webhook event; None for a redelivery already stored."""
        mid = (update.get("message") or {}).get("message_id")
        key = f"m{mid}"[:120] if mid else "h" + hashlib.sha256(
            json.dumps(update, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:40]
        return self.store(key, json.dumps(update, ensure_ascii=False))

    def chat_key(self, event: dict) -> str:
        return _chat_key(event)

    def _process_logged(self, update: dict) -> None:
        try:
            self.process(update)
        except Exception:
            log.exception("Zalo update failed")

    def process(self, update: dict) -> None:
        msg = self.to_incoming(update)
        if msg is None:
            return
        if isinstance(msg, tuple):  # (chat_id, Reply): something we cannot read
            self.send_direct(self.app, CHANNEL, msg[0], [msg[1]])
            return
        if isinstance(msg, Replay):
            msg.send(self, self.app, CHANNEL)
            return
        with Typing(lambda: self.client.call("sendChatAction", {"chat_id": msg.chat_id, "action": "typing"},
                                             timeout=10)):
            replies = self.app.handle(msg)
        self.send_direct(self.app, CHANNEL, msg.chat_id, replies, is_group=msg.is_group, update_key=msg.update_id)

    def to_incoming(self, update: dict):
        event = update.get("event_name") or ""
        m = update.get("message") or {}
        chat, sender = m.get("chat") or {}, m.get("from") or {}
        if not chat.get("id") or sender.get("is_bot"):
            return None
        chat_id = str(chat["id"])
        if event == "message.unsupported.received":
            # Sent by users Zalo shields from bots (e.g. minors): their content is withheld.
            log.info("Zalo: unsupported message from %s ignored", chat_id)
            return None
        mid = m.get("message_id")
        if seen_before(self.app, CHANNEL, f"m{mid}" if mid else None):
            return Replay(chat_id, f"m{mid}", str(chat.get("chat_type", "")).upper() == "GROUP")
        kind = str(chat.get("chat_type") or "").upper()
        sender_id = str(sender.get("id") or "")
        # A private chat's id is its user's: without a chat type, a chat that is not the sender's
        # own is a group (never somebody's private chat), and a group message must name its sender.
        group = kind == "GROUP" or (kind != "PRIVATE" and sender_id != chat_id)
        msg = Incoming(channel=CHANNEL, chat_id=chat_id, user_id=sender_id or ("" if group else chat_id),
                       update_id=f"m{mid}" if mid else None,
                       user_name=sender.get("display_name") or sender.get("first_name") or sender.get("name"),
                       is_group=group)
        if event == "message.text.received":
            msg.text = m.get("text")
        elif event == "message.image.received":
            msg.text = m.get("caption") or None
            url = m.get("photo") or m.get("photo_url")
            if isinstance(url, str) and url:
                msg.photos = [self._download(url)]
        elif event == "message.sticker.received":
            msg.files = [Attachment(kind="sticker", file_id=str(m.get("sticker") or ""))]
        loc = m.get("location")  # not in the published events; taken if Zalo ever sends one
        if isinstance(loc, dict) and loc.get("latitude") is not None:
            try:
                msg.location = Location(float(loc["latitude"]), float(loc["longitude"]))
            except (TypeError, ValueError, KeyError):
                pass
        apply_text_location(msg)
        if not (msg.text or msg.photos or msg.files or msg.location):
            return chat_id, Reply(UNSUPPORTED)
        return msg

    def _download(self, url: str) -> Attachment:
        att = Attachment(kind="photo", file_id=url)
        dest = None
        for attempt in range(3):
            try:
                with httpx.stream("GET", url, follow_redirects=True, timeout=30) as r:
                    r.raise_for_status()
                    mime = r.headers.get("content-type", "image/jpeg").split(";")[0].strip()
                    suffix = mimetypes.guess_extension(mime) or ".jpg"
                    dest = self.media_dir / f"{uuid.uuid4().hex}{suffix}"
                    size = 0
                    with open(dest, "wb") as out:
                        for chunk in r.iter_bytes():
                            size += len(chunk)
                            if size > MAX_DOWNLOAD:
                                raise ValueError("photo too large")
                            out.write(chunk)
                att.path, att.mime, att.size = str(dest), mime, size
                return att
            except ValueError as e:
                log.warning("Zalo photo %s not kept: %s", url, e)
                if dest is not None:
                    dest.unlink(missing_ok=True)
                return att
            except httpx.HTTPError as e:
                log.warning("Zalo photo %s could not be downloaded: %s", url, e)
                time.sleep(backoff(attempt))
        return att

    # --- sending ----------------------------------------------------------------------------
    def file_url(self, path: str, ttl: int = signing.PHOTO_TTL) -> str | None:
        """A public, signed and expiring link to a media file or generated report under
        BOT_DATA_DIR (bot/signing.py): Zalo's sendPhoto takes a URL only."""
        if not self.public_url:
            return None
        signed = signing.sign(self.files_key, self.data_dir, path, ttl)
        return f"{self.public_url}{FILES_PATH}/{signed}" if signed else None

    def resolve_file(self, token: str) -> Path | None:
        return signing.resolve(self.files_key, self.data_dir, token)

    def _api(self, method: str, params: dict, timeout: float | None = None):
        try:
            return self.client.call(method, params, timeout=timeout)
        except ZaloApiError as e:
            raise _send_error(e) from e

    def parts(self, chat_id: str, reply: Reply) -> list[Part]:
        text = numbered(reply)
        photo_url = self.file_url(reply.photo) if reply.photo else None
        if reply.document:
            link = self.file_url(reply.document, signing.DOCUMENT_TTL)
            name = reply.document_name or Path(reply.document).name
            text = f"{text}\nTải tệp {name}: {link}" if link else f"{text}\n{NO_ATTACHMENT}"
        elif reply.photo and not photo_url:
            text = f"{text}\n{NO_ATTACHMENT}"
        chunks = split_text(text, TEXT_LIMIT) if text.strip() else []
        out: list[Part] = []
        if photo_url:
            out.append(Part(lambda: self._api("sendPhoto", {"chat_id": chat_id, "photo": photo_url}, PHOTO_TIMEOUT),
                            Reply(text=reply.text, buttons=reply.buttons, photo=reply.photo,
                                  document=reply.document, document_name=reply.document_name)))
        for i, chunk in enumerate(chunks):
            # What is left after a part went out is already-rendered text (numbered options
            # included), resent as is.
            rest = reply if i == 0 and not photo_url else Reply(text="\n".join(chunks[i:]))
            out.append(Part(lambda c=chunk: self._api("sendMessage", {"chat_id": chat_id, "text": c}), rest))
        return out


def _chat_key(update: dict) -> str:
    return str(((update.get("message") or {}).get("chat") or {}).get("id") or "none")


def mount(api, app) -> None:
    if not app.settings.zalo_token:
        return
    channel = ZaloChannel(app)
    api.state.zalo = channel

    @api.post(PATH, include_in_schema=False)
    async def zalo_webhook(request: Request):
        data, refused = await read_webhook(request, SECRET_HEADER, channel.secret, MAX_UPDATE)
        if refused is not None:
            return refused
        # Zalo wraps the event as {"ok": true, "result": {...}}; accept the bare event too.
        update = data.get("result") if isinstance(data, dict) and isinstance(data.get("result"), dict) else data
        if not isinstance(update, dict) or not update.get("event_name"):
            return {"ok": True}
        bad = shape_problem(update, ZALO_UPDATE)
        if bad:  # acknowledged, or Zalo redelivers it; nothing is handled half-way
            log.warning("malformed Zalo update ignored (field %s)", bad)
            return {"ok": True}
        # Stored first, then acknowledged; answered in the background (Zalo retries a slow webhook).
        key = await run_in_threadpool(channel.accept, update)
        if key is not None:
            channel.submit_key(key, channel.chat_key(update))
        return {"ok": True}

    mount_signed_files(api, FILES_PATH, channel)

    mount_lifecycle(api, channel)
