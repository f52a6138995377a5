"""What the engine's safety nets cost per message: the attempt counted in its own transaction
before handling (quarantine), the replies stored with the processed-update mark (retries).

    python bench/engine_safety_bench.py [--messages 400] [--database-url URL]

Sends the same short commands from many chats through App.handle three ways: without an update
id (no dedupe, no attempt row), with a fresh update id each (attempt + stored replies), and the
same ids again (duplicates answered from the stored replies). Prints messages/s for each. The
understander is the `hash` embedder's, so the figures are about the engine and the database."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import App  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.core import Incoming  # noqa: E402


def run(app: App, n: int, ids: str | None) -> float:
    t = time.perf_counter()
    for i in range(n):
        msg = Incoming(channel="web", chat_id=f"b{i % 50}", user_id=f"b{i % 50}", text="/help",
                       update_id=f"{ids}-{i}" if ids else None)
        assert app.handle(msg) is not None
    return n / (time.perf_counter() - t)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=400)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        s = replace(Settings.from_env(), data_dir=Path(tmp), embedder="hash",
                    database_url=args.database_url or f"sqlite:///{tmp}/bench.db")
        app = App(s)
        run(app, 50, None)  # warm up
        plain = run(app, args.messages, None)
        marked = run(app, args.messages, "u")
        dup = run(app, args.messages, "u")
        app.close()
    print(f"database: {s.database_url.split(':')[0]}, {args.messages} messages each")
    print(f"no update id:            {plain:8.1f} msg/s")
    print(f"new update ids:          {marked:8.1f} msg/s  (attempt row + stored replies)")
    print(f"duplicates (stored):     {dup:8.1f} msg/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
