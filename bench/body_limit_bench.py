"""Memory of a real `python -m bot serve` while hostile clients stream huge bodies at it.

    python bench/body_limit_bench.py [CLIENTS] [MB]      # default 4 clients x 400 MB, chunked

Each client streams a chunked body (no Content-Length) of MB megabytes to /api/messages or
Open311 and stops when the server answers or hangs up. Prints the server's RSS before and at its
peak, what each client managed to send, and the status it got; then one declared 400 MB
Content-Length, which must be refused before a byte of the body is read.
"""
from __future__ import annotations

import socket
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.config import Settings  # noqa: E402
from tests.helpers import Server  # noqa: E402


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


def stream(port: int, path: str, total: int, out: list) -> None:
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sent, chunk = 0, 256 * 1024
    t0 = time.perf_counter()
    try:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        block = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        try:
            while sent < total:
                sock.sendall(block)
                sent += chunk
        except OSError:
            pass
        status = sock.recv(200).split(b"\r\n", 1)[0].decode(errors="replace")
    except OSError as e:
        status = f"error {e}"
    finally:
        sock.close()
    out.append((path, sent, status, time.perf_counter() - t0))


def main() -> None:
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    mb = int(sys.argv[2]) if len(sys.argv) > 2 else 400
    d = Path(tempfile.mkdtemp(prefix="bodybench-"))
    s = replace(Settings.from_env(), data_dir=d, database_url=f"sqlite:///{d}/bot.db")
    srv = Server(s, BOT_EMBEDDER="hash").start(timeout=300)  # the understanding is not what is measured
    try:
        time.sleep(1)
        before = rss_mb(srv.proc.pid)
        results: list = []
        paths = ["/api/messages", "/open311/v2/requests.json"]
        threads = [threading.Thread(target=stream, args=(srv.port, paths[i % 2], mb * 1024 * 1024, results))
                   for i in range(clients)]
        for t in threads:
            t.start()
        peak = before
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_mb(srv.proc.pid))
            time.sleep(0.02)
        print(f"server RSS before: {before:.1f} MB, peak during {clients} x {mb} MB chunked posts: {peak:.1f} MB "
              f"(+{peak - before:.1f} MB)")
        for path, sent, status, secs in results:
            print(f"  {path}: sent {sent / 1024:.0f} KiB before the server answered '{status}' in {secs:.2f} s")
        t0 = time.perf_counter()
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        sock.sendall(f"POST /api/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {400 * 1024 * 1024}\r\n\r\n".encode())
        status = sock.recv(200).split(b"\r\n", 1)[0].decode()
        sock.close()
        print(f"declared 400 MB Content-Length: '{status}' in {time.perf_counter() - t0:.3f} s, no body sent")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
