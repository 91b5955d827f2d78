"""The built concept index saved beside the knowledge base, so a server worker loads it in a fraction
of a second instead of collecting and indexing ~150k terms again.

``MEDCODE_HOME/cache/language/<name>/`` holds ``terms.json`` (codes, systems, texts and sources as
four lists), ``lexical.npz`` (the BM25 matrix) and ``manifest.json`` (written last: the build, the
format and the fingerprint). ``<name>`` is a sha256 of what the index depends on: the knowledge base
build (builds are never modified), the format of this layer, the source of the modules that make the
terms and their words, and the vocabulary files (abbreviations, lay descriptions, ...). A folder whose
build is gone is removed when a new one is saved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from medcode.language import abbreviations
from medcode.language import lexical as lexical_code
from medcode.language import terms as terms_code
from medcode.language import words as text_code
from medcode.language.lexical import LexicalIndex
from medcode.language.terms import Term

log = logging.getLogger(__name__)

FORMAT = 2
VOCABULARIES = (".tsv", ".csv", ".py")  # every vocabulary file (and its reader) may change terms or words
FOLDER = "language"


def fingerprint(build: Path) -> str:
    """What the saved index depends on, as a sha256."""
    h = hashlib.sha256(f"medcode.language.saved/{FORMAT}\n{build.resolve().name}\n".encode())
    for module in (lexical_code, terms_code, abbreviations, text_code):  # the code that makes the terms and the words
        h.update(Path(module.__file__ or "").read_bytes())
    for item in sorted(resources.files("medcode.vocab").iterdir(), key=lambda f: f.name):
        if item.is_file() and item.name.endswith(VOCABULARIES):
            h.update(item.name.encode())
            h.update(item.read_bytes())
    return h.hexdigest()


def folder(home: Path, build: Path) -> Path:
    return home / "cache" / FOLDER / fingerprint(build)[:32]


def load(home: Path, build: Path) -> tuple[list[Term], LexicalIndex] | None:
    """The saved terms and lexical index of ``build``, or None when there are none (or they are damaged)."""
    where = folder(home, build)
    try:
        manifest = json.loads((where / "manifest.json").read_text("utf-8"))
        if manifest.get("fingerprint") != fingerprint(build):
            return None
        columns = json.loads((where / "terms.json").read_text("utf-8"))
        terms = [Term(*row) for row in zip(*(columns[k] for k in ("code", "system", "text", "source")), strict=True)]
        with np.load(where / "lexical.npz") as arrays:
            vocab = {w: i for i, w in enumerate(columns["vocab"])}
            spelled = dict(zip(columns["spelled"], columns["spelled_texts"], strict=True))
            size = int(arrays["size"][0])
            lexical = LexicalIndex(vocab, arrays["data"], arrays["indices"], arrays["indptr"], size, spelled)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("saved concept index %s cannot be read (%s); building it again", where, exc)
        return None
    if len(terms) != lexical.size:
        return None
    return terms, lexical


def save(home: Path, build: Path, terms: list[Term], lexical: LexicalIndex) -> Path | None:
    """Write the index under ``home`` (atomically: a finished folder or none); None if it cannot be written."""
    where = folder(home, build)
    if (where / "manifest.json").exists():
        return where
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=where.parent))
        vocab = [""] * len(lexical.vocab)
        for word, i in lexical.vocab.items():
            vocab[i] = word
        columns = {
            "code": [t.code for t in terms],
            "system": [t.system for t in terms],
            "text": [t.text for t in terms],
            "source": [t.source for t in terms],
            "vocab": vocab,
            "spelled": list(lexical.spelled),
            "spelled_texts": list(lexical.spelled.values()),
        }
        (tmp / "terms.json").write_text(json.dumps(columns, separators=(",", ":")), "utf-8")
        np.savez(
            tmp / "lexical.npz",
            data=lexical.data,
            indices=lexical.indices,
            indptr=lexical.indptr,
            size=np.array([lexical.size]),
        )
        manifest = {"fingerprint": fingerprint(build), "build": str(build.resolve()), "terms": len(terms)}
        (tmp / "manifest.json").write_text(json.dumps(manifest), "utf-8")
        try:
            os.rename(tmp, where)
        except OSError:  # another process saved it first
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as exc:
        log.warning("cannot save the concept index under %s: %s", where.parent, exc)
        return None
    _prune(where.parent, keep=where)
    return where


def _prune(parent: Path, keep: Path) -> None:
    """Remove saved indexes of builds that no longer exist, and older ones of the build just saved (made
    by another version of the code or vocabulary)."""
    mine = json.loads((keep / "manifest.json").read_text("utf-8"))["build"]
    for other in parent.iterdir():
        if other == keep or other.name.startswith(".tmp-"):
            continue
        try:
            build = json.loads((other / "manifest.json").read_text("utf-8"))["build"]
        except (OSError, ValueError, KeyError):
            continue
        if build == mine or not Path(build).exists():
            shutil.rmtree(other, ignore_errors=True)
