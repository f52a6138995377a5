"""Builds the understander the application uses: the hybrid one, loading its persisted index
(built on first use, rebuilt when the KB, the NLU data or the embedder change); the lexical
baseline only when the index cannot be had at all."""
from __future__ import annotations

import logging

from bot.config import Settings
from knowledge.kb import KnowledgeBase
from nlu.baseline import BaselineUnderstander

log = logging.getLogger(__name__)


def build(settings: Settings, kb: KnowledgeBase, force: bool = False, progress: bool = True):
    from nlu.hybrid import load_or_build
    try:
        return load_or_build(kb, settings.data_dir, settings.embedder, force=force, progress=progress)
    except ImportError as e:  # e.g. st:<model> chosen without the `st` extra installed
        log.error("embedder %r unavailable (%s); using the lexical baseline", settings.embedder, e)
        return BaselineUnderstander(kb)
