"""Expiring signed links to files under BOT_DATA_DIR, for channels that take files by URL (Zalo)
and links sent in chat. Only media (residents' photos) and generated reports can be linked;
the link names the file, when it expires and an HMAC of both, so it cannot be altered, extended
or pointed elsewhere (no path traversal). The key is generated once and kept in the data dir."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from pathlib import Path

KEY_FILE = ".link-signing-key"
SERVABLE = ("media", "reports")  # top-level folders of BOT_DATA_DIR a link may point into
DOCUMENT_TTL = 3600  # a generated report: one hour
PHOTO_TTL = 7 * 86400  # a photo shown in a card: the platform may fetch it again later
_TOKEN = re.compile(r"([A-Za-z0-9_-]{1,400})\.([0-9]{1,12})\.([0-9a-f]{32})", re.ASCII)


def load_key(data_dir: Path) -> bytes:
    """The data dir's signing key, created on first use. Two workers starting together agree:
    the key is written to a temporary file and linked into place, which fails if it exists."""
    data_dir = Path(data_dir)
    path = data_dir / KEY_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / f"{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_hex(32))
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text().strip())


def _mac(key: bytes, rel: str, exp: int) -> str:
    return hmac.new(key, f"{rel}\n{exp}".encode(), hashlib.sha256).hexdigest()[:32]


def _rel(data_dir: Path, path: str | Path) -> str | None:
    root = Path(data_dir).resolve()
    try:
        rel = Path(path).resolve().relative_to(root)
    except ValueError:
        return None
    return rel.as_posix() if rel.parts and rel.parts[0] in SERVABLE else None


def sign(key: bytes, data_dir: Path, path: str | Path, ttl: int, now: float | None = None) -> str | None:
    """"<token>/<file name>" for a file under media/ or reports/, or None for anything else."""
    rel = _rel(data_dir, path)
    if rel is None:
        return None
    exp = int((now if now is not None else time.time()) + ttl)
    enc = base64.urlsafe_b64encode(rel.encode()).decode().rstrip("=")
    return f"{enc}.{exp}.{_mac(key, rel, exp)}/{Path(rel).name}"


def resolve(key: bytes, data_dir: Path, token: str, now: float | None = None) -> Path | None:
    """The file a token names, or None: malformed, tampered, expired, outside media/ and
    reports/, or gone."""
    m = _TOKEN.fullmatch(token or "")
    if not m:
        return None
    enc, exp_s, sig = m.groups()
    try:
        rel = base64.urlsafe_b64decode(enc + "=" * (-len(enc) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    exp = int(exp_s)
    if not hmac.compare_digest(sig, _mac(key, rel, exp)):
        return None
    if exp < (now if now is not None else time.time()):
        return None
    root = Path(data_dir).resolve()
    p = (root / rel).resolve()
    if _rel(root, p) is None or not p.is_file():
        return None
    return p
