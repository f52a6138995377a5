"""Safety at the HTTP boundary, in one place: a body limit enforced before anything is buffered
(every route, Content-Length and chunked bodies alike), JSON parsing that cannot blow the stack
or smuggle values the rest of the code cannot store or echo (NaN, huge integers, lone
surrogates, NUL), and strict ASCII-digit ids. Every refusal is a 4xx with a Vietnamese message."""
from __future__ import annotations

import json
import math
import re
from typing import Any

DEFAULT_LIMIT = 64 * 1024
MAX_DEPTH = 20
MAX_INT_DIGITS = 18  # fits a signed 64-bit column; anything longer is not a real id or count
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


class BadInput(ValueError):
    """Input refused at the boundary: `status` and a Vietnamese `message` for the client."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status, self.message = status, message


# --- body limit ---------------------------------------------------------------------------------
class _TooLarge(Exception):
    pass


async def _send_json(send, status: int, body: dict, close: bool = False) -> None:
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(raw)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


TOO_LARGE = "Yêu cầu quá lớn."


class BodyLimit:
    """ASGI middleware. A declared Content-Length over the limit is refused before a byte of the
    body is read; a chunked (or lying) body is counted as it streams and refused as soon as it
    passes the limit. The server's flow control then keeps memory flat however big the post."""

    def __init__(self, app, default: int = DEFAULT_LIMIT, limits: dict[str, int] | None = None):
        self.app, self.default = app, default
        # Longest prefix wins: webhooks carry bigger updates than the chat API.
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        for prefix, n in self.limits:
            if path.startswith(prefix):
                return n
        return self.default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit_for(scope.get("path", ""))
        declared = None
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                if not _DIGITS.fullmatch(v.decode("latin-1")) or len(v) > MAX_INT_DIGITS:
                    return await _send_json(send, 400, {"error": "Content-Length không hợp lệ."}, close=True)
                declared = int(v)
        if declared is not None and declared > limit:
            return await _send_json(send, 413, {"error": TOO_LARGE}, close=True)
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, {"error": TOO_LARGE}, close=True)


async def read_body(request, limit: int) -> bytes:
    """The request body, at most `limit` bytes (the middleware already stopped anything bigger
    than the route's limit; this is the per-endpoint cap)."""
    chunks, n = [], 0
    async for chunk in request.stream():
        n += len(chunk)
        if n > limit:
            raise BadInput(TOO_LARGE, 413)
        chunks.append(chunk)
    return b"".join(chunks)


# --- JSON ---------------------------------------------------------------------------------------
def _depth_ok(text: str, max_depth: int) -> bool:
    """Nesting depth without recursion (json.loads would hit RecursionError first)."""
    depth, in_str, esc = 0, False, False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _bad_constant(name: str):
    raise BadInput("JSON chỉ được chứa số hữu hạn (không có NaN, Infinity).")


def _parse_int(s: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise BadInput("Số trong JSON quá lớn.")
    return int(s)


def _parse_float(s: str) -> float:
    if len(s) > 64:
        raise BadInput("Số trong JSON quá dài.")
    f = float(s)
    if not math.isfinite(f):
        raise BadInput("JSON chỉ được chứa số hữu hạn (không có NaN, Infinity).")
    return f


def check_text(s: str, field: str = "nội dung") -> str:
    """Lone surrogates cannot be stored or sent back as UTF-8, and PostgreSQL refuses NUL."""
    if "\x00" in s:
        raise BadInput(f"{field} có ký tự không hợp lệ (NUL).")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{field} có ký tự Unicode không hợp lệ.") from None
    return s


def _check_strings(obj: Any) -> None:
    stack = [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, str):
            check_text(o)
        elif isinstance(o, dict):
            for k, v in o.items():
                check_text(k)
                stack.append(v)
        elif isinstance(o, list):
            stack.extend(o)


def clean_text(s: str) -> str:
    """NUL removed, lone surrogates replaced by U+FFFD (the engine then says it cannot read it)."""
    s = s.replace("\x00", "")
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _cleaned(obj: Any) -> Any:
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, dict):
        return {clean_text(k): _cleaned(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_cleaned(v) for v in obj]
    return obj


def parse_json(raw: bytes, limit: int = DEFAULT_LIMIT, max_depth: int = MAX_DEPTH, strip: bool = False) -> Any:
    """Parse a request body or refuse it with BadInput: oversize, not UTF-8, not JSON, nested
    deeper than max_depth, non-finite or huge numbers, NUL or lone surrogates in any string
    (with strip=True those two are cleaned instead: a platform's update is not refused for them)."""
    if len(raw) > limit:
        raise BadInput(TOO_LARGE, 413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("JSON không hợp lệ (phải là UTF-8).") from None
    if not _depth_ok(text, max_depth):
        raise BadInput(f"JSON lồng quá sâu (tối đa {max_depth} tầng).")
    try:
        data = json.loads(text, parse_constant=_bad_constant, parse_int=_parse_int, parse_float=_parse_float)
    except BadInput:
        raise
    except (ValueError, RecursionError):
        raise BadInput("JSON không hợp lệ.") from None
    if strip:
        return _cleaned(data)  # depth is capped, so this recursion is bounded
    _check_strings(data)
    return data


async def request_json(request, limit: int = DEFAULT_LIMIT, require_type: bool = True) -> Any:
    if require_type:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/json":
            raise BadInput("Nội dung phải ở dạng JSON (Content-Type: application/json).", 415)
    return parse_json(await read_body(request, limit), limit)


# --- scalars ------------------------------------------------------------------------------------
def strict_id(value: Any, field: str = "mã", max_digits: int = MAX_INT_DIGITS) -> int:
    """An id given as ASCII digits only (no '²', no Arabic-Indic digits, no sign, no spaces),
    at most max_digits long; a JSON integer is accepted within the same bounds."""
    if isinstance(value, bool):
        raise BadInput(f"{field} phải là số nguyên dương.")
    if isinstance(value, int):
        if value < 0 or len(str(value)) > max_digits:
            raise BadInput(f"{field} không hợp lệ.")
        return value
    if not isinstance(value, str) or not _DIGITS.fullmatch(value) or len(value) > max_digits:
        raise BadInput(f"{field} phải là số (chữ số 0-9, tối đa {max_digits} chữ số).")
    return int(value)


def finite_number(value: Any, field: str, lo: float, hi: float) -> float:
    """A JSON number (or numeric string) that is finite and within [lo, hi]."""
    if isinstance(value, bool):
        raise BadInput(f"{field} phải là số.")
    if isinstance(value, str):
        if len(value) > 40:
            raise BadInput(f"{field} phải là số.")
        try:
            value = float(value)
        except ValueError:
            raise BadInput(f"{field} phải là số.") from None
    if not isinstance(value, (int, float)):
        raise BadInput(f"{field} phải là số.")
    try:
        f = float(value)
    except OverflowError:
        raise BadInput(f"{field} nằm ngoài khoảng cho phép.") from None
    if not math.isfinite(f) or not (lo <= f <= hi):
        raise BadInput(f"{field} nằm ngoài khoảng cho phép ({lo} đến {hi}).")
    return f


def opt_str(data: dict, key: str, max_len: int, field: str | None = None) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, (int,)) and not isinstance(v, bool):
        v = str(v)
    if not isinstance(v, str):
        raise BadInput(f"{field or key} phải là chuỗi.")
    if len(v) > max_len:
        raise BadInput(f"{field or key} dài quá (tối đa {max_len} ký tự).")
    return check_text(v, field or key)


def error_response(e: BadInput):
    from fastapi.responses import JSONResponse
    return JSONResponse({"error": e.message}, status_code=e.status)


# --- secrets in URLs ----------------------------------------------------------------------------
SECRET_PARAMS = {b"token", b"access_token", b"api_key", b"apikey", b"session"}
TOKEN_IN_URL = ("Không gửi mã truy cập trong đường dẫn (?token=...): đường dẫn được ghi vào nhật ký. "
                "Hãy gửi mã trong tiêu đề Authorization: Bearer MÃ (hoặc X-Token; Open311: X-Api-Key).")


class NoSecretsInQuery:
    """ASGI middleware: a credential in the query string ends up in access logs, proxies and
    browser history, so such a request is refused (400) before any route sees it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope.get("query_string"):
            for pair in scope["query_string"].split(b"&"):
                name = pair.split(b"=", 1)[0].lower()
                if name in SECRET_PARAMS:
                    return await _send_json(send, 400, {"error": TOKEN_IN_URL})
        return await self.app(scope, receive, send)
