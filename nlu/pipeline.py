"""Builds the understander the application uses."""
from __future__ import annotations

from bot.config import Settings
from knowledge.kb import KnowledgeBase
from nlu.baseline import BaselineUnderstander


def build(settings: Settings, kb: KnowledgeBase):
    return BaselineUnderstander(kb)
