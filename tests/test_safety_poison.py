"""A message that kills the process (issue 10, point 1): through the Telegram emulator in polling
mode, a real `serve` process dies on it mid-handling, is restarted (as systemd would), and after
three deaths the update is acknowledged without handling: the resident is told, staff can list
it, the bot answers everyone else, and the update stops coming back."""
from __future__ import annotations

import subprocess
import sys
import time

import httpx

from bot import texts
from tests.emulators.telegram import TelegramEmulator
from tests.helpers import ROOT, bot_env, free_port
from tests.poison_handler import MARKER


def _start(env, port):
    return subprocess.Popen([sys.executable, "tests/poison_serve.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_poison_update_stops_coming_back_after_three_crashes(settings):
    with TelegramEmulator() as tg:
        env = bot_env(settings, TELEGRAM_BOT_TOKEN=tg.token, TELEGRAM_API_URL=tg.url, BOT_EMBEDDER="hash")
        tg.text(66, "Xin chào " + MARKER)
        tg.text(67, "/start")
        crashes, proc = 0, None
        try:
            for _ in range(6):  # a supervisor restarting the service
                port = free_port()
                proc = _start(env, port)
                deadline = time.time() + 90
                while time.time() < deadline and proc.poll() is None and not tg.sent(66):
                    time.sleep(0.1)
                if proc.poll() is not None:
                    crashes += 1
                    assert proc.returncode < 0, proc.stderr.read().decode(errors="replace")[-2000:]
                    continue
                break
            assert crashes == 3
            assert tg.wait_sent(66)[0].params["text"] == texts.QUARANTINED
            assert "Xin chào" in tg.wait_sent(67)[0].params["text"]  # the other resident was answered
            # The bot stays up and answers the same resident's next message.
            tg.text(66, "/start")
            assert "Xin chào" in tg.wait_sent(66, 2)[-1].params["text"]
            deadline = time.time() + 10
            while tg.pending_updates() and time.time() < deadline:
                time.sleep(0.1)
            assert tg.pending_updates() == 0 and proc.poll() is None
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        finally:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)
    out = subprocess.run([sys.executable, "-m", "bot", "quarantine", "list"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert "telegram\t66\t" in out.stdout and MARKER in out.stdout and "\t4\t" in out.stdout, out
