"""Console chat: `python -m bot chat`. Reads stdin line by line, ends at EOF."""
from __future__ import annotations

import sys

from bot.channels.render import numbered
from bot.core import Incoming, Reply

CHAT_ID = "console"


class ConsoleSender:
    def __init__(self, out):
        self.out = out

    def send(self, chat_id: str, reply: Reply) -> None:
        self.out.write(f"[thông báo tới {chat_id}] {numbered(reply)}\n")
        self.out.flush()


def _parse_line(line: str) -> Incoming:
    # "/vitri 16.06 108.22" shares a location; "/anh path.jpg" attaches a photo: the console
    # has no GPS or camera, yet staff testing the report flow need both.
    msg = Incoming(channel="console", chat_id=CHAT_ID, user_id="console-user", text=line,
                   user_name="Người dùng console")
    parts = line.split()
    if len(parts) == 3 and parts[0] == "/vitri":
        from bot.core import Location
        try:
            msg.location, msg.text = Location(float(parts[1]), float(parts[2])), None
        except ValueError:
            pass
    elif len(parts) == 2 and parts[0] == "/anh":
        import mimetypes
        import os
        from bot.core import Attachment
        if os.path.isfile(parts[1]):
            msg.photos = [Attachment(kind="photo", path=os.path.abspath(parts[1]),
                                     mime=mimetypes.guess_type(parts[1])[0], size=os.path.getsize(parts[1]))]
            msg.text = None
    return msg


def run(app, stdin=None, stdout=None) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout
    interactive = stdin.isatty()
    app.senders["console"] = ConsoleSender(stdout)
    if interactive:
        stdout.write(f"Trợ lý số {app.profile.ward.name}. Gõ câu hỏi, /help để xem lệnh, Ctrl+D để thoát.\n")
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        for reply in app.handle(_parse_line(line)):
            stdout.write(numbered(reply) + "\n")
            if reply.photo:
                stdout.write(f"[ảnh: {reply.photo}]\n")
            if reply.document:
                stdout.write(f"[tệp: {reply.document}]\n")
        app.deliver_outbox()
        stdout.flush()
    return 0
