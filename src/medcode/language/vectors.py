"""The embedding cache of one list of texts (a ConceptIndex's terms): build once, memory-map, search.

Layout under ``MEDCODE_HOME/cache/embeddings/<key>/``:

- ``chunks/plan.json`` and ``chunks/NNNNN.npy`` while building: the distinct texts are sorted by token
  length (batches of like length waste no work on padding) and cut into chunks of ``CHUNK`` texts;
  each chunk is written as soon as it is encoded, so a build that is killed resumes where it stopped.
- ``vectors.npy``: the finished matrix, float32, one unit-length row per text (in the caller's order),
  memory-mapped on open (several server workers share the pages); ``manifest.json``, written last,
  names the model's sha256, the count and the key. The chunks are removed then.
- ``build.lock``: an ``fcntl`` lock, so that two processes never build the same key at once.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medcode.language.embed import BUILD_THREADS, DIMENSION, MODEL_SHA256, Encoder, encoder, threads_from_env
from medcode.language.scorer import Int8Scorer, quantize

log = logging.getLogger(__name__)

FORMAT = 2
EXACT_BELOW = 20_000  # matrices smaller than this are searched exactly; larger ones int8 first, then exactly
RESCORE = 200  # rows re-scored exactly past k after the int8 pass (its error is below 0.003)
CHUNK = 512  # distinct texts per chunk file
BATCH = 64  # texts per model call in a foreground build
BACKGROUND_BATCH = 16  # smaller in the background, so that queries never wait long for the cores
RECHECK_SECONDS = 1.0  # how often a not-ready cache looks again for a matrix another process finished

Progress = Callable[[int, int], None]

_THREADS: dict[Path, threading.Thread] = {}  # background builds of this process, by cache folder
_THREADS_LOCK = threading.Lock()


class CacheError(RuntimeError):
    """The cache folder holds something medcode did not write."""


def cache_dir(home: Path, key: str) -> Path:
    if not re.fullmatch(r"[0-9A-Za-z_.-]{1,128}", key) or key.startswith("."):
        raise ValueError(f"embedding cache key {key!r} must be letters, digits, '_', '-' or '.'")
    return Path(home) / "cache" / "embeddings" / key


class Vectors:
    """Embeddings of ``texts``; ``search`` answers once ``ready()`` (empty before)."""

    def __init__(self, directory: Path, key: str, texts: list[str], chunk: int = CHUNK) -> None:
        self.directory = directory
        self.key = key
        self.texts = texts
        self.chunk = chunk  # distinct texts per chunk file (smaller in tests)
        self.written = 0  # chunks the last build call encoded (the others were on disk already)
        self._warned = False
        self.threads = threads_from_env()  # of the int8 scorer
        self.exact_below = EXACT_BELOW
        self._matrix: np.ndarray | None = None
        self._checked = 0.0
        self._load_lock = threading.Lock()
        self._scorer: Int8Scorer | None = None
        self._scorer_failed = False

    @classmethod
    def open(cls, home: Path, key: str, texts: list[str], *, chunk: int = CHUNK) -> Vectors:
        vectors = cls(cache_dir(home, key), key, list(texts), chunk)
        vectors._load()
        return vectors

    # -- state ---------------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    @property
    def matrix_path(self) -> Path:
        return self.directory / "vectors.npy"

    @property
    def int8_path(self) -> Path:
        return self.directory / "vectors-int8.npy"

    @property
    def scales_path(self) -> Path:
        return self.directory / "vectors-int8-scales.npy"

    def ready(self) -> bool:
        if self._matrix is not None:
            return True
        now = time.monotonic()
        if now - self._checked < RECHECK_SECONDS:
            return False
        self._checked = now
        return self._load()

    def _manifest(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "key": self.key,
            "count": len(self.texts),
            "dimension": DIMENSION,
            "dtype": "float32",
            "model_sha256": MODEL_SHA256,
        }

    def _load(self) -> bool:
        """Memory-map the finished matrix when its manifest matches; False when there is none yet."""
        with self._load_lock:
            if self._matrix is not None:
                return True
            try:
                found = json.loads(self.manifest_path.read_text())
            except FileNotFoundError:
                return False
            except (OSError, ValueError) as exc:
                self._warn_once("manifest unreadable (%s); it will be rebuilt", exc)
                return False
            wanted = self._manifest()
            if {k: found.get(k) for k in wanted} != wanted:
                differ = {k: found.get(k) for k in wanted if found.get(k) != wanted[k]}
                self._warn_once("manifest does not match (%s); it will be rebuilt", differ)
                return False
            matrix = np.load(self.matrix_path, mmap_mode="r")
            if matrix.shape != (len(self.texts), DIMENSION) or matrix.dtype != np.float32:
                raise CacheError(
                    f"{self.matrix_path}: shape {matrix.shape} {matrix.dtype}, "
                    f"expected ({len(self.texts)}, {DIMENSION}) float32"
                )
            self._matrix = matrix
            return True

    def _warn_once(self, message: str, detail: object) -> None:
        if not self._warned:  # ready() looks again every second: say it once
            self._warned = True
            log.warning("embedding cache %s: " + message, self.directory, detail)

    def matrix(self) -> np.ndarray:
        if not self.ready():
            raise CacheError(f"embedding cache {self.directory} is not built (run `medcode embed`)")
        assert self._matrix is not None
        return self._matrix

    # -- building ------------------------------------------------------------------------------

    @contextmanager
    def _lock(self, wait: bool) -> Iterator[bool]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "build.lock").open("a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def build(
        self,
        progress: Progress | None = None,
        *,
        threads: int | None = None,
        batch: int = BATCH,
        wait: bool = True,
        stop_after: int | None = None,
    ) -> bool:
        """Build (or resume) the cache; True when it is ready afterwards.

        ``wait=False`` gives up at once when another process holds the build lock; ``threads`` picks a
        private encoder (default: the shared one); ``stop_after`` writes at most that many new chunks
        and returns, as a build killed part way would (for tests).
        """
        if self._load():
            if progress:
                progress(len(self.texts), len(self.texts))
            return True
        with self._lock(wait) as held:
            if not held:
                return False
            if self._load():  # another process finished while this one waited
                if progress:
                    progress(len(self.texts), len(self.texts))
                return True
            return self._build_locked(progress, Encoder(threads) if threads else encoder(), batch, stop_after)

    def _build_locked(self, progress: Progress | None, enc: Encoder, batch: int, stop_after: int | None) -> bool:
        distinct = list(dict.fromkeys(self.texts))
        ids: list[np.ndarray] = []  # as small arrays: Python lists of ints would take ~100 MB for 150,000 terms
        for start in range(0, len(distinct), 8192):
            ids.extend(np.asarray(row, dtype=np.int32) for row in enc.token_ids(distinct[start : start + 8192]))
        order = sorted(range(len(distinct)), key=lambda i: (len(ids[i]), i))
        chunks = self._chunk_folder(len(distinct))
        size = self.chunk
        count = (len(distinct) + size - 1) // size
        done, self.written = 0, 0
        for c in range(count):
            part = order[c * size : (c + 1) * size]
            path = chunks / f"{c:05d}.npy"
            if not _chunk_ok(path, len(part)):
                if stop_after is not None and self.written >= stop_after:
                    return False
                rows = [enc.encode_ids([ids[i] for i in part[j : j + batch]]) for j in range(0, len(part), batch)]
                _save_atomic(path, np.concatenate(rows))
                self.written += 1
            done += len(part)
            if progress:
                progress(_scaled(done, len(distinct), len(self.texts)), len(self.texts))
        self._assemble(distinct, order, chunks, count)
        shutil.rmtree(chunks, ignore_errors=True)
        return self._load()

    def _chunk_folder(self, distinct: int) -> Path:
        """The chunk folder of this plan; chunks of another plan (texts, model, chunk size) are dropped."""
        chunks = self.directory / "chunks"
        plan = {
            "format": FORMAT,
            "key": self.key,
            "count": len(self.texts),
            "distinct": distinct,
            "chunk": self.chunk,
            "model_sha256": MODEL_SHA256,
        }
        plan_path = chunks / "plan.json"
        try:
            if json.loads(plan_path.read_text()) == plan:
                return chunks
        except (OSError, ValueError):
            pass
        shutil.rmtree(chunks, ignore_errors=True)
        chunks.mkdir(parents=True)
        plan_path.write_text(json.dumps(plan))
        return chunks

    def _assemble(self, distinct: list[str], order: list[int], chunks: Path, count: int) -> None:
        vectors = np.empty((len(distinct), DIMENSION), dtype=np.float32)
        for c in range(count):
            vectors[order[c * self.chunk : (c + 1) * self.chunk]] = np.load(chunks / f"{c:05d}.npy")
        where = {text: i for i, text in enumerate(distinct)}
        rows = np.fromiter((where[t] for t in self.texts), dtype=np.int64, count=len(self.texts))
        self.store(vectors, rows)

    def store(self, matrix: np.ndarray, rows: np.ndarray | None = None) -> None:
        """Write a finished matrix (row ``i`` of text ``i``, or ``matrix[rows[i]]``), its int8 form and
        the manifest (last). Written in blocks, so no second copy of the matrix is made."""
        count = len(matrix) if rows is None else len(rows)
        if count != len(self.texts) or matrix.shape[1:] != (DIMENSION,):
            raise ValueError(f"matrix of {count} x {matrix.shape[1:]}, expected ({len(self.texts)}, {DIMENSION})")
        self.directory.mkdir(parents=True, exist_ok=True)
        int8, scales = quantize(matrix)
        if rows is not None:
            int8, scales = int8[rows], scales[rows]
        block = 8192
        blocks = (
            np.asarray(matrix[s : s + block] if rows is None else matrix[rows[s : s + block]], dtype=np.float32)
            for s in range(0, count, block)
        )
        _write_blocks(self.matrix_path, (count, DIMENSION), np.dtype(np.float32), blocks)
        _save_atomic(self.int8_path, int8)
        _save_atomic(self.scales_path, scales)
        manifest = {**self._manifest(), "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        part = self.manifest_path.with_suffix(".json.part")
        part.write_text(json.dumps(manifest, indent=1))
        os.replace(part, self.manifest_path)

    def start_background(self) -> None:
        """Build in a daemon thread (one per cache folder per process) with one model thread."""
        if self.ready():
            return
        with _THREADS_LOCK:
            running = _THREADS.get(self.directory)
            if running is not None and running.is_alive():
                return
            thread = threading.Thread(target=self._background, name=f"medcode-embed-{self.key[:12]}", daemon=True)
            _THREADS[self.directory] = thread
            thread.start()

    def _background(self) -> None:
        try:
            started = time.monotonic()
            if self.build(threads=1, batch=BACKGROUND_BATCH, wait=False):
                log.info("embedding cache %s built in %.0f s", self.directory, time.monotonic() - started)
        except Exception:  # a background build must never take the process down; the next start retries
            log.exception("embedding cache %s: background build failed", self.directory)

    # -- searching -----------------------------------------------------------------------------

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` texts nearest the query: (position in ``texts``, cosine), best first; [] until ready."""
        if k <= 0 or not self.ready():
            return []
        return self.nearest(encoder().encode([query])[0], k)

    def nearest(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` rows nearest an already encoded (unit) vector, by exact cosine."""
        matrix, query = self.matrix(), np.asarray(vector, dtype=np.float32)
        scorer = self.scorer() if len(matrix) >= self.exact_below and k + RESCORE < len(matrix) else None
        if scorer is None:
            return _best(matrix @ query, np.arange(len(matrix)), k)
        rough = scorer.scores(query)
        rows = np.sort(np.argpartition(-rough, k + RESCORE - 1)[: k + RESCORE])
        return _best(self._read_rows(rows) @ query, rows, k)

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        """Rows of the float32 matrix read with pread: indexing the memory map would map (and count
        in the process's resident memory) whole large pages of the file around each row."""
        matrix = self.matrix()
        assert isinstance(matrix, np.memmap)
        width = DIMENSION * 4
        out = np.empty((len(rows), DIMENSION), dtype=np.float32)
        with self.matrix_path.open("rb", buffering=0) as f:
            fd = f.fileno()
            for j, row in enumerate(rows.tolist()):
                out[j] = np.frombuffer(os.pread(fd, width, matrix.offset + row * width), dtype=np.float32)
        return out

    def scorer(self) -> Int8Scorer | None:
        """The int8 scorer of the matrix, loaded on first use; None if onnxruntime cannot run it."""
        if self._scorer is None and not self._scorer_failed:
            with self._load_lock:
                if self._scorer is None and not self._scorer_failed:
                    try:
                        int8 = np.load(self.int8_path, mmap_mode="r")
                        self._scorer = Int8Scorer(int8, np.load(self.scales_path), self.threads)
                    except Exception as exc:  # an onnxruntime without the operator: exact search, slower
                        self._scorer_failed = True
                        log.warning(
                            "embedding cache %s: int8 search unavailable (%s); searching exactly", self.directory, exc
                        )
        return self._scorer


def _best(scores: np.ndarray, rows: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` best (row, score), best first; ties by row."""
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.lexsort((rows[top], -scores[top]))]
    return [(int(rows[i]), float(scores[i])) for i in top]


def _chunk_ok(path: Path, rows: int) -> bool:
    try:
        chunk = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return bool(chunk.shape == (rows, DIMENSION) and chunk.dtype == np.float32)


def _save_atomic(path: Path, array: np.ndarray) -> None:
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as f:
        np.save(f, np.ascontiguousarray(array))
    os.replace(tmp, path)


def _write_blocks(path: Path, shape: tuple[int, int], dtype: np.dtype, blocks: Iterator[np.ndarray]) -> None:
    """An .npy file written block by block (then renamed into place)."""
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
        )
        written = 0
        for block in blocks:
            f.write(np.ascontiguousarray(block, dtype=dtype).tobytes())
            written += len(block)
    if written != shape[0]:
        raise ValueError(f"{path}: {written} rows written, expected {shape[0]}")
    os.replace(tmp, path)


def _scaled(done: int, distinct: int, total: int) -> int:
    """Progress in the caller's texts (duplicates are encoded once)."""
    return total if done >= distinct else done * total // max(distinct, 1)


@dataclass(frozen=True)
class Built:
    """What ``build_for_kb`` did: the cache folder, the number of texts, seconds spent, and whether it
    was already there."""

    directory: Path
    count: int
    seconds: float
    existed: bool


def build_for_kb(kb: Any, home: Path, progress: Progress | None = None) -> Built:
    """Build (or resume) the embedding cache of the knowledge base's ConceptIndex; waits for another
    process that is building it."""
    from medcode.language.index import concept_index

    index = concept_index(kb, home)
    shared = index.vectors() if getattr(index, "home", None) == home else None  # the one search uses
    vectors = shared if isinstance(shared, Vectors) else Vectors.open(home, index.key, [t.text for t in index.terms])
    existed = vectors.ready()
    started = time.monotonic()
    if not vectors.build(progress, threads=max(BUILD_THREADS, threads_from_env())):
        raise CacheError(f"embedding cache {vectors.directory} was not finished")
    return Built(vectors.directory, len(vectors.texts), time.monotonic() - started, existed)
