"""The resident web chat's photo upload: the browser posts a photo (multipart), it is stored under
BOT_DATA_DIR/media/web like the channel adapters store theirs, and handled as a photo message of
that web chat (a report's photo step, or a photo that starts a report)."""
from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from bot.core import Attachment, Incoming

MAX_PHOTO = 10 * 1024 * 1024
MAGIC = ((b"\xff\xd8\xff", ".jpg", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", ".png", "image/png"))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def web_identity(app, request: Request, form) -> tuple[str | None, str | None]:
    """(chat id, new session token or None). With the server-issued web sessions
    (bot/web_session.py) the chat is the caller's session, as for POST /api/messages; without
    them, the chat_id the page sends (the older API)."""
    try:
        from bot import web_session as W
    except ImportError:
        W = None
    if W is not None:
        label = str(form.get("chat_id") or "")[:64] or None
        row, new = W.find_or_create(app.db, W.token_of(request), app.clock.now(), label)
        return W.chat_id_of(row.id), new
    chat_id = str(form.get("chat_id") or "").strip()
    return (chat_id if 0 < len(chat_id) <= 64 else None), None


def _token(request: Request) -> str | None:
    try:
        from bot import web_session as W
    except ImportError:
        return None
    return W.token_of(request)


def register(api, app) -> None:
    @api.post("/api/messages/photo")
    async def post_photo(request: Request):
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return _error(415, "Ảnh phải gửi dạng multipart/form-data.")
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_PHOTO + 64 * 1024:
            return _error(413, "Ảnh lớn quá (tối đa 10 MB).")
        try:
            form = await request.form()
        except Exception:
            return _error(400, "Không đọc được ảnh gửi lên.")
        chat_id, new_token = await run_in_threadpool(web_identity, app, request, form)
        if not chat_id:
            return _error(400, "Thiếu chat_id (chuỗi, tối đa 64 ký tự).")
        upload = form.get("photo")
        if upload is None or not hasattr(upload, "read"):
            return _error(400, "Thiếu ảnh (trường photo).")
        data = await upload.read(MAX_PHOTO + 1)
        if len(data) > MAX_PHOTO:
            return _error(413, "Ảnh lớn quá (tối đa 10 MB).")
        kind = next(((ext, mime) for magic, ext, mime in MAGIC if data.startswith(magic)), None)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            kind = (".webp", "image/webp")
        if kind is None:
            return _error(415, "Chỉ nhận ảnh JPEG, PNG hoặc WebP.")
        d = app.settings.data_dir / "media" / "web"
        d.mkdir(parents=True, exist_ok=True)
        path = d / (secrets.token_hex(10) + kind[0])
        path.write_bytes(data)
        caption = str(form.get("caption") or "")[:1000] or None
        mid = str(form.get("message_id") or "")[:100]
        msg = Incoming(channel="web", chat_id=chat_id, user_id=chat_id, text=caption,
                       photos=[Attachment(kind="photo", path=str(path), mime=kind[1], size=len(data))],
                       update_id=f"{chat_id}:{mid}" if mid else None)
        replies = await run_in_threadpool(app.handle, msg)
        resp = JSONResponse({"replies": [r.to_dict() for r in replies], "session": new_token or _token(request)})
        if new_token:
            from bot import web_session as W
            secure = request.url.scheme == "https" or (app.settings.public_url or "").startswith("https://")
            resp.set_cookie(W.COOKIE, new_token, max_age=W.IDLE_DAYS * 86400, httponly=True, samesite="lax",
                            secure=secure, path="/")
        return resp
