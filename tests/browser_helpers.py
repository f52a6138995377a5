"""A real browser for the back-office tests: Debian's chromium, headless, driven by Playwright's
Python package (never a downloaded browser), and the app served by uvicorn in a thread."""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def need_browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"chromium not installed at {CHROMIUM} (apt-get install -y chromium; .ci/run does it)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.skip("playwright's Python package is not installed (pip install -e .[dev])")


class LiveServer:
    """The FastAPI app of a test's App, on a free port, in this process."""

    def __init__(self, app):
        import uvicorn

        from bot.server import create_api
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_api(app, background=False), host="127.0.0.1", port=self.port,
                                log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started and time.time() < deadline:
            time.sleep(0.05)
        assert self.server.started, "uvicorn did not start"
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)


def launch(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def shot(page, name: str, docs: bool = False) -> Path:
    """A screenshot kept as a test artefact (tests/artifacts/, git-ignored); with SCREENSHOTS_DIR
    set, also written there (how docs/screenshots/ is refreshed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    extra = os.environ.get("SCREENSHOTS_DIR")
    if extra and docs:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)
    return path


def jpeg(path: Path) -> Path:
    """A real photo-like JPEG (a street with a pile of rubbish), made with Pillow."""
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (640, 480), (150, 190, 230))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 300, 640, 480], fill=(120, 120, 120))
    d.rectangle([60, 120, 260, 300], fill=(200, 170, 120))
    d.ellipse([330, 250, 560, 400], fill=(70, 90, 40))
    d.ellipse([380, 220, 500, 330], fill=(90, 60, 30))
    img.save(path, "JPEG", quality=80)
    return path
