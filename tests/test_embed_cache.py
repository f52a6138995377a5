"""The sentence-vector cache shared by every index build on the machine: a repeated text (an
unaccented question is its own folded form) must not shift the vectors of later lookups."""
import numpy as np

from nlu.hybrid import EmbeddingCache


def _vec(i: int) -> np.ndarray:
    v = np.zeros(8, np.float32)
    v[i % 8] = 1.0
    v[(i + 3) % 8] = float(i)
    return v


def test_repeated_texts_keep_every_lookup_aligned(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_EMBED_CACHE", str(tmp_path))
    first = ["lam khai sinh o dau", "lam khai sinh o dau", "đăng ký tạm trú"]
    EmbeddingCache("t").store(first, [_vec(0), _vec(0), _vec(1)])
    second = ["xóa đăng ký thường trú", "thu gom rác"]
    EmbeddingCache("t").store(second, [_vec(2), _vec(3)])
    EmbeddingCache("t").store(["giám hộ"], [_vec(4)])
    cache = EmbeddingCache("t")
    expected = {"lam khai sinh o dau": 0, "đăng ký tạm trú": 1, "xóa đăng ký thường trú": 2,
                "thu gom rác": 3, "giám hộ": 4}
    got = cache.lookup(list(expected))
    for (text, i), v in zip(expected.items(), got):
        assert v is not None, text
        np.testing.assert_array_equal(v, _vec(i), err_msg=text)


def test_a_file_whose_rows_do_not_match_its_keys_is_ignored(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_EMBED_CACHE", str(tmp_path))
    cache = EmbeddingCache("t")
    np.savez(cache.path, keys=np.array([EmbeddingCache.key("a"), EmbeddingCache.key("b")]),
             vecs=np.stack([_vec(0), _vec(1), _vec(2)]))
    assert EmbeddingCache("t").lookup(["a", "b"]) == [None, None]
    EmbeddingCache("t").store(["c"], [_vec(5)])  # rewritten clean
    again = EmbeddingCache("t")
    assert again.lookup(["a"]) == [None]
    np.testing.assert_array_equal(again.lookup(["c"])[0], _vec(5))
