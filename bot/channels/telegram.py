"""Telegram channel (python-telegram-bot's Bot as the API client).

Polling when PUBLIC_URL is unset, a webhook at /webhook/telegram when it is set (registered with
setWebhook and a secret token checked on every request). Updates become Incoming; Replies become
messages with inline keyboards. PTB is asyncio-based while the engine and the outbox worker are
threads, so the Bot lives on its own event loop thread and sync code calls into it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import mimetypes
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

from fastapi import Request

from bot.channels.base import (ChatSerialExecutor, Part, PartSender, Typing, apply_text_location, backoff,
                               derived_secret, mount_lifecycle, read_webhook, recover_replies, Replay,
                               seen_before, shape_problem, TELEGRAM_UPDATE)
from bot.channels.render import numbered, split_text
from bot.core import Attachment, Incoming, Location, Reply
from bot.outbox import SendError
from bot.ratelimit import RateLimiter
from bot.ratelimit import limiter as shared_limiter

log = logging.getLogger(__name__)

CHANNEL = "telegram"
PATH = "/webhook/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT, CAPTION_LIMIT, CALLBACK_DATA_LIMIT = 4096, 1024, 64
MAX_DOWNLOAD = 20 * 1024 * 1024  # the Bot API serves files up to 20 MB
ALLOWED_UPDATES = ["message", "callback_query"]
MAX_UPDATE = 1024 * 1024
# Service messages of a group: the bot says nothing to them ("I cannot read this" at every join or leave).
SERVICE_FIELDS = ("new_chat_members", "left_chat_member", "new_chat_title", "new_chat_photo", "delete_chat_photo",
                  "group_chat_created", "supergroup_chat_created", "channel_chat_created", "migrate_to_chat_id",
                  "migrate_from_chat_id", "pinned_message", "message_auto_delete_timer_changed",
                  "video_chat_scheduled", "video_chat_started", "video_chat_ended", "video_chat_participants_invited",
                  "forum_topic_created", "forum_topic_edited", "forum_topic_closed", "forum_topic_reopened",
                  "general_forum_topic_hidden", "general_forum_topic_unhidden", "write_access_allowed",
                  "proximity_alert_triggered", "boost_added", "chat_background_set")


def _is_service(m) -> bool:
    return any(getattr(m, f, None) for f in SERVICE_FIELDS)


UNSUPPORTED = ("Mình chưa xem được loại tin nhắn này. Bạn gõ bằng chữ, gửi ảnh hoặc chia sẻ vị trí "
               "giúp mình nhé.")


def telegram_limiter(db=None) -> RateLimiter:
    # Telegram's published limits: ~30 messages/s overall, 1/s per chat, 20/min per group.
    # With a database (PostgreSQL), every worker shares the overall rate (bot.ratelimit.limiter).
    return shared_limiter(db, "telegram", per_second=30, per_chat_interval=1.0, group_per_minute=20)


def _seconds(value) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramChannel(PartSender):
    def __init__(self, app, limiter: RateLimiter | None = None, poll_timeout: int = 25):
        s = app.settings
        self.app = app
        self.token: str = s.telegram_token
        self.api_root = s.telegram_api_url.rstrip("/")
        self.public_url = (s.public_url or "").rstrip("/") or None
        self.secret = s.telegram_webhook_secret or derived_secret(self.token, "telegram-webhook")
        self.media_dir = Path(s.data_dir) / "media" / CHANNEL
        self.limiter = limiter or telegram_limiter(app.db)
        self.poll_timeout = poll_timeout
        self.executor = ChatSerialExecutor(workers=8, name="telegram")
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._poller: concurrent.futures.Future | None = None
        self._stopping = threading.Event()
        self.ready = threading.Event()
        self.bot = None

    # --- the Bot's event loop ---------------------------------------------------------------
    def _build_bot(self):
        from telegram import Bot
        from telegram.request import HTTPXRequest
        return Bot(self.token, base_url=self.api_root + "/bot", base_file_url=self.api_root + "/file/bot",
                   request=HTTPXRequest(connection_pool_size=64, read_timeout=15, write_timeout=30,
                                        connect_timeout=10, pool_timeout=10),
                   get_updates_request=HTTPXRequest(connection_pool_size=2, read_timeout=10, connect_timeout=10))

    def run(self, coro, timeout: float = 120):
        """Run a Bot coroutine from a plain thread and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, wait: float = 15) -> None:
        """Start the loop thread and boot (getMe, command menu, webhook or polling). If Telegram
        is unreachable the boot keeps retrying in the background; the rest of the server runs."""
        self.media_dir.mkdir(parents=True, exist_ok=True)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="telegram-loop", daemon=True)
        self._thread.start()
        self.bot = self._build_bot()
        recover_replies(self.app, CHANNEL)
        self.app.senders[CHANNEL] = self
        booted = asyncio.run_coroutine_threadsafe(self._boot(), self.loop)
        try:
            booted.result(wait)
        except concurrent.futures.TimeoutError:
            log.warning("Telegram is not answering yet; still trying in the background")

    async def _boot(self) -> None:
        from telegram import BotCommand
        from telegram.error import BadRequest, InvalidToken
        attempt = 0
        while not self._stopping.is_set():
            try:
                await self.bot.initialize()
                cmds = [BotCommand(spec.name, spec.help[:256]) for spec in self.app.router.menu(set())
                        if _valid_command(spec.name) and spec.help]
                try:
                    await self.bot.set_my_commands(cmds[:100])
                except BadRequest as e:  # a menu Telegram dislikes must not keep the bot offline
                    log.error("Telegram refused the command menu: %s", e)
                if self.public_url:
                    await self.bot.set_webhook(self.public_url + PATH, secret_token=self.secret,
                                               allowed_updates=ALLOWED_UPDATES, max_connections=40)
                    log.info("Telegram webhook registered at %s%s", self.public_url, PATH)
                else:
                    await self.bot.delete_webhook()
                    self._poller = asyncio.ensure_future(self._poll())
                    log.info("Telegram: polling for updates")
                self.ready.set()
                return
            except InvalidToken:
                log.error("TELEGRAM_BOT_TOKEN was rejected by Telegram; the Telegram channel is off")
                self.app.senders.pop(CHANNEL, None)  # notices stay in the outbox until it is fixed
                return
            except BadRequest as e:  # e.g. PUBLIC_URL is not https on a port Telegram accepts
                log.error("Telegram refused the webhook %s%s: %s", self.public_url, PATH, e)
                return
            except Exception as e:
                delay = backoff(attempt) * 2
                attempt += 1
                log.warning("Telegram start-up failed (%s); retrying in %.0fs", e, delay)
                await asyncio.sleep(delay)

    def stop(self) -> None:
        self._stopping.set()
        if self.loop is None:
            return
        if self._poller is not None:
            self.loop.call_soon_threadsafe(self._poller.cancel)
        self.executor.shutdown()
        try:
            self.run(self.bot.shutdown(), timeout=10)
        except Exception as e:
            log.debug("Telegram shutdown: %s", e)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if self.app.senders.get(CHANNEL) is self:
            del self.app.senders[CHANNEL]

    # --- receiving --------------------------------------------------------------------------
    async def _poll(self) -> None:
        from telegram.error import Conflict, InvalidToken, RetryAfter
        offset, failures = None, 0
        while not self._stopping.is_set():
            try:
                updates = await self.bot.get_updates(offset=offset, timeout=self.poll_timeout,
                                                     allowed_updates=ALLOWED_UPDATES)
                failures = 0
            except asyncio.CancelledError:
                return
            except RetryAfter as e:
                await asyncio.sleep(_seconds(e.retry_after))
                continue
            except InvalidToken:
                log.error("Telegram rejected the token; polling stopped")
                return
            except Conflict as e:  # another instance polls, or a webhook is set
                log.warning("Telegram polling conflict: %s", e)
                await asyncio.sleep(5)
                continue
            except Exception as e:  # network trouble: back off, keep going
                failures += 1
                log.warning("Telegram getUpdates failed: %s", e)
                await asyncio.sleep(backoff(failures))
                continue
            if not updates:
                continue
            # The offset moves on only after the batch is handled: a crash in between means
            # Telegram redelivers, and the engine's dedupe makes that harmless.
            futs = [asyncio.wrap_future(self.executor.submit(_chat_key(u), lambda u=u: self.process(u)))
                    for u in updates]
            for res in await asyncio.gather(*futs, return_exceptions=True):
                if isinstance(res, BaseException):
                    log.error("Telegram update failed: %r", res)
            offset = updates[-1].update_id + 1

    def process(self, update) -> None:
        """Handle one update: to Incoming, through the engine, replies out (sync, any thread)."""
        cq = update.callback_query
        if cq is not None:
            try:  # stop the button's spinner; harmless if it fails
                self.run(self.bot.answer_callback_query(cq.id), timeout=10)
            except Exception as e:
                log.debug("answerCallbackQuery failed: %s", e)
        msg = self.to_incoming(update)
        if msg is None:
            return
        if isinstance(msg, Reply):  # something we cannot read: say so, nothing to handle
            self.send_direct(self.app, CHANNEL, update.effective_chat.id, [msg])
            return
        if isinstance(msg, Replay):
            msg.send(self, self.app, CHANNEL)
            return
        with Typing(lambda: self.run(self.bot.send_chat_action(int(msg.chat_id), "typing"), timeout=10)):
            replies = self.app.handle(msg)
        self.send_direct(self.app, CHANNEL, msg.chat_id, replies, is_group=msg.is_group, update_key=msg.update_id)

    def to_incoming(self, update) -> Incoming | Reply | Replay | None:
        cq = update.callback_query
        if cq is not None:
            if cq.message is None or not cq.data:
                return None
            chat = cq.message.chat
            return Incoming(channel=CHANNEL, chat_id=str(chat.id), user_id=str(cq.from_user.id), button=cq.data,
                            update_id=f"cb{cq.id}", user_name=cq.from_user.full_name,
                            is_group=chat.type != "private")
        m = update.message
        if m is None or m.from_user is None or m.from_user.is_bot or _is_service(m):
            return None  # edits, channel posts, service messages (a member joined or left, a pin...)
        chat = m.chat
        if seen_before(self.app, CHANNEL, f"m{chat.id}:{m.message_id}"):
            return Replay(str(chat.id), f"m{chat.id}:{m.message_id}", chat.type != "private")
        # Message ids are unique per chat for good; update_ids restart at random after a quiet week.
        msg = Incoming(channel=CHANNEL, chat_id=str(chat.id), user_id=str(m.from_user.id),
                       text=m.text if m.text is not None else m.caption,
                       update_id=f"m{chat.id}:{m.message_id}", user_name=m.from_user.full_name,
                       is_group=chat.type != "private")
        if m.photo:
            biggest = max(m.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
            msg.photos = [self._download(biggest.file_id, "photo", ".jpg", "image/jpeg", biggest.file_size)]
        if m.document:
            d = m.document
            mime = d.mime_type or mimetypes.guess_type(d.file_name or "")[0]
            suffix = Path(d.file_name or "").suffix or mimetypes.guess_extension(mime or "") or ""
            kind = "photo" if (mime or "").startswith("image/") else "file"
            att = self._download(d.file_id, kind, suffix, mime, d.file_size, name=d.file_name)
            (msg.photos if kind == "photo" else msg.files).append(att)
        if m.location:
            msg.location = Location(m.location.latitude, m.location.longitude)
        if m.contact and not msg.text:
            msg.text = m.contact.phone_number  # a shared contact answers "your phone number?"
        if m.sticker:
            msg.files.append(Attachment(kind="sticker", file_id=m.sticker.file_id))
        apply_text_location(msg)
        if not (msg.text or msg.photos or msg.files or msg.location):
            return Reply(UNSUPPORTED)
        return msg

    def _download(self, file_id: str, kind: str, suffix: str, mime: str | None, size: int | None,
                  name: str | None = None) -> Attachment:
        att = Attachment(kind=kind, mime=mime, size=size, file_id=file_id, name=name)
        if size and size > MAX_DOWNLOAD:
            return att
        dest = self.media_dir / f"{uuid.uuid4().hex}{suffix}"
        for attempt in range(3):
            try:
                f = self.run(self.bot.get_file(file_id), timeout=60)
                self.run(f.download_to_drive(dest), timeout=120)
                att.path, att.size = str(dest), dest.stat().st_size
                return att
            except Exception as e:
                log.warning("Telegram file %s could not be downloaded: %s", file_id, e)
                if attempt < 2:
                    time.sleep(backoff(attempt))
        return att  # without a path: the handler still knows a photo came

    # --- sending ----------------------------------------------------------------------------
    def is_group(self, chat_id: str) -> bool:
        return str(chat_id).startswith("-")

    def _api(self, make_coro):
        """One Bot API call with Telegram's errors mapped to the outbox's SendError."""
        from telegram.error import (BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter,
                                    TelegramError)
        try:
            return self.run(make_coro(), timeout=150)
        except RetryAfter as e:
            raise SendError(str(e), retry_after=_seconds(e.retry_after)) from e
        except Forbidden as e:  # blocked by the user, kicked from the group
            raise SendError(str(e), blocked=True) from e
        except (BadRequest, ChatMigrated, InvalidToken) as e:
            raise SendError(str(e), permanent=True) from e
        except (NetworkError, TelegramError, concurrent.futures.TimeoutError) as e:  # 5xx, timeouts, drops
            raise SendError(str(e) or repr(e)) from e

    def parts(self, chat_id: str, reply: Reply) -> list[Part]:
        from telegram import InlineKeyboardButton, InlineKeyboardMarkup
        cid = int(chat_id)
        text = reply.text or ""
        if any(len(b.data.encode()) > CALLBACK_DATA_LIMIT for b in reply.buttons):
            # Telegram would refuse the whole message; numbered options still work ("2" is
            # mapped to the button by the engine), so the answer is not lost.
            log.error("button data over 64 bytes in a reply to %s: %s", chat_id, [b.data for b in reply.buttons])
            text, markup = numbered(reply), None
        else:
            markup = (InlineKeyboardMarkup([[InlineKeyboardButton(b.text[:100], callback_data=b.data)]
                                            for b in reply.buttons]) if reply.buttons else None)
        media = [("photo", reply.photo)] if reply.photo else []
        if reply.document:
            media.append(("document", reply.document))
        steps: list[tuple] = []
        if media and len(text) <= CAPTION_LIMIT and len(media) == 1:
            steps.append((media[0][0], media[0][1], text or None, markup))
        else:
            chunks = split_text(text, TEXT_LIMIT) if text.strip() else []
            for i, chunk in enumerate(chunks):
                last = i == len(chunks) - 1
                steps.append(("text", chunk, None, markup if last and not media else None))
            for j, (kind, path) in enumerate(media):
                steps.append((kind, path, None, markup if j == len(media) - 1 else None))
        out = []
        for i, step in enumerate(steps):
            out.append(Part(self._step_fn(cid, reply, step), _rest(reply, steps[i:])))
        return out

    def _step_fn(self, cid: int, reply: Reply, step: tuple):
        kind, value, caption, markup = step
        if kind == "text":
            return lambda: self._api(lambda: self.bot.send_message(cid, value, reply_markup=markup))
        if kind == "photo":
            return lambda: self._api(lambda: self.bot.send_photo(cid, Path(value), caption=caption,
                                                                 reply_markup=markup))
        name = reply.document_name or Path(value).name
        return lambda: self._api(lambda: self.bot.send_document(cid, Path(value), caption=caption,
                                                                filename=name, reply_markup=markup))


def _rest(reply: Reply, steps: list[tuple]) -> Reply:
    texts = [s[1] for s in steps if s[0] == "text"] + [s[2] for s in steps if s[0] != "text" and s[2]]
    kinds = {s[0] for s in steps}
    return Reply(text="\n".join(texts), buttons=reply.buttons,
                 photo=reply.photo if "photo" in kinds else None,
                 document=reply.document if "document" in kinds else None, document_name=reply.document_name)


def _chat_key(update) -> str:
    chat = update.effective_chat
    return str(chat.id) if chat else f"u{update.update_id}"


def _valid_command(name: str) -> bool:
    return 1 <= len(name) <= 32 and all(c.islower() or c.isdigit() or c == "_" for c in name)


def mount(api, app) -> None:
    if not app.settings.telegram_token:
        return
    channel = TelegramChannel(app)
    api.state.telegram = channel

    @api.post(PATH, include_in_schema=False)
    async def telegram_webhook(request: Request):
        data, refused = await read_webhook(request, SECRET_HEADER, channel.secret, MAX_UPDATE)
        if refused is not None:
            return refused
        from telegram import Update
        bad = shape_problem(data, TELEGRAM_UPDATE)
        if bad:  # acknowledged, or Telegram redelivers it; nothing is handled half-way
            log.warning("malformed Telegram update ignored (field %s)", bad)
            return {"ok": True}
        try:
            update = Update.de_json(data, channel.bot)
        except Exception as e:  # not an update we understand: acknowledge, or Telegram retries forever
            log.warning("unreadable Telegram update: %s", e)
            return {"ok": True}
        if update is None:
            return {"ok": True}
        fut = channel.executor.submit(_chat_key(update), lambda: channel.process(update))
        await asyncio.wrap_future(fut)
        return {"ok": True}

    mount_lifecycle(api, channel)
