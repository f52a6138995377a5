"""Issue 12, found by exploratory testing as residents on Zalo and the web chat. Through the web API
and the Zalo Bot emulator, on the real understander and database."""
from __future__ import annotations

import httpx

from tests.channel_helpers import Running


class WebChat:
    """A resident on the web chat: the server-issued session kept across messages."""

    def __init__(self, url: str):
        self.url, self.headers = url, {}

    def say(self, text: str) -> str:
        resp = httpx.post(self.url + "/api/messages", json={"text": text}, headers=self.headers, timeout=60)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        self.headers["X-Session"] = body["session"]
        return "\n".join(r["text"] for r in body["replies"])


def test_how_people_name_themselves_is_read_past_a_comma_or_a_greeting(make_app, settings):
    """"cho bà hỏi, ..." and "cháu ơi, bà ..." were answered "bạn" all through: a comma after the
    verb hid the term, and a greeting or a call ("chào em,", "cháu ơi") before it was not expected."""
    with Running(make_app, settings) as r:
        for first, term in [("cho bà hỏi, đèn đường đầu kiệt 7 Lê Duẩn tắt cả tuần nay rồi", "Bà"),
                            ("cháu ơi, bà báo cái đèn đường đầu kiệt 9 Lê Duẩn tắt mấy tuần nay", "Bà"),
                            ("chào em, chị muốn báo đèn đường đầu kiệt 11 Lê Duẩn bị tắt", "Chị"),
                            ("Dạ chào cán bộ, bác báo đèn đường đầu kiệt 15 Lê Duẩn không sáng", "Bác")]:
            web = WebChat(r.url)
            assert "Đúng không" in web.say(first), first
            out = web.say("đúng")
            assert out.startswith(f"{term} gửi ảnh"), (first, out)
            assert "Bạn" not in out
        # the same on a question, and a thank-you with a full stop
        web = WebChat(r.url)
        web.say("chào cháu, bà muốn hỏi làm giấy khai sinh cho chắt ở đâu")
        assert web.say("cảm ơn cháu nhé").endswith("Bà cần gì thêm cứ nhắn cháu nhé!")
        web = WebChat(r.url)
        web.say("làm giấy khai sinh ở đâu")
        assert "Chú cần gì" in web.say("chú cảm ơn.")
