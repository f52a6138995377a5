"""Every worker follows the knowledge-base files. A back-office edit reloads the worker that saved
it at once; the other workers on the host (and any worker, after a `git pull` or a hand edit of
the YAML) notice the files changed at their next look and reload too."""
from __future__ import annotations

import logging
import threading
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 20.0  # seconds: an edit reaches every worker within this


def stamp(kb_dir: Path) -> tuple:
    """A cheap fingerprint of the files: names, sizes and modification times."""
    out = []
    for p in sorted(Path(kb_dir).rglob("*.y*ml")):
        try:
            st = p.stat()
        except OSError:  # removed while we looked
            continue
        out.append((str(p), st.st_size, st.st_mtime_ns))
    return tuple(out)


class KbWatcher:
    def __init__(self, app, interval: float = DEFAULT_INTERVAL):
        self.app, self.interval = app, interval
        self._stop = threading.Event()
        self._seen = stamp(app.settings.kb_dir)
        self._thread = threading.Thread(target=self._run, name="kb-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def check(self) -> bool:
        """Reload if the files changed since the last look; True when it reloaded."""
        now = stamp(self.app.settings.kb_dir)
        if now == self._seen:
            return False
        from bot.webadmin.kb import reload_kb_later
        try:
            reload_kb_later(self.app)
        except Exception:  # e.g. a file caught half-written: keep the old entries, look again later
            log.warning("knowledge base changed but could not be loaded; keeping the previous one", exc_info=True)
            return False
        self._seen = now
        log.info("knowledge base reloaded after its files changed")
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                log.exception("knowledge-base watch failed")
