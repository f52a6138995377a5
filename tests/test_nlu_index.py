"""The search index: persisted under BOT_DATA_DIR, loaded on restart, rebuilt when the KB, the
NLU data or the embedder change. Uses the model-free hash embedder to stay fast."""
import shutil
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from knowledge.kb import KnowledgeBase
from nlu import hybrid
from nlu.embedders import HashEmbedder

KB = """entries:
  - id: ho-tich.khai-sinh
    title: Đăng ký khai sinh
    questions: [làm giấy khai sinh cho con ở đâu, khai sinh cần giấy tờ gì]
    answer: a
  - id: can-cuoc.cap-doi
    title: Cấp đổi căn cước
    questions: [mất căn cước thì làm sao, đổi cccd ở đâu]
    answer: b
"""
NLU = """nlu:
- intent: greet
  examples: |
    - xin chào
- intent: complaint/rac-thai
  examples: |
    - rác ở [kiệt 45](place) chưa thu gom
- intent: out_of_scope
  examples: |
    - thời tiết hôm nay
"""


@pytest.fixture(autouse=True)
def _own_embedding_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_EMBED_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def env(tmp_path):
    kb_dir, nlu_dir, data = tmp_path / "kb", tmp_path / "nlu", tmp_path / "data"
    kb_dir.mkdir()
    nlu_dir.mkdir()
    (kb_dir / "a.yaml").write_text(KB, encoding="utf-8")
    (nlu_dir / "nlu.yml").write_text(NLU, encoding="utf-8")
    return kb_dir, nlu_dir, data


def _build(kb_dir, nlu_dir, data, embedder=None, **kw):
    return hybrid.load_or_build(KnowledgeBase.load(kb_dir), data, "hash", nlu_dir=nlu_dir,
                                embedder=embedder, **kw)


def _count_builds(monkeypatch):
    calls = []
    real = hybrid.HybridIndex.build.__func__

    def counting(cls, *a, **kw):
        calls.append(1)
        return real(cls, *a, **kw)
    monkeypatch.setattr(hybrid.HybridIndex, "build", classmethod(counting))
    return calls


def test_index_is_persisted_and_loaded_without_embedding_again(env, monkeypatch):
    kb_dir, nlu_dir, data = env
    builds = _count_builds(monkeypatch)
    u = _build(kb_dir, nlu_dir, data)
    path = u.index.path
    assert path.parent == data / "index" and path.name == u.index.fingerprint
    for name in ("embeddings.npy", "dense.faiss", "classifier.npz", "bm25_words", "bm25_chars", "meta.json"):
        assert (path / name).exists(), name
    assert builds == [1]
    u2 = _build(kb_dir, nlu_dir, data)
    assert builds == [1] and u2.index.path == path
    assert u2.index.texts == u.index.texts
    assert (u2.index.clf_w == u.index.clf_w).all() and (u2.index.clf_b == u.index.clf_b).all()
    # The loaded index answers like the fresh one, entity annotations stripped from examples.
    assert "rác ở kiệt 45 chưa thu gom" in u2.index.texts
    assert u2.understand("lam giay khai sinh o dau").topic == "ho-tich.khai-sinh"


def test_index_without_its_classifier_is_rebuilt(env, monkeypatch):
    kb_dir, nlu_dir, data = env
    path = _build(kb_dir, nlu_dir, data).index.path
    (path / "classifier.npz").unlink()
    builds = _count_builds(monkeypatch)
    u = _build(kb_dir, nlu_dir, data)
    assert builds == [1] and (path / "classifier.npz").exists()
    assert u.understand("mất cccd thì làm sao").topic == "can-cuoc.cap-doi"


def test_classifier_weighs_all_of_a_labels_examples():
    """A query inside label 0's spread of examples, next to one stray example of label 1: the
    nearest example says 1, the classifier, which sees every example, says 0."""
    rng = np.random.default_rng(3)

    def unit(v):
        return v / np.linalg.norm(v, axis=-1, keepdims=True)
    a = unit(np.array([1.0, 0.0, 0.0]) + 0.35 * rng.standard_normal((40, 3)))
    b = unit(np.array([0.0, 1.0, 0.0]) + 0.1 * rng.standard_normal((10, 3)))
    stray = unit(np.array([[0.9, 0.05, 0.3]]))
    x = np.vstack([a, b, stray]).astype(np.float32)
    y = np.array([0] * 40 + [1] * 11)
    query = unit(np.array([0.9, 0.0, 0.32])).astype(np.float32)
    assert y[int(np.argmax(x @ query))] == 1
    w, bias = hybrid.train_classifier(x, y, 2)
    assert int(np.argmax(query @ w + bias)) == 0
    assert (np.argmax(x[:40] @ w + bias, axis=1) == 0).mean() > 0.9
    assert (np.argmax(b @ w + bias, axis=1) == 1).all()
    w2, bias2 = hybrid.train_classifier(x, y, 2)
    assert (w2 == w).all() and (bias2 == bias).all()  # deterministic: one pool, one index


def test_kb_change_rebuilds_and_removes_the_stale_index(env, monkeypatch):
    kb_dir, nlu_dir, data = env
    builds = _count_builds(monkeypatch)
    old = _build(kb_dir, nlu_dir, data).index.path
    (kb_dir / "a.yaml").write_text(KB.replace("đổi cccd ở đâu", "đổi cccd ở đâu, cccd hết hạn"),
                                   encoding="utf-8")
    new = _build(kb_dir, nlu_dir, data).index
    assert len(builds) == 2 and new.path != old and not old.exists()
    assert "căn cước công dân hết hạn" in new.texts
    (nlu_dir / "extra.yml").write_text("nlu:\n- intent: thanks\n  examples: |\n    - cảm ơn\n", encoding="utf-8")
    assert _build(kb_dir, nlu_dir, data).index.path != new.path and len(builds) == 3


def test_embedder_change_rebuilds(env, monkeypatch):
    kb_dir, nlu_dir, data = env
    builds = _count_builds(monkeypatch)
    a = _build(kb_dir, nlu_dir, data).index
    b = _build(kb_dir, nlu_dir, data, embedder=HashEmbedder(dim=128)).index
    assert len(builds) == 2 and a.path != b.path
    assert b.embeddings.shape[1] == 128 and a.embeddings.shape[1] == 256
    assert a.path.exists()  # another embedder's index is left alone


def test_damaged_index_is_rebuilt(env, monkeypatch):
    kb_dir, nlu_dir, data = env
    path = _build(kb_dir, nlu_dir, data).index.path
    (path / "dense.faiss").write_bytes(b"garbage")
    builds = _count_builds(monkeypatch)
    u = _build(kb_dir, nlu_dir, data)
    assert builds == [1] and u.understand("mất cccd thì làm sao").topic == "can-cuoc.cap-doi"


def test_kb_index_command_and_progress_bar(tmp_path, monkeypatch, capsys):
    kb_dir = tmp_path / "kb"
    shutil.copytree(Path(__file__).resolve().parent.parent / "knowledge" / "kb", kb_dir)
    monkeypatch.setenv("KB_DIR", str(kb_dir))
    monkeypatch.setenv("BOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BOT_EMBEDDER", "hash")
    assert main(["kb", "index"]) == 0
    out = capsys.readouterr()
    assert "Đang lập chỉ mục tìm kiếm [" in out.err and "examples" in out.out
    fp, fresh = hybrid.status(KnowledgeBase.load(kb_dir), tmp_path / "data", "hash")
    assert fresh and (tmp_path / "data" / "index" / fp / "meta.json").exists()
    builds = _count_builds(monkeypatch)
    assert main(["kb", "index", "--if-stale"]) == 0 and builds == []
    assert main(["kb", "index"]) == 0 and builds == [1]


def test_embedding_cache_spares_known_sentences(env, tmp_path):
    kb_dir, nlu_dir, _ = env

    class Counting(HashEmbedder):
        seen: list = []

        def embed_queries(self, texts):
            self.seen.extend(texts)
            return super().embed_queries(texts)
    emb = Counting()
    _build(kb_dir, nlu_dir, tmp_path / "d1", embedder=emb)
    first = len(emb.seen)
    assert first == 18 and list((tmp_path / "cache").glob("embeddings-hash256-*.npz"))
    a = _build(kb_dir, nlu_dir, tmp_path / "d2", embedder=emb).index  # a fresh data dir
    assert len(emb.seen) == first
    (kb_dir / "a.yaml").write_text(KB.replace("đổi cccd ở đâu", "đổi cccd ở đâu, cccd hết hạn"), encoding="utf-8")
    b = _build(kb_dir, nlu_dir, tmp_path / "d2", embedder=emb).index
    # only the new question is embedded (as written and folded)
    assert emb.seen[first:] == ["căn cước công dân hết hạn", "can cuoc cong dan het han"]
    i = b.texts.index("mất căn cước thì làm sao")
    assert (b.embeddings[i] == a.embeddings[a.texts.index("mất căn cước thì làm sao")]).all()
