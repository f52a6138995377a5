"""Starting the real application as a subprocess, as an operator would."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(settings, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "ZALO_"))}
    env.update(BOT_DATA_DIR=str(settings.data_dir), DATABASE_URL=settings.database_url,
               PYTHONPATH=str(ROOT))
    env.update({k: str(v) for k, v in extra.items()})
    return env


SESSIONS: dict[tuple[str, str], str] = {}


class Server:
    def __init__(self, settings, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = bot_env(settings, **env)
        self.proc = None

    def start(self, timeout: float = 180) -> "Server":  # a loaded CI machine loads the index slowly
        self.proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(self.port)],
                                     cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " + self.proc.stdout.read().decode(errors="replace"))
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start")

    def stop(self, hard: bool = False) -> None:
        if self.proc and self.proc.poll() is None:
            (self.proc.kill if hard else self.proc.terminate)()
            self.proc.wait(timeout=20)

    def post(self, chat_id: str, text=None, **kw) -> dict:
        """As the web chat of `chat_id` (a label: the server-issued session is the identity,
        kept per label and database so a restarted server still knows the chat)."""
        key = (self.env["DATABASE_URL"], chat_id)
        headers = {"X-Session": SESSIONS[key]} if key in SESSIONS else {}
        r = httpx.post(self.url + "/api/messages", json={"chat_id": chat_id, "text": text, **kw},
                       headers=headers, timeout=30)
        r.raise_for_status()
        body = r.json()
        SESSIONS[key] = body["session"]
        return body

    def session(self, chat_id: str) -> str:
        return SESSIONS[(self.env["DATABASE_URL"], chat_id)]

    def chat_id(self, label: str) -> str:
        """The web chat id ("s-<n>") the server gave the session of `label`."""
        import hashlib
        from sqlalchemy import create_engine, text
        eng = create_engine(self.env["DATABASE_URL"])
        try:
            with eng.connect() as c:
                n = c.execute(text("SELECT id FROM web_session WHERE token_hash = :h"),
                              {"h": hashlib.sha256(self.session(label).encode()).hexdigest()}).scalar_one()
        finally:
            eng.dispose()
        return f"s-{n}"

    def notifications(self, chat_id: str) -> list[dict]:
        r = httpx.get(self.url + "/api/notifications", headers={"X-Session": self.session(chat_id)}, timeout=30)
        r.raise_for_status()
        return r.json()["replies"]

    def texts(self, chat_id: str, text=None, **kw) -> str:
        return "\n".join(x["text"] for x in self.post(chat_id, text, **kw)["replies"])
