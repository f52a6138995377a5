"""The broadcast bench through the real Telegram channel: `python bench/broadcast_bench.py
--emulator bench.real_telegram:real`. The project's Telegram Bot API emulator runs in its own
process (its own GIL, like a remote API); the sender is bot.channels.telegram.TelegramChannel
(python-telegram-bot) exactly as `python -m bot serve` uses it."""
from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def real(args):
    from bot.app import App
    from bot.channels.telegram import TelegramChannel
    from bot.config import Settings
    from bot.ratelimit import RateLimiter

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    token = "123456:BENCH-token"
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulators.telegram", "--port", str(port), "--token", token],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
        try:
            httpx.get(url + "/_emulator/stats", timeout=1)
            break
        except httpx.HTTPError:
            if time.time() > deadline:
                proc.kill()
                raise RuntimeError("the Telegram emulator did not start")
            time.sleep(0.1)
    tmp = Path(tempfile.mkdtemp())
    settings = replace(Settings.from_env(), data_dir=tmp, database_url=f"sqlite:///{tmp / 'channel.db'}",
                       telegram_token=token, telegram_api_url=url, public_url=None)
    app = App(settings, understander=object())
    channel = TelegramChannel(app, limiter=RateLimiter(args.rate), poll_timeout=1)
    channel.start()

    def received():
        per_chat = httpx.get(url + "/_emulator/stats", params={"per_chat": 1}, timeout=60).json()["per_chat"]
        return [chat for chat, n in per_chat.items() for _ in range(n)]

    def stop():
        channel.stop()
        app.close()
        proc.terminate()
        proc.wait(timeout=10)

    return channel, received, stop
